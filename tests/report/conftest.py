"""The sessions every report and history test reads, recorded once per test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from report_support import SESSIONS, Run, record_sessions, utc_clock


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every session of ``report_support.SESSIONS``, run once (about 20 s of wall time)."""
    return record_sessions(tmp_path_factory.mktemp("records"), SESSIONS)


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC for the test."""
    yield from utc_clock()
