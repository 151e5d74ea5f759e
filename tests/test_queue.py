"""The one bounded queue behind the treadmill's streams and the bus's subscribers."""

from __future__ import annotations

import asyncio

import pytest

from retrorun._queue import DropOldestQueue


async def drain(queue: DropOldestQueue[int]) -> list[int]:
    return [item async for item in queue]


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(3)
    for item in range(5):
        queue.put(item)
    assert len(queue) == 3
    assert queue.dropped == 2
    queue.close()
    assert await drain(queue) == [2, 3, 4]


async def test_the_lowest_rank_goes_first_oldest_of_it() -> None:
    # 0 = a state, 1 = an event, None = a safety event, as the bus ranks them.
    ranks = {"s": 0, "e": 1, "!": None}
    queue: DropOldestQueue[str] = DropOldestQueue(3, rank=lambda item: ranks[item[0]])
    for item in ("e1", "s1", "!1", "s2", "e2"):
        queue.put(item)
    queue.close()
    assert [item async for item in queue] == ["e1", "!1", "e2"]
    assert queue.dropped == 2


async def test_never_dropped_kinds_may_take_the_queue_over_its_bound() -> None:
    queue: DropOldestQueue[str] = DropOldestQueue(
        2, rank=lambda item: None if item.startswith("!") else 0
    )
    for item in ("a", "!1", "!2", "!3", "b"):
        queue.put(item)
    queue.close()
    assert [item async for item in queue] == ["!1", "!2", "!3"]
    assert queue.dropped == 2


async def test_close_ends_an_iteration_after_what_is_queued() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(8)
    queue.put(1)
    queue.put(2)
    queue.close()
    queue.put(3)  # after close: ignored
    assert queue.closed
    assert await drain(queue) == [1, 2]
    assert await drain(queue) == []


async def test_a_waiting_reader_wakes_on_put_and_ends_on_close() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(8)
    reader = asyncio.create_task(drain(queue))
    await asyncio.sleep(0)
    assert not reader.done()
    queue.put(7)
    await asyncio.sleep(0)
    assert not reader.done()
    queue.close()
    assert await asyncio.wait_for(reader, 1) == [7]


def test_a_queue_holds_at_least_one_item() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DropOldestQueue(0)
