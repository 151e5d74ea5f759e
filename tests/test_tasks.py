"""``cancel_and_wait``: the waiter's own cancellation is never swallowed."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from retrorun.tasks import cancel_and_wait


async def _slow_to_cancel(cleaned: asyncio.Event) -> None:
    """A task that takes a few loop turns (and some fake time) to end once cancelled."""
    try:
        await asyncio.sleep(3600)
    finally:
        await asyncio.sleep(0.5)
        cleaned.set()


async def test_the_task_is_cancelled_and_has_ended_when_it_returns() -> None:
    cleaned = asyncio.Event()
    task = asyncio.ensure_future(_slow_to_cancel(cleaned))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.cancelled()
    assert cleaned.is_set()


async def test_a_cancellation_of_the_waiter_meanwhile_propagates() -> None:
    """The flaw of ``suppress(CancelledError): await task``, which hung sessions."""
    cleaned = asyncio.Event()
    child = asyncio.ensure_future(_slow_to_cancel(cleaned))
    went_on = False

    async def waiter() -> None:
        nonlocal went_on
        await asyncio.sleep(0)
        await cancel_and_wait(child)
        went_on = True  # must never run: the waiter was cancelled meanwhile

    outer = asyncio.ensure_future(waiter())
    await asyncio.sleep(0.1)  # the waiter now waits for the child's clean-up
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert not went_on
    await asyncio.wait({child})
    assert child.cancelled()


async def test_the_old_idiom_swallows_it() -> None:
    """The same moment with the idiom ``cancel_and_wait`` replaces: the waiter goes on."""
    cleaned = asyncio.Event()
    child = asyncio.ensure_future(_slow_to_cancel(cleaned))
    went_on = False

    async def waiter() -> None:
        nonlocal went_on
        await asyncio.sleep(0)
        child.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await child
        went_on = True

    outer = asyncio.ensure_future(waiter())
    await asyncio.sleep(0.1)
    outer.cancel()
    await asyncio.wait({outer})
    assert went_on
    assert not outer.cancelled()


async def test_an_exception_raised_while_ending_is_retrieved() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ValueError("broke while ending") from None

    task = asyncio.ensure_future(fails_on_cancel())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert isinstance(task.exception(), ValueError)


async def test_a_task_already_done_is_left_as_it_is() -> None:
    task = asyncio.ensure_future(asyncio.sleep(0, result=7))
    await asyncio.wait({task})
    await cancel_and_wait(task)
    assert task.result() == 7
