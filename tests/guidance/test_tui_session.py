"""The display's keys against a real session on the embedded simulator.

Textual's headless pilot presses the keys; behind the display are the treadsim
simulator on a bumble ``LocalLink``, bleak's ``BleakClient``, the ``SafetyGovernor``
and the ``Session`` (see ``tui_session_support``). Every assertion about the belt
reads the *simulator*: its belt's speed, target and running state, and its own
per-tick state log.

All on looptime's fake clock: Textual's pilot works there (its pauses, key
presses and idle waits sleep in loop time), so a ten-minute step costs a fraction
of a second. How much loop time a key press takes is not fixed (Textual's
``wait_for_idle`` loops until the process's CPU time stops advancing), so no test
assumes it: conditions are waited on with bounded polls of loop time, and what
must *not* happen is checked over a stretch of loop time or in the simulator's log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guidance_support import check_snapshot, screen_text
from tui_session_support import SIZE, LiveSession, live_session, write_program

from retrorun.events import SessionState, Status
from retrorun.session import EndReason
from retrorun.sinks.tui import HELP_LINE, MainScreen

pytestmark = pytest.mark.looptime

BACKWARD_2_5 = ("backward", "10min", 2.5, "work")


def _stretches(live: LiveSession) -> list[tuple[bool, float]]:
    """The simulator's log as ``(running, seconds)`` stretches, in order."""
    stretches: list[tuple[bool, float]] = []
    start = last = 0.0
    for line in live.belt_log():
        if not stretches or stretches[-1][0] is not line["running"]:
            if stretches:
                stretches[-1] = (stretches[-1][0], last - start)
            stretches.append((line["running"], 0.0))
            start = line["t"]
        last = line["t"]
    stretches[-1] = (stretches[-1][0], last - start)
    return stretches


def _max_belt(live: LiveSession, since: float = 0.0) -> int:
    """The fastest the simulated belt went (or was driving toward), 0.01 km/h."""
    log = live.belt_log(since)
    assert log, "the simulator logged no ticks"
    return max(round(100 * max(float(line["belt_kmh"]), float(line["target_kmh"]))) for line in log)


async def test_plus_and_minus_move_the_simulated_belt(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.running_step(pilot, 250)
            assert live.digits("#target") == "2.5"

            await pilot.press("plus")
            await live.drawn(pilot)
            assert live.text("#notice") == "Target 2.6 km/h."
            await live.belt_settled_at(pilot, 260)
            await live.drawn(pilot)
            assert live.digits("#target") == "2.6"

            await pilot.press("minus")
            await live.belt_settled_at(pilot, 250)
            # One press is one nudge: the belt stays where it was put.
            await live.wait(pilot, 5.0)
            assert (live.belt_target_raw(), live.belt_raw()) == (250, 250)
            await live.drawn(pilot)
            assert live.digits("#target") == "2.5"
        assert _max_belt(live) == 260
        assert [e["target_kmh"] for e in live.events("speed_adjusted")] == [2.6, 2.5]


@pytest.mark.parametrize(
    ("step_kmh", "ceiling_kmh"),
    [
        pytest.param(2.5, 2.5, id="step-at-the-ceiling"),
        pytest.param(3.0, 2.5, id="step-clamped-to-the-ceiling"),
    ],
)
@pytest.mark.hazard("HZ-01")
async def test_plus_at_the_ceiling_leaves_the_simulated_belt_there(
    tmp_path: Path, step_kmh: float, ceiling_kmh: float
) -> None:
    program = write_program(tmp_path, ("backward", "10min", step_kmh, "work"))
    async with live_session(tmp_path, program, ceiling_kmh=ceiling_kmh) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.running_step(pilot, 250)
            assert "ceiling 2.5 km/h" in live.text("#stats")
            pressed_at = live.sim.now()

            await pilot.press("plus", "plus", "plus")
            await live.drawn(pilot)
            assert live.text("#notice") == "Not faster: the ceiling is 2.5 km/h"
            assert "NOT FASTER" in live.text("#banner")
            # Longer than the governor's ramp interval and the belt's ramp time.
            await live.wait(pilot, 6.0)
            assert (live.belt_target_raw(), live.belt_raw()) == (250, 250)
        assert _max_belt(live, since=pressed_at) == 250
        assert _max_belt(live) == 250
        refusals = [e for e in live.events("ceiling_clamped") if e.get("source") == "keyboard"]
        assert len(refusals) == 3
        assert live.events("speed_adjusted") == []


@pytest.mark.hazard("HZ-06")
async def test_space_pauses_the_belt_and_space_resumes_it(tmp_path: Path) -> None:
    """Unattended (``--yes``): resuming waits the session's hold, then ramps back up."""
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.running_step(pilot, 250)

            await pilot.press("space")
            await live.belt_at_rest(pilot)
            await live.drawn(pilot)
            assert live.headline() == "PAUSED"
            assert "PAUSED" in live.text("#stats")

            await pilot.press("space")
            await live.belt_settled_at(pilot, 250)
            await live.drawn(pilot)
            assert live.headline() == "< BACKWARD"
            assert "RUNNING" in live.text("#stats")
        # The simulator's log: running, then not running for at least the resume hold
        # (5 s, counted from the second press), then running again.
        runs = _stretches(live)
        if not runs[0][0]:
            runs.pop(0)  # at rest before the session first started the belt
        assert [running for running, _ in runs] == [True, False, True]
        assert runs[1][1] >= 5.0
        kinds = [line["kind"] for line in live.record_lines() if line["type"] == "event"]
        assert kinds.index("paused") < kinds.index("resumed")


@pytest.mark.hazard("HZ-07")
async def test_attended_start_and_resume_wait_for_enter(tmp_path: Path) -> None:
    """Attended: the belt moves only after Enter, at the pre-flight screen and after a pause."""
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program, attended=True) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.preflight_shown(pilot)
            await live.wait(pilot, 5.0)
            assert not live.belt_running()
            assert _max_belt(live) == 0

            await pilot.press("enter")
            assert isinstance(live.app.screen, MainScreen)
            await live.running_step(pilot, 250)

            await pilot.press("space")
            await live.belt_at_rest(pilot)
            await pilot.press("space")
            # Longer than an unattended resume holds: attended, nothing moves without Enter.
            await live.wait(pilot, 8.0)
            assert not live.belt_running()
            assert live.belt_raw() == 0
            await live.drawn(pilot)
            assert "PAUSED" in live.text("#stats")

            await pilot.press("enter")
            await live.belt_settled_at(pilot, 250)
            assert live.session.status is Status.RUNNING
        assert _max_belt(live) == 250


@pytest.mark.hazard("HZ-07")
async def test_an_attended_resume_asks_for_enter(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with (
        live_session(tmp_path, program, attended=True) as live,
        live.app.run_test(size=SIZE) as pilot,
    ):
        await live.preflight_shown(pilot)
        await pilot.press("enter")
        await live.running_step(pilot, 250)
        await pilot.press("space")
        await live.belt_at_rest(pilot)
        await live.drawn(pilot)
        assert not live.prompt_shown()

        await pilot.press("space")
        await live.drawn(pilot)
        assert live.prompt_shown()
        assert "press ENTER" in live.text("#prompt")

        await pilot.press("enter")
        await live.belt_settled_at(pilot, 250)
        await live.drawn(pilot)
        assert not live.prompt_shown()


@pytest.mark.hazard("HZ-09")
async def test_q_while_an_attended_resume_waits_ends_the_session(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program, attended=True) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.preflight_shown(pilot)
            await pilot.press("enter")
            await live.running_step(pilot, 250)
            await pilot.press("space")
            await live.belt_at_rest(pilot)
            await pilot.press("space")  # the session now waits for Enter to resume ...
            stopped_at = live.sim.now()
            await pilot.press("q")  # ... but the runner wants to end the session instead
            await live.until(pilot, "the session to end", live.task.done, timeout=10.0)
            await live.wait(pilot, 2.0)
        assert live.task.result().reason is EndReason.USER_STOP
        assert _max_belt(live, since=stopped_at) == 0  # and the belt never moved again


@pytest.mark.hazard("HZ-09")
async def test_escape_at_the_preflight_screen_ends_the_session_before_the_belt_moves(
    tmp_path: Path,
) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program, attended=True) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.preflight_shown(pilot)
            await pilot.press("escape")
            result = await live.ended()
            await live.until(pilot, "the display to exit", lambda: not live.app.is_running)
        assert live.app.return_value == "aborted"
        assert result.reason is EndReason.USER_STOP
        assert _max_belt(live) == 0
        assert not live.belt_running()


async def test_step_left_holds_while_paused(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program) as live, live.app.run_test(size=SIZE) as pilot:
        await live.running_step(pilot, 250)
        await pilot.press("space")
        await live.belt_at_rest(pilot)
        await live.drawn(pilot)
        before = live.digits("#remaining")
        await live.wait(pilot, 8.0)
        await live.drawn(pilot)
        assert live.headline() == "PAUSED"
        assert live.digits("#remaining") == before


@pytest.mark.hazard("HZ-09")
async def test_escape_stops_the_belt_and_keeps_the_session_until_q(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.running_step(pilot, 250)
            await pilot.press("escape")
            await live.belt_at_rest(pilot)
            stopped_at = live.sim.now()
            await pilot.press("escape", "s")  # pressed again, blind: never a restart
            await live.wait(pilot, 8.0)
            assert not live.task.done()  # the session waits: space resumes, q ends it
            assert _max_belt(live, since=stopped_at) == 0
            await pilot.press("q")
            result = await live.ended()
            assert result.reason is EndReason.USER_STOP
            assert result.belt_stopped
            await live.until(pilot, "the display to exit", lambda: not live.app.is_running)
        assert live.app.return_value == "quit"
        assert live.belt()["running"] is False
        [end] = [line for line in live.record_lines() if line["type"] == "end"]
        assert end["reason"] == "user_stop"
        assert end["belt_stopped"] is True


@pytest.mark.hazard("HZ-09")
async def test_q_stops_the_belt_before_quitting(tmp_path: Path) -> None:
    program = write_program(tmp_path, BACKWARD_2_5)
    async with live_session(tmp_path, program) as live:
        async with live.app.run_test(size=SIZE) as pilot:
            await live.running_step(pilot, 250)
            await pilot.press("q")
            await live.until(pilot, "the display to quit", lambda: not live.app.is_running)
            # It quit on the session's word: its last state, sent once the belt stop
            # was answered and the session was over.
            assert live.task.done()
            assert live.app.model.status is Status.STOPPED
        assert live.app.return_value == "quit"
        result = await live.ended()
        assert result.reason is EndReason.USER_STOP
        assert result.belt_stopped
        assert not live.belt_running()
        assert live.belt_target_raw() == 0


def _snapshot_moment(item: object) -> bool:
    """The first state past 20.5 s into the timed part of the first step (states come once
    a second on the simulator's grid: this moment is well clear of any of them)."""
    return (
        isinstance(item, SessionState)
        and item.status is Status.RUNNING
        and 0 < item.step_remaining_s <= 579.5
    )


async def test_main_screen_snapshot_during_a_backward_step(tmp_path: Path) -> None:
    """The main screen at one session state, compared with ``snapshots/main_screen_live.svg``.

    The feed to the display is held at the first state past a fixed point of the
    step, so the screen shows that state whatever the pilot's timing; the session
    (simulator, link, governor) runs on fake time and is deterministic up to it.
    ``RETRORUN_UPDATE_SNAPSHOTS=1`` rewrites the golden file (look at it first).
    """
    program = write_program(tmp_path, BACKWARD_2_5, ("backward", "5min", 2.0, "recover"))
    async with live_session(tmp_path, program) as live:
        live.feed.hold_after = _snapshot_moment
        async with live.app.run_test(size=SIZE) as pilot:
            await live.until(pilot, "the snapshot moment", lambda: live.feed.held is not None)
            await pilot.pause()
            text = screen_text(live.app)
            svg = live.app.export_screenshot(title="retrorun main screen, live session")
            shown = live.shown_state()
            live.feed.release()
    assert shown is not None
    assert "█   █ █   █ █   █" in text  # BACKWARD in the block font
    assert "step 1/2 BACKWARD 2.5 km/h for 10:00 · work" in text
    assert "NEXT ▶ step 2/2 BACKWARD 2.0 km/h for 5:00 · recover" in text
    assert "ceiling 5.0 km/h" in text
    assert "RUNNING" in text
    assert HELP_LINE in text
    assert shown.speed_kmh == 2.5
    check_snapshot(svg, "main_screen_live", tmp_path, f"shown: {shown}")
