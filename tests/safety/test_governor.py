"""The safety governor, tried by hand and by Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from retrorun.errors import SafetyStop
from retrorun.events import Direction
from retrorun.limits import (
    PROFILE_LIMITS,
    RAMP_INTERVAL_S,
    RAMP_STEP,
    RunnerProfile,
    effective_backward_ceiling,
)
from retrorun.safety import ReactionKind, SafeCommand, SafetyGovernor


def governor(
    profile: RunnerProfile = RunnerProfile.NOVICE,
    ceiling: int = 500,
    speed_range: tuple[int, int, int] = (50, 1600, 10),
    **kwargs: object,
) -> SafetyGovernor:
    return SafetyGovernor(
        profile=profile,
        ceiling=ceiling,
        speed_range=speed_range,
        incline_range=(0, 150, 5),
        **kwargs,  # type: ignore[arg-type]
    )


def backward(g: SafetyGovernor) -> SafetyGovernor:
    g.set_direction(Direction.BACKWARD, 0.0, belt_speed=0)
    return g


@pytest.mark.hazard("HZ-01")
def test_only_the_governor_makes_commands() -> None:
    with pytest.raises(TypeError):
        SafeCommand("speed", 900, 900, clamped=False)


def test_forward_is_not_capped_by_the_backward_ceiling() -> None:
    g = governor()
    command = g.request_speed(900, 0.0)
    assert command is not None
    assert command.value == 900


@pytest.mark.hazard("HZ-01", "HZ-04")
def test_backward_ramps_and_clamps() -> None:
    g = backward(governor())
    values = []
    now = 10.0
    while (command := g.request_speed(900, now)) is not None or g.commanded < 500:
        if command is not None:
            values.append(command.value)
        now += 0.5
    assert values == [50, 100, 150, 200, 250, 300, 350, 400, 450, 500]
    assert g.request_speed(900, now + 10) is None
    down = g.request_speed(100, now + 10.1)
    assert down is not None
    assert down.value == 100  # decreases are immediate


@pytest.mark.hazard("HZ-04")
def test_increases_wait_two_seconds_while_backward() -> None:
    g = backward(governor())
    assert g.request_speed(300, 5.0) is not None
    assert g.request_speed(300, 5.0 + RAMP_INTERVAL_S - 0.01) is None
    assert g.request_speed(300, 5.0 + RAMP_INTERVAL_S) is not None


@pytest.mark.hazard("HZ-05")
def test_turning_needs_a_slow_belt() -> None:
    g = governor()
    with pytest.raises(SafetyStop):
        g.set_direction(Direction.TURNING, 0.0, belt_speed=600)
    g.request_speed(600, 0.0)
    command = g.turnaround_command(1.0)
    assert command.value == 200
    g.set_direction(Direction.TURNING, 2.0, belt_speed=200)
    assert g.direction is Direction.TURNING


@pytest.mark.hazard("HZ-05")
def test_profiles_that_stop_to_turn() -> None:
    g = governor(RunnerProfile.REHAB, ceiling=400)
    g.request_speed(300, 0.0)
    assert g.turnaround_command(1.0).value == 0


@pytest.mark.hazard("HZ-02")
def test_over_ceiling_record_is_answered_then_stopped() -> None:
    g = backward(governor())
    g.request_speed(500, 10.0)
    over = 500 + 3 * g.tolerance
    first = g.observe(over, 11.0, None)
    assert first.kind is ReactionKind.CORRECT
    assert first.command is not None
    assert first.command.value <= 500
    # Slowing, but still over: corrected again; over on the third record: stopped.
    assert g.observe(over - g.tolerance, 12.0, None).kind is ReactionKind.CORRECT
    assert g.observe(over - g.tolerance, 13.0, None).kind is ReactionKind.STOP
    assert g.observe(500, 14.0, None).kind is ReactionKind.NONE


@pytest.mark.hazard("HZ-02")
@pytest.mark.hazard("HZ-12")
def test_a_correction_the_belt_did_not_take_is_a_stop_at_the_next_record() -> None:
    """A machine that answers Success and ignores the correction: the belt has not
    slowed at all a record later, so only a stop is left (not a third record)."""
    g = backward(governor())
    g.request_speed(500, 10.0)
    over = 500 + g.tolerance + 50
    assert g.observe(over, 11.0, None).kind is ReactionKind.CORRECT
    stop = g.observe(over, 12.0, None)
    assert stop.kind is ReactionKind.STOP
    assert "did not slow" in stop.reason


@pytest.mark.hazard("HZ-14")
def test_heart_rate_slows_then_stops() -> None:
    g = governor(max_heart_rate=150)
    g.request_speed(600, 0.0)
    slow = g.observe(600, 1.0, 155)
    assert slow.kind is ReactionKind.SLOW
    assert slow.command is not None
    assert slow.command.value == 550
    assert g.observe(550, 2.0, 170).kind is ReactionKind.STOP


@pytest.mark.hazard("HZ-20")
def test_backward_incline_limit() -> None:
    g = backward(governor())
    assert g.request_incline(150, 0.0).value == 100
    steep = backward(governor(allow_steep=True))
    assert steep.request_incline(150, 0.0).value == 150


@pytest.mark.hazard("HZ-01")
def test_device_max_caps_the_ceiling() -> None:
    assert governor(ceiling=1000, speed_range=(50, 800, 10)).ceiling == 800


profiles = st.sampled_from(list(RunnerProfile))
ranges = st.tuples(st.integers(0, 150), st.integers(200, 2500), st.sampled_from([1, 5, 10, 16]))


@settings(max_examples=200, deadline=None)
@given(
    profile=profiles,
    user=st.none() | st.integers(1, 1000),
    speed_range=ranges,
    requests=st.lists(
        st.tuples(st.integers(-100, 3000), st.floats(0, 5), st.booleans()), max_size=40
    ),
)
@pytest.mark.hazard("HZ-01")
def test_no_backward_command_ever_exceeds_the_ceiling(
    profile: RunnerProfile,
    user: int | None,
    speed_range: tuple[int, int, int],
    requests: list[tuple[int, float, bool]],
) -> None:
    limit = PROFILE_LIMITS[profile].backward_ceiling
    user = None if user is None or user > limit else user
    ceiling = effective_backward_ceiling(profile, user_ceiling=user, device_max=speed_range[1])
    g = governor(profile, ceiling, speed_range)
    now = 0.0
    last_raise = float("-inf")
    for desired, dt, turn in requests:
        now += dt
        if turn:
            g.turnaround_command(now)
            g.set_direction(
                Direction.FORWARD if g.direction is Direction.BACKWARD else Direction.BACKWARD,
                now,
                belt_speed=g.commanded,
            )
        before = g.commanded
        command = g.request_speed(desired, now)
        if command is None or g.direction is Direction.FORWARD:
            continue
        assert command.value <= ceiling
        assert command.value <= speed_range[1]
        if command.value > before:
            assert command.value - before <= max(RAMP_STEP, speed_range[0])
            assert now >= last_raise + RAMP_INTERVAL_S  # as the governor adds it (floats)
            last_raise = now


class GovernorMachine(RuleBasedStateMachine):
    """Random programs, adjustments, remote pauses and a belt that misbehaves."""

    @initialize(profile=profiles, speed_range=ranges)
    def setup(self, profile: RunnerProfile, speed_range: tuple[int, int, int]) -> None:
        self.ceiling = effective_backward_ceiling(profile, device_max=speed_range[1])
        self.g = governor(profile, self.ceiling, speed_range)
        self.now = 0.0
        self.belt = 0
        self.pending_over: int | None = None

    def _apply(self, command: SafeCommand | None) -> None:
        if command is None:
            return
        if self.g.direction is not Direction.FORWARD:
            assert command.value <= self.ceiling
        self.belt = command.value

    @rule(desired=st.integers(0, 2000), dt=st.floats(0, 4))
    def request(self, desired: int, dt: float) -> None:
        self.now += dt
        self._apply(self.g.request_speed(desired, self.now))

    @rule(delta=st.sampled_from([-10, 10]))
    def adjust(self, delta: int) -> None:
        self._apply(self.g.request_speed(self.g.commanded + delta, self.now))

    @rule()
    def turn_around(self) -> None:
        self._apply(self.g.turnaround_command(self.now))
        new = Direction.FORWARD if self.g.direction is Direction.BACKWARD else Direction.BACKWARD
        self.g.set_direction(new, self.now, belt_speed=self.belt)

    @rule()
    def start(self) -> None:
        self.g.started(self.now)  # a Start: the watch must never mask the ceiling's rules

    @rule()
    def remote_pause(self) -> None:
        self.g.reset_after_stop()
        self.belt = 0

    @rule(jump=st.integers(0, 600))
    def belt_jumps(self, jump: int) -> None:
        self.belt += jump
        reaction = self.g.observe(self.belt, self.now, None)
        if (
            self.g.direction is not Direction.FORWARD
            and (self.belt > self.ceiling + self.g.tolerance)
            and not self.g.paused
            and self.g.direction is Direction.BACKWARD
        ):
            # Every over-ceiling record is answered on that record.
            assert reaction.kind in {ReactionKind.CORRECT, ReactionKind.STOP}
        if reaction.kind in {ReactionKind.STOP, ReactionKind.HALT}:
            self.g.reset_after_stop()
            self.g.resume()
            self.belt = 0
        if reaction.command is not None:
            self._apply(reaction.command)

    @invariant()
    def commanded_is_safe(self) -> None:
        if hasattr(self, "g") and self.g.direction is not Direction.FORWARD:
            assert self.g.commanded <= self.ceiling


GovernorMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestGovernorMachine = GovernorMachine.TestCase
