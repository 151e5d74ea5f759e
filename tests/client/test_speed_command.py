"""Speeds in the treadmill's own unit and grid (``retrorun.devices.SpeedCommand``).

A mph machine's lowest speed is its minimum in mph, rounded *up* into km/h for the
governor; every approved speed goes out rounded *down* onto the machine's grid. So
what is sent is within the machine's range, on its increment, and never over what
the governor approved, hence never over the ceiling. The properties are checked
over ranges, increments, runner profiles, user ceilings and speed requests; the
client is checked against the simulator playing the Horizon 7.0AT profile.
"""

from __future__ import annotations

import asyncio
from fractions import Fraction

import pytest
from client_support import profile_named, rig
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.devices import DeviceProfile, SpeedCommand, match_device_profile
from retrorun.errors import CommandError
from retrorun.events import Direction
from retrorun.ftms import KMH_PER_MPH
from retrorun.limits import PROFILE_LIMITS, RunnerProfile, effective_backward_ceiling
from retrorun.safety import SafetyGovernor
from retrorun.treadmill import TreadmillEventKind

MPH = Fraction(str(KMH_PER_MPH))


def profile_with(
    low: int, high: int, step: int, *, mph: bool, command_step: float | None = None
) -> DeviceProfile:
    data = match_device_profile(None).model_dump()
    data["speed"] = {
        "min_kmh": low / 100,
        "max_kmh": high / 100,
        "step_kmh": step / 100,
        "command_step": command_step,
    }
    data["quirks"] = {"speed_in_mph": {"source": "test"}} if mph else {}
    return DeviceProfile.model_validate(data)


def in_kmh(command: SpeedCommand, wire: int) -> Fraction:
    """What the machine runs for ``wire``, exactly, in 0.01 km/h."""
    return Fraction(wire) * (MPH if command.unit == "mph" else 1)


def test_the_horizon_minimum_goes_out_at_half_a_mile_an_hour() -> None:
    profile = profile_named("7.0at")
    command = SpeedCommand.of(profile, profile.speed.raw)
    assert command.unit == "mph"
    assert command.minimum == 50  # 0.50 mph, the least the machine takes
    assert command.limits[0] == 81  # 0.8047 km/h, rounded up: never approved lower
    assert command.to_wire(81) == 50
    with pytest.raises(ValueError, match=r"under the lowest speed .* 0\.50 mph"):
        command.to_wire(80)  # 0.80 km/h is 0.497 mph: only 0.50, more, could go out


def test_a_kmh_machine_keeps_its_range_and_sends_what_was_approved() -> None:
    profile = match_device_profile(None)
    command = SpeedCommand.of(profile, profile.speed.raw)
    assert command.unit == "km/h"
    assert command.limits == profile.speed.raw
    low, high, step = profile.speed.raw
    assert [command.to_wire(v) for v in range(low, high + 1, step)] == list(
        range(low, high + 1, step)
    )


def test_a_command_step_needs_a_mph_control_point() -> None:
    with pytest.raises(ValueError, match="command_step is for a speed_in_mph model"):
        profile_with(50, 1600, 10, mph=False, command_step=0.1)


@settings(max_examples=300, deadline=None)
@given(
    low=st.integers(1, 300),
    span=st.integers(100, 2500),
    kmh_step=st.sampled_from([1, 5, 10, 20, 50, 100]),
    mph=st.booleans(),
    command_step=st.sampled_from([None, 0.01, 0.05, 0.1, 0.2, 0.25, 0.5]),
    runner=st.sampled_from(list(RunnerProfile)),
    lowered=st.none() | st.integers(1, 1000),
    direction=st.sampled_from([Direction.BACKWARD, Direction.FORWARD]),
    asked=st.lists(st.integers(0, 3000), min_size=1, max_size=12),
)
def test_every_command_is_within_the_range_on_the_grid_and_under_the_ceiling(
    low: int,
    span: int,
    kmh_step: int,
    mph: bool,
    command_step: float | None,
    runner: RunnerProfile,
    lowered: int | None,
    direction: Direction,
    asked: list[int],
) -> None:
    high = low + span
    profile = profile_with(low, high, kmh_step, mph=mph, command_step=command_step if mph else None)
    command = SpeedCommand.of(profile, profile.speed.raw)
    limits = command.limits
    user = None if lowered is None else min(lowered, PROFILE_LIMITS[runner].backward_ceiling)
    ceiling = effective_backward_ceiling(runner, user_ceiling=user, device_max=limits[1])
    governor = SafetyGovernor(
        profile=runner,
        ceiling=ceiling,
        speed_range=limits,
        incline_range=(0, 0, 5),
        direction=direction,
    )
    # At the low edge the minimum in the machine's own unit goes out, exactly.
    assert command.to_wire(limits[0]) == command.minimum
    assert in_kmh(command, command.minimum) >= low
    now = 0.0
    for desired in asked:
        now += 2.0
        safe = governor.request_speed(desired, now)
        if safe is None or safe.value == 0:
            continue
        wire = command.to_wire(safe.value)
        assert command.minimum <= wire <= command.maximum
        assert (wire - command.minimum) % command.step == 0, "on the machine's own grid"
        runs = in_kmh(command, wire)
        assert low <= runs <= high, "within the machine's range, in km/h"
        assert runs <= safe.value, "never over what the governor approved"
        if direction is Direction.BACKWARD:
            assert runs <= min(ceiling, limits[1]) <= ceiling
        # The simulator's reading of the command (to the nearest 0.01 km/h) agrees.
        assert low <= command.to_kmh(wire) <= min(high, safe.value)
    if direction is Direction.BACKWARD and ceiling < limits[0]:
        # The ceiling wins over the machine's minimum: no backward speed at all.
        assert governor.clamp_target(ceiling) == 0


@given(
    low=st.integers(1, 300),
    span=st.integers(100, 2500),
    command_step=st.sampled_from([None, 0.01, 0.1, 0.5]),
    values=st.lists(st.integers(0, 2800), min_size=2, max_size=20),
)
def test_conversion_is_monotonic(
    low: int, span: int, command_step: float | None, values: list[int]
) -> None:
    profile = profile_with(low, low + span, 10, mph=True, command_step=command_step)
    command = SpeedCommand.of(profile, profile.speed.raw)
    usable = sorted(v for v in values if command.limits[0] <= v <= command.limits[1])
    wires = [command.to_wire(v) for v in usable]
    assert wires == sorted(wires)


@pytest.mark.looptime
@pytest.mark.hazard("HZ-13")
async def test_a_backward_start_at_the_minimum_moves_a_mph_belt() -> None:
    profile = profile_named("7.0at")
    async with rig(profile) as r, r.treadmill(profile=profile) as tm:
        assert tm.speed_limits[0] == 81
        governor = SafetyGovernor(
            profile=RunnerProfile.OLDER_ADULT,
            ceiling=250,
            speed_range=tm.speed_limits,
            incline_range=tm.incline_limits,
            direction=Direction.BACKWARD,
        )
        first = governor.request_speed(80, 0.0)  # from rest: the device minimum
        assert first is not None
        assert first.value == 81
        await tm.set_speed(first)
        await tm.start()
        await asyncio.sleep(3)
        state = r.sim.state()
        assert state["running"]
        assert profile.speed.min_kmh <= state["target_kmh"] <= 0.81
        assert state["belt_kmh"] > 0
        echoes = []
        async for event in tm.events():
            if event.kind is TreadmillEventKind.TARGET_SPEED_CHANGED:
                echoes.append(event.value)
                break
        assert echoes == [81], "our own target comes back as the speed approved"
        assert any("mph" in note for note in tm.notes)


@pytest.mark.looptime
@pytest.mark.hazard("HZ-13")
async def test_a_speed_under_the_mph_minimum_is_not_sent() -> None:
    """A governor built from the km/h figure (0.80) approves what the machine cannot
    run; the client sends nothing rather than the higher 0.50 mph."""
    profile = profile_named("7.0at")
    async with rig(profile) as r, r.treadmill(profile=profile) as tm:
        governor = SafetyGovernor(
            profile=RunnerProfile.OLDER_ADULT,
            ceiling=80,
            speed_range=profile.speed.raw,
            incline_range=tm.incline_limits,
            direction=Direction.BACKWARD,
        )
        command = governor.request_speed(80, 0.0)
        assert command is not None
        assert command.value == 80
        writes = r.sim.state()["writes"]
        with pytest.raises(CommandError, match=r"not sent: 0\.80 km/h is under the lowest speed"):
            await tm.set_speed(command)
        await asyncio.sleep(2)
        state = r.sim.state()
        assert state["writes"] == writes
        assert state["target_kmh"] == 0.0
        assert state["belt_kmh"] == 0.0
