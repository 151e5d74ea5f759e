"""The shipped library: every file validates and plans; the commands and the picture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from retrorun.cli import main
from retrorun.events import Direction
from retrorun.limits import RunnerProfile
from retrorun.programs import Program, library, library_names, load_program, plan, render_png

SHIPPED = Path(__file__).parents[2] / "programs"
SIX = [
    "retro-intro",
    "knee-friendly-walk",
    "quad-builder",
    "retro-endurance",
    "retro-run-intervals",
    "balance-steps",
]
#: Built on heart-rate zones (needs a strap and a maximum to run).
HEART_RATE = ["heart-rate-walk"]


def test_library_holds_the_six_templates_the_heart_rate_walk_and_the_demo() -> None:
    assert sorted(library_names()) == sorted([*SIX, *HEART_RATE, "demo"])
    assert sorted(p.stem for p in SHIPPED.glob("*.toml")) == sorted(library_names())


@pytest.mark.parametrize(("name", "program"), library(), ids=library_names())
def test_every_shipped_program_plans_every_week_for_every_profile(
    name: str, program: Program
) -> None:
    assert program.sources, f"{name} cites no source"
    assert program.description
    for week in range(1, (program.weeks or 1) + 1):
        for profile in RunnerProfile:
            result = plan(program, profile=profile, week=week)
            assert result.total_s > 0
            assert all(
                s.speed <= result.ceiling
                for s in result.steps
                if s.direction is not Direction.FORWARD
            )


def test_profiles_match_the_templates() -> None:
    profiles = {name: program.profile for name, program in library()}
    assert profiles == {
        "demo": RunnerProfile.NOVICE,
        "retro-intro": RunnerProfile.NOVICE,
        "knee-friendly-walk": RunnerProfile.REHAB,
        "quad-builder": RunnerProfile.NOVICE,
        "retro-endurance": RunnerProfile.RECREATIONAL,
        "retro-run-intervals": RunnerProfile.TRAINED,
        "balance-steps": RunnerProfile.OLDER_ADULT,
        "heart-rate-walk": RunnerProfile.REHAB,
    }


def test_demo_is_a_two_minute_tour() -> None:
    result = plan(load_program("demo"))
    assert 100 <= result.total_s <= 150
    directions = {s.direction for s in result.steps}
    assert directions == {Direction.FORWARD, Direction.BACKWARD, Direction.TURNING}


def test_balance_steps_never_turn_and_rest_on_a_stopped_belt() -> None:
    result = plan(load_program("balance-steps"))
    assert not any(s.turnaround for s in result.steps)
    assert sum(1 for s in result.steps if s.stop_belt) == 2


def test_validate_every_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in SHIPPED.glob("*.toml"))
    assert main(["programs", "validate", *files]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok (") == len(files)


def test_programs_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "list"]) == 0
    out = capsys.readouterr().out
    for name in library_names():
        assert name in out
    assert "demo                 novice" in out
    assert "2:04, 0:50 backward" in out


def test_programs_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "show", "knee-friendly-walk"]) == 0
    out = capsys.readouterr().out
    assert "Alghadir 2019" in out
    assert "progression: duration +120s a week" in out
    assert "→backward" in out
    assert "stop" in out  # rehab turn-arounds stop the belt


def test_plan_table_and_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "intro.png"
    code = main(
        [
            "plan",
            "retro-intro",
            "--week",
            "2",
            "--ceiling",
            "2.2",
            "--profile",
            "novice",
            "--png",
            str(png),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Retro Intro — novice, week 2, backward ceiling 2.2 km/h" in out
    assert "1:15  Backward walk" in out
    assert "2 turn-arounds" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", library_names())
def test_png_of_each_library_program(tmp_path: Path, name: str) -> None:
    out = render_png(plan(load_program(name)), tmp_path / f"{name}.png", subtitle="week 1")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # a real picture, not an empty canvas


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "demo", "--ceiling", "6"], "can only be lowered"),
        (["plan", "demo", "--png", "x.jpg"], "must end in .png"),
        (["plan", "retro-intro", "--week", "3"], "runs for 2 weeks"),
        (["plan", "nope"], "no such program"),
        (["programs", "show", "missing.toml"], "missing.toml: no such file"),
    ],
)
def test_bad_plan_requests_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_bad_flag_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["plan", "demo", "--week", "0"])
    assert info.value.code == 2
    assert "argument --week: must be from 1 to 52, not '0'" in capsys.readouterr().err


@pytest.mark.process
def test_matplotlib_is_imported_only_for_a_picture() -> None:
    code = "import sys, retrorun.cli, retrorun.programs; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_programs_show_numbers_steps_as_the_session_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """From 1, like the display's "step 1/6" and the report's table."""
    assert main(["programs", "show", "demo"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    numbered = [row for row in rows if row and row[0].isdigit() and ":" in row[1]]
    assert [int(row[0]) for row in numbered] == [1, 2, 3, 4, 5, 6]
    assert numbered[0][2:4] == ["warmup", "forward"]
