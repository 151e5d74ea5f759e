"""Cancel a task and wait for it, without losing the waiter's own cancellation.

The common idiom ``task.cancel(); with suppress(CancelledError): await task`` has a
flaw that hung whole sessions: ``await task`` raises ``CancelledError`` both when
``task`` ends cancelled (expected, suppressed) and when the *waiting* task is itself
cancelled meanwhile — which the ``suppress`` then swallows too. A session ending at
that instant (its TaskGroup cancelling the scheduler while the scheduler tidied up a
settle wait a pause had cut short) left the scheduler running on, the TaskGroup
waiting for it for ever, and the belt's Stop never sent.

``asyncio.wait`` tells the two apart: it never raises the awaited task's outcome, and
raises ``CancelledError`` only when the waiter is cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, however it ends.

    A cancellation of the caller during the wait propagates (the task is still
    cancelled); the task's own exception, if it raised one while ending, is retrieved
    so that asyncio does not report it as never retrieved.
    """
    if task.done():
        _retrieve(task)
        return
    task.cancel()
    await asyncio.wait({task})
    _retrieve(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
