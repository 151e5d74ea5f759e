"""The full-screen display: readable from two metres, with keys safe to press blind.

The app runs on the session's own loop (``await app.run_async()``) and is fed by
its own bus subscription. It never sends a speed: every key calls the
:class:`~retrorun.events.LocalControls` the session hands it, and the session's
governor decides (the display shows a refusal when a key changed nothing).

Keys: space pause/resume; ``s`` or Escape stop the belt and keep the session
open (a pause that never resumes, however often it is pressed: the key to hit
blind); space then resumes, ``q`` ends it; ``+``/``-`` nudge the target by
0.1 km/h; Enter confirms a turn-around; ``q`` (or Ctrl+Q) stops the belt, ends
the session and quits; Ctrl+C is the interrupt. Before the belt first moves, a
pre-flight screen asks for the safety key, a clear space behind and hands on the
rails; Enter confirms it, Escape aborts. ``skip_preflight=True`` (``--yes``) leaves it out.

``run_async()`` returns ``"ended"`` (the session ended), ``"quit"`` (the runner
quit) or ``"aborted"`` (Escape at the pre-flight screen).
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterable, Sized
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Digits, Label, Static

from retrorun.bus import Item
from retrorun.events import LocalControls, RemoteCommand, SessionEvent, Status
from retrorun.guidance import format_clock, format_distance, format_speed, format_step
from retrorun.sinks._tui_model import DisplayModel
from retrorun.sinks._tui_widgets import BigWord, ProgramBar

__all__ = ["HELP_LINE", "GuidanceApp", "MainScreen", "PreflightScreen"]

HELP_LINE = "SPACE pause/resume  S/ESC stop belt  +/- speed 0.1  ENTER confirm  Q stop+quit"
SPEED_STEP = 10  # 0.1 km/h in the controls' 0.01 km/h units
_SOURCE = "keyboard"
_HEADLINE_CLASSES = ("-backward", "-forward", "-turning", "-paused", "-done")

_CSS = """
Screen { layout: vertical; }
#banner {
    height: 3; width: 100%; content-align: center middle; text-style: bold;
    background: #c0001a; color: #ffffff; display: none;
}
#banner.-on { display: block; }
#banner.-flash { background: #ffffff; color: #c0001a; }
#headline { width: 100%; }
#headline.-backward { background: #b3124f; color: #ffffff; }
#headline.-forward { background: #1f6b34; color: #ffffff; }
#headline.-turning { background: #e0a800; color: #000000; }
#headline.-paused { background: #3a3f4b; color: #ffffff; }
#headline.-done { background: #1d4e89; color: #ffffff; }
#numbers { height: 4; margin: 1 0 0 0; }
.cell { width: 1fr; height: 4; }
.cell Label { width: 100%; content-align: center middle; color: #a0a0a0; }
.cell Digits { width: 100%; text-align: center; text-style: bold; }
#speed { color: #ffffff; }
#target { color: #80c8ff; }
#remaining { color: #ffd75f; }
#step { height: 1; width: 100%; content-align: center middle; }
#prompt {
    height: 3; width: 100%; content-align: center middle; text-style: bold;
    background: #e0a800; color: #000000; display: none;
}
#prompt.-on { display: block; }
ProgramBar { margin: 0 1; }
#next { height: 1; width: 100%; content-align: center middle; text-style: bold; }
#stats { height: 1; width: 100%; content-align: center middle; }
#notice { height: 1; width: 100%; content-align: center middle; color: #ffd75f; text-style: bold; }
#help {
    dock: bottom; height: 1; width: 100%; content-align: center middle;
    background: #202020; color: #c0c0c0;
}
PreflightScreen { align: center middle; }
#checklist {
    width: 72; height: auto; padding: 1 2; border: heavy #e0a800;
}
#checklist .title { text-style: bold; width: 100%; content-align: center middle; }
#checklist .item { margin: 1 0 0 0; }
#checklist .keys { margin: 1 0 0 0; text-style: bold; color: #ffd75f; }
#checklist .why { margin: 1 0 0 0; color: #ff8080; }
#checklist .-empty { display: none; }
"""


class PreflightScreen(Screen[bool]):
    """The checks before the belt first moves: Enter confirms, Escape aborts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "ready", "ready"),
        Binding("escape", "abort", "abort"),
    ]

    def __init__(self, page: tuple[str, str] | None = None) -> None:
        super().__init__()
        self._page = page  # --web: the live page's address and its QR code

    def compose(self) -> ComposeResult:
        """The checklist (and, with ``--web``, the live page's QR code to scan first:
        the full screen covers what was printed before it)."""
        with Vertical(id="checklist"):
            yield Label("BEFORE THE BELT MOVES", classes="title")
            yield Label("1. Clip the safety key to your clothing.", classes="item")
            yield Label(
                "2. Clear the space behind you: two metres, nothing on the floor.", classes="item"
            )
            yield Label("3. Hands on the rails for the first turn.", classes="item")
            yield Label("", id="preflight-ceiling", classes="item -empty")
            yield Label("ENTER  I am ready        ESC  abort", classes="keys")
            yield Label("", id="preflight-why", classes="why -empty")
            if self._page is not None:
                url, qr = self._page
                yield Label(f"Live page for a phone behind you: {url}", id="preflight-web")
                yield Static(qr.rstrip("\n"), id="preflight-qr")

    def show_ceiling(self, ceiling_kmh: float | None) -> None:
        """Name the backward ceiling once the session has said what it is."""
        if ceiling_kmh is not None:
            label = self.query_one("#preflight-ceiling", Label)
            label.update(f"Backward speed is held to {format_speed(ceiling_kmh)} km/h or less.")
            label.remove_class("-empty")

    def action_ready(self) -> None:
        """Confirm the checks with the session."""
        app = self.app
        if not isinstance(app, GuidanceApp):
            return
        if app.controls.confirm(source="preflight"):
            self.dismiss(result=True)
        else:
            why = self.query_one("#preflight-why", Label)
            why.update("The session is not ready for that yet: press Enter again.")
            why.remove_class("-empty")

    def action_abort(self) -> None:
        """End the session before the belt has moved."""
        app = self.app
        if isinstance(app, GuidanceApp):
            app.abort()


class MainScreen(Screen[None]):
    """The running session; its keys exist only here, never behind the pre-flight screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "pause_resume", "pause/resume"),
        Binding("s,escape", "stop_belt", "stop the belt"),
        Binding("plus,equals_sign", "faster", "+0.1 km/h"),
        Binding("minus", "slower", "-0.1 km/h"),
        Binding("enter", "confirm", "confirm turn"),
    ]

    def compose(self) -> ComposeResult:
        """The layout, top to bottom in order of importance."""
        yield Static("", id="banner")
        yield BigWord("READY", id="headline")
        with Horizontal(id="numbers"):
            with Vertical(classes="cell"):
                yield Label("SPEED km/h")
                yield Digits("0.0", id="speed")
            with Vertical(classes="cell"):
                yield Label("TARGET km/h")
                yield Digits("0.0", id="target")
            with Vertical(classes="cell"):
                yield Label("STEP LEFT")
                yield Digits("0:00", id="remaining")
        yield Static("", id="step")
        yield Static("", id="prompt")
        yield ProgramBar(id="bar")
        yield Static("", id="next")
        yield Static("", id="stats")
        yield Static("", id="notice")
        yield Static(HELP_LINE, id="help")

    def _app(self) -> GuidanceApp | None:
        app = self.app
        return app if isinstance(app, GuidanceApp) else None

    def action_pause_resume(self) -> None:
        """Pause a running session, resume a paused one."""
        app = self._app()
        if app is None:
            return
        command: RemoteCommand = "resume" if app.model.status is Status.PAUSED else "pause"
        if not app.controls.request(command, source=_SOURCE):
            app.model.note(f"{command.capitalize()} refused")
            app.refresh_view()

    def action_stop_belt(self) -> None:
        """Stop the belt and keep the session open: space resumes, Q ends it.

        A pause, never a toggle: pressed blind, or twice, it cannot start the belt.
        """
        app = self._app()
        if app is None:
            return
        if app.controls.request("pause", source=_SOURCE):
            app.model.note("Stopping the belt: SPACE resumes, Q ends the session")
        elif app.model.status is Status.PAUSED:
            app.model.note("The belt is stopped: SPACE resumes, Q ends the session")
        else:
            app.model.note("Stop refused")
        app.refresh_view()

    def action_faster(self) -> None:
        """Ask for 0.1 km/h more; the governor may say no."""
        self._nudge(SPEED_STEP)

    def action_slower(self) -> None:
        """Ask for 0.1 km/h less."""
        self._nudge(-SPEED_STEP)

    def _nudge(self, delta: int) -> None:
        app = self._app()
        if app is None:
            return
        if not app.controls.adjust_speed(delta, source=_SOURCE):
            app.model.note(app.model.refusal(delta))
            app.refresh_view()

    def action_confirm(self) -> None:
        """Confirm a turn-around."""
        app = self._app()
        if app is None:
            return
        if not app.controls.confirm(source=_SOURCE):
            app.model.note("Nothing to confirm")
            app.refresh_view()


class GuidanceApp(App[str]):
    """The session display, fed by ``subscription`` and driving ``controls``."""

    CSS = _CSS
    ENABLE_COMMAND_PALETTE = False
    TITLE = "retrorun"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "stop & quit"),
        Binding("ctrl+q", "quit", show=False, priority=True),
        Binding("ctrl+c", "interrupt", show=False, priority=True),
    ]

    def __init__(
        self,
        subscription: AsyncIterable[Item],
        controls: LocalControls,
        *,
        skip_preflight: bool = False,
        exit_when_done: bool = True,
        page: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self._page = page  # --web: shown on the pre-flight screen
        self.controls = controls
        self.model = DisplayModel()
        self.items_seen = 0
        self._subscription = subscription
        self._skip_preflight = skip_preflight
        self._exit_when_done = exit_when_done
        self._quitting = False

    def get_default_screen(self) -> Screen[None]:
        """The session screen; the pre-flight screen goes on top of it."""
        return MainScreen(id="main")

    def on_mount(self) -> None:
        """Start reading the bus; ask the pre-flight questions unless told not to."""
        self.run_worker(self._consume(), name="bus", exclusive=True)
        if not self._skip_preflight:
            self.push_screen(PreflightScreen(self._page))
        self.refresh_view()

    # -- the bus -------------------------------------------------------------------

    async def _consume(self) -> None:
        subscription = self._subscription
        async for item in subscription:
            self.model.apply(item)
            self.items_seen += 1
            if isinstance(item, SessionEvent) or not (
                isinstance(subscription, Sized) and len(subscription)
            ):
                # Render when caught up: at a high speedup, states arrive faster than
                # anyone can read them.
                self.refresh_view()
            if self._quitting and self.model.status is Status.STOPPED:
                self.exit("quit")
                return
        self.model.ended = True
        self.refresh_view()
        if self._quitting:
            self.exit("quit")
        elif self._exit_when_done:
            self.exit("ended")

    # -- actions -------------------------------------------------------------------

    def abort(self) -> None:
        """Escape at the pre-flight screen: the session ends before the belt moves."""
        self.controls.request("stop", source="preflight")
        self.exit("aborted")

    def action_interrupt(self) -> None:
        """Ctrl-C: the full screen takes the key from the terminal, so pass it on as
        the signal it would have been (the belt stops first, the exit code is 130)."""
        os.kill(os.getpid(), signal.SIGINT)

    async def action_quit(self) -> None:
        """Stop the belt, then quit when the session says it stopped (twice: at once)."""
        if self._quitting or self.model.ended or self._belt_still():
            if not self.model.ended:
                self.controls.request("stop", source=_SOURCE)
            self.exit("quit")
            return
        self._quitting = True
        self.controls.request("stop", source=_SOURCE)
        self.model.note("Stopping the belt, then quitting (Q again: quit now)")
        self.refresh_view()

    def _belt_still(self) -> bool:
        state = self.model.state
        return state is None or (
            state.status in {Status.IDLE, Status.STOPPED} and state.speed_kmh <= 0.05
        )

    # -- drawing -------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Draw the model on the session screen (and the ceiling on the pre-flight one)."""
        for screen in self.screen_stack:
            if not screen.is_mounted:
                continue
            if isinstance(screen, MainScreen):
                _draw(screen, self.model)
            elif isinstance(screen, PreflightScreen):
                screen.show_ceiling(self.model.ceiling_kmh)


def _draw(screen: MainScreen, model: DisplayModel) -> None:
    word, style_class = model.headline()
    screen.query_one("#headline", BigWord).show(word, style_class, _HEADLINE_CLASSES)

    banner = screen.query_one("#banner", Static)
    text = model.banner_text()
    banner.set_class(text is not None, "-on")
    banner.set_class(text is not None and model.banner_flash(), "-flash")
    banner.update(f"⚠ {text} ⚠" if text else "")

    state = model.state
    step = model.step
    speed = state.speed_kmh if state is not None else 0.0
    target = state.target_kmh if state is not None else (step.speed_kmh if step else 0.0)
    remaining = model.step_remaining()
    screen.query_one("#speed", Digits).update(format_speed(speed))
    screen.query_one("#target", Digits).update(format_speed(target))
    screen.query_one("#remaining", Digits).update(format_clock(remaining))

    if step is not None:
        step_text = format_step(step, model.total, to=model.turn_to(step))
    elif state is not None:
        step_text = f"step {state.step + 1}/{state.steps_total} {state.step_label}"
    else:
        step_text = model.program or "waiting for the session"
    screen.query_one("#step", Static).update(step_text)

    prompt = screen.query_one("#prompt", Static)
    waiting = model.awaiting_confirm()
    asked = model.confirm_for is not None and not model.ended
    prompt.set_class(waiting or asked or model.turn is not None, "-on")
    if waiting:
        prompt.update("TURN AROUND NOW  ·  press ENTER when you are ready")
    elif model.turn is not None:
        prompt.update("SLOWING DOWN  ·  HOLD THE RAILS")
    elif asked:
        prompt.update("PAUSED  ·  press ENTER to resume when you are ready")
    else:
        prompt.update("")

    position = model.program_position()
    if position is not None:
        screen.query_one("#bar", ProgramBar).update_plan(model.plan, *position)

    upcoming = model.following()
    if model.ended:
        next_text = "Session over"
    elif upcoming is not None:
        next_text = f"NEXT ▶ {format_step(upcoming, model.total, to=model.turn_to(upcoming))}"
    elif model.last_step():
        next_text = "LAST STEP"
    else:
        next_text = ""
    screen.query_one("#next", Static).update(next_text)

    hr = f"♥ {state.heart_rate_bpm} bpm" if state and state.heart_rate_bpm is not None else "♥ --"
    ceiling = model.ceiling_kmh
    stats = [
        hr,
        f"elapsed {format_clock(state.elapsed_s if state else 0.0)}",
        format_distance(state.distance_m if state else 0.0),
        f"ceiling {format_speed(ceiling)} km/h" if ceiling is not None else "ceiling --",
        model.status.upper(),
    ]
    screen.query_one("#stats", Static).update("    ".join(stats))
    screen.query_one("#notice", Static).update(model.notice_text() or "")
