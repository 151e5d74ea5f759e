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


# Each strap fault 60 s in (facing backward from about 46 s in the demo), then the
# rest of the session. Ground truth from the simulator's state log.
STRAP_FAULTS = [
    ("hr-contact-lost@60", 0.0),
    ("hr-dropout@60", 5.0),  # unknown after 5 s without a value
    ("hr-stuck@50", 60.0),  # unknown after 60 s of one value
    ("hr-spike@60:200", 0.0),  # far over the maximum: a stop
    ("hr-drift@55:60", 5.0),
]


@pytest.mark.parametrize(("fault", "takes_s"), STRAP_FAULTS)
async def test_under_every_strap_fault_the_belt_stays_under_the_ceiling_and_slows(
    tmp_path: Path, fault: str, takes_s: float
) -> None:
    run = await run_session(tmp_path, "demo", sim_hr=True, max_hr=150, faults=(fault,))
    end = run.end()
    assert end["reason"] in {"completed", "safety_stop"}, run.printed
    ceiling, tol = 5.0, 0.1  # novice
    assert all(s["belt_kmh"] <= ceiling + tol for s in run.states), "over the ceiling"
    assert run.events("hr_high") or run.events("safety_stop"), run.printed
    # Bad data slows the belt (a spike far over the maximum stops it): after the
    # fault takes effect the belt is told less than before it, never more.
    at = float(fault.split("@")[1].split(":", maxsplit=1)[0]) + takes_s
    before = max(s["target_kmh"] for s in run.states if at - 5 <= s["t"] < at)
    after = [s["target_kmh"] for s in run.states if at + 4 <= s["t"] <= at + 12]
    if end["reason"] == "safety_stop":
        assert not run.states[-1]["running"] or run.states[-1]["target_kmh"] == 0.0
    else:
        assert after
        assert max(after) < before, (before, after)
    # Bounded: the session returns within its plan and the holds, never "for ever".
    assert end["t"] < 200
