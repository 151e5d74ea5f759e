"""A bounded queue that never blocks whoever puts: when full, it drops the oldest item.

The treadmill client's streams and every event-bus subscriber use it. The control
loop puts from callbacks and must never wait for a reader, so a slow reader costs
memory up to ``maxlen`` and the items it was too slow for, nothing else.

Which item goes when the queue is full: the oldest of the lowest *rank* (0 goes
first). Without a ``rank`` function every item ranks 0: plain drop-oldest. An item
ranked ``None`` is never dropped (the bus keeps every safety event), so a queue of
such items may hold more than ``maxlen``. ``close()`` ends every iteration once
what is queued has been read; a put after it is ignored.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

__all__ = ["DropOldestQueue"]

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Put without waiting, iterate asynchronously; see the module docstring.

    ``items`` is what waits to be read, oldest first; ``dropped`` counts what the
    queue let go.
    """

    def __init__(self, maxlen: int, *, rank: Callable[[T], int | None] | None = None) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.maxlen = maxlen
        self.items: deque[T] = deque()
        self.dropped = 0
        self._rank = rank
        self._closed = False
        self._wakeup = asyncio.Event()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (iterations end once drained)."""
        return self._closed

    def put(self, item: T) -> None:
        """Queue ``item``, dropping one item when that takes the queue over ``maxlen``."""
        if self._closed:
            return
        self.items.append(item)
        if len(self.items) > self.maxlen:
            self._drop_one()
        self._wakeup.set()

    def _drop_one(self) -> None:
        if self._rank is None:
            self.items.popleft()
            self.dropped += 1
            return
        victim: int | None = None
        lowest: int | None = None
        for index, item in enumerate(self.items):
            rank = self._rank(item)
            if rank is not None and (lowest is None or rank < lowest):
                victim, lowest = index, rank
                if rank <= 0:
                    break  # nothing ranks lower: the oldest of rank 0 it is
        if victim is not None:
            del self.items[victim]
            self.dropped += 1

    def close(self) -> None:
        """End every iteration once the queue is drained; later puts are ignored."""
        self._closed = True
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self.items)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            while self.items:
                yield self.items.popleft()
            if self._closed:
                return
            self._wakeup.clear()
            await self._wakeup.wait()
