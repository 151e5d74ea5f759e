"""A real session's events have the wire form they always had (record and MQTT)."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_support import run_session

from retrorun.events import EventKind, event_from_json

pytestmark = pytest.mark.looptime

# The wire form of every kind a session sends, as the record and MQTT carried it
# before events were typed: the keys beyond t, kind and message. A key in
# brackets may be absent (the event does not concern it).
WIRE_KEYS: dict[EventKind, tuple[set[str], set[str]]] = {
    EventKind.SESSION_STARTED: ({"program", "ceiling_kmh", "steps"}, set()),
    EventKind.STEP_STARTED: (
        {"index", "direction", "speed_kmh", "incline_pct", "duration_s", "label", "cue"}
        | {"turnaround", "total"},
        {"next"},
    ),
    EventKind.TURNAROUND: ({"phase", "index", "to", "stop_belt", "needs_confirm", "hold_s"}, set()),
    EventKind.TURNAROUND_CONFIRMED: ({"to"}, set()),
    EventKind.PAUSED: (set(), {"source"}),
    EventKind.RESUMED: (set(), set()),
    EventKind.SPEED_ADJUSTED: ({"target_kmh"}, set()),
    EventKind.CEILING_CLAMPED: (
        set(),
        {"ceiling_kmh", "requested_kmh", "incline_pct", "requested_incline_pct", "source"},
    ),
    EventKind.CEILING_VIOLATION: ({"speed_kmh", "ceiling_kmh"}, set()),
    EventKind.BELT_HALTED: ({"speed_kmh"}, set()),
    EventKind.SPEED_REFUSED: ({"speed_kmh", "requested_kmh"}, set()),
    EventKind.HR_HIGH: (set(), set()),
    EventKind.SAFETY_STOP: (set(), set()),
    EventKind.SAFETY_KEY: (set(), set()),
    EventKind.CONSOLE_CHANGE: (set(), {"speed_kmh"}),
    EventKind.COMMAND_IGNORED_BY_DEVICE: (set(), set()),
    EventKind.LINK_LOST: (set(), set()),
    EventKind.LINK_RESTORED: (set(), set()),
    EventKind.USER_STOP: (set(), set()),
    EventKind.COMMAND_ACK: ({"command", "source"}, set()),
    EventKind.COMMAND_REFUSED: ({"command", "source"}, set()),
    EventKind.CONFIRM_NEEDED: ({"what"}, set()),
    EventKind.SINK_WARNING: (set(), set()),
    EventKind.TREADMILL_NOTE: (set(), set()),
    EventKind.SESSION_ENDED: ({"reason"}, set()),
}


async def test_a_whole_session_sends_the_wire_form_of_today(tmp_path: Path) -> None:
    """Every event of a real session has exactly the keys its kind always had, and
    reads back into the typed event that wrote it."""
    run = await run_session(tmp_path, faults=("drop-link@50", "console-speedup@75:9"))
    seen = set()
    for line in run.events():
        kind = EventKind(line["kind"])
        seen.add(kind)
        required, optional = WIRE_KEYS[kind]
        keys = set(line) - {"type", "session", "t", "kind", "message"}
        assert required <= keys, (kind, line)
        assert keys <= required | optional, (kind, line)
        body = {k: v for k, v in line.items() if k not in {"type", "session"}}
        assert event_from_json(body).to_json_dict() == body
    assert {EventKind.STEP_STARTED, EventKind.TURNAROUND, EventKind.LINK_LOST} <= seen
