"""``retrorun programs new`` and ``docs/programs.md``: every example and template validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retrorun.cli import main
from retrorun.programs import TEMPLATES, load_program, parse_program, plan, template_text

DOCS = Path(__file__).parents[2] / "docs" / "programs.md"


def _examples() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)


def test_docs_programs_has_three_worked_examples_that_validate_and_plan() -> None:
    examples = _examples()
    assert len(examples) >= 3
    for n, text in enumerate(examples):
        program = parse_program(text, source=f"docs/programs.md example {n + 1}")
        for week in range(1, (program.weeks or 1) + 1):
            assert plan(program, reference_kmh=10.0, week=week).steps


def test_each_template_is_a_docs_example() -> None:
    examples = _examples()
    for name in TEMPLATES:
        assert template_text(name, "Example") in examples, name


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_programs_new_writes_a_file_that_validates(
    tmp_path: Path, template: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.toml"
    args = ["programs", "new", 'Hill "Repeats"', "--template", template, "--output", str(out)]
    assert main(args) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    program = load_program(str(out))
    assert program.name == 'Hill "Repeats"'
    assert out.read_text(encoding="utf-8").count("\n#") >= 2  # commented for a coach
    assert main(["programs", "validate", str(out)]) == 0


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["x", "--template", "zz"], "--template zz: choose from first-steps, intervals, runner"),
        (["a\x1bb"], "NAME 'a\\x1bb': give printable text"),
        (["x", "--output", "x.txt"], "the file name must end in .toml"),
        (["x", "--output", "{existing}"], "already exists (give another NAME or --output)"),
    ],
)
def test_programs_new_refuses_in_one_line(
    tmp_path: Path, args: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "mine.toml"
    existing.write_text("kept", encoding="utf-8")
    args = [a.replace("{existing}", str(existing)) for a in args]
    assert main(["programs", "new", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert line in err
    assert existing.read_text(encoding="utf-8") == "kept"
