"""Heart-rate tests run whole sessions with the session tests' helper (``run_support``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session"))
