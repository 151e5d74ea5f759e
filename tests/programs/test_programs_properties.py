"""Properties of every plan, for any program, profile, user ceiling and device maximum."""

from __future__ import annotations

import itertools
from typing import Any

import pydantic
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from retrorun.errors import ProgramError
from retrorun.events import Direction
from retrorun.limits import PROFILE_LIMITS, TURNAROUND_SPEED, RunnerProfile, to_kmh
from retrorun.programs import Plan, Program, plan

PROFILES = st.sampled_from(list(RunnerProfile))
KINDS = st.sampled_from(["warmup", "work", "recovery", "cooldown"])


@st.composite
def step_tables(draw: st.DrawFn, profile: RunnerProfile) -> dict[str, Any]:
    direction = draw(st.sampled_from(["forward", "backward"]))
    if draw(st.integers(0, 9)) == 0:
        return {
            "direction": direction,
            "duration": draw(st.integers(1, 120)),
            "stop_belt": True,
            "kind": "recovery",
        }
    top = to_kmh(PROFILE_LIMITS[profile].backward_ceiling) if direction == "backward" else 16.0
    table: dict[str, Any] = {
        "direction": direction,
        "kind": draw(KINDS),
        "incline_pct": draw(st.sampled_from([0, 2.5, 5, 10])),
    }
    speed = draw(st.floats(0.5, top).map(lambda v: round(v, 2)))
    if draw(st.booleans()):
        table["speed_kmh"] = speed
    else:
        table["reference_pct"] = draw(st.integers(20, 150))
    if draw(st.integers(0, 4)) == 0:
        table["distance_m"] = draw(st.integers(10, 1000))
    else:
        table["duration"] = draw(st.integers(1, 300))
    return table


@st.composite
def programs(draw: st.DrawFn) -> Program:
    profile = draw(PROFILES)
    leaf = step_tables(profile)
    block = st.builds(
        lambda reps, steps: {"repeat": reps, "steps": steps},
        st.integers(1, 3),
        st.lists(leaf, min_size=1, max_size=3),
    )
    steps = draw(st.lists(st.one_of(leaf, leaf, block), min_size=1, max_size=5))
    rules = draw(
        st.sampled_from(
            [
                [],
                [{"target": "speed", "by": 0.5}],
                [{"target": "duration", "by": 30, "up_to": 400}, {"target": "incline", "by": 2.5}],
                [{"target": "reps", "by": 1, "up_to": 5}, {"target": "speed", "by": 1.0}],
            ]
        )
    )
    try:
        return Program.model_validate(
            {"name": "p", "profile": profile, "progression": rules, "steps": steps}
        )
    except pydantic.ValidationError:
        reject()


@st.composite
def plans(draw: st.DrawFn) -> tuple[Plan, dict[str, Any], Program]:
    program = draw(programs())
    profile = draw(st.one_of(st.none(), PROFILES))
    runner = profile or program.profile
    ceiling = draw(st.one_of(st.none(), st.integers(50, PROFILE_LIMITS[runner].backward_ceiling)))
    options: dict[str, Any] = {
        "profile": profile,
        "ceiling": ceiling,
        "device_max": draw(st.one_of(st.none(), st.integers(-10, 2000))),
        "reference_kmh": draw(st.floats(1.0, 20.0)),
        # A program with no progression has only week 1 (later weeks are refused).
        "week": draw(st.integers(1, 8)) if program.progression else 1,
    }
    try:
        return plan(program, **options), options, program
    except ProgramError:
        reject()  # longer than four hours after progression


@settings(max_examples=300, deadline=None)
@given(plans())
def test_no_direction_change_without_a_turnaround(drawn: tuple[Plan, Any, Any]) -> None:
    result = drawn[0]
    steps = result.steps
    assert not steps[0].turnaround
    assert not steps[-1].turnaround
    for before, after in itertools.pairwise(steps):
        if before.turnaround:
            assert after.direction is before.to_direction
            assert not after.turnaround
        elif after.turnaround:
            assert after.to_direction is not None
            assert after.to_direction is not before.direction
            assert after.needs_confirm
        else:
            assert after.direction is before.direction


@settings(max_examples=300, deadline=None)
@given(plans())
def test_no_backward_step_over_the_effective_ceiling(drawn: tuple[Plan, Any, Any]) -> None:
    result, options, _ = drawn
    runner = options["profile"] or result.profile
    ceiling = PROFILE_LIMITS[runner].backward_ceiling
    if options["ceiling"] is not None:
        ceiling = min(ceiling, options["ceiling"])
    if options["device_max"] is not None and options["device_max"] > 0:
        ceiling = min(ceiling, options["device_max"])
    assert result.ceiling == ceiling
    for step in result.steps:
        if step.direction is not Direction.FORWARD:
            assert step.speed <= ceiling
        if step.turnaround:
            assert step.speed <= TURNAROUND_SPEED
            if PROFILE_LIMITS[runner].stop_at_turnaround:
                assert step.stop_belt
                assert step.speed == 0
        if step.direction is Direction.BACKWARD:
            assert step.incline <= 150


@settings(max_examples=200, deadline=None)
@given(plans())
def test_duration_is_the_sum_and_planning_is_deterministic(
    drawn: tuple[Plan, dict[str, Any], Program],
) -> None:
    result, options, program = drawn
    assert result.total_s == sum(s.duration_s for s in result.steps)
    assert result.backward_s <= result.total_s
    assert all(s.duration_s > 0 for s in result.steps)
    assert [s.index for s in result.steps] == list(range(len(result.steps)))
    assert plan(program, **options) == result
