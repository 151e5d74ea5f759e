"""The heart-rate zone controller, alone: bounds, pace, hysteresis, and the governor.

Property tests drive ``ZoneController`` with arbitrary readings (gaps, untrusted
values, the governor holding speed) and check what it may ever ask for; a closed
loop with a lagging heart (the simulator's time constants) checks that it settles
in the zone without swinging. Every target is a wish: ``request_speed`` is applied
to it here as in the session, and the governor's command stays under the ceiling.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.events import Direction
from retrorun.hr import ZONE_INTERVAL_S, HeartRateGuide, Zone, ZoneController
from retrorun.limits import RAMP_STEP, RunnerProfile
from retrorun.programs import parse_program, plan
from retrorun.safety import SafetyGovernor


@dataclass(frozen=True)
class Reading:
    dt: float  # seconds since the last record
    bpm: int | None  # trusted heart rate (None: none, or untrusted)
    held: bool  # the governor holds speed for heart rate
    slow_by: int  # when held, how far the governor lowered its command


readings = st.builds(
    Reading,
    dt=st.floats(0.05, 5.0),
    bpm=st.none() | st.integers(40, 220),
    held=st.booleans(),
    slow_by=st.sampled_from([0, 10, 50]),
)


@st.composite
def setups(draw: st.DrawFn) -> tuple[Zone, tuple[int, int], int, int]:
    low_bpm = draw(st.integers(60, 180))
    zone = Zone(low_bpm, low_bpm + draw(st.integers(8, 40)))
    lo = draw(st.integers(50, 800))
    hi = draw(st.integers(lo, 1200))
    increment = draw(st.sampled_from([1, 5, 10, 20, 50, 100]))
    start = draw(st.integers(0, 1400))
    return zone, (lo, hi), increment, start


@pytest.mark.hazard("HZ-01", "HZ-14")
@settings(max_examples=300, deadline=None)
@given(setup=setups(), feed=st.lists(readings, max_size=400))
def test_targets_stay_in_bounds_move_slowly_and_never_fight_the_governor(
    setup: tuple[Zone, tuple[int, int], int, int], feed: list[Reading]
) -> None:
    zone, (lo, hi), increment, start = setup
    ctl = ZoneController(zone, (lo, hi), start=start, increment=increment, now=0.0)
    assert lo <= ctl.target <= hi
    now, commanded = 0.0, ctl.target
    last_move = 0.0
    ramp = max(RAMP_STEP // increment * increment, increment)
    for r in feed:
        now += r.dt
        if r.held:
            commanded = max(commanded - r.slow_by, 0)
        before = ctl.target
        change = ctl.update(now, r.bpm, commanded=commanded, held=r.held)
        after = ctl.target
        assert change is None or change.target == after
        assert after <= hi, "over the step's upper bound"
        if r.held:
            # Held for heart rate: only ever down, to what the governor commands.
            assert after <= before
            assert after == min(before, commanded)
        else:
            assert after >= lo or after == before, "under the step's lower bound by itself"
            if after != before:
                assert abs(after - before) <= ramp, "more than the ramp step at once"
                assert now - last_move >= ZONE_INTERVAL_S - 1e-9, "moved again too soon"
                assert r.bpm is not None
                last_move = now
        if r.held:
            last_move = now  # a hold restarts the wait
        if not r.held:
            commanded = after


@settings(max_examples=300, deadline=None)
@given(
    setup=setups(),
    bpm=st.integers(40, 220),
    jitter=st.sampled_from([0, 1, 2]),
    seconds=st.integers(60, 1200),
)
def test_on_a_steady_heart_rate_the_target_goes_one_way_only(
    setup: tuple[Zone, tuple[int, int], int, int], bpm: int, jitter: int, seconds: int
) -> None:
    zone, bounds, increment, start = setup
    ctl = ZoneController(zone, bounds, start=start, increment=increment, now=0.0)
    targets = [ctl.target]
    for t in range(1, seconds):
        # Breathing rocks a steady heart by a beat or two, never out of its mean.
        value = bpm + (jitter if t % 6 < 3 else -jitter)
        ctl.update(float(t), value, commanded=ctl.target, held=False)
        targets.append(ctl.target)
    steps = [b - a for a, b in itertools.pairwise(targets) if b != a]
    assert all(s > 0 for s in steps) or all(s < 0 for s in steps), "a steady heart swung it"
    if zone.low + jitter <= bpm <= zone.high - jitter:
        assert not steps, "moved while the heart rate was in the zone"
    if bpm + jitter < zone.low:
        assert all(s > 0 for s in steps)
    if bpm - jitter > zone.high:
        assert all(s < 0 for s in steps)


@pytest.mark.hazard("HZ-15")
def test_a_value_that_never_moves_never_raises_speed() -> None:
    ctl = ZoneController(Zone(100, 110), (200, 500), start=200, increment=10, now=0.0)
    for t in range(1, 300):
        ctl.update(float(t), 80, commanded=ctl.target, held=False)  # stuck, far under
    assert ctl.target == 200
    for t in range(300, 600):
        ctl.update(float(t), 130, commanded=ctl.target, held=False)  # stuck, far over
    assert ctl.target < 200 or ctl.target == 200  # at the lower bound it cannot go lower
    ctl = ZoneController(Zone(100, 110), (200, 500), start=400, increment=10, now=0.0)
    for t in range(1, 300):
        ctl.update(float(t), 130, commanded=ctl.target, held=False)
    assert ctl.target == 200  # lowering on a frozen value is still allowed


class Heart:
    """The simulator's heart, first order: rises with tau 30 s, recovers with 45 s."""

    def __init__(self, resting: float, per_kmh: float) -> None:
        self.resting, self.per_kmh, self.bpm = resting, per_kmh, resting

    def step(self, dt: float, speed: int) -> None:
        target = self.resting + self.per_kmh * speed / 100
        tau = 30.0 if target > self.bpm else 45.0
        self.bpm += (target - self.bpm) * (1 - math.exp(-dt / tau))


@pytest.mark.parametrize("per_kmh", [6.0, 10.0, 16.0, 24.0])
@pytest.mark.parametrize("zone", [Zone(95, 105), Zone(100, 110), Zone(110, 130)])
def test_in_a_closed_loop_it_reaches_the_zone_and_holds_it_without_swinging(
    per_kmh: float, zone: Zone
) -> None:
    governor = SafetyGovernor(
        profile=RunnerProfile.RECREATIONAL,
        ceiling=750,
        speed_range=(50, 1600, 10),
        incline_range=(0, 150, 5),
        direction=Direction.BACKWARD,
    )
    resting = 70.0
    # Bounds that hold the zone's middle: the heart's steady speed for it, +/- 2 km/h.
    middle = (zone.low + zone.high) / 2
    steady = round((middle - resting) / per_kmh * 100)
    bounds = (max(steady - 200, 50), min(steady + 200, 750))
    heart = Heart(resting, per_kmh)
    ctl = ZoneController(zone, bounds, start=bounds[0], increment=10, now=0.0)
    t, dt = 0.0, 1.0
    governor.request_speed(bounds[0], t)
    belt = governor.commanded
    trace: list[tuple[float, float, int]] = []
    while t < 1800:
        t += dt
        heart.step(dt, belt)
        ctl.update(t, round(heart.bpm + math.sin(t)), commanded=governor.commanded, held=False)
        command = governor.request_speed(ctl.target, t)
        if command is not None:
            belt = command.value
        assert belt <= governor.ceiling
        trace.append((t, heart.bpm, ctl.target))
    late = [(bpm, target) for when, bpm, target in trace if when >= 900]
    assert all(zone.low - 2 <= bpm <= zone.high + 2 for bpm, _ in late), (late[0], late[-1])
    targets = [target for _, _, target in trace]
    moves = [b - a for a, b in itertools.pairwise(targets) if b != a]
    reversals = sum(1 for a, b in itertools.pairwise(moves) if (a > 0) != (b > 0))
    assert reversals <= 1, moves
    assert len({target for _, target in late}) <= 2  # settled: at most one more nudge


def test_the_guide_runs_a_controller_only_on_heart_rate_steps() -> None:
    program = parse_program(
        """
name = "g"
[[steps]]
direction = "forward"
duration = 60
speed_kmh = 3.0
[[steps]]
direction = "backward"
duration = 300
hr_zone = [100, 110]
speed_range_kmh = [2.0, 5.0]
""",
        "g.toml",
    )
    the_plan = plan(program, ceiling=400)
    zone_step = the_plan.steps[2]
    assert zone_step.speed_range == (200, 400)  # the runner's ceiling caps the range
    guide = HeartRateGuide({zone_step.index: Zone(100, 110)}, increment=10)
    guide.begin(the_plan.steps[0], 0.0)
    assert guide.update(100.0, 60, commanded=300, held=False) is None
    guide.begin(zone_step, 0.0)
    changes = [
        change
        for t in range(1, int(2 * ZONE_INTERVAL_S))
        if (change := guide.update(float(t), 80 + t % 2, commanded=200, held=False))
    ]
    [change] = changes  # one move in two intervals: the first judged one interval in
    assert 200 < change.target <= 250  # one ramp step at most
    assert "under the 100-110 bpm zone" in change.message


@pytest.mark.hazard("HZ-15")
def test_after_a_gap_in_the_readings_it_waits_a_whole_interval_again() -> None:
    ctl = ZoneController(Zone(100, 110), (200, 500), start=300, increment=10, now=0.0)
    for t in range(1, 25):
        assert ctl.update(float(t), 105 + t % 2, commanded=300, held=False) is None
    # A minute's pause: the heart came down meanwhile. The belt ramps back up first.
    moves = [
        t
        for t in range(85, 150)
        if ctl.update(float(t), 88 + t % 2, commanded=ctl.target, held=False) is not None
    ]
    assert moves
    assert moves[0] >= 84 + ZONE_INTERVAL_S
