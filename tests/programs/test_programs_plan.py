"""Plans: turn-arounds, ceilings, speeds resolved, totals, and weekly progression."""

from __future__ import annotations

import itertools

import pytest
from programs_support import back, fwd, program

from retrorun.errors import ProgramError, UsageError
from retrorun.events import Direction
from retrorun.limits import TURNAROUND_HOLD_S, RunnerProfile
from retrorun.programs import WEEKLY_GROWTH_MAX, load_program, plan


def test_demo_plan_turns_around_twice() -> None:
    result = plan(load_program("demo"))
    kinds = [s.kind for s in result.steps]
    assert kinds == ["warmup", "turnaround", "work", "recovery", "turnaround", "cooldown"]
    first, turn, *_, turn_back, last = result.steps
    assert first.direction is Direction.FORWARD  # mounted facing forward, no turn first
    assert turn.direction is Direction.TURNING
    assert turn.to_direction is Direction.BACKWARD
    assert turn_back.to_direction is Direction.FORWARD
    assert turn.turnaround
    assert turn.needs_confirm
    assert not turn.stop_belt
    assert turn.speed == 200  # slowed to the walking turn speed
    assert turn.duration_s == TURNAROUND_HOLD_S
    assert turn.cue is not None
    assert "turn around to face the rear" in turn.cue
    assert last.direction is Direction.FORWARD
    assert [s.index for s in result.steps] == list(range(6))
    assert 100 <= result.total_s <= 140  # about two minutes
    assert result.backward_s == 50
    assert result.ceiling == 500


def test_turnaround_never_faster_than_the_slower_neighbour() -> None:
    result = plan(program(fwd(kmh=4), back(kmh=1.5)))
    assert result.steps[1].speed == 150


@pytest.mark.parametrize("profile", [RunnerProfile.OLDER_ADULT, RunnerProfile.REHAB])
def test_fall_risk_profiles_stop_the_belt_to_turn(profile: RunnerProfile) -> None:
    result = plan(load_program("demo"), profile=profile)
    turns = [s for s in result.steps if s.turnaround]
    assert len(turns) == 2
    assert all(s.stop_belt and s.speed == 0 and s.needs_confirm for s in turns)
    assert turns[0].cue is not None
    assert "belt is stopping" in turns[0].cue


def test_stopped_belt_rest_needs_confirmation_and_no_turn() -> None:
    rest = {"direction": "backward", "duration": 30, "stop_belt": True, "kind": "recovery"}
    result = plan(program(back(), rest, back()))
    assert [s.kind for s in result.steps] == ["work", "recovery", "work"]
    assert result.steps[1].speed == 0
    assert result.steps[1].stop_belt
    assert result.steps[1].needs_confirm
    assert result.backward_s == 120  # standing still is not time spent backward


def test_lower_ceilings_clamp_backward_steps_only() -> None:
    demo = load_program("demo")
    result = plan(demo, ceiling=220)
    assert result.ceiling == 220
    backward = [s for s in result.steps if s.direction is Direction.BACKWARD]
    assert [s.speed for s in backward] == [220, 200]
    assert result.steps[0].speed == 300  # forward is not under the backward ceiling
    by_device = plan(demo, device_max=210)
    assert by_device.ceiling == 210
    assert all(s.speed <= 210 for s in by_device.steps)  # forward limited by the machine
    assert plan(demo, profile=RunnerProfile.OLDER_ADULT, ceiling=150).ceiling == 150


def test_user_ceiling_cannot_raise_the_profile_ceiling() -> None:
    with pytest.raises(UsageError, match="can only be lowered"):
        plan(load_program("demo"), ceiling=600)


def test_speeds_from_pace_and_reference() -> None:
    steps = (
        {"direction": "forward", "duration": 60, "pace": "12:00"},
        {"direction": "backward", "duration": 60, "reference_pct": 50},
        {"direction": "backward", "duration": 60, "reference_pct": 150},
    )
    with pytest.raises(ProgramError, match="reference speed"):
        plan(program(*steps))
    result = plan(program(*steps), reference_kmh=6.0)
    assert [s.speed for s in result.steps] == [500, 200, 300, 500]  # 9 km/h clamped to 5


def test_distance_steps_last_as_long_as_the_belt_needs() -> None:
    result = plan(program({"direction": "backward", "distance_m": 100, "speed_kmh": 3.6}))
    assert result.steps[0].duration_s == pytest.approx(100)
    assert result.distance_m == pytest.approx(100)
    assert result.backward_m == pytest.approx(100)


def test_totals_add_up() -> None:
    result = plan(load_program("retro-intro"))
    assert result.total_s == sum(s.duration_s for s in result.steps)
    assert result.distance_m == pytest.approx(
        sum(s.speed / 360 * s.duration_s for s in result.steps)
    )
    assert result.backward_s == 12 * 60


def test_repeat_blocks_expand() -> None:
    nested = program({"repeat": 2, "steps": [{"repeat": 3, "steps": [back(10)]}, back(5)]})
    assert [s.duration_s for s in plan(nested).steps] == [10, 10, 10, 5] * 2


def test_week_must_be_in_the_program() -> None:
    intro = load_program("retro-intro")
    with pytest.raises(UsageError, match="runs for 2 weeks"):
        plan(intro, week=3)
    with pytest.raises(UsageError, match="start at 1"):
        plan(intro, week=0)


def test_reps_then_speed() -> None:
    intervals = load_program("retro-run-intervals")
    reps = []
    fastest = []
    for week in range(1, 9):
        result = plan(intervals, week=week)
        reps.append(sum(1 for s in result.steps if s.kind == "work"))
        fastest.append(max(s.speed for s in result.steps if s.direction is Direction.BACKWARD))
    assert reps == [8, 9, 10, 11, 12, 12, 12, 12]
    assert fastest == [800, 800, 800, 800, 800, 850, 900, 900]


def test_incline_progression_stops_at_its_limit() -> None:
    quad = load_program("quad-builder")
    inclines = [max(s.incline for s in plan(quad, week=w).steps) for w in range(1, 7)]
    assert inclines == [50, 75, 100, 100, 100, 100]


def test_a_week_never_adds_more_than_ten_percent() -> None:
    greedy = program(
        fwd(300),
        {"repeat": 4, "steps": [back(60), back(60, kmh=1.5, kind="recovery")]},
        progression=[{"target": "duration", "by": "5min"}],
        weeks=10,
    )
    totals = [plan(greedy, week=w).total_s for w in range(1, 11)]
    for before, after in itertools.pairwise(totals):
        assert before < after <= before * (1 + WEEKLY_GROWTH_MAX) + 1e-6


def test_speed_progression_capped_by_ten_percent_and_ceiling() -> None:
    fast = program(back(60, kmh=2.0), progression=[{"target": "speed", "by": 1.0}])
    speeds = [plan(fast, week=w).steps[0].speed for w in range(1, 12)]
    assert speeds[:3] == [200, 220, 242]
    assert max(speeds) == 500
    assert all(b <= a * 1.1 + 1 for a, b in itertools.pairwise(speeds))


def test_plans_are_deterministic() -> None:
    intro = load_program("retro-intro")
    assert plan(intro, week=2) == plan(intro, week=2)
