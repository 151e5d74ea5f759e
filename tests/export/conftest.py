"""The export tests read the suite's shared sessions (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from recorded_sessions import Run


@pytest.fixture(scope="session")
def records(recorded_runs: dict[str, Run]) -> dict[str, Path]:
    """Each shared session's record by name (tests read them, never write)."""
    return {name: run.record for name, run in recorded_runs.items()}
