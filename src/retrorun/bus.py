"""One stream of session states and events, fanned out to sinks without blocking.

The control loop publishes; it never awaits a sink. Each subscriber has a bounded
queue: when full, the oldest *state* is dropped first (a newer one supersedes it),
then the oldest non-safety event; safety events are never dropped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from retrorun.events import SessionEvent, SessionState

__all__ = ["EventBus", "Item", "Subscription"]

Item = SessionState | SessionEvent


class Subscription:
    """A sink's view of the bus: an async iterator that ends when the bus closes."""

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[Item] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    def _put(self, item: Item) -> None:
        if self._closed:
            return
        self._items.append(item)
        if len(self._items) > self.maxsize:
            self._drop_one()
        self._wakeup.set()

    def _drop_one(self) -> None:
        victim: Item | None = next((i for i in self._items if isinstance(i, SessionState)), None)
        if victim is None:
            victim = next(
                (i for i in self._items if isinstance(i, SessionEvent) and not i.safety), None
            )
        if victim is not None:
            self._items.remove(victim)
            self.dropped += 1

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._items)

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Item]:
        while True:
            while self._items:
                yield self._items.popleft()
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()


class EventBus:
    """Publish states and events to every subscriber; publishing never blocks."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def subscribe(self, name: str, *, maxsize: int = 256) -> Subscription:
        """A new subscription that sees everything published from now on."""
        if self._closed:
            raise RuntimeError("the session's event bus is closed")
        sub = Subscription(name, maxsize)
        self._subscriptions.append(sub)
        return sub

    def publish(self, item: Item) -> None:
        """Hand ``item`` to every subscriber. Cheap and synchronous."""
        for sub in self._subscriptions:
            sub._put(item)

    def close(self) -> None:
        """End every subscriber's iteration once its queue is drained."""
        self._closed = True
        for sub in self._subscriptions:
            sub._close()
