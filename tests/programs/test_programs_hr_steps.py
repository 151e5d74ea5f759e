"""Heart-rate steps in program files: what the schema refuses (one line each, with
its field path and line; exit 2) and what the plan makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrorun.cli import main
from retrorun.errors import ProgramError
from retrorun.programs import HeartRateTarget, parse_program, plan

HEAD = 'name = "h"\nprofile = "novice"\n[[steps]]\ndirection = "backward"\n'


def step(body: str) -> str:
    return HEAD + body


GOOD = 'duration = "10min"\nhr_zone = [100, 110]\nspeed_range_kmh = [2.0, 4.0]\n'

CASES: list[tuple[str, str, str]] = [
    (
        "two zones",
        "duration = 60\nhr_zone = [100, 110]\nhr_pct = [50, 60]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0]: give one heart-rate zone, not hr_zone and hr_pct",
    ),
    (
        "no bounds",
        "duration = 60\nhr_zone = [100, 110]\n",
        "steps[0]: a hr_zone step needs speed_range_kmh = [low, high], the speeds it may use",
    ),
    (
        "bounds without a zone",
        "duration = 60\nspeed_range_kmh = [2.0, 4.0]\n",
        (
            "steps[0]: speed_range_kmh bounds a heart-rate step: give hr_zone, hr_pct or"
            " hr_reserve_pct"
        ),
    ),
    (
        "a distance",
        "distance_m = 400\nhr_zone = [100, 110]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0]: a heart-rate step has a duration, not a distance",
    ),
    (
        "start outside",
        "duration = 60\nhr_zone = [100, 110]\nspeed_range_kmh = [2.0, 4.0]\nspeed_kmh = 4.5\n",
        "steps[0]: the starting speed 4.5 km/h is outside speed_range_kmh [2, 4]",
    ),
    (
        "low over high",
        "duration = 60\nhr_zone = [110, 100]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_zone: [110, 100]: the low value must be under the high one (line 6)",
    ),
    (
        "one value",
        "duration = 60\nhr_zone = [100]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_zone: write two values, [low, high] (line 6)",
    ),
    (
        "too narrow",
        "duration = 60\nhr_zone = [100, 104]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0]: hr_zone is 4 bpm wide; at least 8",
    ),
    (
        "pct too narrow",
        "duration = 60\nhr_reserve_pct = [40, 42]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0]: hr_reserve_pct is 2 points wide; at least 5",
    ),
    (
        "bpm not whole",
        "duration = 60\nhr_zone = [100.5, 110]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_zone[0]: Input should be a valid integer",
    ),
    (
        "bpm a heart cannot do",
        "duration = 60\nhr_zone = [100, 300]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_zone[1]: Input should be less than or equal to 240",
    ),
    (
        "pct over 100",
        "duration = 60\nhr_pct = [60, 120]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_pct[1]: Input should be less than or equal to 100",
    ),
    (
        "pct true",
        "duration = 60\nhr_pct = [true, 60]\nspeed_range_kmh = [2.0, 4.0]\n",
        "steps[0].hr_pct[0]: Input should be a valid number",
    ),
    (
        "over the ceiling",
        "duration = 60\nhr_zone = [100, 110]\nspeed_range_kmh = [2.0, 6.0]\n",
        "steps[0].speed_range_kmh: 6 km/h exceeds the novice backward ceiling of 5.0 km/h",
    ),
    (
        "a stopped belt",
        (
            "duration = 60\nhr_zone = [100, 110]\nspeed_range_kmh = [2.0, 4.0]\n"
            'stop_belt = true\nkind = "recovery"\n'
        ),
        "steps[0]: a stop_belt rest has no heart-rate zone",
    ),
]


@pytest.mark.parametrize(("name", "body", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_heart_rate_step_is_one_line_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, body: str, message: str
) -> None:
    del name
    with pytest.raises(ProgramError, match=r"h\.toml"):
        parse_program(step(body), "h.toml")
    path = tmp_path / "h.toml"
    path.write_text(step(body))
    assert main(["programs", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err


def test_a_heart_rate_step_plans_its_bounds_under_the_ceiling_and_starts_low() -> None:
    program = parse_program(step(GOOD), "h.toml")
    [only] = plan(program).steps
    assert only.heart_rate == HeartRateTarget("bpm", 100, 110)
    assert only.speed_range == (200, 400)
    assert only.speed == 200  # no speed given: the lower bound
    [capped] = plan(program, ceiling=300).steps
    assert capped.speed_range == (200, 300)  # the runner's ceiling lowers the top
    [under] = plan(program, ceiling=150).steps
    assert under.speed_range == (150, 150)  # a ceiling under the range leaves the ceiling
    started = parse_program(step(GOOD + "speed_kmh = 3.0\n"), "h.toml")
    assert plan(started).steps[0].speed == 300
    by_reference = parse_program(step(GOOD + "reference_pct = 80\n"), "h.toml")
    assert plan(by_reference, reference_kmh=10.0).steps[0].speed == 400  # 8 km/h, capped


def test_the_three_kinds_of_zone_keep_their_basis() -> None:
    for field, basis in (("hr_pct", "max"), ("hr_reserve_pct", "reserve")):
        text = step(f"duration = 60\n{field} = [40, 60]\nspeed_range_kmh = [2.0, 4.0]\n")
        [only] = plan(parse_program(text, "h.toml")).steps
        assert only.heart_rate == HeartRateTarget(basis, 40, 60)  # type: ignore[arg-type]
        assert only.heart_rate is not None
        assert only.heart_rate.field == field


def test_a_speed_rule_never_changes_a_heart_rate_step() -> None:
    text = (
        'name = "p"\nweeks = 4\n'
        '[[progression]]\ntarget = "speed"\nby = 0.5\nup_to = 4.0\n'
        '[[progression]]\ntarget = "duration"\nby = 60\n'
        '[[steps]]\ndirection = "backward"\nduration = 600\nspeed_kmh = 3.0\n'
        '[[steps]]\ndirection = "backward"\n' + GOOD
    )
    program = parse_program(text, "p.toml")
    week1, week3 = plan(program, week=1).steps, plan(program, week=3).steps
    assert week3[0].speed > week1[0].speed  # the speed step went faster
    assert week3[1].speed == week1[1].speed == 200  # the zone step did not
    assert week3[1].speed_range == week1[1].speed_range == (200, 400)
    only_zones = (
        'name = "q"\n[[progression]]\ntarget = "speed"\nby = 0.5\n'
        '[[steps]]\ndirection = "backward"\n' + GOOD
    )
    with pytest.raises(ProgramError, match=r"progression\[0\]\.target: no work step for this rule"):
        parse_program(only_zones, "q.toml")


def test_the_plan_table_names_a_heart_rate_steps_zone_and_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Its km/h column is only where the step starts: the zone and the range say the rest."""
    assert main(["plan", "heart-rate-walk"]) == 0
    [row] = [line for line in capsys.readouterr().out.splitlines() if "HR reserve" in line]
    assert "heart 40-60 % of HR reserve" in row
    assert "speed by the heart 1.5-4.0 km/h" in row
