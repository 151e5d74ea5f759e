"""``--plain``: one line per event, telemetry only when it is worth a line."""

from __future__ import annotations

import io
from typing import Any

import pytest
from guidance_support import PLAN, RECOVER, WORK, event, state, step_started

from retrorun.bus import EventBus
from retrorun.events import (
    Direction,
    EventKind,
    SessionEvent,
    Status,
    StepInfo,
    StepStarted,
    TurnaroundPhase,
)
from retrorun.guidance import format_clock, format_distance, format_speed
from retrorun.sinks.plain import PlainSink


async def test_plain_prints_events_and_a_state_every_ten_seconds_or_on_change() -> None:
    bus = EventBus()
    out = io.StringIO()
    sink = PlainSink(bus.subscribe("plain"), stream=out)
    bus.publish(step_started(135, 2, WORK, RECOVER))
    for t in range(135, 166):  # one record a second for 31 s
        bus.publish(state(float(t), step_remaining_s=285.0 - t))
    bus.publish(event(165.5, EventKind.CEILING_CLAMPED, "speed held at the 5.0 km/h ceiling"))
    bus.publish(state(166.0, status=Status.PAUSED, step_remaining_s=119.0))
    bus.publish(state(167.0, status=Status.PAUSED, step_remaining_s=119.0))
    bus.close()
    await sink.run()

    assert out.getvalue().splitlines() == [
        (
            "    2:15  > step 3/6 BACKWARD 2.5 km/h for 2:30 · work"
            ' "Short steps. Stay tall." (next: step 4/6 BACKWARD 1.5 km/h for 1:00 · recover)'
        ),
        "    2:15  BACKWARD 2.5 km/h (target 2.5) · step 3/6 work 2:30 left · 412 m · HR 118 bpm",
        "    2:25  BACKWARD 2.5 km/h (target 2.5) · step 3/6 work 2:20 left · 412 m · HR 118 bpm",
        "    2:35  BACKWARD 2.5 km/h (target 2.5) · step 3/6 work 2:10 left · 412 m · HR 118 bpm",
        "    2:45  BACKWARD 2.5 km/h (target 2.5) · step 3/6 work 2:00 left · 412 m · HR 118 bpm",
        "    2:46  ! ceiling clamped: speed held at the 5.0 km/h ceiling",
        (
            "    2:46  BACKWARD 2.5 km/h (target 2.5) · step 3/6 work 1:59 left · 412 m"
            " · HR 118 bpm · PAUSED"
        ),
    ]
    assert sink.lines == 7


@pytest.mark.parametrize(
    ("item", "line"),
    [
        (
            event(30, EventKind.TURNAROUND, index=1, phase="slowing", to="backward"),
            "~ turn-around to face the rear: slowing down, hold the rails",
        ),
        (
            event(36, EventKind.TURNAROUND, index=1, phase="turn", to="backward"),
            "~ turn-around to face the rear: turn around now, then press Enter",
        ),
        (
            event(36, EventKind.TURNAROUND, index=4, stop_belt=True, to="forward"),
            "~ turn-around to face the console: stopping the belt, hold the rails",
        ),
        (
            event(50, EventKind.PAUSED, "paused from the keyboard"),
            "- paused: paused from the keyboard",
        ),
        (event(60, EventKind.LINK_LOST), "! link lost"),
        (
            step_started(0, 1, PLAN[1], WORK),
            ("> step 2/6 TURN AROUND for 0:15 (next: step 3/6 BACKWARD 2.5 km/h for 2:30 · work)"),
        ),
    ],
)
def test_event_lines(item: SessionEvent, line: str) -> None:
    sink = PlainSink(EventBus().subscribe("plain"))
    assert sink.line_for(item) == f"{format_clock(item.t):>8}  {line}"


def test_formatting_for_people() -> None:
    assert [format_clock(s) for s in (0, 59.6, 83, 3725, -4)] == [
        "0:00",
        "1:00",
        "1:23",
        "1:02:05",
        "0:00",
    ]
    assert [format_speed(v) for v in (2.5, 4, 2.25, 12.6)] == ["2.5", "4.0", "2.25", "12.6"]
    assert [format_distance(m) for m in (0, 850.4, 1234)] == ["0 m", "850 m", "1.23 km"]


def test_step_data_that_does_not_match_the_contract_never_raises() -> None:
    garbage: dict[str, Any] = {
        "index": "three",
        "direction": "sideways",
        "speed_kmh": "fast",
        "duration_s": -5,
        "label": 7,
        "turnaround": "yes",
        "next": [1, 2],
    }
    started = event(0, EventKind.STEP_STARTED, **garbage)
    assert isinstance(started, StepStarted)
    # Unknown direction counts as backward, like every limit does.
    assert started.step == StepInfo(-1, Direction.BACKWARD, 0.0, 0.0)
    assert started.next is None
    turn = event(0, EventKind.TURNAROUND, phase="spin")
    assert isinstance(turn, TurnaroundPhase)
    assert turn.phase is None
    assert turn.needs_confirm


def test_every_turn_is_named_by_the_way_it_turns_in_one_set_of_words() -> None:
    """The demo's turns, as the session announces them from its plan: the line
    for the turn back to forward says "the console" and nothing of "the rear"."""
    from retrorun.limits import to_kmh
    from retrorun.programs import load_program, plan
    from retrorun.sinks.plain import format_event

    steps = plan(load_program("demo")).steps
    lines = []
    for step in (s for s in steps if s.turnaround):
        info = StepInfo(
            index=step.index,
            direction=step.direction,
            speed_kmh=to_kmh(step.speed),
            duration_s=step.duration_s,
            label=step.label,
            cue=step.cue or "",
            turnaround=True,
        )
        lines.append(format_event(StepStarted(t=0.0, message="", step=info, total=len(steps))))
    to_back, to_front = lines
    assert "the rear" in to_back
    assert "the console" not in to_back
    assert "forward" not in to_back.lower()
    assert "the console" in to_front
    assert "the rear" not in to_front
    assert "backward" not in to_front.lower()
