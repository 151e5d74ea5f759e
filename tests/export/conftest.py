"""The export tests' shared records: real simulator sessions, run once on fake time."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_support import RUNS, record_sessions


@pytest.fixture(scope="session")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each run's record by name (module fixtures elsewhere read them, never write)."""
    return record_sessions(tmp_path_factory.mktemp("records"), RUNS)
