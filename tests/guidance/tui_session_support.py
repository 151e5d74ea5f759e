"""The display against a real session: the embedded simulator, a real link and governor.

``live_session`` builds what ``retrorun run`` builds without ``--device`` (see
``retrorun.app.run_prepared``): the treadsim ``Simulator`` on a bumble ``LocalLink``,
bleak's ``BleakClient`` through ``Treadmill``, then ``retrorun.app.build_session`` (plan,
``SafetyGovernor``, ``Session``) whose bus feeds a ``GuidanceApp``. The connection is
built here rather than through ``run_prepared`` so that a test can hold the
``Simulator`` itself: what the belt
really does is what the simulator says (its state and its per-tick state log),
never what the controller believes.

Build it inside the test, not in an async fixture: under looptime, fake time starts
at 0 while fixtures run in real time (see ``tests/client/client_support.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumble.link import LocalLink
from textual.app import ScreenStackError
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Digits, Static

from retrorun.app import RunOptions, build_session, prepare
from retrorun.ble import open_link
from retrorun.bus import EventBus, Item, Subscription
from retrorun.events import SessionState, Status
from retrorun.limits import to_kmh
from retrorun.record import Recorder, read_record
from retrorun.session import EndReason, Session, SessionResult
from retrorun.sinks._tui_widgets import BigWord
from retrorun.sinks.tui import GuidanceApp, PreflightScreen
from retrorun.treadmill import Treadmill
from treadsim.runtime import Simulator, read_state_log

__all__ = ["HeldFeed", "LiveSession", "live_session", "write_program"]

SIZE = (100, 32)
WAIT_S = 60.0  # loop seconds any one condition may take (fake seconds under looptime)

_PROGRAM = """\
name = "TUI session test"
description = "Steps long enough to press keys in"
profile = "novice"
{steps}"""

_STEP = """
[[steps]]
kind = "work"
direction = "{direction}"
duration = "{duration}"
speed_kmh = {speed_kmh}
label = "{label}"
"""


def write_program(folder: Path, *steps: tuple[str, str, float, str]) -> Path:
    """A program file of ``(direction, duration, speed_kmh, label)`` steps."""
    text = _PROGRAM.format(
        steps="".join(
            _STEP.format(direction=d, duration=t, speed_kmh=v, label=label)
            for d, t, v, label in steps
        )
    )
    path = folder / "program.toml"
    path.write_text(text, encoding="utf-8")
    return path


class HeldFeed:
    """The display's bus subscription, able to stop at one item.

    Passes every item on in order until ``hold_after(item)`` is true, then hands
    out nothing more until ``release()``: the display shows exactly that item's
    session state, whenever the test looks (the session runs on meanwhile).
    """

    def __init__(self, inner: Subscription) -> None:
        self.inner = inner
        self.hold_after: Callable[[Item], bool] | None = None
        self.held: Item | None = None
        self._released = asyncio.Event()

    def __len__(self) -> int:
        return 0 if self.held is not None else len(self.inner)

    def release(self) -> None:
        self.hold_after = None
        self._released.set()

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Item]:
        async for item in self.inner:
            if self.hold_after is not None and self.hold_after(item):
                self.held = item  # before it is handed out: the display draws it at once
                yield item
                await self._released.wait()
                self.held = None
            else:
                yield item


@dataclass
class LiveSession:
    """The simulator, the session and the display, with ways to wait on the belt."""

    sim: Simulator
    session: Session
    app: GuidanceApp
    feed: HeldFeed
    record: Path
    state_log: io.StringIO
    task: asyncio.Task[SessionResult] = field(init=False)

    # -- what the simulator says -------------------------------------------------------

    def belt(self) -> dict[str, Any]:
        """The simulator's own state: ``belt_kmh``, ``target_kmh``, ``running``, ..."""
        return self.sim.state()

    def belt_raw(self) -> int:
        """The simulated belt's speed, 0.01 km/h (what its Treadmill Data says)."""
        return self.sim.server.belt.speed_raw

    def belt_target_raw(self) -> int:
        """The speed the simulated belt is driving toward, 0.01 km/h (0: not running)."""
        belt = self.sim.server.belt
        return belt.target if belt.running else 0

    def belt_running(self) -> bool:
        return self.sim.server.belt.running

    def belt_log(self, since: float = 0.0) -> list[dict[str, Any]]:
        """The simulator's state log (one line per physics tick) from ``since`` on."""
        return [s for s in read_state_log(self.state_log.getvalue()) if s["t"] >= since]

    # -- waiting -----------------------------------------------------------------------

    async def until(
        self, pilot: Pilot[Any], what: str, check: Callable[[], bool], timeout: float = WAIT_S
    ) -> None:
        """Let the loop run until ``check()``; fail after ``timeout`` loop seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            if self.task.done() and not self.task.cancelled() and self.task.exception():
                raise AssertionError(f"the session crashed before {what}") from (
                    self.task.exception()
                )
            if loop.time() > deadline:
                raise AssertionError(
                    f"not within {timeout:g} s: {what}; simulator {self.belt()}, "
                    f"session {self.session.status}, notice {self.text('#notice')!r}"
                )
            if self.app.is_running:
                await pilot.pause(0.1)
            else:
                await asyncio.sleep(0.1)

    async def wait(self, pilot: Pilot[Any], seconds: float) -> None:
        """Let ``seconds`` of loop time pass (to show that something does *not* happen)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        await self.until(pilot, f"{seconds:g} s to pass", lambda: loop.time() >= end, seconds + 1)

    async def belt_settled_at(self, pilot: Pilot[Any], raw: int) -> None:
        """Until the simulated belt runs steadily at ``raw`` 0.01 km/h."""
        await self.until(
            pilot,
            f"the simulated belt running at {to_kmh(raw):.1f} km/h",
            lambda: (
                self.belt_running() and self.belt_target_raw() == raw and self.belt_raw() == raw
            ),
        )

    async def belt_at_rest(self, pilot: Pilot[Any]) -> None:
        """Until the simulated belt is not running and has come to rest."""
        await self.until(
            pilot,
            "the simulated belt at rest",
            lambda: not self.belt_running() and self.belt_raw() == 0,
        )

    async def preflight_shown(self, pilot: Pilot[Any]) -> None:
        """Until the display shows the pre-flight screen (an attended session)."""
        await self.until(
            pilot, "the pre-flight screen", lambda: isinstance(self.app.screen, PreflightScreen)
        )

    async def running_step(self, pilot: Pilot[Any], raw: int) -> None:
        """Until the session runs its step's timed part with the belt settled at ``raw``."""
        await self.belt_settled_at(pilot, raw)
        await self.until(
            pilot,
            "the session timing its step",
            lambda: (
                self.session.status is Status.RUNNING and self.session.step_deadline is not None
            ),
        )
        await self.drawn(pilot)

    async def drawn(self, pilot: Pilot[Any]) -> None:
        """Until the display has taken in everything published so far, and drawn it."""
        await self.until(pilot, "the display to catch up", lambda: not len(self.feed))
        await pilot.pause()

    async def ended(self) -> SessionResult:
        """The session's result, once it has ended (bounded)."""
        async with asyncio.timeout(WAIT_S):
            return await self.task

    # -- what the display says ---------------------------------------------------------

    def text(self, selector: str) -> str:
        """A ``Static``'s text on the current screen ('' when it is not there)."""
        try:
            return str(self.app.screen.query_one(selector, Static).render())
        except (NoMatches, ScreenStackError):  # not mounted (yet, or any more)
            return ""

    def prompt_shown(self) -> bool:
        """The yellow prompt line (turn around, press Enter) is showing."""
        return self.app.screen.query_one("#prompt", Static).has_class("-on")

    def headline(self) -> str:
        """The big word at the top of the main screen."""
        return self.app.screen.query_one("#headline", BigWord).word

    def digits(self, selector: str) -> str:
        return self.app.screen.query_one(selector, Digits).value

    def shown_state(self) -> SessionState | None:
        return self.app.model.state

    # -- the record --------------------------------------------------------------------

    def record_lines(self) -> list[dict[str, Any]]:
        return list(read_record(self.record))

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [
            line for line in self.record_lines() if line["type"] == "event" and line["kind"] == kind
        ]


@contextlib.asynccontextmanager
async def live_session(
    tmp_path: Path,
    program: Path,
    *,
    ceiling_kmh: float | None = None,
    attended: bool = False,
) -> AsyncIterator[LiveSession]:
    """``retrorun run PROGRAM [--ceiling KMH] [--yes]`` on the embedded simulator.

    The session is running when this yields (attended: waiting at its pre-flight
    check); the display is built, for the test to ``run_test()``. It catches up
    from the bus, which holds everything since the session started.
    """
    record = tmp_path / "session.jsonl"
    options = RunOptions(
        program=str(program),
        ceiling=round(ceiling_kmh * 100) if ceiling_kmh is not None else None,
        yes=not attended,
        voice="off",
        record=record,
    )
    prepared = prepare(options)
    assert prepared.sim_profile is not None
    link = LocalLink()
    state_log = io.StringIO()
    recorder = Recorder(record)
    try:
        async with contextlib.AsyncExitStack() as stack:
            sim = await stack.enter_async_context(
                Simulator(prepared.sim_profile, local_link=link, state_log=state_log)
            )
            ble = await stack.enter_async_context(open_link(local_link=link))
            treadmill = await stack.enter_async_context(
                Treadmill(
                    prepared.sim_profile.name,
                    client_kwargs=ble.client_kwargs,
                    scanner_kwargs=ble.scanner_kwargs,
                )
            )
            bus = EventBus()
            session = build_session(prepared, treadmill, bus=bus, recorder=recorder)
            # As retrorun.app._start_sinks does it, with a feed the snapshot can hold.
            feed = HeldFeed(bus.subscribe("tui", maxsize=512))
            app = GuidanceApp(feed, session, skip_preflight=not attended)
            live = LiveSession(sim, session, app, feed, record, state_log)
            live.task = asyncio.get_running_loop().create_task(session.run(), name="session")
            try:
                yield live
            finally:
                feed.release()
                await _end(live)
    finally:
        recorder.close()


async def _end(live: LiveSession) -> None:
    """End the session if the test left it running; a crashed session fails the test."""
    if not live.task.done():
        live.session.end(EndReason.USER_STOP, "the test is over")
        try:
            async with asyncio.timeout(WAIT_S):
                await asyncio.shield(live.task)
        except TimeoutError:
            live.task.cancel()  # the session still stops the belt on its way out
            with contextlib.suppress(asyncio.CancelledError):
                await live.task
            raise AssertionError("the session did not end when asked to") from None
    live.task.result()
