"""Whole sessions with the simulated strap (``--sim-hr``), on looptime's fake clock.

The record must carry the strap's heart rate, as the strap sent it (the
simulator's state log holds what it reported: ground truth).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from run_support import Run, run_session

pytestmark = pytest.mark.looptime


def telemetry(run: Run) -> list[dict[str, Any]]:
    return [line for line in run.lines if line["type"] == "telemetry"]


async def test_a_session_records_the_straps_heart_rate(tmp_path: Path) -> None:
    run = await run_session(tmp_path, "demo", sim_hr=True, max_hr=175, sim_hr_resting=60)
    assert run.code == 0
    lines = telemetry(run)
    with_hr = [line for line in lines if "heart_rate_bpm" in line]
    assert len(with_hr) >= len(lines) - 3  # the first records may come before the first beat
    assert {line["heart_rate_source"] for line in with_hr} == {"strap"}
    truth = {round(s["t"]): s["hr_reported_bpm"] for s in run.states}
    assert truth
    assert max(line["heart_rate_bpm"] for line in with_hr) > 60
    assert max(line["heart_rate_bpm"] for line in with_hr) <= max(
        v for v in truth.values() if v is not None
    )
    assert not run.events("hr_high")
