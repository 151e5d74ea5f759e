"""Waiting, bounded, for what a running session exposes: one place for the session
tests (``tests/session/run_support.py``) and the recorded sessions
(``tests/recorded_sessions.py``), in fake time; and, in real time, for the tests
that run sessions as processes (the live page's and the fleet's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from retrorun.events import Status
from retrorun.session import Session

__all__ = ["in_step", "until", "wait_until"]

T = TypeVar("T")


async def until(condition: Callable[[], bool], *, timeout: float = 600, step: float = 0.1) -> None:
    """Wait (bounded, fake time) until ``condition()``."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - polls what the API exposes
            await asyncio.sleep(step)


async def in_step(session: Session, index: int) -> None:
    """Wait (bounded) until the session is timing step ``index``."""
    await until(
        lambda: (
            session.status is Status.RUNNING
            and session.step_index == index
            and session.step_deadline is not None
        ),
        step=0.5,
    )


def wait_until(condition: Callable[[], T | None], *, timeout: float, what: str) -> T:
    """Poll ``condition`` (real time) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)
