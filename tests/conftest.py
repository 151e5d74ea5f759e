"""Suite-wide test configuration."""

from __future__ import annotations

import asyncio

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # looptime's hook asks the policy for "the" event loop even around synchronous
    # tests; on Python 3.11 that silently creates a loop nobody closes, which
    # filterwarnings=error then reports as an unclosed-loop ResourceWarning. Marking
    # the main thread as having no loop makes that call raise (which looptime
    # expects) instead of creating one. pytest-asyncio sets its own loops as usual.
    del config
    asyncio.set_event_loop(None)
