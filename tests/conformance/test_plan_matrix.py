"""Every library program x every device profile x every week, at the plan level.

A whole session per pair is the proof of last resort, and it costs minutes
(``RETRORUN_CONFORMANCE_PROGRAMS=all`` in test_profiles_sessions.py). This is the
cheap proof the default suite runs instead: each program is planned for each of
its weeks against each shipped profile's ranges and units, exactly as
``retrorun.app.build_session`` plans it (the device maximum read from the
machine, a reference speed for percentage steps), and a governor built the same
way is walked through every step as the session drives it: the turn-arounds'
commands and direction changes, the ramp of each step at the governor's pace (and
the backward easing down), every incline. Every command it issues must convert,
through the client's own conversion (``SpeedCommand``: the machine's unit and
grid), to a value the machine accepts, on its grid, never over what the governor
approved, and, not facing forward, never over the plan's ceiling (the turn's
limit while turning); every backward step that asks for a speed must get the belt
moving. No simulator and no Bluetooth: what a session adds (telemetry, MTU, the
machine's answers) is covered by the demo on every profile at MTU 23 and 247 and
by every program on the strict generic simulator, in the default suite too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import pytest

from retrorun._paths import data_dir
from retrorun.devices import DeviceProfile, SpeedCommand, load_device_profile
from retrorun.events import Direction
from retrorun.ftms import KMH_PER_MPH
from retrorun.limits import BACKWARD_INCLINE_MAX, RAMP_INTERVAL_S, RAMP_STEP
from retrorun.programs import Plan, PlanStep, Program, library, plan
from retrorun.safety import SafeCommand, SafetyGovernor

PROFILES = sorted(data_dir("devices").glob("*.toml"))
PROGRAMS = library()
REFERENCE_KMH = 8.0  # as the session matrix runs them
MPH = Fraction(str(KMH_PER_MPH))
_MAX_RAMP = 400  # commands in one ramp: far more than any 0-25 km/h ramp takes


@dataclass
class Walk:
    """What the governor issued for one plan, with the phase each was issued in."""

    speeds: list[tuple[SafeCommand, Direction, int]] = field(default_factory=list)
    inclines: list[SafeCommand] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)  # backward steps the belt never ran


def _weeks(program: Program) -> range:
    if program.weeks is not None:
        return range(1, program.weeks + 1)
    return range(1, 2) if not program.progression else range(1, 5)


def _governor(profile: DeviceProfile, command: SpeedCommand, the_plan: Plan) -> SafetyGovernor:
    """The governor ``build_session`` makes for this machine and plan."""
    return SafetyGovernor(
        profile=the_plan.profile,
        ceiling=the_plan.ceiling,
        speed_range=command.limits,
        incline_range=profile.incline.raw,
        allow_steep=any(
            step.incline > BACKWARD_INCLINE_MAX
            for step in the_plan.steps
            if step.direction is not Direction.FORWARD
        ),
        decel_kmh_per_s=profile.decel_kmh_per_s,
    )


def _walk(governor: SafetyGovernor, steps: tuple[PlanStep, ...]) -> Walk:
    """Drive the governor through ``steps`` as ``Session`` does, recording commands."""
    walk = Walk()
    now = 0.0

    def speed(command: SafeCommand | None) -> None:
        if command is not None:
            limit = governor.turn_limit if governor.direction is Direction.TURNING else 0
            walk.speeds.append((command, governor.direction, limit))

    for step in steps:
        now += 1.0
        if step.turnaround:
            speed(governor.turnaround_command(now, stop_belt=step.stop_belt))
            walk.inclines.append(governor.request_incline(step.incline, now))
            governor.set_direction(Direction.TURNING, now, belt_speed=governor.commanded)
            now += step.duration_s
            assert step.to_direction is not None
            governor.set_direction(step.to_direction, now, belt_speed=governor.commanded)
            correction = governor.incline_correction(now)
            if correction is not None:
                walk.inclines.append(correction)
            continue
        if step.direction is not governor.direction:
            governor.set_direction(step.direction, now, belt_speed=governor.commanded)
        walk.inclines.append(governor.request_incline(step.incline, now))
        desired = step.speed
        for _ in range(_MAX_RAMP):
            commanded = governor.commanded
            easing = (
                governor.direction is Direction.BACKWARD and 0 < desired < commanded - RAMP_STEP
            )
            speed(governor.request_speed(commanded - RAMP_STEP if easing else desired, now))
            if governor.commanded == governor.reachable(desired):
                break
            now += RAMP_INTERVAL_S if easing else max(governor.next_ramp_time() - now, 0.01)
        else:
            raise AssertionError(f"step {step.index}: the ramp to {desired} never ended")
        if desired > 0 and governor.commanded == 0:
            walk.stalled.append(f"step {step.index} asks {desired / 100:.2f} km/h")
        now += step.duration_s
    return walk


def _check_speed(
    profile: DeviceProfile,
    command: SpeedCommand,
    approved: SafeCommand,
    direction: Direction,
    turn_limit: int,
    ceiling: int,
) -> None:
    value = approved.value
    if value == 0:
        return  # a stop: no Set Target Speed goes out
    low, high, _step = profile.speed.raw
    wire = command.to_wire(value)  # raises for a speed the machine cannot take
    where = f"{value / 100:.2f} km/h facing {direction}, sent as {wire} ({command.unit})"
    assert command.minimum <= wire <= command.maximum, where
    assert (wire - command.minimum) % command.step == 0, f"off the machine's grid: {where}"
    runs = Fraction(wire) * (MPH if command.unit == "mph" else 1)
    assert low <= runs <= high, f"outside the machine's range: {where}"
    assert runs <= value, f"over what the governor approved: {where}"
    assert low <= command.to_kmh(wire) <= high, f"the machine reads it out of range: {where}"
    if direction is Direction.BACKWARD:
        assert value <= ceiling, f"over the {ceiling / 100:.2f} km/h ceiling: {where}"
    if direction is Direction.TURNING:
        assert value <= min(turn_limit, ceiling), f"over the turn's limit: {where}"


@pytest.mark.parametrize("program", [name for name, _ in PROGRAMS])
@pytest.mark.parametrize("device", PROFILES, ids=lambda p: p.stem)
@pytest.mark.hazard("HZ-01", "HZ-13")
def test_every_step_converts_to_commands_the_machine_takes_under_the_ceiling(
    device: Path, program: str
) -> None:
    profile = load_device_profile(device)
    command = SpeedCommand.of(profile, profile.speed.raw)  # treadsim reports the profile's
    source = dict(PROGRAMS)[program]
    incline_low, incline_high, incline_step = profile.incline.raw
    walked = 0
    for week in _weeks(source):
        the_plan = plan(
            source, week=week, device_max=command.limits[1], reference_kmh=REFERENCE_KMH
        )
        governor = _governor(profile, command, the_plan)
        walk = _walk(governor, the_plan.steps)
        assert not walk.stalled, f"week {week}: the belt never ran: {walk.stalled}"
        assert any(c.value > 0 for c, d, _ in walk.speeds if d is Direction.BACKWARD)
        for approved, direction, turn_limit in walk.speeds:
            _check_speed(profile, command, approved, direction, turn_limit, the_plan.ceiling)
            walked += 1
        for incline in walk.inclines:
            assert incline_low <= incline.value <= incline_high, incline
            assert (incline.value - incline_low) % incline_step == 0, incline
    assert walked > 0
