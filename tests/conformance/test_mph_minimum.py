"""A mph treadmill started backward at its lowest speed, judged by the simulator's belt.

The Horizon 7.0AT profile reads Set Target Speed as 0.01 mph, and its lowest speed
is 0.5 mph (0.8047 km/h). A backward start from rest goes to the device minimum
first; converted from 0.80 km/h and rounded down it went out as 0.49 mph, under
the machine's range, was refused, and the session ended with the belt never
moving. The command now goes out at the minimum in the machine's own unit, and a
ceiling under that minimum wins: the belt does not move at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conformance_support import strict_session

from retrorun._paths import data_dir
from retrorun.devices import load_device_profile

pytestmark = pytest.mark.looptime

HORIZON = data_dir("devices") / "horizon-7-0at.toml"

# One backward step asked at the profile's minimum, facing backward from the start:
# the first command from rest is the device minimum (older-adult: stop to turn).
PROGRAM = """\
name = "Minimum Start"
description = "One backward step at the treadmill's lowest speed"
profile = "older-adult"

[[steps]]
kind = "work"
direction = "backward"
duration = "30s"
speed_kmh = 0.8
label = "Backward at the minimum"
cue = "Hold the rails."
"""


async def _run(tmp_path: Path, **extra: Any) -> tuple[int, list[dict[str, Any]], list[Any]]:
    program = tmp_path / "minimum.toml"
    program.write_text(PROGRAM)
    code, _out, states, lines = await strict_session(tmp_path, str(program), HORIZON, **extra)
    return code, states, lines


@pytest.mark.hazard("HZ-13")
async def test_a_backward_start_at_the_mph_minimum_runs_the_belt(tmp_path: Path) -> None:
    code, states, lines = await _run(tmp_path)
    [end] = [line for line in lines if line["type"] == "end"]
    assert code == 0, end
    assert end["reason"] == "completed", end
    minimum_kmh = load_device_profile(HORIZON).speed.min_kmh
    ceiling_kmh = lines[0]["ceiling_backward_kmh"]
    targets = [s["target_kmh"] for s in states if s["target_kmh"] > 0]
    assert targets, "a target reached the belt"
    # The machine's own view: every target within its range and under the ceiling.
    assert all(minimum_kmh <= t <= ceiling_kmh for t in targets), sorted(set(targets))
    assert max(s["belt_kmh"] for s in states) >= minimum_kmh, "the belt moved"
    assert max(s["belt_kmh"] for s in states) <= ceiling_kmh
    assert states[-1]["belt_kmh"] == 0.0
    speeds = [
        line for line in lines if line["type"] == "command" and line["op"] == "set_target_speed"
    ]
    assert speeds
    assert all(line["result"] == "success" for line in speeds), speeds
    # Our own command's echo (0.50 mph reads 0.80 km/h) is no console change.
    assert not [line for line in lines if line.get("kind") == "console_change"]


@pytest.mark.hazard("HZ-01", "HZ-13")
async def test_a_ceiling_under_the_mph_minimum_keeps_the_belt_still(tmp_path: Path) -> None:
    # 0.80 km/h is under 0.5 mph (0.8047 km/h), the least this machine can run.
    code, states, lines = await _run(tmp_path, ceiling=80)
    [end] = [line for line in lines if line["type"] == "end"]
    assert code == 0, end
    assert all(s["belt_kmh"] == 0.0 and s["target_kmh"] == 0.0 for s in states)
    sent = [
        line
        for line in lines
        if line["type"] == "command" and line["op"] == "set_target_speed" and line["value"]
    ]
    assert not sent, sent


@pytest.mark.hazard("HZ-13")
async def test_a_ceiling_under_the_mph_minimum_is_said(tmp_path: Path) -> None:
    _code, _states, lines = await _run(tmp_path, ceiling=80)
    refused = [line for line in lines if line.get("kind") == "speed_refused"]
    assert refused
    assert "0.81" in refused[0]["message"], refused
