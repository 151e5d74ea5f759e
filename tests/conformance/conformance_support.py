"""A whole session on the spec-strict simulator playing a device profile, in process
on looptime's fake clock: what the belt did is read from the simulator's state log."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.record import read_record
from treadsim.runtime import Simulator, read_state_log

StrictRun = tuple[int, str, list[dict[str, Any]], list[dict[str, Any]]]


async def strict_session(
    tmp_path: Path,
    program: str,
    profile: Path,
    *,
    on_simulator: Callable[[Simulator], None] | None = None,
    **extra: Any,
) -> StrictRun:
    """``retrorun run PROGRAM --yes --plain --voice off`` against the strict simulator
    playing ``profile``: its exit code, what it printed, the simulator's state log
    and the session's record."""
    record = tmp_path / "session.jsonl"
    belt = tmp_path / "belt.jsonl"
    options = RunOptions(
        program=program,
        sim_profile=profile,
        sim_strict=True,
        sim_state_log=belt,
        yes=True,
        plain=True,
        voice="off",
        record=record,
        **extra,
    )
    out = io.StringIO()
    code = await run_prepared(prepare(options), stdout=out, on_simulator=on_simulator)
    return code, out.getvalue(), read_state_log(belt.read_text()), list(read_record(record))
