"""The paced virtual clock behind ``--speedup N``.

A scaled wall clock (loop time = N x wall time) fires timers late at high N and
lets a CPU pause look like seconds of silence. Instead, ``PacedEventLoop.time()``
is a virtual time that stands still while callbacks run and moves only while the
loop waits in its selector: to the earlier of the next timer's deadline and N
times the wall time spent waiting. Timers then fire exactly on their deadlines,
CPU work costs no loop time, and a machine that falls behind runs slower rather
than skipping ahead (it re-anchors after ``_MAX_LAG_S`` of lag). Real I/O (a
socket, a subprocess pipe) still wakes the loop at once. N = 1 tracks wall time.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["PacedEventLoop", "loop_factory", "run"]

T = TypeVar("T")

_MAX_LAG_S = 0.25  # wall seconds behind schedule before pacing re-anchors


class _PacedSelector(selectors.BaseSelector):
    """Wraps the loop's selector: waits in wall time, advances virtual time."""

    def __init__(self, inner: selectors.BaseSelector, loop: PacedEventLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._loop._paced_select(self._inner, timeout)


class PacedEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop on a paced virtual clock (see the module docstring)."""

    def __init__(self, speedup: float = 1.0) -> None:
        self._speedup = float(speedup)
        self._virtual = 0.0
        self._anchor_wall = time.monotonic()
        self._anchor_virtual = 0.0
        super().__init__()
        if not speedup >= 1:
            self.close()
            raise ValueError(f"speedup must be 1 or more, not {speedup}")
        self._selector = _PacedSelector(self._selector, self)  # type: ignore[has-type]

    @property
    def speedup(self) -> float:
        return self._speedup

    def time(self) -> float:
        return self._virtual

    def _paced_select(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        n = self._speedup
        wall_now = time.monotonic()
        # Where virtual time "should" be by the wall clock; re-anchor when behind.
        ideal = self._anchor_virtual + (wall_now - self._anchor_wall) * n
        if ideal - self._virtual > _MAX_LAG_S * n:
            self._anchor_wall = wall_now
            self._anchor_virtual = self._virtual
            ideal = self._virtual
        if timeout is None:
            wall_timeout = None
        else:
            # Wait until the wall clock catches up with the deadline, not longer.
            deadline = self._virtual + max(timeout, 0.0)
            wall_timeout = max((deadline - ideal) / n, 0.0)
        events = inner.select(wall_timeout)
        wall_after = time.monotonic()
        by_wall = self._anchor_virtual + (wall_after - self._anchor_wall) * n
        target = by_wall if timeout is None else min(by_wall, self._virtual + max(timeout, 0.0))
        if not events and timeout is not None:
            # Nothing woke us early: the next timer is due now, exactly.
            target = self._virtual + max(timeout, 0.0)
        self._virtual = max(self._virtual, target)
        return events


def loop_factory(speedup: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """For ``asyncio.Runner(loop_factory=...)``: a plain loop at 1x, else paced."""
    if speedup == 1:
        return asyncio.new_event_loop
    return lambda: PacedEventLoop(speedup)


def run(main: Coroutine[Any, Any, T], *, speedup: float = 1.0) -> T:
    """``asyncio.run`` on the paced clock."""
    with asyncio.Runner(loop_factory=loop_factory(speedup)) as runner:
        return runner.run(main)
