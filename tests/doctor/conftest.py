"""The doctor's tests borrow two helpers: the MQTT tests' real mosquitto
(``make_broker``, from tests/mqtt/conftest.py, loaded under a name of its own) and
the simulator tests' device profile (``sim_support.generic``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "mqtt"))
sys.path.insert(0, str(TESTS / "sim"))

_spec = importlib.util.spec_from_file_location("mqtt_fixtures", TESTS / "mqtt" / "conftest.py")
assert _spec is not None
assert _spec.loader is not None
_mqtt_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mqtt_fixtures)

make_broker = _mqtt_fixtures.make_broker
