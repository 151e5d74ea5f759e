"""Whole guided sessions against the embedded simulator (spec-strict), on looptime's fake clock.

What the belt did is read from the session record and from the simulator's own
state log, never from the controller's belief.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.errors import UsageError
from retrorun.events import EventKind, SessionEvent, Status
from retrorun.limits import RunnerProfile
from retrorun.record import read_record
from retrorun.session import Session
from treadsim.runtime import read_state_log

pytestmark = pytest.mark.looptime


Driver = Callable[[Session], Coroutine[Any, Any, None]]


async def run_session(
    tmp_path: Path,
    program: str = "demo",
    faults: tuple[str, ...] = (),
    *,
    driver: Driver | None = None,
    **extra: Any,
) -> tuple[int, list[dict[str, Any]], str]:
    """Run a whole session; ``driver`` gets the Session (as the API hands it out)."""
    record = tmp_path / "session.jsonl"
    options = RunOptions(
        program=program,
        sim_faults=faults,
        yes=True,
        plain=True,
        voice="off",
        record=record,
        reference_kmh=8.0,
        sim_strict=extra.pop("sim_strict", True),  # the strictest treadmill the spec allows
        **extra,
    )
    out = io.StringIO()
    drivers: list[asyncio.Task[None]] = []

    def on_session(session: Session) -> None:
        if driver is not None:
            drivers.append(asyncio.get_running_loop().create_task(driver(session)))

    code = await run_prepared(prepare(options), stdout=out, on_session=on_session)
    for task in drivers:
        await task  # a failed assertion in the driver fails the test
    return code, list(read_record(record)), out.getvalue()


def sim_states(path: Path) -> list[dict[str, Any]]:
    """What the simulator itself says its belt did (its state log)."""
    return read_state_log(path.read_text())


async def in_step(session: Session, index: int) -> None:
    """Wait (bounded) until the session is timing step ``index``."""
    async with asyncio.timeout(600):
        while not (  # noqa: ASYNC110 - polls what the API exposes
            session.status is Status.RUNNING
            and session.step_index == index
            and session.step_deadline is not None
        ):
            await asyncio.sleep(0.5)


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


@pytest.mark.hazard("HZ-19")
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


@pytest.mark.hazard("HZ-01")
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
@pytest.mark.hazard("HZ-02", "HZ-09")
async def test_faults_end_the_session_safely(
    tmp_path: Path, fault: str, reason: str, kind: str
) -> None:
    code, lines, printed = await run_session(tmp_path, faults=(fault,))
    assert code == 1, printed
    assert end(lines)["reason"] == reason
    assert kind in events(lines)
    assert end(lines)["belt_stopped"] is True


@pytest.mark.hazard("HZ-02")
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
@pytest.mark.hazard("HZ-11")
async def test_link_loss_stops_the_belt_then_resumes(tmp_path: Path, fault: str) -> None:
    code, lines, printed = await run_session(tmp_path, faults=(fault,))
    kinds = events(lines)
    assert "link_lost" in kinds
    assert "link_restored" in kinds
    assert code == 0, printed
    assert end(lines)["reason"] == "completed"


@pytest.mark.hazard("HZ-12")
async def test_ignored_speed_commands_end_with_a_safety_stop(tmp_path: Path) -> None:
    code, lines, _ = await run_session(tmp_path, faults=("ignore-speed",))
    assert code == 1
    assert end(lines)["reason"] == "safety_stop"
    assert "command_ignored_by_device" in events(lines)


@pytest.mark.hazard("HZ-12")
async def test_reject_control_is_an_honest_error(tmp_path: Path) -> None:
    code, lines, printed = await run_session(tmp_path, faults=("reject-control",))
    assert code == 1
    assert end(lines)["reason"] in {"error", "safety_stop"}
    assert "control" in printed.lower() or "control" in json.dumps(end(lines))
    # Words for a person, with what to do: never an op code or a result name.
    assert "press Start or enable Bluetooth control" in end(lines)["message"]
    assert "control_not_permitted" not in end(lines)["message"]


async def test_slow_ramp_still_completes(tmp_path: Path) -> None:
    code, lines, _ = await run_session(tmp_path, faults=("slow-ramp:0.2",))
    assert code == 0
    assert max(backward_speeds(lines)) <= lines[0]["ceiling_backward_kmh"]


@pytest.mark.hazard("HZ-06", "HZ-07")
async def test_pause_and_resume_from_the_api_stop_the_belt_and_keep_the_step(
    tmp_path: Path,
) -> None:
    state_log = tmp_path / "sim.jsonl"
    stamps: dict[str, float] = {}

    async def drive(session: Session) -> None:
        await in_step(session, 2)  # the demo's first backward step (30 s)
        await asyncio.sleep(10)
        stamps["pause"] = session.origin_hint() or 0.0
        assert session.request("pause", source="api")
        assert not session.request("pause", source="api")  # already pausing
        await asyncio.sleep(20)
        assert session.paused
        assert session.request("resume", source="api")

    code, lines, printed = await run_session(tmp_path, driver=drive, sim_state_log=state_log)
    assert code == 0, printed
    kinds = events(lines)
    assert kinds.count("command_ack") == 2
    assert "command_refused" in kinds
    assert kinds.index("paused") < kinds.index("resumed")

    # The simulator's belt stopped during the pause and ran again after it.
    belt = [(s["belt_kmh"], s["running"]) for s in sim_states(state_log)]
    first_run = next(i for i, (kmh, running) in enumerate(belt) if running and kmh > 0)
    stopped = next(i for i in range(first_run, len(belt)) if belt[i] == (0.0, False))
    assert any(running and kmh >= 2.0 for kmh, running in belt[stopped:])

    # The paused step still got its whole 30 s of running, after the pause.
    starts = {line["index"]: line["t"] for line in lines if line.get("kind") == "step_started"}
    assert starts[3] - starts[2] >= 30 + 20
    # Unattended, resuming waits its hold before the belt starts again.
    ack_resume = [line["t"] for line in lines if line.get("kind") == "command_ack"][1]
    resumed = next(line["t"] for line in lines if line.get("kind") == "resumed")
    assert resumed - ack_resume >= 5
    assert max(backward_speeds(lines)) <= lines[0]["ceiling_backward_kmh"]


@pytest.mark.hazard("HZ-08", "HZ-09")
async def test_stop_from_the_api_stops_the_simulated_belt(tmp_path: Path) -> None:
    state_log = tmp_path / "sim.jsonl"

    async def drive(session: Session) -> None:
        await in_step(session, 2)
        assert session.request("stop", source="api")

    code, lines, _ = await run_session(tmp_path, driver=drive, sim_state_log=state_log)
    assert code == 1
    assert end(lines)["reason"] == "user_stop"
    assert end(lines)["belt_stopped"] is True
    last = sim_states(state_log)[-1]
    assert last["running"] is False
    assert last["target_kmh"] == 0.0


HILL = """
name = "Hill then back"
description = "Uphill forward, then a gentle backward slope"
profile = "novice"

[[steps]]
kind = "warmup"
direction = "forward"
duration = "30s"
speed_kmh = 3.0
incline_pct = 12
label = "Uphill forward"

[[steps]]
kind = "work"
direction = "backward"
duration = "30s"
speed_kmh = 2.5
incline_pct = 5
label = "Backward slope"
"""


@pytest.mark.hazard("HZ-20")
async def test_a_turnaround_flattens_the_deck_before_the_runner_turns(tmp_path: Path) -> None:
    program = tmp_path / "hill.toml"
    program.write_text(HILL)
    code, lines, printed = await run_session(tmp_path, str(program))
    assert code == 0, printed
    inclines = [line["value"] for line in lines if line.get("op") == "set_target_inclination"]
    assert inclines == [12.0, 0.0, 5.0]
    turn = next(line for line in lines if line.get("phase") == "turn")
    before_turn = [line for line in lines if line["type"] == "telemetry" and line["t"] <= turn["t"]]
    # The deck was up at 12 % and had come down before "turn around now".
    assert max(line["incline_pct"] for line in before_turn) >= 10
    assert before_turn[-1]["incline_pct"] <= 0.5
    backward = [
        line for line in lines if line["type"] == "telemetry" and line["direction"] == "backward"
    ]
    assert max(line["incline_pct"] for line in backward) <= 10


@pytest.mark.hazard("HZ-07")
async def test_a_console_pause_waits_for_a_resume_and_then_completes(tmp_path: Path) -> None:
    async def drive(session: Session) -> None:
        async with asyncio.timeout(600):
            while not session.paused:  # noqa: ASYNC110 - polls what the API exposes
                await asyncio.sleep(0.5)
        await asyncio.sleep(15)
        assert session.paused  # nobody resumed: still paused, not a safety stop
        assert session.request("resume", source="api")

    code, lines, printed = await run_session(tmp_path, faults=("console-pause@60",), driver=drive)
    assert code == 0, printed
    kinds = events(lines)
    assert kinds.index("paused") < kinds.index("resumed")
    assert end(lines)["reason"] == "completed"


@pytest.mark.hazard("HZ-07")
async def test_start_at_the_console_resumes_a_console_pause(tmp_path: Path) -> None:
    code, lines, printed = await run_session(
        tmp_path, faults=("console-pause@60", "console-start@70")
    )
    assert code == 0, printed
    acks = [line for line in lines if line.get("kind") == "command_ack"]
    assert [ack["source"] for ack in acks] == ["console"]
    assert max(backward_speeds(lines)) <= lines[0]["ceiling_backward_kmh"]


@pytest.mark.hazard("HZ-08", "HZ-09")
async def test_one_sigterm_stops_every_session_sharing_the_loop(tmp_path: Path) -> None:
    """An embedding program runs two treadmills on one loop: a signal stops both."""
    sessions: list[Session] = []
    both_running = asyncio.Event()

    async def drive(session: Session) -> None:
        sessions.append(session)
        await in_step(session, 2)
        if both_running.is_set():
            return
        async with asyncio.timeout(600):
            while len(sessions) < 2:  # noqa: ASYNC110 - polls what the API exposes
                await asyncio.sleep(0.5)
        for other in sessions:
            await in_step(other, 2)
        both_running.set()
        os.kill(os.getpid(), signal.SIGTERM)  # once: the loop's handler is still in place

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (code_a, lines_a, _), (code_b, lines_b, _) = await asyncio.gather(
        run_session(tmp_path / "a", driver=drive),
        run_session(tmp_path / "b", driver=drive),
    )
    assert (code_a, code_b) == (143, 143)
    for lines in (lines_a, lines_b):
        assert end(lines)["reason"] == "signal"
        assert end(lines)["belt_stopped"] is True
    # The last session out put the default handler back.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.hazard("HZ-07", "HZ-11")
async def test_resume_is_refused_while_the_link_is_down(tmp_path: Path) -> None:
    refused: list[bool] = []

    async def drive(session: Session) -> None:
        async for item in session.bus.subscribe("test", maxsize=4096):
            if isinstance(item, SessionEvent) and item.kind is EventKind.LINK_LOST:
                # At once, as a runner pressing resume the moment the link drops.
                refused.append(not session.request("resume", source="api"))
                return

    code, lines, printed = await run_session(tmp_path, faults=("drop-link@70",), driver=drive)
    assert refused == [True]
    [refusal] = [line for line in lines if line.get("kind") == "command_refused"]
    assert "link is down" in refusal["message"]
    # The link's own restore resumed the session, which then completed.
    assert code == 0, printed


@pytest.mark.hazard("HZ-07")
async def test_after_a_pause_the_approved_speed_goes_before_start(tmp_path: Path) -> None:
    """A paused treadmill resumes the target it had: Start never goes out first."""
    code, lines, printed = await run_session(
        tmp_path, faults=("console-pause@60", "console-start@70")
    )
    assert code == 0, printed
    resumed = next(i for i, line in enumerate(lines) if line.get("kind") == "resumed")
    ops = [
        line["op"]
        for line in lines[resumed:]
        if line["type"] == "command" and line["op"] in {"set_target_speed", "start_or_resume"}
    ]
    assert ops[:2] == ["set_target_speed", "start_or_resume"]


@pytest.mark.hazard("HZ-01")
def test_unlock_fast_lets_a_trained_runner_set_a_ceiling_above_10() -> None:
    def options(*, unlock_fast: bool) -> RunOptions:
        return RunOptions(
            program="demo", profile=RunnerProfile.TRAINED, ceiling=1100, unlock_fast=unlock_fast
        )

    assert prepare(options(unlock_fast=True)).preview.ceiling == 1100
    with pytest.raises(UsageError, match="--unlock-fast"):
        prepare(options(unlock_fast=False))
