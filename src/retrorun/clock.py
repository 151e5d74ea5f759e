"""The paced virtual clock behind ``--speedup N``.

A scaled wall clock (loop time = N x wall time) fires timers late at high N and
turns a short CPU pause into many seconds of silence. Instead, ``PacedEventLoop.time()``
is a virtual time that stands still while callbacks run and moves only while the
loop waits in its selector, to the earlier of the next timer's deadline and where
N x wall time says it should be. So:

* timers fire exactly on their deadlines (``loop.time()`` in the callback equals
  the time it was scheduled for);
* CPU work costs no loop time, and work that is ready to run (callbacks, a chain of
  ``await``s inside the process) always completes before time moves on;
* small CPU costs are won back by waiting less, so the rate stays N; once the loop is
  more than ``MAX_LAG_S`` wall seconds behind, pacing re-anchors and the run goes
  slower instead of firing a burst of overdue timers;
* real I/O (a socket, a subprocess pipe, ``call_soon_threadsafe``) still wakes the loop
  at once, and the wall time it took counts N times over.

A loop that never goes idle (``while True: await asyncio.sleep(0)``) freezes the
clock. At N = 1 the loop is a plain ``SelectorEventLoop`` on the wall clock, as a
real session on a real treadmill expects.

Run a coroutine with ``run(main(), speedup=N)``, or pass ``loop_factory(N)`` to
``asyncio.Runner``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import selectors
import threading
from collections.abc import Callable, Coroutine, Mapping
from time import monotonic as _monotonic
from typing import Any, TypeVar

__all__ = [
    "MAX_LAG_S",
    "PacedEventLoop",
    "current_speedup",
    "loop_factory",
    "run",
    "wait_wall",
    "wall_seconds",
]

T = TypeVar("T")

MAX_LAG_S = 0.25
"""Wall seconds the loop may fall behind its pace before pacing re-anchors."""

_MAX_WAIT_S = 86400.0  # asyncio's own cap on one selector wait

_SelectResult = list[tuple[selectors.SelectorKey, int]]


def _check_speedup(speedup: float) -> float:
    value = float(speedup)
    if not (math.isfinite(value) and value >= 1):
        raise ValueError(f"speedup must be a finite number >= 1, not {speedup!r}")
    return value


class _PacedSelector(selectors.BaseSelector):
    """Wraps the loop's real selector; ``select`` goes through the loop's pacing."""

    def __init__(self, inner: selectors.BaseSelector, loop: PacedEventLoop) -> None:
        self.inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self.inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self.inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self.inner.get_map()

    def close(self) -> None:
        self.inner.close()

    def select(self, timeout: float | None = None) -> _SelectResult:
        return self._loop._paced_select(self.inner, timeout)


class PacedEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop on a paced virtual clock (see the module docstring)."""

    def __init__(self, speedup: float = 1.0) -> None:
        try:
            self._speedup = _check_speedup(speedup)
        except ValueError:
            super().__init__()  # a whole loop, so that its __del__ does not fail
            self.close()
            raise
        now = _monotonic()
        self._virtual = now  # start where a normal loop's clock would be
        self._anchor_wall = now
        self._anchor_virtual = now
        if self._speedup == 1:
            super().__init__()
        else:
            super().__init__(_PacedSelector(selectors.DefaultSelector(), self))

    @property
    def speedup(self) -> float:
        """How many loop seconds pass per wall second while the loop is idle."""
        return self._speedup

    def time(self) -> float:
        if self._speedup == 1:
            return super().time()
        return self._virtual

    def _next_deadline(self, timeout: float) -> float:
        """The exact ``when`` of the timer that ``timeout`` was computed from."""
        scheduled = getattr(self, "_scheduled", None)  # BaseEventLoop's timer heap
        if scheduled:
            return float(scheduled[0].when())
        return self._virtual + timeout

    def _paced_select(self, inner: selectors.BaseSelector, timeout: float | None) -> _SelectResult:
        if timeout is not None and timeout <= 0:
            # Callbacks are ready to run: poll without waiting, and hold the clock so
            # in-process work always finishes before any timer can fire.
            return inner.select(0)
        n = self._speedup
        wall = _monotonic()
        if self._anchor_virtual + (wall - self._anchor_wall) * n - self._virtual > MAX_LAG_S * n:
            self._anchor_wall = wall  # too far behind: run slower, do not skip ahead
            self._anchor_virtual = self._virtual
        paced = self._anchor_virtual + (wall - self._anchor_wall) * n
        deadline = None if timeout is None else self._next_deadline(timeout)
        if deadline is None:
            wall_timeout: float | None = None
        else:
            wall_timeout = min(max((deadline - paced) / n, 0.0), _MAX_WAIT_S)
        events = inner.select(wall_timeout)
        paced = self._anchor_virtual + (_monotonic() - self._anchor_wall) * n
        if deadline is None:
            target = paced
        elif not events and wall_timeout is not None and wall_timeout < _MAX_WAIT_S:
            target = deadline  # the wait ran out: the next timer is due, exactly now
        else:
            target = min(paced, deadline)
        self._virtual = max(self._virtual, target)
        return events


def current_speedup() -> float:
    """The running loop's speedup: a ``PacedEventLoop``'s (or any loop's ``speedup``), else 1."""
    value = getattr(asyncio.get_running_loop(), "speedup", 1.0)
    return float(value) if isinstance(value, int | float) and value > 0 else 1.0


def wall_seconds(seconds: float) -> float:
    """``seconds`` of wall time in the running loop's time (for timeouts on real peers).

    At ``--speedup N`` the loop's seconds pass N times faster; a broker or a
    speech engine still needs its seconds of wall time.
    """
    return seconds * current_speedup()


async def wait_wall(future: asyncio.Future[Any], seconds: float) -> bool:
    """Wait for ``future`` at most ``seconds`` of real wall time, whatever the loop's
    clock does; True when it finished in time (it is never cancelled here).

    For a real peer whose work takes wall time while the loop's clock may run ahead
    of it: a fake clock (looptime in tests) jumps to the next timer whenever the loop
    only waits on a subprocess, so a timeout in loop time expired before espeak-ng
    had spoken. A thread's timer wakes the loop instead.
    """
    loop = asyncio.get_running_loop()
    expired: asyncio.Future[None] = loop.create_future()

    def expire() -> None:
        if not expired.done():
            expired.set_result(None)

    def from_thread() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(expire)

    timer = threading.Timer(seconds, from_thread)
    timer.daemon = True
    timer.start()
    try:
        await asyncio.wait({future, expired}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        expired.cancel()
    return future.done()


def loop_factory(speedup: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """A factory for ``asyncio.Runner(loop_factory=...)``; checks ``speedup`` now."""
    value = _check_speedup(speedup)

    def factory() -> asyncio.AbstractEventLoop:
        return PacedEventLoop(value)

    return factory


def run(main: Coroutine[Any, Any, T], *, speedup: float = 1.0) -> T:
    """Like ``asyncio.run``, on a ``PacedEventLoop`` at ``speedup``."""
    try:
        factory = loop_factory(speedup)
    except ValueError:
        main.close()  # never started: close it so it does not warn "never awaited"
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
