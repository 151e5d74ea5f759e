"""One stream of session states and events, fanned out to sinks without blocking.

The control loop publishes; it never awaits a sink. Each subscriber has a bounded
queue (``retrorun._queue.DropOldestQueue``, the one the treadmill client's streams
use too): when full, the oldest *state* is dropped first (a newer one supersedes
it), then the oldest non-safety event; safety events are never dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from retrorun._queue import DropOldestQueue
from retrorun.events import SessionEvent, SessionState

__all__ = ["EventBus", "Item", "Subscription"]

Item = SessionState | SessionEvent


def _drop_rank(item: Item) -> int | None:
    """States go first (a newer one supersedes them), then events; never a safety event."""
    if isinstance(item, SessionState):
        return 0
    return None if item.safety else 1


class Subscription:
    """A sink's view of the bus: an async iterator that ends when the bus closes."""

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.maxsize = maxsize
        self._queue: DropOldestQueue[Item] = DropOldestQueue(maxsize, rank=_drop_rank)

    @property
    def dropped(self) -> int:
        """Items this subscriber was too slow for (never a safety event)."""
        return self._queue.dropped

    def _put(self, item: Item) -> None:
        self._queue.put(item)

    def _close(self) -> None:
        self._queue.close()

    def __len__(self) -> int:
        return len(self._queue)

    def __aiter__(self) -> AsyncIterator[Item]:
        return aiter(self._queue)


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
