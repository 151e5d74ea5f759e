"""Bad input end to end through the installed command: exit 2, one stderr line, no traceback.

Each case runs ``retrorun`` in its own process, a few at a time, with its address
space capped at 1 GiB and a time limit: a case that hangs, eats memory or prints
a traceback fails here, as it would for a person at a terminal.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

RETRORUN = Path(sys.executable).parent / "retrorun"
MEMORY_LIMIT = 1 << 30  # bytes of address space for one command
TIME_LIMIT_S = 20.0  # a process that takes longer has hung
WALL_LIMIT_S = 15.0  # not a timing: a wait on input that never comes (about 0.3 s here)

LEAF = '{ direction = "forward", duration = 60, speed_kmh = 3 }'
STEP = 'name = "s"\n[[steps]]\ndirection = "forward"\nduration = 60\nspeed_kmh = 3\n'


def _nested(levels: int, leaf: str, times: int = 100) -> str:
    inner = leaf
    for _ in range(levels):
        inner = f"{{ repeat = {times}, steps = [{inner}] }}"
    return f'name = "n"\nsteps = [{inner}]\n'


def _rule(target: str, values: str) -> str:
    return (
        f'name = "p"\n[[progression]]\ntarget = "{target}"\n{values}\n'
        f"[[steps]]\nrepeat = 4\nsteps = [{LEAF}]\n"
    )


FILES = {
    "up-to-inf.toml": _rule("reps", "by = 1\nup_to = inf"),
    "by-inf.toml": _rule("reps", "by = inf"),
    "bool.toml": STEP.replace("duration = 60", "duration = true"),
    "brackets.toml": 'name = "x"\na = ' + "[" * 5000 + "]" * 5000 + "\n",
    "repeats.toml": _nested(2000, LEAF, times=1),
    "deep.json": '{"name": "x", "steps": ' + "[" * 3000 + "]" * 3000 + "}",
    "tiny.toml": _nested(4, '{ direction = "forward", duration = 1e-5, speed_kmh = 3 }'),
    "distance.toml": _nested(3, '{ direction = "forward", distance_m = 1, reference_pct = 100 }'),
    "ansi.toml": STEP + 'label = "\\u001b[2J\\u001b[31mred"\n',
    "long.toml": _nested(2, LEAF.replace("60", "1"), times=50),  # a plan of 2,500 rows
}

# (id, arguments, what the one stderr line says)
CASES: list[tuple[str, list[str], str]] = [
    ("up-to-inf", ["plan", "up-to-inf.toml", "--week", "3"],
     "up-to-inf.toml: progression[0].up_to: Input should be a finite number (line 5)"),
    ("by-inf", ["plan", "by-inf.toml", "--week", "3"],
     "by-inf.toml: progression[0].by: Input should be a finite number (line 4)"),
    ("duration-true", ["programs", "validate", "bool.toml"],
     "bool.toml: steps[0].duration: Input should be a valid number (line 4)"),
    ("ceiling-inf", ["run", "demo", "--yes", "--ceiling", "inf"],
     "argument --ceiling: must be above 0 and at most 25 km/h, not 'inf'"),
    ("speedup-half", ["run", "demo", "--yes", "--speedup", "0.5"],
     "argument --speedup: must be from 1 to 10000, not '0.5'"),
    ("speedup-inf", ["run", "demo", "--yes", "--speedup", "inf"],
     "argument --speedup: must be from 1 to 10000, not 'inf'"),
    ("run-week", ["run", "demo", "--yes", "--week", "99999999999"],
     "argument --week: must be from 1 to 52, not '99999999999'"),
    ("plan-week", ["plan", "demo", "--week", "99999999999"],
     "argument --week: must be from 1 to 52, not '99999999999'"),
    ("run-week-no-weeks", ["run", "demo", "--yes", "--week", "3"],
     "--week 3: Demo has no weeks (no progression: every session is the same)"),
    ("plan-week-no-weeks", ["plan", "demo", "--week", "3"],
     "--week 3: Demo has no weeks (no progression: every session is the same)"),
    ("weight-5000", ["run", "demo", "--yes", "--weight-kg", "5000"],
     "argument --weight-kg: must be from 20 to 350 kg, not '5000'"),
    ("weight-inf", ["run", "demo", "--yes", "--weight-kg", "inf"],
     "argument --weight-kg: must be from 20 to 350 kg, not 'inf'"),
    ("reference-nan", ["run", "demo", "--yes", "--reference-kmh", "nan"],
     "argument --reference-kmh: must be above 0 and at most 25 km/h, not 'nan'"),
    ("max-hr", ["run", "demo", "--yes", "--max-hr", "241"],
     "argument --max-hr: must be from 60 to 240 bpm, not '241'"),
    ("age", ["run", "demo", "--yes", "--age", "9"],
     "argument --age: must be from 10 to 110 years, not '9'"),
    ("scan-timeout", ["scan", "--timeout", "inf"],
     "argument --timeout: must be above 0 and at most 600 s, not 'inf'"),
    ("toml-brackets", ["plan", "brackets.toml"],
     "brackets.toml: tables and arrays nest more than 64 deep (line 2)"),
    ("repeats-2000", ["programs", "validate", "repeats.toml"],
     "repeats.toml: tables and arrays nest more than 64 deep (line 2)"),
    ("json-3000", ["plan", "deep.json"],
     "deep.json: tables and arrays nest more than 64 deep (line 1)"),
    ("tiny-steps", ["programs", "validate", "tiny.toml"],
     "tiny.toml: steps: the program expands to 100,000,000 steps; at most 5,000 (line 2)"),
    ("reference-distance", ["plan", "distance.toml", "--reference", "5"],
     "distance.toml: steps: the program expands to 1,000,000 steps; at most 5,000 (line 2)"),
    ("fifo", ["plan", "fifo.toml"], "fifo.toml: not a regular file"),
    ("device", ["plan", "/dev/zero"], "/dev/zero: not a regular file"),
    ("folder", ["plan", "folder.toml"], "folder.toml: a folder, not a program file"),
    ("ansi-label", ["plan", "ansi.toml"],
     "ansi.toml: steps[0].label: control character U+001B is not allowed (line 6)"),
    ("ansi-name", ["plan", "\x1b[2J\x1b[31mred"], "\\x1b[2J\\x1b[31mred: no such program"),
    ("png-folder", ["plan", "demo", "--png", "missing/plan.png"],
     "--png missing/plan.png: no folder missing to write it in"),
]  # fmt: skip


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str
    wall_s: float


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONIOENCODING")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), **extra)
    return env


def _retrorun(folder: Path, args: list[str], **env: str) -> Done:
    start = time.monotonic()
    try:
        done = subprocess.run(
            [str(RETRORUN), *args],
            cwd=folder,
            env=_env(folder, **env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIME_LIMIT_S,
            preexec_fn=_cap_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Done(-1, "", f"hung: still running after {TIME_LIMIT_S:g} s\n", TIME_LIMIT_S)
    out, err = (data.decode("utf-8", "replace") for data in (done.stdout, done.stderr))
    return Done(done.returncode, out, err, time.monotonic() - start)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    here = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (here / name).write_text(text, encoding="utf-8")
    os.mkfifo(here / "fifo.toml")  # nobody ever writes to it
    (here / "folder.toml").mkdir()
    return here


@pytest.fixture(scope="module")
def results(folder: Path) -> dict[str, Done]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(_retrorun, folder, args) for name, args, _ in CASES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize(("name", "args", "line"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(
    results: dict[str, Done], name: str, args: list[str], line: str
) -> None:
    del args
    done = results[name]
    assert "Traceback" not in done.err
    assert done.code == 2, done.err
    assert done.out == ""
    assert done.err.count("\n") == 1, done.err
    assert line in done.err
    assert "\x1b" not in done.err
    assert done.wall_s < WALL_LIMIT_S


def test_output_in_ascii_is_escaped_not_a_traceback(folder: Path) -> None:
    done = _retrorun(folder, ["plan", "demo"], PYTHONIOENCODING="ascii")
    assert done.code == 0, done.err
    assert done.err == ""
    assert done.out.startswith("Demo \\u2014 novice, week 1")
    bad = _retrorun(folder, ["plan", "r\u00e9tro"], PYTHONIOENCODING="ascii")
    assert bad.code == 2
    assert bad.err.count("\n") == 1
    assert bad.err.startswith("retrorun: r\\xe9tro: no such program")


def test_a_reader_that_goes_away_ends_the_command_quietly(folder: Path) -> None:
    with subprocess.Popen(
        [str(RETRORUN), "plan", "long.toml"],
        cwd=folder,
        env=_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith("n — novice")
        proc.stdout.close()  # like `| head -1`: the rest of the plan has no reader
        err = proc.stderr.read()
        code = proc.wait(timeout=TIME_LIMIT_S)
    assert code == 141
    assert err == ""
