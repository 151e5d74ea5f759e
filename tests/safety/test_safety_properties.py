"""Hypothesis tries to break the safety governor: properties and a stateful session.

The oracle is computed independently of the governor: the backward ceiling is
``effective_backward_ceiling(profile, user, device max)`` and the ramp is checked
against the commands as sent, with the times they were sent at.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from retrorun.errors import SafetyStop
from retrorun.events import Direction
from retrorun.limits import (
    BACKWARD_INCLINE_MAX,
    BACKWARD_INCLINE_STEEP_MAX,
    PROFILE_LIMITS,
    RAMP_INTERVAL_S,
    RAMP_STEP,
    SETTLE_TOLERANCE,
    TURNAROUND_SPEED,
    RunnerProfile,
    effective_backward_ceiling,
)
from retrorun.safety import (
    EXCURSION_WINDOW_S,
    MIN_RESOLUTION,
    START_FROM_REST_MAX,
    ReactionKind,
    SafeCommand,
    SafetyGovernor,
)

TURN_LIMIT = TURNAROUND_SPEED + SETTLE_TOLERANCE


@dataclass(frozen=True)
class Setup:
    """One session's fixed inputs and the ceiling the governor must hold to."""

    profile: RunnerProfile
    ceiling_passed: int  # what the caller hands the governor
    ceiling: int  # min(profile, user, device max), computed here
    speed_range: tuple[int, int, int]
    incline_range: tuple[int, int, int]
    allow_steep: bool
    max_heart_rate: int | None

    def governor(self, direction: Direction = Direction.FORWARD) -> SafetyGovernor:
        return SafetyGovernor(
            profile=self.profile,
            ceiling=self.ceiling_passed,
            speed_range=self.speed_range,
            incline_range=self.incline_range,
            allow_steep=self.allow_steep,
            max_heart_rate=self.max_heart_rate,
            direction=direction,
        )


@st.composite
def setups(draw: st.DrawFn) -> Setup:
    profile = draw(st.sampled_from(list(RunnerProfile)))
    unlock = profile is RunnerProfile.TRAINED and draw(st.booleans())
    top = effective_backward_ceiling(profile, unlock_fast=unlock)
    user = draw(st.none() | st.integers(1, top))
    lo = draw(st.integers(0, 200))
    hi = draw(st.integers(max(lo, 1), 2500))
    step = draw(st.sampled_from([1, 5, 10, 16, 25, 50, 100, 500]))  # and coarse devices
    ceiling = effective_backward_ceiling(
        profile, user_ceiling=user, device_max=hi, unlock_fast=unlock
    )
    # Sometimes the caller forgets the device maximum: the governor applies it itself.
    forgot_device = draw(st.booleans())
    passed = (
        effective_backward_ceiling(profile, user_ceiling=user, unlock_fast=unlock)
        if forgot_device
        else ceiling
    )
    incline_lo = draw(st.integers(-60, 0))
    incline_hi = draw(st.integers(0, 400))
    incline_step = draw(st.sampled_from([1, 5, 10]))
    return Setup(
        profile=profile,
        ceiling_passed=passed,
        ceiling=ceiling,
        speed_range=(lo, hi, step),
        incline_range=(incline_lo, incline_hi, incline_step),
        allow_steep=draw(st.booleans()),
        max_heart_rate=draw(st.none() | st.integers(120, 200)),
    )


class Checker:
    """Checks every speed command against the rules, as the treadmill would receive it."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.last_increase = float("-inf")

    def speed(self, g: SafetyGovernor, before: int, command: SafeCommand, now: float) -> None:
        lo, hi, step = self.setup.speed_range
        assert command.kind == "speed"
        assert command.value == g.commanded
        assert command.value == 0 or (lo <= command.value <= hi), "outside the device range"
        assert command.value == 0 or (command.value - lo) % step == 0, "off the device grid"
        if g.direction is not Direction.FORWARD:
            assert command.value <= self.setup.ceiling, "over the backward ceiling"
        if command.value > before:
            if g.direction is not Direction.FORWARD:
                from_rest = before < lo and command.value == lo <= START_FROM_REST_MAX
                assert command.value <= before + RAMP_STEP or from_rest, "ramp step too big"
                assert now >= self.last_increase + RAMP_INTERVAL_S, "ramp step too soon"
                assert not g.heart_rate_high, "increase while heart rate is high"
            self.last_increase = now


# -- plain properties ------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(setup=setups(), desired=st.integers(-100, 3000), direction=st.sampled_from(Direction))
def test_clamp_target_is_in_range_on_grid_and_idempotent(
    setup: Setup, desired: int, direction: Direction
) -> None:
    g = setup.governor(direction)
    lo, hi, step = setup.speed_range
    target = g.clamp_target(desired)
    assert g.clamp_target(target) == target
    if desired <= 0:
        assert target == 0
        return
    if direction is not Direction.FORWARD:
        assert target <= setup.ceiling
    if target:
        assert lo <= target <= hi
        assert (target - lo) % step == 0
        assert target <= max(desired, lo)
    assert g.clamp_target(desired + 1) >= target  # monotone
    assert g.ceiling == setup.ceiling


@settings(max_examples=100, deadline=None)
@given(
    setup=setups(),
    ops=st.lists(
        st.tuples(
            st.integers(-50, 3000),
            st.floats(0, 5),
            st.sampled_from(["request", "turn", "direct", "stop"]),
        ),
        max_size=40,
    ),
)
def test_no_backward_command_exceeds_the_ceiling_and_increases_ramp(
    setup: Setup, ops: list[tuple[int, float, str]]
) -> None:
    g = setup.governor()
    check = Checker(setup)
    now = 0.0
    for desired, dt, op in ops:
        now += dt
        before = g.commanded
        if op == "turn":
            check.speed(g, before, g.turnaround_command(now), now)
            belt = g.commanded
            g.set_direction(Direction.TURNING, now, belt_speed=belt)
            new = Direction.BACKWARD if desired % 2 else Direction.FORWARD
            g.set_direction(new, now, belt_speed=belt)
        elif op == "direct":
            # A direction change straight across, with whatever the belt is doing.
            new = Direction.FORWARD if g.direction is not Direction.FORWARD else Direction.BACKWARD
            try:
                g.set_direction(new, now, belt_speed=desired)
            except SafetyStop:
                assert desired > TURN_LIMIT
            else:
                assert desired <= TURN_LIMIT
                if new is not Direction.FORWARD:
                    assert g.commanded <= setup.ceiling
        elif op == "stop":
            g.reset_after_stop()
        else:
            command = g.request_speed(desired, now)
            if command is not None:
                check.speed(g, before, command, now)
            else:
                reachable = g.reachable(desired)
                assert reachable <= g.clamp_target(desired)
                assert g.commanded == reachable or (
                    g.commanded < reachable and now < g.next_ramp_time()
                )


@settings(max_examples=100, deadline=None)
@given(
    setup=setups(),
    desired=st.integers(-100, 400),
    direction=st.sampled_from(Direction),
)
def test_incline_commands_stay_in_range(setup: Setup, desired: int, direction: Direction) -> None:
    g = setup.governor(direction)
    command = g.request_incline(desired, 0.0)
    lo, hi, step = setup.incline_range
    assert lo <= command.value <= hi
    assert (command.value - lo) % step == 0
    assert command.value <= max(desired, lo)
    if direction is not Direction.FORWARD:
        steep = setup.allow_steep and not PROFILE_LIMITS[setup.profile].walking_only
        assert command.value <= (BACKWARD_INCLINE_STEEP_MAX if steep else BACKWARD_INCLINE_MAX)


# -- a whole session, randomly -------------------------------------------------


class GovernorSession(RuleBasedStateMachine):
    """Program steps, user nudges, turn-arounds, stops, heart rate, and a rogue belt.

    The belt follows the last command unless a rule makes it jump (the console's +
    button, a firmware glitch) or stay where it is. The engine's part is modelled as
    issue 6 says: send every command, and after a STOP reset the governor.
    """

    setup: Setup
    g: SafetyGovernor

    @initialize(setup=setups(), backward=st.booleans())
    def start(self, setup: Setup, backward: bool) -> None:
        self.setup = setup
        self.g = setup.governor(Direction.BACKWARD if backward else Direction.FORWARD)
        self.check = Checker(setup)
        self.now = 0.0
        self.target = 0
        self.belt = 0
        self.heart_rate: int | None = None
        self.over_run = 0  # consecutive over-ceiling records, counted here
        self.in_episode = False
        self.last_over_t: float | None = None
        self.episode_speed = 0  # the belt on the first record over the ceiling
        self.paused = False
        self.halted = False
        self.turn_limit = 0
        self.watch_ref = 0  # paused or halted: the lowest speed seen since

    # engine side ---------------------------------------------------------------

    def send(self, before: int, command: SafeCommand | None) -> None:
        if command is not None:
            self.check.speed(self.g, before, command, self.now)

    def request(self) -> None:
        if self.paused or self.halted:
            return  # the session never raises speed while paused
        before = self.g.commanded
        self.send(before, self.g.request_speed(self.target, self.now))

    def record(self) -> None:
        """One telemetry record, as the monitor passes it to the governor.

        The oracle, computed here from the rules: the tolerance is one device
        increment (at least 0.1 km/h); backward over the ceiling is corrected on
        this record and stopped on the third, or at a second excursion within 60 s;
        turning over the turn-around speed, or a belt speeding up while paused (or
        while turning on a stopped belt) by more than the reading's resolution
        (0.1 km/h, whatever the device's grid), is halted. No reaction ever commands
        more than was commanded before it.
        """
        before = self.g.commanded
        tol = min(max(self.setup.speed_range[2], 10), 30)
        reaction = self.g.observe(self.belt, self.now, self.heart_rate)
        kind = reaction.kind
        if kind is ReactionKind.NONE:
            assert reaction.command is None
        else:
            assert reaction.command is not None
            assert reaction.command.value <= before, "a reaction raised the speed"
            if kind in {ReactionKind.HALT, ReactionKind.STOP}:
                assert reaction.command.value == 0
        if self.paused or self.halted:
            assert kind in {ReactionKind.NONE, ReactionKind.HALT, ReactionKind.STOP}
            if self.belt > self.watch_ref + MIN_RESOLUTION:
                assert kind is not ReactionKind.NONE, "belt sped up while it should stop"
            if self.g.direction is Direction.BACKWARD and self.belt > self.setup.ceiling + tol:
                self.last_over_t = self.now  # an excursion too, for the 60 s window
        elif self.g.direction is Direction.TURNING and (
            self.belt > self.turn_limit + tol
            or (self.turn_limit == 0 and self.belt > MIN_RESOLUTION)
        ):
            assert kind in {ReactionKind.HALT, ReactionKind.STOP}, "belt too fast while turning"
        else:
            over = (
                self.g.direction is not Direction.FORWARD and self.belt > self.setup.ceiling + tol
            )
            self.over_run = self.over_run + 1 if over else 0
            second = untaken = False
            if over:
                if not self.in_episode:
                    second = self.last_over_t is not None and (
                        self.now - self.last_over_t <= EXCURSION_WINDOW_S
                    )
                    self.in_episode = True
                    self.episode_speed = self.belt
                else:  # not slowed at all since its correction: the machine ignored it
                    untaken = self.belt > self.episode_speed - tol // 2
                self.last_over_t = self.now
                # answered on this very record, with a command under the ceiling ...
                assert kind in {ReactionKind.CORRECT, ReactionKind.STOP}
                assert reaction.command is not None
                assert reaction.command.value <= self.setup.ceiling
                assert reaction.command.value < self.belt
                # ... and stopped when still over two records later, or a second time,
                # or when a record later it has not slowed at all
                if self.over_run >= 3 or second or untaken:
                    assert kind is ReactionKind.STOP
            else:
                self.in_episode = False
            if kind is ReactionKind.STOP and self.over_run < 3 and not (second or untaken):
                # the only other reason to stop: heart rate over the maximum
                assert self.setup.max_heart_rate is not None
                assert self.heart_rate is not None
                assert self.heart_rate > self.setup.max_heart_rate
                assert "heart rate" in reaction.reason
            if kind is ReactionKind.SLOW:
                assert reaction.command is not None
                assert reaction.command.value < before
        self.watch_ref = min(self.watch_ref, self.belt)
        observed = self.belt
        if kind is not ReactionKind.NONE:
            assert reaction.command is not None
            self.belt = reaction.command.value
        if kind is ReactionKind.HALT:
            self.halted = True  # the session pauses until the runner resumes
            self.g.pause(self.now, self.belt)
            self.watch_ref = observed
        if kind is ReactionKind.STOP:
            self.g.reset_after_stop()
            self.g.resume()
            self.paused = self.halted = False
            self.over_run = 0  # a new start: the excursion window alone carries over
            self.in_episode = False
            self.target = 0
            self.belt = 0

    # rules ---------------------------------------------------------------------

    @rule(speed=st.integers(0, 1500), dt=st.floats(0, 5))
    def program_step(self, speed: int, dt: float) -> None:
        self.now += dt
        self.target = speed
        self.request()

    @rule(dt=st.floats(0.2, 3))
    def telemetry(self, dt: float) -> None:
        """Time passes, the belt follows the command, the scheduler keeps ramping."""
        self.now += dt
        self.belt = self.g.commanded
        self.record()
        self.request()

    @precondition(lambda self: not (self.paused or self.halted))
    @rule()
    def user_pauses(self) -> None:
        self.g.pause(self.now, self.belt)
        self.paused = True
        self.watch_ref = self.belt
        self.belt = 0  # the belt comes to rest

    @precondition(lambda self: self.paused or self.halted)
    @rule()
    def user_resumes(self) -> None:
        self.g.resume()
        self.paused = self.halted = False
        self.over_run = 0
        self.in_episode = False
        self.request()

    @rule(delta=st.sampled_from([-10, 10]))
    def user_adjusts(self, delta: int) -> None:
        self.target = max(0, self.target + delta)
        self.request()

    @rule(jump=st.integers(1, 800), above_ceiling=st.booleans(), dt=st.floats(0.2, 70))
    def belt_jumps(self, jump: int, above_ceiling: bool, dt: float) -> None:
        """A console press or a firmware glitch, at any moment of any phase."""
        self.now += dt
        self.belt = (max(self.belt, self.setup.ceiling) if above_ceiling else self.belt) + jump
        self.record()

    @rule()
    def belt_stays(self) -> None:
        """The belt ignores the last command: same speed on the next record."""
        self.now += 1.0
        self.record()

    @rule(heart_rate=st.none() | st.integers(90, 220))
    def heart_rate_changes(self, heart_rate: int | None) -> None:
        self.heart_rate = heart_rate

    @precondition(lambda self: not (self.paused or self.halted))
    @rule(new=st.sampled_from([Direction.FORWARD, Direction.BACKWARD]), jump=st.integers(0, 600))
    def turn_around(self, new: Direction, jump: int) -> None:
        before = self.g.commanded
        command = self.g.turnaround_command(self.now)
        self.send(before, command)
        assert command.value <= min(TURNAROUND_SPEED, self.setup.ceiling)
        self.turn_limit = command.value
        self.now += 5.0
        self.belt = self.g.commanded  # the belt has settled
        self.g.set_direction(Direction.TURNING, self.now, belt_speed=self.belt)
        self.record()
        if jump:  # the belt moves while the runner turns
            self.belt += jump
            self.now += 1.0
            self.record()
        self.now += 12.0
        if self.paused or self.halted:
            self.user_resumes()  # the runner confirms: the belt was stopped
            self.belt = 0
        try:
            self.g.set_direction(new, self.now, belt_speed=self.belt)
        except SafetyStop:
            # Moving, but within the watch's tolerance: no turn on a fast belt.
            assert self.belt > TURN_LIMIT
            self.belt = self.target = 0
            self.g.reset_after_stop()
            self.g.set_direction(new, self.now, belt_speed=0)
        if new is Direction.FORWARD:
            self.over_run = 0
        self.request()

    @precondition(lambda self: self.belt > TURN_LIMIT)
    @rule()
    def turn_without_slowing(self) -> None:
        direction = self.g.direction
        new = Direction.TURNING if direction is not Direction.TURNING else Direction.FORWARD
        try:
            self.g.set_direction(new, self.now, belt_speed=self.belt)
        except SafetyStop:
            assert self.g.direction is direction
        else:
            raise AssertionError("turned with the belt too fast")

    @rule()
    def user_stops(self) -> None:
        self.g.reset_after_stop()
        self.target = 0
        self.belt = 0

    @invariant()
    def commanded_speed_is_under_the_ceiling(self) -> None:
        if self.g.direction is not Direction.FORWARD:
            assert self.g.commanded <= self.setup.ceiling


GovernorSession.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestGovernorSession = GovernorSession.TestCase
