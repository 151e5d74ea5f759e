"""The display, driven headless: states and events through a real bus, keys through the pilot.

Controls are a recording double of ``LocalControls``: the display must call it
for every key and never do anything else about speed.

The main-screen snapshot is compared with ``snapshots/main_screen.svg`` (a failure
leaves the actual SVG in the test's tmp_path and names it). After an intended
change of the layout, or a Textual upgrade that renders differently, regenerate
it and look at it in a browser before committing:

    RETRORUN_UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/guidance/test_tui.py -k snapshot
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from guidance_support import (
    PLAN,
    RECOVER,
    WORK,
    RecordingControls,
    check_snapshot,
    event,
    screen_text,
    state,
    step_started,
)
from rich.style import Style
from textual.pilot import Pilot
from textual.widgets import Digits, Static

from retrorun.bus import EventBus
from retrorun.events import Direction, EventKind, SessionEvent, SessionState, Status
from retrorun.sinks._tui_widgets import ProgramBar
from retrorun.sinks.tui import HELP_LINE, GuidanceApp, MainScreen, PreflightScreen

SIZE = (100, 32)


class Rig:
    """A bus, a recording controls double and the app under test."""

    def __init__(
        self, *, skip_preflight: bool = True, speed_answer: bool = True, confirm_answer: bool = True
    ) -> None:
        self.bus = EventBus()
        self.controls = RecordingControls(speed_answer=speed_answer, confirm_answer=confirm_answer)
        self.app = GuidanceApp(
            self.bus.subscribe("tui"), self.controls, skip_preflight=skip_preflight
        )
        self.published = 0

    async def publish(self, pilot: Pilot[Any], *items: SessionState | SessionEvent) -> None:
        """Publish through the bus and wait until the app has drawn them."""
        for item in items:
            self.bus.publish(item)
            self.published += 1
        for _ in range(100):
            if self.app.items_seen >= self.published:
                break
            await pilot.pause()
        assert self.app.items_seen == self.published
        await pilot.pause()

    def text(self, selector: str) -> str:
        return str(self.app.screen.query_one(selector, Static).render())

    def main(self) -> MainScreen:
        screen = self.app.screen
        assert isinstance(screen, MainScreen)
        return screen


SESSION = event(0, EventKind.SESSION_STARTED, program="Retro Intro", ceiling_kmh=5.0, steps=PLAN)


async def _in_work_step(rig: Rig, pilot: Pilot[Any]) -> None:
    await rig.publish(pilot, SESSION, step_started(135, 2, WORK, RECOVER), state(243.0))


async def test_each_key_calls_the_right_control() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        await pilot.press("space", "plus", "minus", "enter", "s", "escape")
        await rig.publish(pilot, state(244.0, status=Status.PAUSED, speed_kmh=0.0))
        await pilot.press("space")

    assert rig.controls.calls == [
        ("request", "pause", "keyboard"),
        ("adjust_speed", 10, "keyboard"),
        ("adjust_speed", -10, "keyboard"),
        ("confirm", None, "keyboard"),
        ("request", "pause", "keyboard"),
        ("request", "pause", "keyboard"),
        ("request", "resume", "keyboard"),
    ]


@pytest.mark.hazard("HZ-01", "HZ-18")
async def test_plus_at_the_ceiling_shows_the_refusal() -> None:
    rig = Rig(speed_answer=False)
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        await rig.publish(pilot, state(244.0, target_kmh=5.0, speed_kmh=5.0))
        await pilot.press("plus")
        await pilot.pause()
        assert rig.text("#notice") == "Not faster: the ceiling is 5.0 km/h"
        # The session's own word on a refusal is shown too.
        await rig.publish(
            pilot,
            event(245.0, EventKind.COMMAND_REFUSED, "speed +0.1 refused: at the 5.0 km/h ceiling"),
        )
        assert rig.text("#notice") == "speed +0.1 refused: at the 5.0 km/h ceiling"
    assert rig.controls.calls == [("adjust_speed", 10, "keyboard")]


@pytest.mark.parametrize("key", ["s", "escape"])
@pytest.mark.hazard("HZ-09")
async def test_s_and_escape_stop_the_belt_and_keep_the_session_open(key: str) -> None:
    """``s``/Escape pause (the belt stops, the session stays); pressed again they
    never start the belt; space resumes; only ``q`` ends the session."""
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        await pilot.press(key)
        assert rig.text("#notice") == "Stopping the belt: SPACE resumes, Q ends the session"
        await rig.publish(pilot, state(244.0, status=Status.PAUSED, speed_kmh=0.0))
        rig.controls.answer = False  # the session refuses a second pause
        await pilot.press(key)
        assert rig.text("#notice") == "The belt is stopped: SPACE resumes, Q ends the session"
        assert rig.app.is_running
        rig.controls.answer = True
        await pilot.press("space")
    assert rig.controls.calls == [
        ("request", "pause", "keyboard"),
        ("request", "pause", "keyboard"),
        ("request", "resume", "keyboard"),
    ]


@pytest.mark.hazard("HZ-09")
async def test_q_stops_the_belt_first_and_quits_once_it_has_stopped() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        await pilot.press("q")
        assert rig.app.is_running
        assert "Stopping the belt, then quitting" in rig.text("#notice")
        await rig.publish(pilot, state(250.0, status=Status.STOPPED, speed_kmh=0.0))
        await pilot.pause()
    assert rig.app.return_value == "quit"
    assert rig.controls.calls == [("request", "stop", "keyboard")]


@pytest.mark.hazard("HZ-09")
async def test_ctrl_c_in_the_full_screen_is_the_interrupt_signal() -> None:
    """The full screen takes Ctrl-C from the terminal; it must still be SIGINT (the
    session stops the belt and exits 130), never a quiet quit with exit code 1."""
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, signalled.set)
    try:
        rig = Rig()
        async with rig.app.run_test(size=SIZE) as pilot:
            await _in_work_step(rig, pilot)
            await pilot.press("ctrl+c")
            async with asyncio.timeout(5):
                await signalled.wait()
            assert rig.controls.calls == []  # the signal path stops the belt, not a key
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def test_q_twice_quits_at_once() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        await pilot.press("q", "q")
        await pilot.pause()
    assert rig.app.return_value == "quit"
    assert rig.controls.calls == [("request", "stop", "keyboard")] * 2


@pytest.mark.hazard("HZ-09")
async def test_the_preflight_screen_gates_the_keys_until_enter() -> None:
    rig = Rig(skip_preflight=False)
    async with rig.app.run_test(size=SIZE) as pilot:
        await rig.publish(pilot, SESSION)
        assert isinstance(rig.app.screen, PreflightScreen)
        text = screen_text(rig.app)
        assert "Clip the safety key" in text
        assert "Clear the space behind you" in text
        assert "Hands on the rails for the first turn" in text
        assert "Backward speed is held to 5.0 km/h or less." in text
        # Nothing but Enter and Escape does anything here.
        await pilot.press("plus", "space", "s", "minus")
        assert rig.controls.calls == []
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(rig.app.screen, MainScreen)
        await pilot.press("plus")
    assert rig.controls.calls == [
        ("confirm", None, "preflight"),
        ("adjust_speed", 10, "keyboard"),
    ]


async def test_the_preflight_screen_stays_when_the_session_is_not_ready() -> None:
    rig = Rig(skip_preflight=False, confirm_answer=False)
    async with rig.app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(rig.app.screen, PreflightScreen)
        assert "not ready for that yet" in screen_text(rig.app)


async def test_escape_at_the_preflight_screen_aborts() -> None:
    rig = Rig(skip_preflight=False)
    async with rig.app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert rig.app.return_value == "aborted"
    assert rig.controls.calls == [("request", "stop", "preflight")]


@pytest.mark.hazard("HZ-18")
async def test_a_safety_event_flashes_a_banner_that_then_clears() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        banner = rig.main().query_one("#banner", Static)
        assert not banner.has_class("-on")
        await rig.publish(pilot, event(243.2, EventKind.CEILING_CLAMPED, "held at 5.0 km/h"))
        assert banner.has_class("-on")
        assert "HELD AT 5.0 KM/H" in str(banner.render())
        await rig.publish(pilot, state(243.9))  # half a second on: the inverted phase
        assert banner.has_class("-flash")
        await rig.publish(pilot, state(244.5))
        assert not banner.has_class("-flash")
        await rig.publish(pilot, state(260.0))  # long after: gone
        assert not banner.has_class("-on")
        # A lost link stays up until the session says it is back.
        await rig.publish(pilot, event(261.0, EventKind.LINK_LOST, "no telemetry for 3 s"))
        await rig.publish(pilot, state(300.0))
        assert banner.has_class("-on")
        assert "NO TELEMETRY" in str(banner.render())
        await rig.publish(pilot, event(301.0, EventKind.LINK_RESTORED, "link restored"))
        assert "LINK RESTORED" in str(banner.render())


@pytest.mark.hazard("HZ-05", "HZ-18")
async def test_a_turnaround_asks_for_enter_until_confirmed() -> None:
    rig = Rig()
    turn: dict[str, Any] = {"index": 1, "to": "backward", "stop_belt": False, "needs_confirm": True}
    async with rig.app.run_test(size=SIZE) as pilot:
        await rig.publish(pilot, SESSION, step_started(120, 1, PLAN[1], WORK))
        await rig.publish(pilot, event(120, EventKind.TURNAROUND, phase="slowing", **turn))
        assert rig.text("#prompt") == "SLOWING DOWN  ·  HOLD THE RAILS"
        await rig.publish(pilot, event(126, EventKind.TURNAROUND, phase="turn", **turn))
        await rig.publish(
            pilot, state(126.5, status=Status.TURNING, direction=Direction.TURNING, step=1)
        )
        assert rig.text("#prompt") == "TURN AROUND NOW  ·  press ENTER when you are ready"
        assert "TURN" in screen_text(rig.app)
        await pilot.press("enter")
        await rig.publish(pilot, event(130, EventKind.TURNAROUND_CONFIRMED))
        assert not rig.main().query_one("#prompt", Static).has_class("-on")
    assert rig.controls.calls == [("confirm", None, "keyboard")]


async def test_the_program_bar_marks_the_backward_parts() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        bar = rig.main().query_one(ProgramBar)
        first_row = bar.render().split("\n")[0]
        colours = []
        for cell in range(len(first_row)):
            style = first_row.get_style_at_offset(rig.app.console, cell)
            assert isinstance(style, Style)
            assert style.color is not None
            colours.append(style.color.name)
    # PLAN: 120 s forward, 15 s turn, 150 s + 60 s backward, 15 s turn, 90 s forward.
    total = sum(step["duration_s"] for step in PLAN)
    width = len(colours)
    backward = {colours[round(width * t / total)] for t in (140, 200, 300)}
    forward = {colours[round(width * t / total)] for t in (10, 100, 400, 440)}
    assert backward == {"#ff3d7f", "#6b2040"}  # strong colour: solid when done, dim ahead
    assert forward == {"#4cc764", "#24502e"}
    assert backward.isdisjoint(forward)
    # 120 + 15 + (150 - 42) of 450 s behind the runner.
    assert "54 % done" in str(bar.render())


@pytest.mark.hazard("HZ-18")
async def test_the_main_screen_shows_what_a_runner_needs() -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await _in_work_step(rig, pilot)
        text = screen_text(rig.app)
    assert "█   █ █   █ █   █" in text  # BACKWARD in the block font (the W, A, R rows)
    assert "SPEED km/h" in text
    assert "TARGET km/h" in text
    assert "STEP LEFT" in text
    assert "step 3/6 BACKWARD 2.5 km/h for 2:30 · work" in text
    assert "NEXT ▶ step 4/6 BACKWARD 1.5 km/h for 1:00 · recover" in text
    assert "♥ 118 bpm" in text
    assert "elapsed 4:03" in text
    assert "412 m" in text
    assert "ceiling 5.0 km/h" in text
    assert HELP_LINE in text


def _snapshot_states() -> list[SessionState | SessionEvent]:
    return [
        SESSION,
        step_started(135, 2, WORK, RECOVER),
        state(243.0),
        event(243.2, EventKind.CEILING_CLAMPED, "speed held at the 5.0 km/h ceiling"),
        state(243.4),
    ]


async def test_main_screen_snapshot(tmp_path: Path) -> None:
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await rig.publish(pilot, *_snapshot_states())
        svg = rig.app.export_screenshot(title="retrorun main screen")
    check_snapshot(svg, "main_screen", tmp_path)


# -- what the numbers say between steps ------------------------------------------

TURN_TO_BACK: dict[str, Any] = {
    **PLAN[1],
    "direction": "turning",
    "label": "Turn around to face the rear",
}
TURN = {"index": 1, "to": "backward", "stop_belt": False, "needs_confirm": True}


async def test_a_turnaround_names_the_next_step_and_its_way_in_one_set_of_words() -> None:
    """A turn-around's ``step_started`` names no next step: the plan does. "LAST
    STEP" is said on the last step only, and the turn reads as the turn it is."""
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        await rig.publish(pilot, SESSION, step_started(120, 1, TURN_TO_BACK, None))
        await rig.publish(pilot, event(120, EventKind.TURNAROUND, phase="slowing", **TURN))
        await rig.publish(
            pilot, state(121, status=Status.TURNING, step=1, step_remaining_s=0.0, speed_kmh=3.0)
        )
        assert rig.text("#next") == "NEXT ▶ step 3/6 BACKWARD 2.5 km/h for 2:30 · work"
        assert rig.text("#step") == "step 2/6 TURN AROUND to face the rear for 0:15"
        last = {**PLAN[5], "index": 5}
        await rig.publish(pilot, step_started(600, 5, last, None), state(601, step=5))
        assert rig.text("#next") == "LAST STEP"
        await rig.publish(pilot, step_started(500, 4, {**PLAN[4], "direction": "turning"}, None))
        assert rig.text("#step").startswith("step 5/6 TURN AROUND to face the console for 0:15")
        assert "NEXT ▶ step 6/6 FORWARD 3.5 km/h" in rig.text("#next")


async def test_step_left_and_percent_done_wait_for_the_step_clock() -> None:
    """Until the belt has settled the session sends ``step_remaining_s`` 0: that is
    the whole step ahead, never 0:00 left nor the whole step done."""
    rig = Rig()
    async with rig.app.run_test(size=SIZE) as pilot:
        bar = rig.main().query_one(ProgramBar)
        remaining = rig.main().query_one("#remaining", Digits)

        def shown() -> tuple[str, str]:
            return str(remaining.value), str(bar.render()).rsplit("   ", 1)[-1]

        await rig.publish(pilot, SESSION, step_started(120, 1, TURN_TO_BACK, WORK))
        await rig.publish(pilot, state(121, status=Status.TURNING, step=1, step_remaining_s=0))
        # 120 s of 450 done: the turn-around is not behind the runner yet.
        assert shown() == ("0:15", "27 % done")
        await rig.publish(pilot, step_started(135, 2, WORK, RECOVER))
        await rig.publish(pilot, state(136, step=2, step_remaining_s=0.0, speed_kmh=2.0))
        assert shown() == ("2:30", "30 % done")
        await rig.publish(pilot, state(140, step=2, step_remaining_s=149.0))
        assert shown() == ("2:29", "30 % done")
        await rig.publish(pilot, state(289, step=2, step_remaining_s=0.0))
        assert shown() == ("0:00", "63 % done")  # timed to its end: this one is done


async def test_the_preflight_screen_shows_the_live_pages_qr_code() -> None:
    """With --web the full screen covers what was printed before it: the pre-flight
    screen shows the page's address and its QR code, to scan before the belt moves."""
    from retrorun.sinks.web import qr_text

    url = "http://192.0.2.7:8080/?token=abc"
    bus = EventBus()
    app = GuidanceApp(
        bus.subscribe("tui"), RecordingControls(), skip_preflight=False, page=(url, qr_text(url))
    )
    async with app.run_test(size=(100, 60)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, PreflightScreen)
        assert url in screen_text(app)
        qr = app.screen.query_one("#preflight-qr", Static)
        assert str(qr.render()).splitlines() == qr_text(url).rstrip("\n").splitlines()
