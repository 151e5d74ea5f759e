"""Faults that meet a particular moment, and faults together: the belt stays safe.

Each test puts a fault (or a person at the console, or a second fault) at a
moment of the session — during a control-point write, a turn-around, a pause —
and judges what the belt did from the simulator's own state log, never from
retrorun's record. Times in ``marks`` are simulator seconds, as in the log.

The demo program (novice, ceiling 5.0 km/h): step 0 forward, 1 turn-around,
2 and 3 backward, 4 turn-around, 5 forward.
"""

from __future__ import annotations

import asyncio
import itertools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from run_support import Run, run_session

from retrorun.app import max_heart_rate
from retrorun.errors import SafetyStop
from retrorun.events import Direction, Status
from retrorun.limits import RunnerProfile
from retrorun.session import Session
from session_waits import in_step, until
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime

DEVICES = Path(__file__).resolve().parents[2] / "devices"
NOTIFY_S = 1.0  # the default simulated treadmill's telemetry period
ANSWER_S = NOTIFY_S + 0.5  # a record, the governor's answer, and the command's round trip


def target_down_by(run: Run, t0: float, limit_kmh: float, within_s: float = ANSWER_S) -> bool:
    """The simulator's target (or the belt's running state) obeyed by ``t0 + within_s``."""
    return any(
        (not s["running"] or s["target_kmh"] <= limit_kmh)
        for s in run.states
        if t0 <= s["t"] <= t0 + within_s
    )


def stopped_by(run: Run, t0: float, within_s: float = ANSWER_S) -> bool:
    return target_down_by(run, t0, 0.0, within_s)


def write_program(path: Path, steps: list[dict[str, Any]], profile: str = "novice") -> Path:
    lines = [f'name = "{path.stem}"', f'profile = "{profile}"', ""]
    for step in steps:
        lines.append("[[steps]]")
        for key, value in step.items():
            text = f'"{value}"' if isinstance(value, str) else str(value).lower()
            lines.append(f"{key} = {text}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def assert_ends_cleanly(run: Run) -> None:
    """An end line, no internal error, and the simulated belt at rest at the end."""
    end = run.end()
    assert "internal error" not in end["message"], end
    assert run.lines[-1]["type"] == "end", "nothing is written after the end line"
    assert not run.states[-1]["running"] or run.states[-1]["target_kmh"] == 0.0
    assert run.states[-1]["belt_kmh"] <= 0.1, run.states[-1]


# -- 1. a link drop during a control-point write ----------------------------------


@pytest.mark.parametrize("nth", range(2, 10))
@pytest.mark.hazard("HZ-10", "HZ-11")
async def test_a_link_drop_during_a_write_never_kills_a_task(tmp_path: Path, nth: int) -> None:
    run = await run_session(tmp_path, faults=(f"drop-link@write{nth}",))
    assert_ends_cleanly(run)
    assert run.end()["reason"] == "completed", run.printed
    assert run.code == 0
    assert run.events("link_lost")


@pytest.mark.parametrize(("nth", "again"), [(3, 1), (3, 2), (7, 1), (7, 2)])
@pytest.mark.hazard("HZ-11")
async def test_a_link_that_drops_again_during_the_reconnect_is_reconnected(
    tmp_path: Path, nth: int, again: int
) -> None:
    """The link drops on write ``nth``, and again on the reconnect's ``again``-th
    write (1: Request Control, 2: its Stop): a reconnect that gave up there left
    the link down for good, the session hanging and the belt running."""
    run = await run_session(
        tmp_path, faults=(f"drop-link@write{nth}", f"drop-link@write{nth + again}")
    )
    assert run.end()["reason"] == "completed", run.printed
    assert_ends_cleanly(run)
    # The reconnect the second drop cut, then one that held (the record begins
    # after the first Request Control).
    [cut, held] = run.commands("request_control")
    assert cut["result"] == "link lost" or any(
        c["result"] == "link lost" and c["t"] == cut["t"] for c in run.commands("stop_or_pause")
    ), run.commands()
    assert held["result"] == "success"
    assert all(s["connected"] for s in run.states if held["t"] + 0.2 < s["t"] < run.end()["t"])
    assert len(run.events("link_restored")) == 1, run.printed


@pytest.mark.hazard("HZ-09", "HZ-11")
async def test_a_pause_at_the_instant_of_a_link_drop_then_stop_and_signal_work(
    tmp_path: Path,
) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        sim.inject("drop-link")
        session.request("pause", source="test")
        await asyncio.sleep(20)
        marks["stop"] = sim.now()
        assert session.request("stop", source="test")

    run = await run_session(tmp_path, driver=drive)
    assert run.end()["reason"] == "user_stop"
    assert stopped_by(run, marks["stop"], 2 * NOTIFY_S)
    assert_ends_cleanly(run)


@pytest.mark.hazard("HZ-09", "HZ-11")
async def test_a_signal_is_served_while_a_procedure_waits_on_a_dead_link(tmp_path: Path) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        sim.inject("stall:60")  # no telemetry: the watchdog drops the link meanwhile
        session.adjust_speed(10, source="test")
        await asyncio.sleep(1.0)
        marks["signal"] = sim.now()
        from retrorun.session import EndReason

        session.end(EndReason.SIGNAL, "SIGTERM: stopping the belt")

    run = await run_session(tmp_path, driver=drive)
    assert run.end()["reason"] == "signal"
    assert run.end()["t"] < marks["signal"] + 30  # bounded, never a hang
    assert run.states[-1]["target_kmh"] == 0.0 or not run.states[-1]["running"]


@pytest.mark.hazard("HZ-10", "HZ-11")
async def test_a_link_that_comes_back_without_telemetry_ends_the_session(tmp_path: Path) -> None:
    """The link reconnects every time, but the machine sends no telemetry (its data
    gone silent): after three silent reconnects the session ends, telling the runner
    the belt cannot be seen, instead of reconnecting for ever (seed 7 case 566, whose
    simulator's ticker had died)."""
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        marks["silent"] = sim.now()
        sim.inject("stall:3600")

    run = await run_session(tmp_path, driver=drive)
    end = run.end()
    assert end["reason"] == "link_lost", end
    assert "no telemetry after 3 reconnects" in end["message"]
    assert end["t"] < marks["silent"] + 60  # bounded: a few watchdog periods
    lost = run.events("link_lost")
    assert any("stop it at the console" in e["message"] for e in lost), lost
    # Each reconnect stopped the belt (the simulator's truth), and the record ended.
    assert run.lines[-1]["type"] == "end"
    assert run.states[-1]["belt_kmh"] <= 0.1, run.states[-1]


@pytest.mark.parametrize("silent_s", [3.5, 4.0])
@pytest.mark.hazard("HZ-11")
async def test_a_link_lost_while_the_belt_speeds_up_is_no_halt_when_it_comes_back(
    tmp_path: Path, silent_s: float
) -> None:
    """The belt was on its way up (the first step, from rest) when its telemetry went
    silent and the watchdog dropped the link: back after the outage, a first record
    faster than the last one before it (within its acceleration) is the belt that went
    on climbing until the reconnect's Stop, not a belt restarted by someone: no halt
    (the session's own pause at the loss had zeroed its target, and the reconnect's
    watch took the last reading for the fastest the belt could be)."""

    async def drive(session: Session, sim: Simulator) -> None:
        await until(
            lambda: (
                (session.treadmill.latest is not None)
                and (session.treadmill.latest.speed or 0) >= 100
            )
        )
        sim.inject(f"stall:{silent_s}")

    run = await run_session(tmp_path, driver=drive)
    assert run.events("link_lost"), run.printed
    assert not run.events("belt_halted"), run.events("belt_halted")
    assert run.end()["reason"] == "completed", run.end()


# -- 2. the turn-around is watched --------------------------------------------------


@pytest.mark.hazard("HZ-05")
async def test_a_belt_that_speeds_up_during_the_turn_is_halted(tmp_path: Path) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: session.governor.direction is Direction.TURNING)
        marks["jump"] = sim.now()
        sim.inject("spurious-speed:5.3")

    run = await run_session(tmp_path, driver=drive)
    assert stopped_by(run, marks["jump"])
    assert run.events("belt_halted")
    # At rest within its run-down (5.3 km/h at 1.5 km/h/s) and a record or two.
    rested = marks["jump"] + 5.3 / 1.5 + 2.5
    late = [s for s in run.belt_after(rested) if s["t"] < marks["jump"] + 8]
    assert late
    assert all(s["belt_kmh"] <= 0.1 for s in late)
    assert run.end()["reason"] == "completed"  # the runner resumed after the hold


@pytest.mark.parametrize("fault", ["console-start", "spurious-speed:2.2"])
@pytest.mark.hazard("HZ-05")
async def test_a_stopped_belt_turn_around_halts_any_movement(tmp_path: Path, fault: str) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: session.governor.direction is Direction.TURNING)
        await until(lambda: sim.state()["belt_kmh"] == 0.0)
        marks["fault"] = sim.now()
        sim.inject(fault)

    run = await run_session(tmp_path, driver=drive, profile=RunnerProfile.OLDER_ADULT)
    assert stopped_by(run, marks["fault"])
    assert run.events("belt_halted")
    if fault == "console-start":
        assert any("Start pressed" in e["message"] for e in run.events("console_change"))
    assert "no safety events" not in run.printed


@pytest.mark.parametrize("turn", [1, 4])
@pytest.mark.parametrize("early", [0.3, 0.5, 0.8])
@pytest.mark.hazard("HZ-05")
async def test_a_jump_just_before_a_turn_ends_is_judged_as_turning(
    tmp_path: Path, turn: int, early: float
) -> None:
    """The belt jumps ``early`` seconds before the turn-around's hold ends: the turn
    must not end on a record from before the jump, leaving the jump to be seen
    facing the new way (forward has no ceiling)."""
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await until(
            lambda: session.step_index == turn and session.governor.direction is Direction.TURNING
        )
        hold = session.plan.steps[turn].duration_s
        await asyncio.sleep(hold - early)
        marks["jump"] = sim.now()
        sim.inject("spurious-speed:11.9")

    run = await run_session(tmp_path, driver=drive)
    assert stopped_by(run, marks["jump"], NOTIFY_S + 0.4), run.belt_after(marks["jump"])[:3]
    assert run.events("belt_halted")


# -- 3. and 4. a paused session watches the belt ------------------------------------


@pytest.mark.parametrize("fault", ["spurious-speed:5.3", "console-speedup:5.5", "console-start"])
@pytest.mark.hazard("HZ-06")
async def test_a_belt_that_moves_while_paused_is_stopped(tmp_path: Path, fault: str) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        session.request("pause", source="test")
        await until(lambda: sim.state()["belt_kmh"] == 0.0)
        await asyncio.sleep(3)
        marks["fault"] = sim.now()
        sim.inject(fault)
        await asyncio.sleep(20)
        marks["resume"] = sim.now()
        if session.paused:
            session.request("resume", source="test")

    run = await run_session(tmp_path, driver=drive)
    assert stopped_by(run, marks["fault"])
    assert run.events("belt_halted")
    # While paused, retrorun itself never commands a speed (a correction is a stop).
    paused_at = run.events("paused")[0]["t"]
    resumed = run.events("resumed")
    until_t = resumed[0]["t"] if resumed else run.end()["t"]
    speeds = [c for c in run.commands("set_target_speed") if paused_at <= c["t"] < until_t]
    assert speeds == []
    assert_ends_cleanly(run)


@pytest.mark.hazard("HZ-02", "HZ-12")
async def test_a_correction_no_record_confirms_is_a_stop_within_a_period(tmp_path: Path) -> None:
    """A machine that ignores speed commands jumps to 5.6 km/h under a rehab runner
    facing backward (ceiling 4.0); the correction goes out, and telemetry stalls just
    after: the belt is stopped a telemetry period later, not at the link watchdog's
    3 s (seed 93 case 1406)."""
    program = write_program(
        tmp_path / "back.toml",
        [{"kind": "work", "direction": "backward", "duration": "30s", "speed_kmh": 3.8}],
        profile="rehab",
    )
    record = tmp_path / "session.jsonl"

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: '"ceiling_violation"' in record.read_text(), step=0.05)
        sim.inject("stall:5.9")

    faults = ("ignore-speed", "spurious-speed@write2:5.6")
    run = await run_session(tmp_path, str(program), faults, driver=drive)
    jumped = next(s["t"] for s in run.states if s["belt_kmh"] > 4.1)
    # The record that shows the jump (within a period), the correction's own record
    # that never comes (a period and a margin later), the Stop's round trip.
    assert stopped_by(run, jumped, 2 * NOTIFY_S + 0.6), run.belt_after(jumped)[:30]
    assert run.end()["reason"] == "safety_stop", run.printed
    assert_ends_cleanly(run)


@pytest.mark.parametrize("pause", ["ours", "console"])
@pytest.mark.hazard("HZ-06", "HZ-12")
async def test_a_resume_never_runs_the_belt_back_to_a_target_the_machine_kept(
    tmp_path: Path, pause: str
) -> None:
    """A machine that ignores speed commands jumps to 8.5 km/h under a runner facing
    backward (ceiling 7.5); the correction is acknowledged and ignored, and the belt is
    paused a moment later, by the runner or at the console. Paused, a machine keeps its
    target for Start: facing backward the pause is a Stop, so the resume never runs
    the belt back toward 8.5 km/h (seed 71 case 1249)."""
    program = write_program(
        tmp_path / "back.toml",
        [{"kind": "work", "direction": "backward", "duration": "60s", "speed_kmh": 7.5}],
        profile="recreational",
    )
    record = tmp_path / "session.jsonl"
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: sim.state()["belt_kmh"] > 0)
        sim.inject("spurious-speed:8.5")
        await until(lambda: '"ceiling_violation"' in record.read_text(), step=0.05)
        if pause == "ours":
            session.request("pause", source="test")
        else:
            sim.inject("console-pause")
        await until(lambda: sim.state()["belt_kmh"] == 0.0)
        await asyncio.sleep(3)
        marks["resume"] = sim.now()
        session.request("resume", source="test")

    run = await run_session(tmp_path, str(program), ("ignore-speed",), driver=drive)
    assert run.events("ceiling_violation")
    after = [s for s in run.states if s["t"] >= marks["resume"] and s["running"]]
    assert after, "the belt never ran again after the resume"
    assert max(s["target_kmh"] for s in after) <= 7.5, after[:3]
    assert max(s["belt_kmh"] for s in after) <= 7.5
    assert_ends_cleanly(run)


@pytest.mark.parametrize("delay", [0.0, 0.2, 0.6])
@pytest.mark.hazard("HZ-06", "HZ-11")
async def test_a_jump_right_after_the_reconnects_stop_is_halted_at_its_first_record(
    tmp_path: Path, delay: float
) -> None:
    """The treadmill reboots, the reconnect stops the belt, and the belt jumps to
    4.3 km/h just after: the first record after the reconnect already shows more
    than the belt had when the link went (it cannot speed up while it stops), so it
    is halted at that record, not a run-down envelope later."""
    run = await run_session(tmp_path, faults=("reboot@20.1", f"spurious-speed@stopped+{delay}:4.3"))
    jumped = next(s["t"] for s in run.states if s["t"] > 20.1 and s["belt_kmh"] >= 4.0)
    seen = [
        line["t"]
        for line in run.lines
        if line["type"] == "telemetry" and line["t"] >= jumped and line["speed_kmh"] >= 4.0
    ]
    # Answered at the first record that shows it (or before: the reconnect's Stop).
    assert stopped_by(run, seen[0] if seen else jumped, 0.4), run.belt_after(jumped)[:3]
    assert_ends_cleanly(run)


@pytest.mark.parametrize("after", [0.3, 0.7, 0.95])
async def test_a_console_pause_while_the_belt_speeds_up_is_no_excursion(
    tmp_path: Path, after: float
) -> None:
    """The console pauses a belt still on its way up to the step's speed: its first
    record after the pause is faster than the last one before (taken as it
    started), yet it is running down. That is no excursion and no halt."""

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: sim.state()["belt_kmh"] > 0)
        await asyncio.sleep(after)
        sim.inject("console-pause")
        await asyncio.sleep(10)
        session.request("resume", source="test")

    run = await run_session(tmp_path, driver=drive)
    assert not run.events("belt_halted"), run.printed
    assert run.end()["reason"] == "completed", run.printed
    assert_ends_cleanly(run)


@pytest.mark.parametrize("gap", [0.5, 1.0, 2.0])
async def test_start_at_the_console_soon_after_our_own_start_is_a_person(
    tmp_path: Path, gap: float
) -> None:
    """The console pauses the belt a second after our Start, and Start is pressed
    ``gap`` s later: that status is a person at the console, not the echo of our
    own Start of a moment before, and the paused belt is halted before it moves
    far (from the status, not a record later)."""
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await until(lambda: sim.state()["belt_kmh"] > 0)
        await asyncio.sleep(0.5)
        sim.inject("console-pause")
        await asyncio.sleep(gap)
        marks["start"] = sim.now()
        sim.inject("console-start")

    run = await run_session(tmp_path, driver=drive)
    assert any("Start pressed" in e["message"] for e in run.events("console_change"))
    assert stopped_by(run, marks["start"], 0.4), run.belt_after(marks["start"])[:5]


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.5])
async def test_start_pressed_at_the_console_after_the_ends_stop_is_stopped_at_once(
    tmp_path: Path, delay: float
) -> None:
    """The session ends and stops the belt; Start is pressed at the console the
    moment it stops (or a little later). The belt gets Stop again from the status,
    not a record later, and is left at rest."""
    run = await run_session(tmp_path, faults=(f"console-start@stopped+{delay}",))
    assert run.end()["reason"] == "completed", run.printed
    stop = next(
        line["t"] for line in run.commands("stop_or_pause") if line["t"] > run.end()["t"] - 15
    )
    after = [s for s in run.states if s["t"] >= stop]
    pairs = itertools.pairwise(after)
    # The end's Stop (undone in its own tick when Start is pressed at once), and
    # every restart after it, is followed by a stopped belt within the latency of
    # the status.
    restarted = [stop] + [b["t"] for a, b in pairs if b["running"] and not a["running"]]
    assert len(run.commands("stop_or_pause")) >= 2, "no Stop again after the console's Start"
    for t in restarted:
        window = [s["running"] for s in run.states if t <= s["t"] <= t + 0.5]
        assert not all(window), run.belt_after(t)[:6]
    assert_ends_cleanly(run)


# -- 5. intermittent excursions -----------------------------------------------------


@pytest.mark.hazard("HZ-03")
async def test_spikes_that_come_and_go_stop_the_belt(tmp_path: Path) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        marks["first"] = sim.now()
        for _ in range(10):
            if session.status is Status.STOPPED:
                return
            sim.inject("spurious-speed:8")
            await asyncio.sleep(3)

    run = await run_session(tmp_path, driver=drive)
    assert run.end()["reason"] == "safety_stop"
    assert "second excursion" in run.end()["message"]
    over = [s for s in run.belt_after(marks["first"]) if s["belt_kmh"] > 5.0 + 0.1]
    assert len(over) * 0.1 < 10.0, "the belt ran over the ceiling for most of the step"
    assert stopped_by(run, marks["first"] + 3.0, ANSWER_S + 1.0)
    assert_ends_cleanly(run)


# -- 6. a belt already moving at connect --------------------------------------------


@pytest.mark.hazard("HZ-17")
async def test_a_belt_moving_at_connect_is_stopped_before_the_first_step(tmp_path: Path) -> None:
    run = await run_session(tmp_path, sim_initial_speed=10.0)
    assert any("moving at connect" in note for note in run.lines[0]["notes"])
    # The belt came to rest before the first step's speed was ever set ...
    rest = next(i for i, s in enumerate(run.states) if s["belt_kmh"] == 0.0)
    first_step = next(i for i, s in enumerate(run.states) if s["target_kmh"] == 3.0)
    assert rest < first_step
    # ... and from then on never ran over the backward ceiling.
    assert max(s["belt_kmh"] for s in run.states[rest:]) <= 5.0
    assert run.end()["reason"] == "completed"


# -- 7. a rest on a stopped belt waits for the runner -------------------------------


@pytest.mark.hazard("HZ-07")
async def test_a_stopped_belt_rest_restarts_only_when_the_runner_confirms(tmp_path: Path) -> None:
    marks: dict[str, float] = {}
    rest_wait_s = 40.0

    async def drive(session: Session, sim: Simulator) -> None:
        handled = 0
        while session.status is not Status.STOPPED:
            await asyncio.sleep(1.0)
            step = session.plan.steps[session.step_index]
            if session.status is Status.IDLE or (
                session.status is Status.TURNING and session.governor.direction is Direction.TURNING
            ):
                session.confirm(source="test")
            elif step.stop_belt and session.step_deadline is not None:
                # Wait out the rest and then some: the belt must stay at rest.
                index = session.step_index

                def rest_over(index: int = index) -> bool:
                    return session.step_deadline is None or session.step_index != index

                await until(rest_over)
                if session.step_index == index and handled <= index:
                    handled = index + 1
                    marks.setdefault("rest_over", sim.now())
                    await asyncio.sleep(rest_wait_s)
                    marks.setdefault("confirmed", sim.now())
                    session.confirm(source="test")

    run = await run_session(tmp_path, "balance-steps", driver=drive, yes=False)
    assert run.end()["reason"] == "completed", run.printed
    assert any(e.get("what") == "rest" for e in run.events("confirm_needed"))
    held = [s for s in run.states if marks["rest_over"] <= s["t"] < marks["confirmed"]]
    assert held
    assert all(s["belt_kmh"] == 0.0 for s in held)


# -- 8. a lowered ceiling holds through the turn-around ----------------------------


@pytest.mark.hazard("HZ-05")
async def test_a_turn_around_never_exceeds_a_lowered_ceiling(tmp_path: Path) -> None:
    run = await run_session(tmp_path, ceiling=100)
    assert run.end()["reason"] == "completed"
    assert not run.events("ceiling_violation")
    speeds = [c["value"] for c in run.commands("set_target_speed")]
    turn_speeds = speeds[1:2]  # the first slow-down is the turn-around's
    assert turn_speeds == [1.0]
    ends = [s for s in run.states if s["t"] > 5]
    assert ends


# -- 9. a small excursion is corrected and counted ----------------------------------


@pytest.mark.hazard("HZ-02", "HZ-19")
async def test_a_small_excursion_is_corrected_and_shows_in_the_summary(tmp_path: Path) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        marks["jump"] = sim.now()
        sim.inject("spurious-speed:2.8")

    run = await run_session(tmp_path, driver=drive, profile=RunnerProfile.OLDER_ADULT)
    assert target_down_by(run, marks["jump"], 2.5)
    assert run.events("ceiling_violation")
    assert run.end()["over_ceiling_s"] > 0
    assert "over the ceiling for" in run.printed
    window = [s for s in run.belt_after(marks["jump"] + 4.0) if s["t"] < marks["jump"] + 20]
    long_over = [s for s in window if s["belt_kmh"] > 2.5]
    assert long_over == []


# -- 10. a console target over the ceiling is answered from its status --------------


@pytest.mark.hazard("HZ-02")
async def test_a_console_target_over_the_ceiling_is_answered_without_telemetry(
    tmp_path: Path,
) -> None:
    marks: dict[str, float] = {}

    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        sim.inject("stall:10")
        await asyncio.sleep(1.0)
        marks["speedup"] = sim.now()
        sim.inject("console-speedup:9")

    run = await run_session(tmp_path, driver=drive)
    # No telemetry flows; the status notification alone brings the target down.
    assert target_down_by(run, marks["speedup"], 5.0, within_s=0.5)
    assert run.events("ceiling_violation")


# -- 11. a coarse device never jumps backward ---------------------------------------


@pytest.mark.hazard("HZ-04")
async def test_a_coarse_device_never_raises_backward_speed_more_than_the_ramp(
    tmp_path: Path,
) -> None:
    program = write_program(
        tmp_path / "coarse.toml",
        [
            {"kind": "warmup", "direction": "forward", "duration": "20s", "speed_kmh": 2.0},
            {"kind": "work", "direction": "backward", "duration": "20s", "speed_kmh": 2.0},
            {"kind": "work", "direction": "backward", "duration": "20s", "speed_kmh": 4.0},
            {"kind": "cooldown", "direction": "forward", "duration": "20s", "speed_kmh": 2.0},
        ],
    )
    run = await run_session(tmp_path, str(program), sim_profile=DEVICES / "coarse-step.toml")
    assert run.end()["reason"] == "completed", run.printed
    refused = run.events("speed_refused")
    assert refused
    assert refused[0]["speed_kmh"] == 2.0
    backward = [t for t in run.lines if t["type"] == "telemetry" and t["direction"] == "backward"]
    assert max(t["speed_kmh"] for t in backward) <= 2.0


# -- 12. the heart-rate maximum and steep inclines reach the session ----------------


@pytest.mark.hazard("HZ-14")
def test_the_heart_rate_maximum_follows_its_precedence() -> None:
    assert max_heart_rate(None, None) is None
    assert max_heart_rate(None, 40) == 180  # Tanaka: 208 - 0.7 x 40
    assert max_heart_rate(150, 40) == 150  # a clinician's value wins


@pytest.mark.hazard("HZ-14")
async def test_a_heart_rate_maximum_slows_and_stops_the_belt(tmp_path: Path) -> None:
    run = await run_session(tmp_path, max_hr=75)
    assert run.events("hr_high") or any("heart rate" in e["message"] for e in run.events())
    assert run.end()["reason"] == "safety_stop"
    assert "heart rate" in run.end()["message"]
    assert_ends_cleanly(run)


@pytest.mark.hazard("HZ-20")
async def test_a_steep_backward_incline_allowed_by_the_program_is_sent(tmp_path: Path) -> None:
    program = write_program(
        tmp_path / "steep.toml",
        [
            {"kind": "warmup", "direction": "forward", "duration": "20s", "speed_kmh": 3.0},
            {
                "kind": "work",
                "direction": "backward",
                "duration": "30s",
                "speed_kmh": 2.0,
                "incline_pct": 15.0,
                "allow_steep": True,
            },
            {"kind": "cooldown", "direction": "forward", "duration": "20s", "speed_kmh": 3.0},
        ],
    )
    run = await run_session(tmp_path, str(program))
    assert run.end()["reason"] == "completed", run.printed
    inclines = [c["value"] for c in run.commands("set_target_inclination")]
    assert 15.0 in inclines
    assert not run.events("ceiling_clamped")


# -- 13. robustness on the way ------------------------------------------------------


@pytest.mark.hazard("HZ-01", "HZ-19")
async def test_a_burst_of_plus_presses_records_only_what_is_approved(tmp_path: Path) -> None:
    async def drive(session: Session, sim: Simulator) -> None:
        await in_step(session, 2)
        for _ in range(100):
            session.adjust_speed(10, source="keyboard")

    run = await run_session(tmp_path, driver=drive)
    targets = [e["target_kmh"] for e in run.events("speed_adjusted")]
    assert targets
    assert max(targets) <= 5.0
    assert max(s["belt_kmh"] for s in run.states) <= 5.0 + 0.1


@pytest.mark.hazard("HZ-20")
async def test_a_deck_that_cannot_come_down_is_refused_before_the_belt_moves(
    tmp_path: Path,
) -> None:
    generic = tomllib.loads((DEVICES / "generic-ftms.toml").read_text())
    text = (
        (DEVICES / "generic-ftms.toml")
        .read_text()
        .replace(f"min_pct = {generic['incline']['min_pct']}", "min_pct = 12.0")
    )
    profile = tmp_path / "steep-deck.toml"
    profile.write_text(text.replace('name = "Generic FTMS"', 'name = "Steep Deck"'))
    with pytest.raises(SafetyStop, match="not safe for this session"):
        await run_session(tmp_path, sim_profile=profile)
    states = (tmp_path / "belt.jsonl").read_text()
    assert '"running": true' not in states


@pytest.mark.hazard("HZ-05")
async def test_enter_during_a_turn_around_hold_confirms_it(tmp_path: Path) -> None:
    async def drive(session: Session, sim: Simulator) -> None:
        session.confirm(source="test")  # pre-flight
        for _turn in range(2):
            await until(lambda: session.governor.direction is Direction.TURNING)
            session.confirm(source="test")  # during the hold: the screen already asks
            await until(lambda: session.governor.direction is not Direction.TURNING)

    run = await run_session(tmp_path, driver=drive, yes=False)
    assert run.end()["reason"] == "completed", run.printed
    turns = [e for e in run.events("turnaround") if e["phase"] == "turn"]
    confirmed = run.events("turnaround_confirmed")
    for turn, done in zip(turns, confirmed, strict=True):
        assert done["t"] - turn["t"] < turn["hold_s"] + 1.0  # no second Enter needed


# -- 14. "belt stopped" only once it is seen --------------------------------------


@pytest.mark.hazard("HZ-08", "HZ-19")
async def test_belt_stopped_is_claimed_only_once_telemetry_shows_it(tmp_path: Path) -> None:
    run = await run_session(tmp_path)
    assert run.end()["belt_stopped"] is True
    assert run.end()["stop_acknowledged"] is True
    at_end = [s for s in run.states if s["t"] <= run.states[-1]["t"]]
    assert at_end[-1]["belt_kmh"] == 0.0


@pytest.mark.hazard("HZ-19")
async def test_a_belt_still_running_down_is_not_claimed_stopped(tmp_path: Path) -> None:
    run = await run_session(tmp_path, faults=("slow-ramp:0.1",))
    end = run.end()
    assert end["stop_acknowledged"] is True
    assert end["belt_stopped"] is False
    assert "stop commanded, belt not yet seen stopped" in run.printed
