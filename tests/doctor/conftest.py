"""The doctor's tests borrow the suite's real mosquitto (``make_broker``, from
tests/mosquitto_support.py), the MQTT tests' helpers (``mqtt_support``) and the
simulator tests' device profile (``sim_support.generic``)."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "mqtt"))
sys.path.insert(0, str(TESTS / "sim"))
