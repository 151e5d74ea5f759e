"""A runner's ``+`` presses against the step's clock (issue 21), on the simulator.

A nudge ramps within the step's clock (the step never runs long for it), and the
step after it eases down in ramp steps facing backward, never a drop of several
km/h under a runner facing the rear.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from run_support import run_session

from retrorun.session import Session
from session_waits import in_step, until
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime

# The demo: step 3 (index 2) is 0:30 backward at 2.5 km/h, step 4 0:20 at 2.0 km/h;
# the novice ceiling is 5.0 km/h, 25 presses of + away.
WORK, NEXT, WORK_S = 2, 3, 30.0


async def _press_to_the_ceiling(session: Session, simulator: Simulator) -> None:
    """25 presses of + with 5 s of the step left (the ramp to 5.0 takes about 10 s)."""
    del simulator
    await in_step(session, WORK)
    loop = asyncio.get_running_loop()
    await until(lambda: (session.step_deadline or 0.0) - loop.time() <= 5.0)
    for _ in range(25):
        session.adjust_speed(10, source="keyboard")


def _starts(lines: list[dict[str, Any]]) -> dict[int, float]:
    return {
        line["index"]: line["t"]
        for line in lines
        if line["type"] == "event" and line["kind"] == "step_started"
    }


async def test_plus_presses_do_not_stretch_the_step(tmp_path: Path) -> None:
    run = await run_session(tmp_path, driver=_press_to_the_ceiling)
    starts = _starts(run.lines)
    # The step's clock starts once the belt has settled at 2.5 km/h (from the turn's
    # 2.0 km/h: one command, about a second); the presses must not add to it.
    assert starts[NEXT] - starts[WORK] <= WORK_S + 1.5  # 31 s without the presses


async def test_the_step_after_a_nudge_starts_from_a_ramp_not_a_drop(tmp_path: Path) -> None:
    run = await run_session(tmp_path, driver=_press_to_the_ceiling)
    starts = _starts(run.lines)
    speeds = [
        line["value"]
        for line in run.commands("set_target_speed")
        if starts[NEXT] <= line["t"] < starts[NEXT] + 20
    ]
    before = [
        line["value"] for line in run.commands("set_target_speed") if line["t"] < starts[NEXT]
    ]
    assert before
    assert speeds
    steps = [a - b for a, b in zip([before[-1], *speeds], speeds, strict=False)]
    assert max(steps) <= 0.5 + 1e-9, (before[-1], speeds)
