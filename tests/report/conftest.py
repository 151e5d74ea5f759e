"""The report and history tests read the suite's shared sessions (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from report_support import Run, utc_clock


@pytest.fixture(scope="session")
def runs(recorded_runs: dict[str, Run]) -> dict[str, Run]:
    """Every shared session by name, recorded once per test run."""
    return recorded_runs


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC for the test."""
    yield from utc_clock()
