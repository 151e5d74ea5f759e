"""One test (or table) per rule of the safety governor, with plain numbers for time."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

import pytest

from retrorun.errors import SafetyStop
from retrorun.events import Direction
from retrorun.limits import (
    RAMP_INTERVAL_S,
    RAMP_STEP,
    SETTLE_TOLERANCE,
    TURNAROUND_SPEED,
    RunnerProfile,
)
from retrorun.safety import (
    EXCURSION_WINDOW_S,
    HR_FAR_OVER_BPM,
    HR_PERSIST_S,
    RUNDOWN_GRACE_S,
    ReactionKind,
    SafeCommand,
    SafetyGovernor,
)


def make(
    profile: RunnerProfile = RunnerProfile.NOVICE,
    *,
    ceiling: int = 500,
    speed_range: tuple[int, int, int] = (100, 1600, 10),
    incline_range: tuple[int, int, int] = (0, 150, 5),
    allow_steep: bool = False,
    max_heart_rate: int | None = None,
    direction: Direction = Direction.BACKWARD,
) -> SafetyGovernor:
    return SafetyGovernor(
        profile=profile,
        ceiling=ceiling,
        speed_range=speed_range,
        incline_range=incline_range,
        allow_steep=allow_steep,
        max_heart_rate=max_heart_rate,
        direction=direction,
    )


def ramp_to(g: SafetyGovernor, desired: int, now: float) -> float:
    """Request ``desired`` until the governor has no more to send; the time after."""
    for _ in range(200):
        if g.request_speed(desired, now) is None and g.commanded == g.clamp_target(desired):
            return now
        now = max(now, g.next_ramp_time())
    raise AssertionError("ramp did not finish")


# -- SafeCommand ---------------------------------------------------------------


@pytest.mark.hazard("HZ-01")
def test_safe_command_cannot_be_made_outside_the_governor() -> None:
    with pytest.raises(TypeError):
        SafeCommand("speed", 300, 300, clamped=False)


@pytest.mark.hazard("HZ-01")
def test_safe_command_cannot_be_altered_by_replace() -> None:
    command = make(direction=Direction.FORWARD).request_speed(300, 0.0)
    assert command is not None
    with pytest.raises(TypeError):
        dataclasses.replace(command, value=5000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.value = 5000  # type: ignore[misc]


# -- construction and the ceiling ----------------------------------------------


@pytest.mark.parametrize("ceiling", [0, -1])
@pytest.mark.hazard("HZ-01")
def test_refuses_a_ceiling_at_or_below_zero(ceiling: int) -> None:
    with pytest.raises(ValueError, match="ceiling"):
        make(ceiling=ceiling)


@pytest.mark.parametrize("speed_range", [(100, 50, 10), (100, 1600, 0), (-10, 1600, 10)])
@pytest.mark.hazard("HZ-01")
def test_refuses_an_unusable_speed_range(speed_range: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="range"):
        make(speed_range=speed_range)


@pytest.mark.hazard("HZ-14")
def test_refuses_a_heart_rate_maximum_at_or_below_zero() -> None:
    with pytest.raises(ValueError, match="heart rate"):
        make(max_heart_rate=0)


@pytest.mark.hazard("HZ-01")
def test_device_max_lowers_the_ceiling() -> None:
    g = make(ceiling=500, speed_range=(100, 420, 10))
    assert g.ceiling == 420
    assert g.clamp_target(900) == 420


def test_initial_state() -> None:
    g = make(direction=Direction.FORWARD)
    assert g.commanded == 0
    assert g.direction is Direction.FORWARD
    assert g.next_ramp_time() == float("-inf")


@pytest.mark.parametrize(
    ("direction", "desired", "expected"),
    [
        (Direction.FORWARD, 0, 0),
        (Direction.FORWARD, -10, 0),
        (Direction.FORWARD, 30, 100),  # raised to the device minimum
        (Direction.FORWARD, 257, 250),  # quantised down
        (Direction.FORWARD, 900, 900),  # forward ignores the backward ceiling
        (Direction.FORWARD, 5000, 1600),  # but not the device maximum
        (Direction.BACKWARD, 900, 500),
        (Direction.BACKWARD, 499, 490),
        (Direction.TURNING, 900, 500),  # turning counts as backward
        (Direction.TURNING, 0, 0),
    ],
)
@pytest.mark.hazard("HZ-01")
def test_clamp_target(direction: Direction, desired: int, expected: int) -> None:
    assert make(direction=direction).clamp_target(desired) == expected


@pytest.mark.hazard("HZ-01")
def test_clamp_target_quantises_on_the_grid_from_the_device_minimum() -> None:
    g = make(ceiling=500, speed_range=(80, 1600, 30), direction=Direction.FORWARD)
    assert g.clamp_target(200) == 200  # 80 + 4 * 30
    assert g.clamp_target(229) == 200
    g = make(ceiling=490, speed_range=(80, 1600, 30))
    assert g.clamp_target(900) == 470  # the ceiling, quantised down


@pytest.mark.hazard("HZ-01")
def test_ceiling_below_the_device_minimum_allows_no_backward_speed() -> None:
    g = make(RunnerProfile.OLDER_ADULT, ceiling=90, speed_range=(100, 1600, 10))
    assert g.clamp_target(150) == 0
    assert g.request_speed(150, 0.0) is None
    assert g.commanded == 0


# -- speed requests and the ramp -----------------------------------------------


def test_forward_increases_go_all_the_way_at_once() -> None:
    g = make(direction=Direction.FORWARD)
    first = g.request_speed(900, 0.0)
    assert first is not None
    assert (first.value, first.requested, first.clamped) == (900, 900, False)
    assert g.request_speed(900, 0.1) is None  # already there
    second = g.request_speed(1200, 0.2)
    assert second is not None
    assert second.value == 1200


@pytest.mark.hazard("HZ-04")
def test_backward_ramp_is_half_a_kmh_every_two_seconds() -> None:
    g = make(speed_range=(50, 1600, 10))
    values: list[int] = []
    times: list[float] = []
    now = 10.0
    while now < 60.0:
        command = g.request_speed(900, now)
        if command is not None:
            values.append(command.value)
            times.append(now)
        now += 0.25
    assert values == [50, 100, 150, 200, 250, 300, 350, 400, 450, 500]
    assert all(b - a == RAMP_INTERVAL_S for a, b in itertools.pairwise(times))


@pytest.mark.hazard("HZ-04")
def test_ramp_waits_and_next_ramp_time_says_until_when() -> None:
    g = make()
    g.request_speed(300, 5.0)  # 0 -> 100, the device minimum
    assert g.next_ramp_time() == 5.0 + RAMP_INTERVAL_S
    assert g.request_speed(300, 6.99) is None
    assert g.commanded == 100
    command = g.request_speed(300, 7.0)
    assert command is not None
    assert command.value == 100 + RAMP_STEP


@pytest.mark.hazard("HZ-04")
def test_first_backward_step_from_a_stopped_belt_may_reach_the_device_minimum() -> None:
    g = make(speed_range=(100, 1600, 10))
    command = g.request_speed(300, 0.0)
    assert command is not None
    assert command.value == 100


@pytest.mark.hazard("HZ-04")
def test_a_device_minimum_over_one_kmh_is_refused_backward_from_rest() -> None:
    g = make(speed_range=(120, 1600, 10))
    assert g.reachable(300) == 0
    assert g.request_speed(300, 0.0) is None
    assert g.commanded == 0


@pytest.mark.hazard("HZ-04")
def test_ramp_step_is_quantised_down_to_the_device_step() -> None:
    g = make(speed_range=(100, 1600, 30))
    g.request_speed(400, 0.0)
    command = g.request_speed(400, 2.0)
    assert command is not None
    assert command.value == 130  # 100 + 50 = 150 -> 130 on a 30 grid


@pytest.mark.hazard("HZ-04")
def test_a_device_step_coarser_than_the_ramp_is_refused_rather_than_jumped() -> None:
    g = make(speed_range=(100, 1600, 100))
    first = g.request_speed(500, 0.0)
    assert first is not None
    assert first.value == 100  # from rest to the device minimum
    assert g.reachable(500) == 100  # 100 -> 200 would rise by 1.0 km/h in one command
    assert g.request_speed(500, 2.0) is None
    assert g.request_speed(500, 60.0) is None
    assert g.commanded == 100


def test_a_coarse_device_still_ramps_facing_forward() -> None:
    g = make(speed_range=(100, 1600, 500), direction=Direction.FORWARD)
    command = g.request_speed(1100, 0.0)
    assert command is not None
    assert command.value == 1100


def test_ramp_partial_steps_are_not_marked_clamped() -> None:
    g = make()
    command = g.request_speed(300, 0.0)
    assert command is not None
    assert (command.value, command.requested, command.clamped) == (100, 300, False)


@pytest.mark.hazard("HZ-01")
def test_backward_request_over_the_ceiling_is_marked_clamped() -> None:
    g = make()
    now = ramp_to(g, 480, 0.0)
    command = g.request_speed(700, now + 5)
    assert command is not None
    assert (command.value, command.requested, command.clamped) == (500, 700, True)
    assert g.request_speed(700, now + 10) is None  # at the ceiling: nothing to send


def test_quantisation_alone_is_not_a_clamp() -> None:
    command = make(direction=Direction.FORWARD).request_speed(257, 0.0)
    assert command is not None
    assert (command.value, command.clamped) == (250, False)


def test_decreases_are_immediate_and_complete() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    command = g.request_speed(150, now)  # no wait for the ramp timer
    assert command is not None
    assert command.value == 150
    stop = g.request_speed(0, now)
    assert stop is not None
    assert stop.value == 0


@pytest.mark.hazard("HZ-01")
def test_user_nudges_at_the_ceiling_change_nothing() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    assert g.request_speed(g.commanded + 10, now + 5) is None
    command = g.request_speed(g.commanded - 10, now + 5)
    assert command is not None
    assert command.value == 490


@pytest.mark.hazard("HZ-04")
def test_reset_after_stop_makes_the_ramp_start_from_zero() -> None:
    g = make()
    now = ramp_to(g, 400, 0.0)
    g.reset_after_stop()
    assert g.commanded == 0
    command = g.request_speed(400, now + 5)
    assert command is not None
    assert command.value == 100


# -- turn-arounds --------------------------------------------------------------


@pytest.mark.hazard("HZ-05")
def test_turnaround_slows_to_two_kmh() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    command = g.turnaround_command(1.0)
    assert (command.kind, command.value) == ("speed", TURNAROUND_SPEED)
    assert g.commanded == TURNAROUND_SPEED


@pytest.mark.hazard("HZ-05")
def test_turnaround_never_speeds_up_a_slow_belt() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(150, 0.0)
    assert g.turnaround_command(1.0).value == 150


@pytest.mark.hazard("HZ-05")
def test_a_turnaround_the_plan_marks_stop_belt_stops_it() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(400, 0.0)
    assert g.turnaround_command(1.0, stop_belt=True).value == 0
    assert g.commanded == 0


@pytest.mark.parametrize(
    ("profile", "ceiling"), [(RunnerProfile.OLDER_ADULT, 250), (RunnerProfile.REHAB, 400)]
)
@pytest.mark.hazard("HZ-05")
def test_turnaround_stops_the_belt_for_fragile_profiles(
    profile: RunnerProfile, ceiling: int
) -> None:
    g = make(profile, ceiling=ceiling, direction=Direction.FORWARD)
    g.request_speed(400, 0.0)
    assert g.turnaround_command(1.0).value == 0
    assert g.commanded == 0


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (Direction.FORWARD, Direction.TURNING),
        (Direction.TURNING, Direction.BACKWARD),
        (Direction.TURNING, Direction.FORWARD),
        (Direction.BACKWARD, Direction.TURNING),
        (Direction.FORWARD, Direction.BACKWARD),
    ],
)
@pytest.mark.hazard("HZ-05")
def test_direction_change_needs_the_belt_at_turnaround_speed(
    old: Direction, new: Direction
) -> None:
    g = make(direction=old)
    limit = TURNAROUND_SPEED + SETTLE_TOLERANCE
    with pytest.raises(SafetyStop) as info:
        g.set_direction(new, 0.0, belt_speed=limit + 1)
    assert info.value.reason == "turnaround_too_fast"
    assert g.direction is old  # nothing changed
    g.set_direction(new, 0.0, belt_speed=limit)
    assert g.direction is new


def test_same_direction_is_not_a_change() -> None:
    g = make(direction=Direction.FORWARD)
    g.set_direction(Direction.FORWARD, 0.0, belt_speed=1500)
    assert g.direction is Direction.FORWARD


@pytest.mark.hazard("HZ-01")
def test_going_backward_clamps_the_commanded_speed_and_resends_it() -> None:
    g = make(ceiling=180, direction=Direction.FORWARD)
    g.request_speed(600, 0.0)  # forward: the belt is still accelerating
    g.set_direction(Direction.BACKWARD, 0.5, belt_speed=150)
    assert g.commanded == 180
    command = g.request_speed(180, 0.6)  # same target, but the device still has 600
    assert command is not None
    assert command.value == 180
    assert g.request_speed(180, 0.7) is None
    # ... and increases from there ramp (none possible: already at the ceiling)
    assert g.request_speed(900, 10.0) is None


@pytest.mark.hazard("HZ-05")
def test_a_full_turn_around_forward_to_backward() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    slow = g.turnaround_command(10.0)
    g.set_direction(Direction.TURNING, 20.0, belt_speed=slow.value + 15)
    g.set_direction(Direction.BACKWARD, 32.0, belt_speed=slow.value)
    command = g.request_speed(400, 32.0)
    assert command is not None
    assert command.value == slow.value + RAMP_STEP


# -- incline -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "allow_steep", "direction", "desired", "expected", "clamped"),
    [
        (RunnerProfile.NOVICE, False, Direction.FORWARD, 150, 150, False),
        (RunnerProfile.NOVICE, False, Direction.FORWARD, 200, 150, True),  # device max
        (RunnerProfile.NOVICE, False, Direction.BACKWARD, 150, 100, True),
        (RunnerProfile.NOVICE, False, Direction.TURNING, 150, 100, True),
        (RunnerProfile.NOVICE, True, Direction.BACKWARD, 150, 150, False),
        (RunnerProfile.TRAINED, True, Direction.BACKWARD, 200, 150, True),
        (RunnerProfile.REHAB, True, Direction.BACKWARD, 150, 100, True),  # walking only
        (RunnerProfile.NOVICE, False, Direction.BACKWARD, 57, 55, False),  # grid
        (RunnerProfile.NOVICE, False, Direction.BACKWARD, -20, 0, False),  # device min
    ],
)
@pytest.mark.hazard("HZ-20")
def test_incline_limits(
    profile: RunnerProfile,
    allow_steep: bool,
    direction: Direction,
    desired: int,
    expected: int,
    clamped: bool,
) -> None:
    g = make(profile, ceiling=400, allow_steep=allow_steep, direction=direction)
    command = g.request_incline(desired, 0.0)
    assert (command.kind, command.value, command.requested) == ("incline", expected, desired)
    assert command.clamped is clamped
    assert g.commanded_incline == expected


@pytest.mark.hazard("HZ-20")
def test_incline_set_forward_is_corrected_after_turning_backward() -> None:
    g = make(direction=Direction.FORWARD)
    assert g.incline_correction(0.0) is None
    g.request_incline(150, 0.0)
    assert g.incline_correction(0.0) is None
    g.set_direction(Direction.TURNING, 1.0, belt_speed=0)
    correction = g.incline_correction(1.0)
    assert correction is not None
    assert correction.value == 100
    assert g.incline_correction(1.0) is None


# -- over-ceiling telemetry ----------------------------------------------------


@pytest.mark.hazard("HZ-02")
def test_an_over_ceiling_record_is_corrected_on_that_record() -> None:
    g = make()
    now = ramp_to(g, 400, 0.0)
    reaction = g.observe(500 + g.tolerance + 1, now, None)
    assert reaction.kind is ReactionKind.CORRECT
    assert reaction.command is not None
    assert reaction.command.value == 400  # back to what was commanded, under the ceiling
    assert "ceiling" in reaction.reason


@pytest.mark.hazard("HZ-02")
def test_within_the_tolerance_is_not_a_violation() -> None:
    g = make()
    ramp_to(g, 500, 0.0)
    assert g.tolerance == 10  # one device increment (0.1 km/h here)
    assert g.observe(500 + g.tolerance, 50.0, None).kind is ReactionKind.NONE
    assert g.observe(500 + g.tolerance + 1, 51.0, None).kind is ReactionKind.CORRECT


@pytest.mark.parametrize(("step", "tolerance"), [(1, 10), (10, 10), (20, 20), (100, 30)])
@pytest.mark.hazard("HZ-02")
def test_the_tolerance_is_one_device_increment_within_bounds(step: int, tolerance: int) -> None:
    assert make(speed_range=(100, 1600, step)).tolerance == tolerance


def test_over_ceiling_forward_is_not_a_violation() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(1000, 0.0)
    assert g.observe(1000, 1.0, None).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-02")
def test_over_ceiling_with_nothing_commanded_is_a_stop_never_a_raise() -> None:
    g = make()
    reaction = g.observe(900, 0.0, None)
    assert reaction.kind is ReactionKind.CORRECT
    assert reaction.command is not None
    assert reaction.command.value == 0  # the step wants nothing: never the full ceiling


@pytest.mark.hazard("HZ-02")
def test_still_over_two_records_later_stops() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    over = 500 + g.tolerance + 50
    # Slowing (so the correction was taken), but still over two records later.
    kinds = [g.observe(over - 10 * i, now + i, None).kind for i in range(4)]
    assert kinds == [
        ReactionKind.CORRECT,
        ReactionKind.CORRECT,
        ReactionKind.STOP,
        ReactionKind.STOP,
    ]
    assert g.commanded == 0


@pytest.mark.hazard("HZ-03")
def test_a_second_excursion_within_the_window_stops_consecutive_or_not() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    over = 500 + 3 * g.tolerance
    assert g.observe(over, now, None).kind is ReactionKind.CORRECT
    assert g.observe(over - g.tolerance, now + 1, None).kind is ReactionKind.CORRECT
    assert g.observe(500, now + 2, None).kind is ReactionKind.NONE
    second = g.observe(over, now + 3, None)
    assert second.kind is ReactionKind.STOP
    assert "second excursion" in second.reason


@pytest.mark.hazard("HZ-03")
def test_excursions_further_apart_than_the_window_are_each_corrected() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    over = 500 + g.tolerance + 1
    assert g.observe(over, now, None).kind is ReactionKind.CORRECT
    assert g.observe(500, now + 1, None).kind is ReactionKind.NONE
    later = now + EXCURSION_WINDOW_S + 1
    assert g.observe(over, later, None).kind is ReactionKind.CORRECT


@pytest.mark.hazard("HZ-03")
def test_intermittent_spikes_three_seconds_apart_stop_the_belt() -> None:
    g = make()
    now = ramp_to(g, 500, 0.0)
    kinds = []
    for i in range(10):  # a spike every 3 s, each corrected at once
        kinds.append(g.observe(800, now + 3 * i, None).kind)
        kinds.append(g.observe(500, now + 3 * i + 1, None).kind)
    assert kinds[0] is ReactionKind.CORRECT
    assert kinds[2] is ReactionKind.STOP


@pytest.mark.hazard("HZ-05")
def test_a_belt_over_the_turnaround_speed_while_turning_is_halted() -> None:
    g = make(direction=Direction.BACKWARD)
    ramp_to(g, 300, 0.0)
    assert g.turnaround_command(20.0).value == 200
    g.set_direction(Direction.TURNING, 25.0, belt_speed=200)
    assert g.observe(200 + g.tolerance, 26.0, None).kind is ReactionKind.NONE
    halt = g.observe(530, 27.0, None)  # under the ceiling, over the turn-around speed
    assert halt.kind is ReactionKind.HALT
    assert halt.command is not None
    assert halt.command.value == 0
    assert g.turn_limit == 0
    assert g.observe(400, 28.0, None).kind is ReactionKind.NONE  # running down
    assert g.observe(450, 29.0, None).kind is ReactionKind.STOP  # speeding up again


@pytest.mark.hazard("HZ-06", "HZ-08")
def test_a_belt_that_drops_under_its_envelope_and_holds_there_is_halted() -> None:
    """After a Stop the belt read 8.4, then 4.1 (a jump down, under the envelope from
    8.4), then 4.1 again a second later: not slowing at all, held at that record, not
    seconds later when the envelope comes down to it (seed 8 case 408)."""
    g = make(direction=Direction.FORWARD)
    g.pause(128.0, 840)
    assert g.observe(410, 129.1, None).kind is ReactionKind.NONE
    halt = g.observe(410, 130.1, None)
    assert halt.kind is ReactionKind.HALT
    assert "holding" in halt.reason


@pytest.mark.hazard("HZ-06", "HZ-08")
def test_a_paused_belt_held_at_a_crawl_is_halted_within_that_speeds_run_down() -> None:
    """Paused at 7.0 km/h, a firmware jump down to 0.5 km/h that holds: under the hold
    rule's floor, so the belt gets 0.5 km/h's own run-down from the record before, not
    what is left of the run-down from 7.0 (seed 51 case 1574: 5.8 s at 0.5 km/h)."""
    g = make(direction=Direction.FORWARD)
    g.pause(96.9, 700)
    assert g.observe(655, 97.1, None).kind is ReactionKind.NONE
    assert g.observe(505, 98.1, None).kind is ReactionKind.NONE
    assert g.observe(50, 99.1, None).kind is ReactionKind.NONE
    assert g.observe(50, 100.1, None).kind is ReactionKind.NONE  # a moment at a crawl
    halt = g.observe(50, 101.1, None)  # 98.1 + 0.5 / 1.5 + 2 s is past
    assert halt.kind is ReactionKind.HALT
    assert "after its run-down time" in halt.reason


def test_a_belt_holding_its_minimum_a_moment_before_it_stops_is_not_halted() -> None:
    g = make(speed_range=(80, 1600, 10), direction=Direction.FORWARD)
    g.pause(10.0, 530)
    for t, speed in [(10.1, 520), (11.1, 380), (12.1, 230), (13.1, 80), (14.1, 80), (15.1, 0)]:
        assert g.observe(speed, t, None).kind is ReactionKind.NONE, t


@pytest.mark.hazard("HZ-04", "HZ-12")
def test_a_belt_that_runs_past_the_speed_asked_after_start_is_halted() -> None:
    """Facing backward after a turn, Start on a machine that ignored the speed sent
    before it: the belt runs to the target the machine still had (10.2 km/h, a jump
    while facing forward) and is halted a ramp step past what was asked, long before
    the ceiling (seed 63 case 1132: it reached 10.2 km/h)."""
    g = make(RunnerProfile.TRAINED, ceiling=1000)
    command = g.request_speed(830, 140.0)
    assert command is not None
    assert command.value == 100  # from rest: the device minimum
    g.started(140.0)
    assert g.observe(70, 141.0, None).kind is ReactionKind.NONE
    assert g.observe(150, 142.0, None).kind is ReactionKind.NONE  # within a step of 1.0
    halt = g.observe(230, 143.0, None)
    assert halt.kind is ReactionKind.HALT
    assert "after Start" in halt.reason
    assert halt.command is not None
    assert halt.command.value == 0


@pytest.mark.hazard("HZ-04")
def test_a_belt_that_follows_the_ramp_after_start_is_not_halted() -> None:
    g = make(RunnerProfile.TRAINED, ceiling=1000)
    t = 0.0
    assert g.request_speed(400, t) is not None
    g.started(t)
    belt = 0
    for _ in range(12):
        t += 1.0
        belt = min(belt + 80, g.commanded)  # 0.8 km/h/s up to the command
        assert g.observe(belt, t, None).kind is ReactionKind.NONE, t
        g.request_speed(400, t)
    assert g.commanded == 400


@pytest.mark.hazard("HZ-04")
def test_the_start_watch_lasts_until_the_start_took_or_the_console_set_a_target() -> None:
    """Not until some record happens to show no rise (that would end it by chance): until
    the engine saw the belt settle at its speed, or the console announced a target."""

    def watched(end: Callable[[SafetyGovernor], object]) -> ReactionKind:
        g = make(RunnerProfile.TRAINED, ceiling=1000)
        g.request_speed(100, 0.0)
        g.started(0.0)
        for t, belt in [(1.0, 80), (2.0, 100), (3.0, 100)]:
            assert g.observe(belt, t, None).kind is ReactionKind.NONE
        end(g)
        return g.observe(300, 4.0, None).kind

    assert watched(lambda g: None) is ReactionKind.HALT
    assert watched(lambda g: g.start_settled()) is ReactionKind.NONE
    assert watched(lambda g: g.observe_target(300, 3.5)) is ReactionKind.NONE


@pytest.mark.hazard("HZ-04")
def test_a_machine_that_starts_on_a_speed_command_is_watched_from_it() -> None:
    """Where a speed command starts the belt (no Start of ours follows), the engine
    arms the watch before that command."""
    g = make(RunnerProfile.TRAINED, ceiling=1000)
    g.started(0.0)
    g.request_speed(100, 0.0)
    assert g.observe(100, 1.0, None).kind is ReactionKind.NONE
    assert g.observe(200, 2.0, None).kind is ReactionKind.HALT


def test_a_belt_halted_as_it_climbs_may_climb_on_until_the_machine_acts() -> None:
    """A machine notifying four times a second: the record after the halt shows the
    belt a little higher (the Stop has not acted yet); no second violation for that."""
    g = make(RunnerProfile.TRAINED, ceiling=1000)
    g.request_speed(100, 0.0)
    g.started(0.0)
    assert g.observe(175, 1.75, None).kind is ReactionKind.HALT
    assert g.observe(200, 2.0, None).kind is ReactionKind.NONE  # the machine's latency
    assert g.observe(190, 2.25, None).kind is ReactionKind.NONE  # slowing now
    assert g.observe(160, 2.5, None).kind is ReactionKind.NONE
    assert g.observe(240, 2.75, None).kind is ReactionKind.STOP  # up again: not the latency


def test_a_late_record_at_a_crawl_is_no_belt_held_there() -> None:
    """Records 2.5 s apart (under the watchdog's 3 s) on an honest run-down: the crawl's
    own run-down counts from a second before the late record, not from the one before."""
    g = make(direction=Direction.FORWARD)
    g.pause(10.0, 600)
    assert g.observe(585, 10.1, None).kind is ReactionKind.NONE
    assert g.observe(435, 11.1, None).kind is ReactionKind.NONE
    assert g.observe(60, 13.6, None).kind is ReactionKind.NONE
    assert g.observe(0, 14.1, None).kind is ReactionKind.NONE


def test_a_start_facing_forward_is_not_watched() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(100, 0.0)
    g.started(0.0)
    assert g.observe(600, 2.0, None).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-05")
def test_a_belt_already_at_the_turn_speed_is_watched_from_the_turns_command() -> None:
    """A step at 1.5 km/h, the turn's speed 1.5: the belt is there already, so a jump
    to 2.0 just after the turn's command is halted at its first record, not once the
    runner is told to turn (seed 92 case 751)."""
    g = make(RunnerProfile.RECREATIONAL, ceiling=210)
    t = ramp_to(g, 150, 0.0)
    assert g.observe(150, t + 1.0, None).kind is ReactionKind.NONE
    assert g.turnaround_command(t + 1.1).value == 150
    halt = g.observe(200, t + 2.0, None)
    assert halt.kind is ReactionKind.HALT
    assert "slowing for the turn" in halt.reason


@pytest.mark.hazard("HZ-05", "HZ-06")
def test_a_console_target_halt_is_watched_from_where_the_belt_can_be() -> None:
    """Turning at 2.0 km/h, the console announces 10.9: halted at once, and the run-down
    is watched from the belt's bound (2.6), so a jump to 9.1 a record later is a second
    violation (a stop), not a belt running down from 10.9 (seed 91 case 1980)."""
    g = make(RunnerProfile.TRAINED, ceiling=1000)
    t = ramp_to(g, 200, 0.0)
    g.turnaround_command(t)
    g.set_direction(Direction.TURNING, t + 1.0, belt_speed=200)
    assert g.observe(200, t + 2.0, None).kind is ReactionKind.NONE
    assert g.observe_target(1090, t + 2.1, belt_bound=260).kind is ReactionKind.HALT
    stop = g.observe(910, t + 3.0, None)
    assert stop.kind is ReactionKind.STOP
    assert "speeding up" in stop.reason


def test_a_coarse_machine_whose_readings_round_to_one_step_is_not_held_for_it() -> None:
    """On a 1.0 km/h grid a belt losing 0.75 km/h a second may read the same twice."""
    g = make(speed_range=(100, 1600, 100), direction=Direction.FORWARD)
    g.pause(10.0, 700)
    assert g.observe(600, 11.0, None).kind is ReactionKind.NONE
    assert g.observe(600, 12.0, None).kind is ReactionKind.NONE
    assert g.observe(500, 13.0, None).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-03", "HZ-12")
def test_a_console_target_over_the_ceiling_while_an_excursion_is_corrected_stops() -> None:
    """The correction was overridden at the console (seed 22 case 610)."""
    g = make()
    ramp_to(g, 300, 0.0)
    assert g.observe(700, 38.0, None).kind is ReactionKind.CORRECT
    stop = g.observe_target(670, 38.8)
    assert stop.kind is ReactionKind.STOP
    assert "while an excursion was being corrected" in stop.reason


@pytest.mark.hazard("HZ-05", "HZ-19")
def test_over_the_ceiling_on_the_first_record_of_a_stopped_belt_turn_is_halted() -> None:
    """Never only watched: the record must say it (seed 22 case 392)."""
    g = make(RunnerProfile.OLDER_ADULT, ceiling=250)
    ramp_to(g, 80, 0.0)
    assert g.turnaround_command(15.0).value == 0
    halt = g.observe(500, 15.0, None)
    assert halt.kind is ReactionKind.HALT
    assert "over the 2.50 km/h ceiling" in halt.reason


def test_a_belt_still_climbing_through_the_turn_speed_is_not_taken_as_there() -> None:
    """A nudge sent just before the step ended: the belt climbs through the turn's
    speed on its way to the older command; it has not 'reached' the turn's speed
    until it reads there no longer rising, so its climb is no halt."""
    g = make(direction=Direction.BACKWARD)
    ramp_to(g, 250, 0.0)
    g.turnaround_command(20.0)
    assert g.observe(195, 19.9, None).kind is ReactionKind.NONE
    assert g.observe(205, 20.3, None).kind is ReactionKind.NONE  # climbing, in the grace
    assert g.observe(235, 21.3, None).kind is ReactionKind.NONE  # the machine's latency
    assert g.observe(200, 22.3, None).kind is ReactionKind.NONE  # there now
    assert g.observe(290, 23.3, None).kind is ReactionKind.HALT  # back up: halted


@pytest.mark.hazard("HZ-05")
def test_a_console_target_while_slowing_from_forward_for_a_turn_is_halted() -> None:
    g = make(direction=Direction.FORWARD)
    ramp_to(g, 600, 0.0)
    g.turnaround_command(20.0)
    g.observe(400, 21.0, None)
    g.observe(200, 22.0, None)  # down at the turn's speed, still facing forward
    assert g.observe_target(500, 22.5).kind is ReactionKind.HALT


@pytest.mark.hazard("HZ-06")
def test_a_held_belt_is_caught_on_a_machine_that_notifies_four_times_a_second() -> None:
    g = make(direction=Direction.FORWARD)
    g.pause(128.0, 840)
    kinds = [g.observe(410, 129.0 + i / 4, None).kind for i in range(8)]
    assert ReactionKind.HALT in kinds[:6]  # within about a second of the hold


@pytest.mark.hazard("HZ-06", "HZ-08")
def test_a_coarse_machine_whose_readings_are_fine_is_held_by_its_readings() -> None:
    """A 1.0 km/h command grid, but readings off it (4.40): they are not rounded, so a
    belt reading 2.70 twice a second apart after the end's Stop is held (seed 42 case
    1158), where rounded readings could honestly repeat."""
    g = make(speed_range=(100, 1600, 100), direction=Direction.FORWARD)
    g.pause(93.1, 440)
    assert g.observe(440, 93.1, None).kind is ReactionKind.NONE
    assert g.observe(270, 94.1, None).kind is ReactionKind.NONE
    assert g.observe(270, 95.1, None).kind is ReactionKind.HALT


@pytest.mark.hazard("HZ-06", "HZ-11")
def test_the_run_down_bound_goes_on_from_where_the_watch_is() -> None:
    """A link lost again while the belt runs down: the reconnect's watch starts from
    the envelope now, not from the last record's speed (seed 8 case 764)."""
    g = make(direction=Direction.FORWARD)
    assert g.rundown_bound(0.0) is None  # nothing runs down
    g.pause(33.3, 710)
    assert g.rundown_bound(33.5) == 710  # within the grace
    bound = g.rundown_bound(36.4)
    assert bound is not None
    assert bound == math.ceil(710 - (36.4 - 33.3 - RUNDOWN_GRACE_S) * 150 / 2)
    g.pause(36.44, bound, rearm=True)  # the reconnect's Stop
    assert g.observe(610, 38.1, None).kind is ReactionKind.HALT  # restarted at 6.1


@pytest.mark.hazard("HZ-06")
def test_a_paused_belt_that_reads_faster_than_before_is_halted_on_a_coarse_machine() -> None:
    """A coarse machine's 0.3 km/h tolerance is for its control grid; a paused belt's
    reading never rises, so one that rises by a grid step is halted at that record
    (seed 6 case 729: 1.0 then 1.3 km/h a second later, restarted from rest)."""
    g = make(speed_range=(100, 1600, 50), direction=Direction.FORWARD)
    assert g.tolerance == 30
    g.pause(52.0, 130)
    assert g.observe(100, 52.1, None).kind is ReactionKind.NONE
    assert g.observe(130, 53.1, None).kind is ReactionKind.HALT


def test_a_paused_belt_that_holds_its_reading_within_resolution_is_not_halted() -> None:
    g = make(direction=Direction.FORWARD)
    g.pause(10.0, 400)
    assert g.observe(250, 11.0, None).kind is ReactionKind.NONE
    assert g.observe(250 + 10, 11.5, None).kind is ReactionKind.NONE  # jitter of 0.1 km/h
    assert g.observe(100, 12.5, None).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-05")
def test_a_belt_back_up_while_slowing_for_the_turn_is_halted_before_the_runner_turns() -> None:
    """Slowing for a turn (still facing backward), the belt reached the turn's speed,
    then a firmware jump took it back up, under the ceiling: halted at that record,
    not first seen once the runner was told to turn (seed 6 case 370)."""
    g = make(direction=Direction.BACKWARD)
    ramp_to(g, 300, 0.0)
    assert g.turnaround_command(20.0).value == 200
    assert g.observe(260, 21.0, None).kind is ReactionKind.NONE  # slowing down to it
    assert g.observe(200, 22.0, None).kind is ReactionKind.NONE  # there
    halt = g.observe(290, 23.0, None)  # back up, under the 500 ceiling
    assert halt.kind is ReactionKind.HALT
    assert halt.command is not None
    assert halt.command.value == 0
    assert g.observe(250, 24.0, None).kind is ReactionKind.NONE  # running down


@pytest.mark.hazard("HZ-05")
def test_a_console_target_over_the_turn_speed_while_slowing_for_it_is_halted() -> None:
    g = make(direction=Direction.BACKWARD)
    ramp_to(g, 300, 0.0)
    g.turnaround_command(20.0)
    # Before the belt got down to the turn's speed the phase's limit is the ceiling.
    assert g.observe_target(400, 20.5).kind is ReactionKind.NONE
    g.observe(200, 22.0, None)
    assert g.observe_target(290, 22.5).kind is ReactionKind.HALT


def test_a_belt_still_slowing_toward_the_turn_speed_is_not_halted() -> None:
    """A belt that has not yet reached the turn's speed may read anything on its way
    down (and one record more of its old speed): only a rise after reaching it halts."""
    g = make(direction=Direction.BACKWARD)
    ramp_to(g, 400, 0.0)
    g.turnaround_command(20.0)
    for t, speed in ((21.0, 400), (22.0, 330), (23.0, 260), (24.0, 200), (25.0, 200)):
        assert g.observe(speed, t, None).kind is ReactionKind.NONE
    g.set_direction(Direction.TURNING, 25.0, belt_speed=200)
    g.set_direction(Direction.FORWARD, 40.0, belt_speed=200)
    assert g.observe(400, 45.0, None).kind is ReactionKind.NONE  # the turn is over


@pytest.mark.parametrize("profile", [RunnerProfile.OLDER_ADULT, RunnerProfile.REHAB])
@pytest.mark.hazard("HZ-05")
def test_a_stopped_belt_turn_around_halts_any_movement(profile: RunnerProfile) -> None:
    g = make(profile, ceiling=250)
    ramp_to(g, 200, 0.0)
    assert g.turnaround_command(20.0).value == 0
    g.set_direction(Direction.TURNING, 25.0, belt_speed=0)
    assert g.observe(220, 26.0, None).kind is ReactionKind.HALT


@pytest.mark.hazard("HZ-05")
def test_the_turnaround_speed_never_exceeds_a_lower_ceiling() -> None:
    g = make(ceiling=100)
    ramp_to(g, 100, 0.0)
    assert g.turnaround_command(10.0).value == 100


@pytest.mark.hazard("HZ-06")
def test_a_paused_belt_that_speeds_up_is_halted_then_stopped() -> None:
    g = make()
    ramp_to(g, 250, 0.0)
    g.pause(30.0, 250)
    assert g.observe(150, 31.0, None).kind is ReactionKind.NONE  # running down
    halt = g.observe(530, 32.0, None)  # under the ceiling, but the session is paused
    assert halt.kind is ReactionKind.HALT
    assert halt.command is not None
    assert halt.command.value == 0
    g.pause(32.0, 530)  # the session pauses again: still halted
    assert g.observe(500, 33.0, None).kind is ReactionKind.NONE
    assert g.observe(300, 40.0, None).kind is ReactionKind.STOP  # past its run-down


@pytest.mark.hazard("HZ-06")
def test_a_paused_belt_must_be_at_rest_after_its_run_down() -> None:
    g = make()
    ramp_to(g, 300, 0.0)
    g.pause(30.0, 300)  # 3 km/h at 1.5 km/h/s: 2 s, plus 2 s of margin
    assert g.observe(0, 31.0, None).kind is ReactionKind.NONE
    assert g.observe(0, 34.5, None).kind is ReactionKind.NONE
    g.pause(40.0, 300, rearm=True)
    assert g.observe(200, 41.0, None).kind is ReactionKind.NONE  # slowing, in its grace
    assert g.observe(150, 42.0, None).kind is ReactionKind.NONE  # 0.75 km/h/s at least
    assert g.observe(150, 43.9, None).kind is ReactionKind.HALT  # holding its speed


@pytest.mark.hazard("HZ-06")
def test_a_belt_that_restarts_below_its_slowest_reading_is_caught() -> None:
    g = make()
    ramp_to(g, 500, 0.0)
    g.pause(30.0, 500)
    assert g.observe(350, 31.0, None).kind is ReactionKind.NONE
    # Restarted at a speed under every reading so far, and held there: not slowing at
    # all over a second, halted at the second record (the envelope alone: at 34.5).
    assert g.observe(300, 32.0, None).kind is ReactionKind.NONE
    assert g.observe(300, 33.0, None).kind is ReactionKind.HALT


@pytest.mark.hazard("HZ-02")
def test_a_console_target_over_the_ceiling_is_answered_at_once() -> None:
    g = make()
    ramp_to(g, 300, 0.0)
    assert g.observe_target(500, 30.0).kind is ReactionKind.NONE
    reaction = g.observe_target(900, 31.0)
    assert reaction.kind is ReactionKind.CORRECT
    assert reaction.command is not None
    assert reaction.command.value == 300
    g.pause(40.0, 300)
    assert g.observe_target(900, 41.0).kind is ReactionKind.HALT
    forward = make(direction=Direction.FORWARD)
    assert forward.observe_target(1500, 0.0).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-02")
def test_stop_reaction_carries_a_zero_speed_command() -> None:
    g = make()
    over = 900
    g.observe(over, 0.0, None)
    g.observe(over, 1.0, None)
    reaction = g.observe(over, 2.0, None)
    assert reaction.kind is ReactionKind.STOP
    assert reaction.command is not None
    assert reaction.command.value == 0


# -- heart rate ----------------------------------------------------------------


def test_no_heart_rate_rules_without_a_maximum() -> None:
    g = make(direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    assert g.observe(800, 1.0, 230).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-14")
def test_heart_rate_over_the_maximum_slows_a_step_at_a_time() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    first = g.observe(800, 1.0, 152)
    assert first.kind is ReactionKind.SLOW
    assert first.command is not None
    assert first.command.value == 800 - RAMP_STEP
    assert g.observe(750, 2.0, 152).kind is ReactionKind.NONE  # next step not due yet
    second = g.observe(750, 1.0 + RAMP_INTERVAL_S, 152)
    assert second.kind is ReactionKind.SLOW
    assert second.command is not None
    assert second.command.value == 800 - 2 * RAMP_STEP


@pytest.mark.hazard("HZ-14")
def test_no_speed_increase_while_heart_rate_is_high() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    g.observe(800, 1.0, 155)
    assert g.request_speed(800, 2.0) is None  # held, though forward
    down = g.request_speed(300, 2.0)  # decreases still go
    assert down is not None
    assert g.observe(300, 3.0, 140).kind is ReactionKind.NONE
    assert not g.heart_rate_high
    assert g.request_speed(800, 4.0) is not None


@pytest.mark.hazard("HZ-14")
def test_heart_rate_slowing_stops_at_the_device_minimum() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(130, 0.0)
    first = g.observe(130, 1.0, 151)
    assert first.command is not None
    assert first.command.value == 100
    assert g.observe(100, 10.0, 151).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-14")
def test_heart_rate_far_over_stops_at_once() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    assert g.observe(800, 1.0, 150 + HR_FAR_OVER_BPM).kind is ReactionKind.SLOW
    reaction = g.observe(800, 1.5, 150 + HR_FAR_OVER_BPM + 1)
    assert reaction.kind is ReactionKind.STOP


@pytest.mark.hazard("HZ-14")
def test_heart_rate_persisting_over_stops() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(1600, 0.0)
    now = 1.0
    while now < 1.0 + HR_PERSIST_S:
        assert g.observe(g.commanded, now, 152).kind is not ReactionKind.STOP
        now += 1.0
    assert g.observe(g.commanded, now, 152).kind is ReactionKind.STOP


@pytest.mark.hazard("HZ-15")
def test_unknown_heart_rate_keeps_the_state() -> None:
    g = make(max_heart_rate=150, direction=Direction.FORWARD)
    g.request_speed(800, 0.0)
    g.observe(800, 1.0, 155)
    assert g.observe(750, 2.0, None).kind is ReactionKind.NONE
    assert g.heart_rate_high


@pytest.mark.hazard("HZ-02", "HZ-14")
def test_over_ceiling_and_high_heart_rate_take_the_lower_command() -> None:
    g = make(max_heart_rate=150)
    now = ramp_to(g, 500, 0.0)
    reaction = g.observe(600, now, 155)
    assert reaction.kind is ReactionKind.CORRECT
    assert reaction.command is not None
    assert reaction.command.value == 500 - RAMP_STEP
    assert "heart rate" in reaction.reason


@pytest.mark.hazard("HZ-05", "HZ-06")
def test_a_second_halt_within_the_window_stops_the_session() -> None:
    g = make()
    ramp_to(g, 300, 0.0)
    g.pause(30.0, 300)
    assert g.observe(600, 31.0, None).kind is ReactionKind.HALT
    g.resume()
    g.pause(40.0, 0)
    second = g.observe(500, 41.0, None)
    assert second.kind is ReactionKind.STOP
    assert "second time" in second.reason


@pytest.mark.hazard("HZ-05", "HZ-06")
def test_start_pressed_while_paused_or_turning_on_a_stopped_belt_is_halted_at_once() -> None:
    g = make(RunnerProfile.REHAB, ceiling=400)
    ramp_to(g, 200, 0.0)
    assert g.observe_start(10.0).kind is ReactionKind.NONE  # running: a console start is no news
    g.turnaround_command(20.0)
    g.set_direction(Direction.TURNING, 25.0, belt_speed=0)
    halt = g.observe_start(26.0)
    assert halt.kind is ReactionKind.HALT
    assert halt.command is not None
    assert halt.command.value == 0


@pytest.mark.hazard("HZ-05")
def test_a_stopped_belt_turn_is_watched_from_its_first_command() -> None:
    g = make(RunnerProfile.REHAB, ceiling=400)
    ramp_to(g, 200, 0.0)
    assert g.turnaround_command(20.0).value == 0
    # Still facing backward while the belt runs down: Start pressed now is halted too.
    assert g.observe_start(20.5).kind is ReactionKind.HALT


@pytest.mark.hazard("HZ-05")
def test_a_stopped_belt_turn_halts_a_belt_that_speeds_up_while_it_slows() -> None:
    g = make(RunnerProfile.REHAB, ceiling=400)
    ramp_to(g, 200, 0.0)
    g.turnaround_command(20.0)
    assert g.observe(150, 21.0, None).kind is ReactionKind.NONE  # running down
    assert g.observe(300, 22.0, None).kind is ReactionKind.HALT  # speeding up again


@pytest.mark.hazard("HZ-06")
def test_a_belt_holding_its_speed_a_record_after_the_stop_is_caught_then() -> None:
    """Half a second is a machine's latency to a Stop: a record a second after it that
    shows no loss of speed at all (a firmware jump back to it) is caught at once."""
    g = make()
    ramp_to(g, 500, 0.0)
    g.pause(30.0, 500)
    held = g.observe(500, 31.0, None)
    assert held.kind is ReactionKind.HALT
    assert "not slowing down" in held.reason
    slowing = make()
    ramp_to(slowing, 500, 0.0)
    slowing.pause(30.0, 500)
    assert slowing.observe(450, 31.0, None).kind is ReactionKind.NONE  # a slow start


@pytest.mark.hazard("HZ-03")
def test_an_excursion_while_paused_counts_for_the_next_one() -> None:
    """Facing backward, the belt jumps over the ceiling while the session is paused
    (it is halted); 40 s after the resume it goes over again: a second excursion
    within the window, so the session stops instead of correcting it."""
    g = make()
    now = ramp_to(g, 300, 0.0)
    g.pause(now, 300)
    assert g.observe(700, now + 1, None).kind is ReactionKind.HALT
    g.resume()
    second = g.observe(700, now + 41, None)
    assert second.kind is ReactionKind.STOP
    assert "second excursion" in second.reason
