"""Whole guided sessions against the embedded simulator, on looptime's fake clock.

What the belt did is read from the session record and from the simulator's own
state log, never from the controller's belief.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from retrorun.app import prepare, run_prepared
from retrorun.cli._run import RunOptions
from retrorun.programs import library
from retrorun.record import read_record

pytestmark = pytest.mark.looptime

LIBRARY = [name for name, _ in library()]


async def run_session(
    tmp_path: Path, program: str = "demo", faults: tuple[str, ...] = (), **extra: Any
) -> tuple[int, list[dict[str, Any]], str]:
    record = tmp_path / "session.jsonl"
    options = RunOptions(
        program=program,
        sim_faults=faults,
        yes=True,
        plain=True,
        voice="off",
        record=record,
        reference_kmh=8.0,
        **extra,
    )
    out = io.StringIO()
    code = await run_prepared(prepare(options), stdout=out)
    return code, list(read_record(record)), out.getvalue()


def backward_speeds(lines: list[dict[str, Any]]) -> list[float]:
    return [
        line["speed_kmh"]
        for line in lines
        if line["type"] == "telemetry" and line["direction"] == "backward"
    ]


def events(lines: list[dict[str, Any]]) -> list[str]:
    return [line["kind"] for line in lines if line["type"] == "event"]


def end(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [last] = [line for line in lines if line["type"] == "end"]
    return last


@pytest.mark.parametrize("program", LIBRARY)
async def test_every_library_program_completes_under_the_ceiling(
    tmp_path: Path, program: str
) -> None:
    code, lines, printed = await run_session(tmp_path, program)
    start = lines[0]
    assert start["type"] == "start"
    assert start["simulated"] is True
    ceiling = start["ceiling_backward_kmh"]
    assert code == 0, printed
    assert end(lines)["reason"] == "completed"
    assert end(lines)["belt_stopped"] is True
    speeds = backward_speeds(lines)
    assert speeds, "a backward program records backward telemetry"
    assert max(speeds) <= ceiling
    assert "step_started" in events(lines)
    assert "completed" in printed


async def test_demo_record_has_every_documented_field(tmp_path: Path) -> None:
    _code, lines, _ = await run_session(tmp_path)
    start = lines[0]
    for key in ("program", "profile", "ceiling_backward_kmh", "device", "simulated", "started_at"):
        assert key in start
    telemetry = next(line for line in lines if line["type"] == "telemetry")
    for key in ("t", "speed_kmh", "incline_pct", "distance_m", "direction", "step"):
        assert key in telemetry
    command = next(line for line in lines if line["type"] == "command")
    assert {"op", "value", "result"} <= command.keys()
    for key in ("reason", "belt_stopped", "distance_m", "duration_s", "backward_s", "energy_kcal"):
        assert key in end(lines)
    assert "turnaround" in events(lines)
    assert end(lines)["backward_s"] > 0


async def test_a_lower_user_ceiling_holds(tmp_path: Path) -> None:
    _code, lines, _ = await run_session(tmp_path, "retro-intro", ceiling=200)
    assert lines[0]["ceiling_backward_kmh"] == 2.0
    assert max(backward_speeds(lines)) <= 2.0


@pytest.mark.parametrize(
    ("fault", "reason", "kind"),
    [
        ("safety-key@60", "safety_key", "safety_key"),
        ("console-stop@60", "user_stop", "user_stop"),
        ("spurious-speed@70:9", "safety_stop", "ceiling_violation"),
        ("console-speedup@70:9", "safety_stop", "ceiling_violation"),
    ],
)
async def test_faults_end_the_session_safely(
    tmp_path: Path, fault: str, reason: str, kind: str
) -> None:
    code, lines, printed = await run_session(tmp_path, faults=(fault,))
    assert code == 1, printed
    assert end(lines)["reason"] == reason
    assert kind in events(lines)
    assert end(lines)["belt_stopped"] is True


async def test_an_over_ceiling_record_is_answered_at_once(tmp_path: Path) -> None:
    _code, lines, _ = await run_session(tmp_path, faults=("spurious-speed@70:9",))
    over = [
        i
        for i, line in enumerate(lines)
        if line["type"] == "telemetry"
        and line["direction"] == "backward"
        and line["speed_kmh"] > lines[0]["ceiling_backward_kmh"] + 0.3
    ]
    assert over
    first = over[0]
    # The corrective command follows that record before the next one arrives.
    following = lines[first + 1 :]
    next_telemetry = next(i for i, line in enumerate(following) if line["type"] == "telemetry")
    assert any(line["type"] == "command" for line in following[:next_telemetry])


@pytest.mark.parametrize("fault", ["drop-link@70", "stall@70:8"])
async def test_link_loss_stops_the_belt_then_resumes(tmp_path: Path, fault: str) -> None:
    code, lines, printed = await run_session(tmp_path, faults=(fault,))
    kinds = events(lines)
    assert "link_lost" in kinds
    assert "link_restored" in kinds
    assert code == 0, printed
    assert end(lines)["reason"] == "completed"


async def test_ignored_speed_commands_end_with_a_safety_stop(tmp_path: Path) -> None:
    code, lines, _ = await run_session(tmp_path, faults=("ignore-speed",))
    assert code == 1
    assert end(lines)["reason"] == "safety_stop"
    assert "command_ignored_by_device" in events(lines)


async def test_reject_control_is_an_honest_error(tmp_path: Path) -> None:
    code, lines, printed = await run_session(tmp_path, faults=("reject-control",))
    assert code == 1
    assert end(lines)["reason"] in {"error", "safety_stop"}
    assert "control" in printed.lower() or "control" in json.dumps(end(lines))


async def test_slow_ramp_still_completes(tmp_path: Path) -> None:
    code, lines, _ = await run_session(tmp_path, faults=("slow-ramp:0.2",))
    assert code == 0
    assert max(backward_speeds(lines)) <= lines[0]["ceiling_backward_kmh"]
