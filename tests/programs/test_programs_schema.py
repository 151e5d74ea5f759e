"""The program schema: lengths, speeds, and the rules that need the whole program."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
from programs_support import back, fwd, program, write

from retrorun.limits import RunnerProfile
from retrorun.programs import Repeat, Step, load_program, pace_to_kmh, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (12.5, 12.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("1m30s", 90.0),
        ("1m 30s", 90.0),
        ("2min", 120.0),
        ("1.5min", 90.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1:30", 90.0),
        ("1:02:03", 3723.0),
    ],
)
def test_durations_people_write(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 mins", "", "abc", "1:75", "s"])
def test_bad_durations_say_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_pace_is_minutes_per_km() -> None:
    assert pace_to_kmh("6:00") == 10.0
    assert pace_to_kmh("12:00") == 5.0
    assert pace_to_kmh("6:30") == pytest.approx(9.2308, abs=1e-4)
    with pytest.raises(ValueError, match="not a pace"):
        pace_to_kmh("6:75")


def test_step_needs_one_length_and_one_speed() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one length"):
        Step.model_validate({"direction": "forward", "speed_kmh": 3})
    with pytest.raises(pydantic.ValidationError, match="exactly one length"):
        Step.model_validate(
            {"direction": "forward", "speed_kmh": 3, "duration": 5, "distance_m": 10}
        )
    with pytest.raises(pydantic.ValidationError, match="exactly one speed"):
        Step.model_validate({"direction": "forward", "duration": 5, "speed_kmh": 3, "pace": "9:00"})


def test_stop_belt_rest_has_no_speed_and_is_recovery() -> None:
    rest = Step.model_validate(
        {"direction": "backward", "duration": 60, "stop_belt": True, "kind": "recovery"}
    )
    assert rest.absolute_kmh is None
    with pytest.raises(pydantic.ValidationError, match="no speed"):
        Step.model_validate(
            {
                "direction": "backward",
                "duration": 60,
                "stop_belt": True,
                "speed_kmh": 1,
                "kind": "recovery",
            }
        )
    with pytest.raises(pydantic.ValidationError, match="kind = 'recovery'"):
        Step.model_validate({"direction": "backward", "duration": 60, "stop_belt": True})


def test_steep_backward_incline_needs_the_flag() -> None:
    steep = program(back(incline_pct=12, allow_steep=True))
    assert isinstance(steep.steps[0], Step)
    assert steep.steps[0].incline_pct == 12
    with pytest.raises(pydantic.ValidationError, match="needs allow_steep"):
        program(back(incline_pct=10.5))
    with pytest.raises(pydantic.ValidationError, match="above 15 %"):
        program(back(incline_pct=16, allow_steep=True))
    # Forward incline is not a backward matter.
    assert program(fwd(incline_pct=12)).profile is RunnerProfile.NOVICE


def test_repeat_blocks_nest() -> None:
    nested = program({"repeat": 2, "steps": [{"repeat": 3, "steps": [back()]}, fwd()]})
    outer = nested.steps[0]
    assert isinstance(outer, Repeat)
    assert isinstance(outer.steps[0], Repeat)
    assert outer.steps[0].repeat == 3


def test_models_are_frozen() -> None:
    demo = load_program("demo")
    with pytest.raises(pydantic.ValidationError):
        demo.name = "other"  # type: ignore[misc]


def test_the_same_model_loads_from_json(tmp_path: Path) -> None:
    demo = load_program("demo")
    path = write(tmp_path, json.dumps(demo.model_dump(mode="json")), "demo.json")
    assert load_program(path) == demo
    assert load_program(str(path)) == demo


def test_program_built_in_code_gets_the_same_checks() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"steps\[0\]\.speed_kmh: 9 km/h exceeds"):
        program(back(kmh=9))
    assert program(back(kmh=9), profile="trained").profile is RunnerProfile.TRAINED
