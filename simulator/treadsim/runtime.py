"""A running simulated treadmill: the FTMS server, its GATT peripheral and its clock.

``Simulator`` joins the sans-I/O :class:`~treadsim.server.FtmsServer` to a bumble
:class:`~treadsim.gatt.Peripheral` and steps it on the event loop's clock: every
``tick_s`` of loop time the physics advance, due faults fire, and whatever the
server queued (Treadmill Data, status, a dropped link) goes out over GATT. It is
the same object in the ``treadsim`` process and embedded in ``retrorun run``.

The ticks are on a fixed grid (power-on + k ``tick_s``; each tick is given its
grid time, even when the loop wakes a little late), but the loop is woken for a
tick only when it may send something: while the belt or the deck moves toward a
target, while a fault of the plan is still to fire, with a heart-rate strap, for
the tick after an input, and for the tick that sends each record. The ticks in
between, while the belt is :meth:`~treadsim.server.FtmsServer.steady`, only
advance its counters: they are made late, in order, each at its own grid time,
when the loop wakes next or first thing when an input arrives (a write, a
connection event, a console key, an injected fault, a :meth:`Simulator.state`
read). So the state log gets the very same line for every tick and the records
the very same values, while an embedded session's loop wakes about once a second
instead of ten times (a wake of an idle loop costs about 0.2 ms of CPU on the
project's machine: ``docs/benchmarks.md``). ``every_tick=True`` wakes for every
tick, as before; ``tests/sim`` holds the two to the same state log and records.

With ``hr=True`` a heart-rate strap (:mod:`treadsim.strap`) joins the same link: its
runner's heart follows the belt, and the ``hr-*`` faults of the plan go to it.

All time is loop time, so under ``--speedup`` (the paced clock) and under
``looptime`` in tests the treadmill runs exactly as fast as its controller.
:meth:`Simulator.inject` fires a fault at whatever moment a test chooses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from retrorun.devices import DeviceProfile
from retrorun.tasks import cancel_and_wait
from treadsim.faults import Fault, FaultPlan, parse_injection
from treadsim.gatt import Peripheral, stable_address
from treadsim.server import FtmsServer, initial_state
from treadsim.strap import STRAP_NAME, HeartModel, SimulatedStrap, StrapPeripheral

__all__ = ["TICK_S", "Simulator", "read_state_log"]

TICK_S = 0.1  # physics step, in loop seconds


class Simulator:
    """One simulated treadmill on a virtual Bluetooth link, for ``async with``.

    ``local_link``: a bumble ``LocalLink`` shared with an in-process controller.
    ``hci``: an HCI transport to serve instead (the ``treadsim`` process uses a
    local link plus :func:`treadsim.gatt.serve_hci`). ``state_log``: a path or
    stream that gets one JSON line per physics tick. ``initial_speed_kmh`` (0:
    stopped) and ``initial_incline_pct``: the belt at power-on, already running at
    that speed (as after a controller that was killed mid-run). Bad faults or
    initial values raise a one-line ``UsageError``. ``hr``: a heart-rate strap on
    the same link, its runner resting at ``hr_resting`` and at most ``hr_max`` bpm;
    ``facing_backward`` says which way that runner faces (backward unless told).
    ``every_tick``: wake the loop for every tick, steady or not (see the module
    docstring; the tests compare the two).
    """

    def __init__(
        self,
        profile: DeviceProfile,
        *,
        faults: Sequence[str] = (),
        local_link: Any = None,
        state_log: Path | IO[str] | None = None,
        tick_s: float = TICK_S,
        initial_speed_kmh: float = 0.0,
        initial_incline_pct: float | None = None,
        strict: bool = False,
        hr: bool = False,
        hr_resting: float = 70.0,
        hr_max: float = 180.0,
        every_tick: bool = False,
    ) -> None:
        plan = FaultPlan.parse(faults)
        speed, incline = initial_state(
            profile, speed_kmh=initial_speed_kmh, incline_pct=initial_incline_pct
        )
        self.profile = profile
        self.server = FtmsServer(
            profile, faults=plan, initial_speed=speed, initial_incline=incline, strict=strict
        )
        self.peripheral = Peripheral(self.server, local_link=local_link)
        self.strap: SimulatedStrap | None = None
        self.strap_peripheral: StrapPeripheral | None = None
        self.facing_backward: Callable[[], bool] = lambda: True
        if hr:
            self.strap = SimulatedStrap(HeartModel(resting=hr_resting, maximum=hr_max))
            self.strap_peripheral = StrapPeripheral(
                self.strap, local_link=self.peripheral.link, address=stable_address(STRAP_NAME)
            )
            self.server.on_hr_fault = self.strap.fire
        self._tick_s = tick_s
        self._every_tick = every_tick
        self._state_log_arg = state_log
        self._state_log: IO[str] | None = None
        self._owns_log = False
        self._task: asyncio.Task[None] | None = None
        self.origin = 0.0
        # The tick grid, in loop time: the next tick not made yet, and the tick the
        # ticker sleeps until (the ticks before it are the steady ones it skips).
        self._next_tick = 0.0
        self._due = 0.0
        self._wake: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._ticking = False  # inside a tick: an input then comes from a fault
        self._input_since = False  # an input since the last tick woken for
        self.wakes = 0  # times the ticker woke the loop (tests and the bench read it)
        self.server.on_input = self._on_input

    async def __aenter__(self) -> Self:
        if isinstance(self._state_log_arg, Path):
            self._state_log_arg.parent.mkdir(parents=True, exist_ok=True)
            self._state_log = self._state_log_arg.open("a", encoding="utf-8")
            self._owns_log = True
        else:
            self._state_log = self._state_log_arg
        await self.peripheral.__aenter__()
        if self.strap_peripheral is not None:
            await self.strap_peripheral.__aenter__()
        loop = asyncio.get_running_loop()
        self.origin = loop.time()
        self._next_tick = self._due = self.origin + self._tick_s
        self._task = loop.create_task(self._run(), name="treadsim-ticker")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        crashed: BaseException | None = None
        task = self._task
        if task is not None:
            await cancel_and_wait(task)  # never swallows our own cancellation
            if not task.cancelled():
                crashed = task.exception()  # the ticker died: said below, never hidden
            if crashed is None:
                self._catch_up()  # the steady ticks up to now, for the state log
        try:
            if self.strap_peripheral is not None:
                await self.strap_peripheral.__aexit__(exc_type, exc, tb)
            await self.peripheral.__aexit__(exc_type, exc, tb)
        finally:
            # The last word of the state log: what the belt was doing at power-off.
            self._log_state(self.now())
            if self._owns_log and self._state_log is not None:
                self._state_log.close()
            self._state_log = None
        if crashed is not None and exc is None:
            raise crashed

    def now(self) -> float:
        """Seconds since the simulator powered on (loop time)."""
        return asyncio.get_running_loop().time() - self.origin

    def state(self) -> dict[str, Any]:
        """What the belt (and the runner's heart) is really doing (the state-log line)."""
        self._catch_up()
        return self._state_dict(self.now())

    def _state_dict(self, now: float) -> dict[str, Any]:
        state: dict[str, Any] = dict(self.server.state_dict(now))
        if self.strap is not None:
            state.update(self.strap.state())
        return state

    def inject(self, fault: str | Fault) -> Fault:
        """Fire an event fault now (a spec ``NAME[:ARG]``, no ``@``, or a
        :class:`~treadsim.faults.Fault` whose ``@`` is ignored), through the same code
        as a timed one; what it queued is sent at once. Returns the fault fired.
        ``UsageError`` for a bad spec, ``ValueError`` for a standing ``Fault``."""
        if isinstance(fault, str):
            fault = parse_injection(fault)
        self.server.inject(fault, self.now())
        self.peripheral.flush_soon()
        return fault

    async def _run(self) -> None:
        while True:
            self._due = self._next_wake()
            # Sleep to an absolute time on the grid: no drift however long a tick takes.
            await self._sleep_until(self._due)
            self.wakes += 1
            self._catch_up()  # the steady ticks before this one
            # Its grid time, as for the ticks made late: the same physics either way.
            now = self._next_tick - self.origin
            self._input_since = False
            self._tick(now)
            await self.peripheral.flush()
            await self._tick_strap(now)
            self._log_state(now)

    def _tick(self, now: float) -> None:
        """Make the next tick of the grid at ``now`` (seconds since power-on)."""
        self._ticking = True
        try:
            self.server.tick(now)
        finally:
            self._ticking = False
        self._next_tick += self._tick_s

    def _next_wake(self) -> float:
        """The loop time of the next tick to wake for: the next one, unless the belt is
        steady; then the one that sends the next record."""
        server = self.server
        last = server.last_tick
        if (
            self._every_tick
            or self._input_since
            or self.strap is not None
            or last is None
            or not server.steady()
        ):
            return self._next_tick
        # The same times and the same test as the ticks themselves will use.
        tick = self._next_tick
        for _ in range(_MAX_SKIPPED):
            now = tick - self.origin
            if server.record_due(now, last):
                break
            last = now
            tick += self._tick_s
        return tick

    def _catch_up(self) -> None:
        """Make the steady ticks the ticker skipped, up to now, each at its grid time."""
        task = self._task
        if task is None or self._ticking or self._next_tick >= self._due:
            return
        if task.done() and not task.cancelled() and task.exception() is not None:
            return  # a dead ticker makes no more ticks, late or not
        until = asyncio.get_running_loop().time()
        made = False
        while self._next_tick < self._due and self._next_tick <= until:
            now = self._next_tick - self.origin
            self._tick(now)
            self._log_state(now)
            made = True
        if made and self.server.has_output:  # nothing is expected; if so, send it now
            self.peripheral.flush_soon()

    def _on_input(self) -> None:
        """Before an input: the skipped ticks first; then wake for the next tick."""
        if self._ticking or self._task is None or self._task.done():
            return
        self._catch_up()
        self._input_since = True
        if self._next_tick < self._due:
            self._reschedule(self._next_tick)

    async def _sleep_until(self, when: float) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        self._wake = loop.call_at(when, _wake_ticker, waiter)
        try:
            await waiter
        finally:
            self._wake.cancel()
            self._wake = None
            self._waiter = None

    def _reschedule(self, when: float) -> None:
        """Wake the ticker at ``when`` instead (an earlier tick of the grid)."""
        if self._waiter is None or self._wake is None:
            return
        self._wake.cancel()
        self._wake = asyncio.get_running_loop().call_at(when, _wake_ticker, self._waiter)
        self._due = when

    async def _tick_strap(self, now: float) -> None:
        if self.strap is None or self.strap_peripheral is None:
            return
        belt = self.server.belt
        value = self.strap.tick(
            now, belt.speed / 100, belt.incline / 10, backward=self.facing_backward()
        )
        if value is not None:
            await self.strap_peripheral.send(value)

    def _log_state(self, now: float) -> None:
        """One JSON line per tick (``--state-log``); read it with :func:`read_state_log`."""
        if self._state_log is not None:
            try:
                self._state_log.write(json.dumps(self._state_dict(now)) + "\n")
                self._state_log.flush()
            except (OSError, ValueError):
                self._state_log = None


#: At most this many ticks are skipped in a row (a record is due every few).
_MAX_SKIPPED = 600


def _wake_ticker(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def read_state_log(text: str) -> list[dict[str, Any]]:
    """The states a ``--state-log`` holds, in order; a line still being written is skipped."""
    states = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            states.append(json.loads(line))
    return states
