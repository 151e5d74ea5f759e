"""Hand-written bad files: one line per problem naming file, field path and line; exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from programs_support import write

from retrorun.cli import main
from retrorun.errors import ProgramError
from retrorun.programs import load_program

TOO_FAST = """\
name = "Too fast"

[[steps]]
direction = "forward"
duration = "2min"
speed_kmh = 4

[[steps]]
direction = "backward"
duration = "1min"
speed_kmh = 3

[[steps]]
direction = "backward"
duration = "1min"
speed_kmh = 2

[[steps]]
direction = "backward"
duration = "30s"
speed_kmh = 6.5
"""

CASES: list[tuple[str, str, list[str]]] = [
    (
        "too-fast",
        TOO_FAST,
        ["steps[3].speed_kmh: 6.5 km/h exceeds the novice backward ceiling of 5.0 km/h (line 21)"],
    ),
    (
        "pace-too-fast",
        (
            'name = "p"\nprofile = "older-adult"\n[[steps]]\ndirection = "backward"\n'
            'duration = 60\npace = "20:00"\n'
        ),
        [
            (
                "steps[0].pace: pace 20:00 is 3.00 km/h, which exceeds the older-adult backward "
                "ceiling of 2.5 km/h (line 6)"
            )
        ],
    ),
    (
        "nested",
        (
            'name = "n"\n[[steps]]\nrepeat = 2\n[[steps.steps]]\ndirection = "forward"\n'
            'duration = 60\nspeed_kmh = 3\n[[steps.steps]]\ndirection = "backward"\n'
            'duration = "1m"\nspeed_kmh = 5.5\n'
        ),
        [
            (
                "steps[0].steps[1].speed_kmh: 5.5 km/h exceeds the novice backward ceiling of "
                "5.0 km/h (line 11)"
            )
        ],
    ),
    (
        "structure",
        (
            'name = "s"\nsteps = [\n'
            '  { direction = "sideways", duration = 60, speed_kmh = 2 },\n'
            '  { direction = "forward", duration = -1, speed_kmh = 3 },\n'
            '  { direction = "forward", speed_kmh = 2 },\n'
            '  { direction = "forward", duration = "5 mins", speed_kmh = 2 },\n'
            '  { direction = "forward", duration = 60, speed_kmh = 2, colour = "red" },\n'
            '  { repeat = 0, steps = [{ direction = "forward", duration = 60, speed_kmh = 2 }] },\n'
            "]\n"
        ),
        [
            "steps[0].direction: Input should be 'forward' or 'backward'",
            "steps[1].duration: Input should be greater than 0",
            "steps[2]: give exactly one length: duration or distance_m",
            (
                "steps[3].duration: '5 mins' is not a duration (write seconds, or '90s', "
                "'1m30s', '2min', '1:30')"
            ),
            "steps[4].colour: Extra inputs are not permitted",
            "steps[5].repeat: Input should be greater than or equal to 1",
        ],
    ),
    (
        "steep",
        (
            'name = "s"\n[[steps]]\ndirection = "backward"\nduration = 60\nspeed_kmh = 2\n'
            "incline_pct = 12\n"
        ),
        [
            (
                "steps[0].incline_pct: backward incline 12 % is above 10 % (up to 15 % needs "
                "allow_steep = true) (line 6)"
            )
        ],
    ),
    (
        "steep-rehab",
        (
            'name = "s"\nprofile = "rehab"\n[[steps]]\ndirection = "backward"\nduration = 60\n'
            "speed_kmh = 2\nincline_pct = 12\nallow_steep = true\n"
        ),
        [
            (
                "steps[0].allow_steep: the rehab profile keeps backward incline at or below 10 % "
                "(line 8)"
            )
        ],
    ),
    (
        "four-hours",
        (
            'name = "l"\n[[steps]]\ndirection = "forward"\nduration = "3h"\nspeed_kmh = 5\n'
            '[[steps]]\ndirection = "forward"\nduration = "1h30m"\nspeed_kmh = 5\n'
        ),
        ["steps: the program lasts 4.5 h; at most 4 h (line 2)"],
    ),
    (
        "progression",
        (
            'name = "p"\n[[progression]]\ntarget = "speed"\nby = 1\nup_to = 7\n'
            '[[progression]]\ntarget = "reps"\nby = 1.5\n'
            '[[steps]]\ndirection = "backward"\nduration = 60\nspeed_kmh = 2\n'
        ),
        ["progression[1].by: reps are whole numbers, not 1.5 (line 8)"],
    ),
    (
        "progression-rules",
        (
            'name = "p"\n[[progression]]\ntarget = "speed"\nby = 1\n'
            '[[progression]]\ntarget = "reps"\nby = 1\nup_to = 4\n'
            '[[progression]]\ntarget = "speed"\nby = 0.5\nup_to = 7\n'
            '[[steps]]\ndirection = "backward"\nduration = 60\nspeed_kmh = 2\n'
        ),
        [
            "progression[0].up_to: only the last rule may go on without an up_to (line 2)",
            (
                "progression[1].target: no repeat block holds a work step for this rule to "
                "change (line 6)"
            ),
            (
                "progression[2].up_to: 7 km/h exceeds the novice backward ceiling of 5.0 km/h "
                "(line 12)"
            ),
        ],
    ),
    (
        "profile",
        (
            'name = "p"\nprofile = "sprinter"\n[[steps]]\ndirection = "forward"\nduration = 60\n'
            "speed_kmh = 2\n"
        ),
        [
            (
                "profile: Input should be 'older-adult', 'rehab', 'novice', 'recreational' or "
                "'trained' (line 2)"
            )
        ],
    ),
    ("no-steps", 'name = "p"\nsteps = []\n', ["steps: give at least one step (line 2)"]),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_errors(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text, f"{name}.toml")
    with pytest.raises(ProgramError) as info:
        load_program(path)
    assert str(info.value).splitlines() == [f"{path}: {line}" for line in expected]


def test_json_errors_name_the_path_without_a_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"name": "j", "steps": [{"direction": "backward", "duration": 60, "speed_kmh": 6}]}',
        "j.json",
    )
    with pytest.raises(ProgramError) as info:
        load_program(path)
    assert str(info.value) == (
        f"{path}: steps[0].speed_kmh: 6 km/h exceeds the novice backward ceiling of 5.0 km/h"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nsteps = [\n', "not valid TOML"),
        ("[1, 2]", None),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str | None) -> None:
    path = write(tmp_path, text, "x.json" if text.startswith("[") else "x.toml")
    with pytest.raises(ProgramError, match=message or "top level"):
        load_program(path)


def test_unknown_name_lists_the_library() -> None:
    with pytest.raises(ProgramError, match=r"nope: no such program in the library \(.*demo"):
        load_program("nope")


def test_validate_exit_2_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = Path(__file__).parents[2] / "programs" / "demo.toml"
    bad = write(tmp_path, TOO_FAST, "bad.toml")
    steep = write(tmp_path, CASES[4][1], "steep.toml")
    code = main(["programs", "validate", str(good), str(bad), str(steep)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == f"{good}: ok (Demo, novice, 2:04, 0:50 backward)\n"
    assert err.splitlines() == [
        (
            f"retrorun: {bad}: steps[3].speed_kmh: 6.5 km/h exceeds the novice backward ceiling "
            "of 5.0 km/h (line 21)"
        ),
        (
            f"retrorun: {steep}: steps[0].incline_pct: backward incline 12 % is above 10 % "
            "(up to 15 % needs allow_steep = true) (line 6)"
        ),
    ]
    assert "Traceback" not in err


def test_plan_of_a_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, TOO_FAST, "bad.toml")
    assert main(["plan", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "exceeds the novice backward ceiling" in err
