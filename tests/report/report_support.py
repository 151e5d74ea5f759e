"""Helpers for the report and history tests.

The records they read are the suite's shared sessions (``recorded_sessions``, run once
by the ``recorded_runs`` fixture of tests/conftest.py); the names the tests use
from there are repeated here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from recorded_sessions import LIBRARY, PRESSES, Run

__all__ = ["LIBRARY", "PRESSES", "Run", "restamp", "utc_clock"]


def utc_clock() -> Iterator[None]:
    """Local time is UTC for the test (dates in history are local); restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def restamp(source: Path, target: Path, started_at: str, session: str) -> Path:
    """A copy of a record as another day's session: its ``started_at`` and session id
    replaced (what two sessions of one program on two days look like)."""
    out = []
    for raw in source.read_text().splitlines():
        line = json.loads(raw)
        line["session"] = session
        if line["type"] == "start":
            line["started_at"] = started_at
        out.append(json.dumps(line))
    target.write_text("\n".join(out) + "\n")
    return target
