"""Hostile program files: one ``ProgramError`` line, fast, never a traceback, a hang or a heap.

Every case here once raised something other than ``ProgramError`` (OverflowError,
RecursionError, ValueError), hung, or was accepted as something it is not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from programs_support import back, deadline, fwd, nested_repeats, program, write

from retrorun.errors import ProgramError, UsageError
from retrorun.programs import Program, load_program, plan

LEAF = '{ direction = "forward", duration = 60, speed_kmh = 3 }'


def _one_line(tmp_path: Path, text: str, name: str = "x.toml", **options: Any) -> str:
    """Load and plan ``text`` within a second; the ``ProgramError``'s single line."""
    path = write(tmp_path, text, name)
    with deadline(1.0), pytest.raises(ProgramError) as info:
        plan(load_program(path), **options)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def _rule(target: str, **fields: str) -> str:
    values = "".join(f"{key} = {value}\n" for key, value in fields.items())
    return (
        f'name = "p"\n[[progression]]\ntarget = "{target}"\n{values}'
        f"[[steps]]\nrepeat = 4\nsteps = [{LEAF}]\n"
    )


@pytest.mark.parametrize(
    ("target", "fields", "expected"),
    [
        ("reps", {"by": "1", "up_to": "inf"}, "progression[0].up_to: Input should be a finite"),
        ("reps", {"by": "inf"}, "progression[0].by: Input should be a finite number"),
        ("duration", {"by": "nan"}, "progression[0].by: Input should be a finite number"),
        ("reps", {"by": "1e308"}, "progression[0].by: a reps rule goes up to 100 reps at most"),
        ("duration", {"by": "'5h'"}, "progression[0].by: a duration rule goes up to 14400 s"),
        ("speed", {"by": "1", "up_to": "26"}, "progression[0].up_to: a speed rule goes up to 25"),
        ("incline", {"by": "31"}, "progression[0].by: a incline rule goes up to 30 %"),
        ("reps", {"by": "true"}, "progression[0].by: Input should be a valid number"),
    ],
)
def test_progression_numbers_are_finite_and_bounded(
    tmp_path: Path, target: str, fields: dict[str, str], expected: str
) -> None:
    assert expected in _one_line(tmp_path, _rule(target, **fields), week=3)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("duration", "true", "steps[0].duration: Input should be a valid number"),
        ("speed_kmh", "true", "steps[0].speed_kmh: Input should be a valid number"),
        ("speed_kmh", "'3'", "steps[0].speed_kmh: Input should be a valid number"),
        ("incline_pct", "false", "steps[0].incline_pct: Input should be a valid number"),
        ("stop_belt", "1", "steps[0].stop_belt: Input should be a valid boolean"),
        ("duration", "inf", "steps[0].duration: Input should be a finite number"),
        ("speed_kmh", "nan", "steps[0].speed_kmh: Input should be a finite number"),
    ],
)
def test_booleans_are_not_numbers(tmp_path: Path, field: str, value: str, expected: str) -> None:
    step = {"direction": '"forward"', "duration": "60", "speed_kmh": "3", field: value}
    text = 'name = "b"\n[[steps]]\n' + "".join(f"{k} = {v}\n" for k, v in step.items())
    assert expected in _one_line(tmp_path, text)


def test_repeat_counts_are_whole_numbers(tmp_path: Path) -> None:
    for value in ("true", "2.0"):
        text = f'name = "r"\nsteps = [{{ repeat = {value}, steps = [{LEAF}] }}]\n'
        assert "steps[0].repeat: Input should be a valid integer" in _one_line(tmp_path, text)


def test_duration_true_is_not_one_second() -> None:
    with pytest.raises(Exception, match="valid number"):
        program(fwd(seconds=True))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("brackets.toml", 'name = "x"\na = ' + "[" * 5000 + "]" * 5000 + "\n", "line 2"),
        ("tables.toml", 'name = "x"\na = ' + "{b = " * 3000 + "1" + "}" * 3000 + "\n", "line 2"),
        ("repeats.toml", nested_repeats(2000, LEAF, times=1), "line 2"),
        ("deep.json", '{"name": "x", "steps": ' + "[" * 3000 + "]" * 3000 + "}", "line 1"),
    ],
)
def test_deep_nesting_is_refused_before_parsing(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    message = _one_line(tmp_path, text, name)
    assert message == f"tables and arrays nest more than 64 deep ({expected})"


def test_repeat_blocks_nest_at_most_eight_deep(tmp_path: Path) -> None:
    headers = "".join(
        "[[" + ".".join(["steps"] * level) + "]]\nrepeat = 1\n" for level in range(1, 12)
    )
    message = _one_line(tmp_path, 'name = "x"\n' + headers)
    assert message.endswith("repeat blocks nest more than 8 deep (line 18)")
    assert message.startswith("steps[0]" + ".steps[0]" * 8 + ": ")


def test_nine_levels_from_python_data_are_refused_too() -> None:
    data: dict[str, Any] = fwd()
    for _ in range(9):
        data = {"repeat": 1, "steps": [data]}
    with pytest.raises(ValueError, match="repeat blocks nest more than 8 deep"):
        program(data)


@pytest.mark.parametrize("levels", [4, 5])
def test_expansion_is_bounded_before_expanding(tmp_path: Path, levels: int) -> None:
    leaf = '{ direction = "forward", duration = 1e-5, speed_kmh = 3 }'
    message = _one_line(tmp_path, nested_repeats(levels, leaf))
    assert message.startswith(f"steps: the program expands to {100**levels:,} steps; at most 5,000")


def test_distance_at_a_reference_speed_is_bounded_too(tmp_path: Path) -> None:
    leaf = '{ direction = "forward", distance_m = 1, reference_pct = 100 }'
    message = _one_line(tmp_path, nested_repeats(3, leaf), reference_kmh=5)
    assert message == "steps: the program expands to 1,000,000 steps; at most 5,000 (line 2)"


def test_plan_measures_a_reference_distance_before_expanding() -> None:
    far = {"direction": "forward", "distance_m": 50_000, "reference_pct": 100}
    prog = program({"repeat": 100, "steps": [far]})
    with deadline(1.0), pytest.raises(ProgramError, match=r"t: this plan lasts 1000\.0 h"):
        plan(prog, reference_kmh=5)


def test_progression_cannot_grow_a_plan_past_the_step_limit() -> None:
    leaf = fwd(seconds=0.001, kind="work")
    prog = program(
        {"repeat": 50, "steps": [{"repeat": 50, "steps": [leaf, leaf]}]},
        progression=[{"target": "reps", "by": 10, "up_to": 100}],
    )
    assert len(plan(prog).steps) == 5_000  # the most a plan may expand to
    with deadline(1.0), pytest.raises(ProgramError, match="this plan expands to"):
        plan(prog, week=10)


def test_week_is_bounded_without_a_program_length() -> None:
    prog = program(fwd(), back(), progression=[{"target": "duration", "by": 10}])
    assert prog.weeks is None
    with deadline(1.0), pytest.raises(UsageError, match="at most 52 weeks"):
        plan(prog, week=99_999_999_999)
    assert plan(prog, week=52).total_s > plan(prog).total_s


def test_a_year_of_progression_on_a_large_program_is_fast() -> None:
    leaf = {"direction": "forward", "duration": 1, "speed_kmh": 3, "kind": "warmup"}
    block = {"repeat": 2, "steps": [leaf] * 1200 + [fwd()]}
    rules = [{"target": "speed", "by": 1, "up_to": 3, "kinds": ["warmup"]}] * 8
    rules += [{"target": "reps", "by": 100, "up_to": 100}, {"target": "duration", "by": 1}]
    prog = program(block, progression=rules)
    with deadline(2.0):
        result = plan(prog, week=52)
    assert len(result.steps) == 2 * 1201


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_only_regular_files_are_read(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)  # nobody writes: opening it for reading would wait forever
    elif kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "folder.toml"
        path.mkdir()
    with deadline(1.0), pytest.raises(ProgramError) as info:
        load_program(path)
    expected = "a folder" if kind == "folder" else "not a regular file"
    assert str(info.value).startswith(f"{path}: {expected}")


def test_files_are_read_up_to_one_mebibyte(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "x"\n' + "# padding\n" * 110_000)
    with pytest.raises(ProgramError, match=r"larger than 1024 KiB; not a program file"):
        load_program(path)


def test_an_integer_of_thousands_of_digits(tmp_path: Path) -> None:
    text = '{"name": "x", "weeks": ' + "9" * 5000 + ', "steps": []}'
    assert _one_line(tmp_path, text, "x.json") == "not valid JSON: a number has too many digits"


def test_long_strings_are_cut_in_messages(tmp_path: Path) -> None:
    text = f'name = "d"\n[[steps]]\ndirection = "forward"\nduration = "{"9" * 100_000}x"\n'
    message = _one_line(tmp_path, text + "speed_kmh = 3\n")
    assert len(message) < 200
    assert "is not a duration" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("label", r"\u001b[2J"),
        ("cue", r"stop\rgo"),
        ("label", r"\u202eevil"),
        ("label", r"one\u2028two"),
    ],
)
def test_control_characters_in_program_text_are_refused(
    tmp_path: Path, field: str, value: str
) -> None:
    text = 'name = "c"\n[[steps]]\ndirection = "forward"\nduration = 60\nspeed_kmh = 3\n'
    message = _one_line(tmp_path, text + f'{field} = "{value}"\n')
    assert message.startswith(f"steps[0].{field}: control character U+")
    assert message.endswith("is not allowed (line 6)")


def test_a_description_may_hold_lines_and_tabs() -> None:
    prog = program(fwd(), description="First line.\n\tSecond line.")
    assert prog.description.count("\n") == 1
    with pytest.raises(ValueError, match=r"U\+001B"):
        program(fwd(), description="\x1b[31mred")


def test_keys_are_shown_escaped_on_one_line(tmp_path: Path) -> None:
    text = f'"a\\nb\\u001b[2J" = 1\nmax-speed = 2\nname = "k"\nsteps = [{LEAF}]\n'
    path = write(tmp_path, text)
    with pytest.raises(ProgramError) as info:
        load_program(path)
    assert str(info.value).split("\n") == [
        f"{path}: a\\x0ab\\x1b[2J: Extra inputs are not permitted",
        f"{path}: max-speed: Extra inputs are not permitted (line 2)",
    ]


def test_many_problems_are_counted_not_listed(tmp_path: Path) -> None:
    bad = '{ direction = "sideways", duration = 60, speed_kmh = 3 }'
    path = write(tmp_path, f'name = "m"\nsteps = [{", ".join([bad] * 30)}]\n')
    with pytest.raises(ProgramError) as info:
        load_program(path)
    lines = str(info.value).split("\n")
    assert len(lines) == 21
    assert lines[-1] == f"{path}: and 10 more problems"


def test_printable_escapes_what_a_terminal_would_obey() -> None:
    from retrorun.programs import printable

    assert printable("plain — text, ünïcode") == "plain — text, ünïcode"
    assert printable("\x1b[2J\r\n\t\x7f\x9b") == "\\x1b[2J\\x0d\\x0a\\x09\\x7f\\x9b"
    assert printable("a\u2028b\u202ec") == "a\\u2028b\\u202ec"


def test_shipped_programs_still_validate() -> None:
    assert Program.model_validate(load_program("demo").model_dump()) == load_program("demo")


def test_a_week_of_a_program_without_weeks_or_progression_is_refused() -> None:
    prog = program(fwd(), back())
    assert prog.weeks is None
    assert not prog.progression
    assert plan(prog, week=1).steps
    with pytest.raises(UsageError, match=r"^--week 3: .* has no weeks \(no progression"):
        plan(prog, week=3)
