"""Whole sessions on every shipped device profile, at ATT MTU 23 and 247.

The simulator plays each profile (its quirks included) and is capped at the MTU
under test, the largest it accepts in the client's MTU exchange: at 23 a record
travels in parts (or, on a truncating console, cut at 20 bytes); at 247 whole.
Sessions run in process on looptime's fake clock against the spec-strict simulator;
what the belt did is read from the simulator's state log.

What the default suite covers of the program x profile matrix:

* here, the ``demo`` program (turn-arounds, backward running, the end's stop) as a
  whole session on every profile at MTU 23 and 247;
* every library program as a whole session on the strict generic simulator
  (tests/session);
* every library program, every week, on every profile at the plan level
  (test_plan_matrix.py: every command the governor issues converted to the
  machine's unit and grid, within its range and under the ceiling; no simulator,
  a few seconds);
* a backward start at the minimum of a mph profile as a session
  (test_mph_minimum.py).

``RETRORUN_CONFORMANCE_PROGRAMS=all`` adds every library program as a whole session
on every profile and MTU here (about 140 sessions, over ten minutes: what a
session adds to the plan-level check is the machine's answers, telemetry and
timing on each profile's quirks).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conformance_support import strict_session

from retrorun._paths import data_dir
from retrorun.devices import load_device_profile
from retrorun.programs import library
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime

PROFILES = sorted(data_dir("devices").glob("*.toml"))
PROGRAMS = (
    [name for name, _ in library()]
    if os.environ.get("RETRORUN_CONFORMANCE_PROGRAMS") == "all"
    else ["demo"]
)


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("mtu", [23, 247])
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
@pytest.mark.hazard("HZ-01", "HZ-12", "HZ-13")
async def test_every_profile_runs_the_program_to_completion(
    tmp_path: Path, profile: Path, mtu: int, program: str
) -> None:
    # A program on heart-rate zones runs only with a strap and a maximum (and the
    # resting rate its reserve zones are figured from): the simulated runner's.
    zones = bool(dict(library())[program].heart_rate_fields)
    simulators: list[Simulator] = []

    def cap_mtu(simulator: Simulator) -> None:
        simulator.peripheral.max_mtu = mtu
        simulators.append(simulator)

    code, out, states, lines = await strict_session(
        tmp_path,
        program,
        profile,
        on_simulator=cap_mtu,
        sim_hr=zones,
        max_hr=180 if zones else None,
        resting_hr=70 if zones else None,
        reference_kmh=8.0,
    )
    [end] = [line for line in lines if line["type"] == "end"]
    assert end["belt_stopped"] is True
    if load_device_profile(profile).has("ignores_speed_commands"):
        # Such a machine cannot be guided: the session sees the belt not follow
        # and ends with it stopped, never pretending to complete.
        assert code == 1, out
        kinds = {line["kind"] for line in lines if line["type"] == "event"}
        assert "command_ignored_by_device" in kinds, kinds
        assert end["reason"] != "completed"
    else:
        assert code == 0, out
        assert end["reason"] == "completed"
    assert end["over_ceiling_s"] == 0
    assert any(state["belt_kmh"] > 0 for state in states), "the belt ran"
    assert states[-1]["belt_kmh"] == 0.0
    start = lines[0]
    assert start["ceiling_backward_kmh"] >= max(
        line["speed_kmh"]
        for line in lines
        if line["type"] == "telemetry" and line["direction"] == "backward"
    )
    (simulator,) = simulators
    assert simulator.server.mtu == mtu  # the MTU the session really ran at
