"""What the command line prints: program text shown not obeyed, a lost reader, a bad --png."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pytest

import retrorun.programs
from retrorun.cli import EXIT_BROKEN_PIPE, main
from retrorun.errors import ProgramError

SHOW = '''\
name = "Tabs"
description = """
First line.
\tIndented line."""
sources = ["A book, page 12"]

[[steps]]
direction = "forward"
duration = 60
speed_kmh = 3
label = "Walk — easy"
'''


def test_show_prints_description_lines_and_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tabs.toml"
    path.write_text(SHOW, encoding="utf-8")
    assert main(["programs", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tabs (novice)\nFirst line.\n    Indented line.\n  source: A book")
    assert "Walk — easy" in out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("plan.jpg", "the file name must end in .png"),
        ("missing/plan.png", "no folder"),
        ("folder.png", "a folder, not a file name"),
    ],
)
def test_a_bad_png_is_refused_before_anything_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    (tmp_path / "folder.png").mkdir()
    assert main(["plan", "demo", "--png", str(tmp_path / name)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert message in err


def test_a_png_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(retrorun.programs, "render_png", full_disk)  # the handler loads it
    png = tmp_path / "plan.png"
    assert main(["plan", "demo", "--png", str(png)]) == 2
    err = capsys.readouterr().err
    assert err == f"retrorun: --png {png}: cannot write: No space left on device\n"


class _GoneReader(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_a_reader_that_goes_away_is_exit_141_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdout", _GoneReader())
    assert main(["plan", "demo"]) == EXIT_BROKEN_PIPE == 141
    assert capsys.readouterr().err == ""


def test_error_lines_show_control_characters_escaped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def hostile(name: str) -> None:
        raise ProgramError(f"{name}: first\x1b[2J\u2028still first\nsecond")

    monkeypatch.setattr(retrorun.programs, "load_program", hostile)
    assert main(["plan", "x"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "retrorun: x: first\\x1b[2J\\u2028still first",
        "retrorun: second",
    ]


def test_the_reference_speed_flag_is_named_as_run_spells_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "reference.toml"
    step = 'direction = "forward"\nduration = 60\nreference_pct = 80\n'
    path.write_text(f'name = "r"\n[[steps]]\n{step}', encoding="utf-8")
    assert main(["plan", str(path)]) == 2
    assert "(--reference-kmh KMH)" in capsys.readouterr().err
    assert main(["plan", str(path), "--reference-kmh", "5"]) == 0
    assert "4.0" in capsys.readouterr().out
    assert main(["programs", "show", str(path), "--reference", "5"]) == 0
