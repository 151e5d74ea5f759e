"""A running simulated treadmill: the FTMS server, its GATT peripheral and its clock.

``Simulator`` joins the sans-I/O :class:`~treadsim.server.FtmsServer` to a bumble
:class:`~treadsim.gatt.Peripheral` and steps it on the event loop's clock: every
``tick_s`` of loop time the physics advance, due faults fire, and whatever the
server queued (Treadmill Data, status, a dropped link) goes out over GATT. It is
the same object in the ``treadsim`` process and embedded in ``retrorun run``.

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
        self._state_log_arg = state_log
        self._state_log: IO[str] | None = None
        self._owns_log = False
        self._task: asyncio.Task[None] | None = None
        self.origin = 0.0

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
        self._task = loop.create_task(self._run(), name="treadsim-ticker")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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

    def now(self) -> float:
        """Seconds since the simulator powered on (loop time)."""
        return asyncio.get_running_loop().time() - self.origin

    def state(self) -> dict[str, Any]:
        """What the belt (and the runner's heart) is really doing (the state-log line)."""
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
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += self._tick_s
            # Sleep to an absolute deadline: no drift however long a tick takes.
            await asyncio.sleep(max(deadline - loop.time(), 0.0))
            now = self.now()
            self.server.tick(now)
            await self.peripheral.flush()
            await self._tick_strap(now)
            self._log_state(now)

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


def read_state_log(text: str) -> list[dict[str, Any]]:
    """The states a ``--state-log`` holds, in order; a line still being written is skipped."""
    states = []
    for line in text.splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            states.append(json.loads(line))
    return states
