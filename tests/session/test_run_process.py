"""``retrorun run`` as a real process: signals, kill -9, bad input (real time)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retrorun.record import read_record, summarize
from treadsim.runtime import read_state_log

pytestmark = pytest.mark.process

RETRORUN = str(Path(sys.executable).parent / "retrorun")


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], Path, Path]:
    record = tmp_path / "run.jsonl"
    belt = tmp_path / "belt.jsonl"
    proc = subprocess.Popen(
        [
            RETRORUN,
            "run",
            "demo",
            "--yes",
            "--plain",
            "--voice",
            "off",
            "--speedup",
            "10",
            "--record",
            str(record),
            "--sim-state-log",
            str(belt),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, record, belt


def wait_for_backward(
    record: Path, proc: subprocess.Popen[str], limit_s: float = 60, *, records: int = 1
) -> None:
    """Wait until ``records`` backward telemetry lines with the belt moving are written."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        moving = [
            line
            for line in (read_record(record) if record.exists() else ())
            if line.get("type") == "telemetry"
            and line.get("direction") == "backward"
            and line.get("speed_kmh", 0) > 1.0
        ]
        if len(moving) >= records:
            return
        time.sleep(0.05)
    raise AssertionError("no backward telemetry in time")


def last_belt_state(belt: Path) -> dict[str, object]:
    state: dict[str, object] = read_state_log(belt.read_text())[-1]
    return state


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.hazard("HZ-08", "HZ-09")
def test_a_signal_during_a_backward_step_stops_the_belt_first(
    tmp_path: Path, signum: int, code: int
) -> None:
    proc, record, belt = start(tmp_path)
    wait_for_backward(record, proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    state = last_belt_state(belt)
    assert state["running"] is False
    assert state["target_kmh"] == 0.0
    lines = list(read_record(record))
    [end] = [line for line in lines if line["type"] == "end"]
    assert end["reason"] == "signal"
    assert end["belt_stopped"] is True
    assert "belt stopped" in out


@pytest.mark.hazard("HZ-19")
def test_a_record_cut_by_kill_9_still_reads(tmp_path: Path) -> None:
    proc, record, _belt = start(tmp_path)
    wait_for_backward(record, proc, records=2)  # one span facing backward
    proc.kill()
    proc.communicate(timeout=30)
    with record.open("a") as f:
        f.write('{"type": "telemetry", "t": 9')  # a torn last line, as a crash leaves
    lines = list(read_record(record))
    assert lines[0]["type"] == "start"
    assert all(line["type"] != "end" for line in lines)
    summary = summarize(lines)
    assert summary.program == "Demo"
    assert summary.backward_s > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope-program"], "no such program"),
        (["demo", "--ceiling", "9"], "ceiling"),
        (["demo", "--sim-fault", "warp@3"], "unknown fault"),
        (["demo", "--speedup", "-2"], "--speedup"),
        (["demo", "--device", "T1", "--speedup", "5"], "--speedup"),
        (["demo", "--mqtt", "http://broker"], "mqtt"),
        (["demo", "--profile", "superhuman"], "--profile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = subprocess.run(
        [RETRORUN, "run", *args, "--yes", "--plain", "--voice", "off"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_without_a_terminal_yes_is_required() -> None:
    done = subprocess.run(
        [RETRORUN, "run", "demo", "--plain"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "--yes" in done.stderr


def _run(tmp_path: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RETRORUN, "run", "demo", "--yes", "--plain", "--voice", "off", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        check=False,
    )


@pytest.mark.hazard("HZ-19")
def test_a_record_that_cannot_be_written_never_takes_the_session_down(tmp_path: Path) -> None:
    belt = tmp_path / "belt.jsonl"
    done = _run(tmp_path, "--speedup", "100", "--record", "/dev/full", "--sim-state-log", str(belt))
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 1, done.stdout + done.stderr  # completed, record incomplete
    assert "Demo: completed" in done.stdout  # the summary is the session's own
    assert "the record is incomplete" in done.stdout
    assert read_state_log(belt.read_text())[-1]["belt_kmh"] == 0.0


@pytest.mark.parametrize("where", ["folder", "unwritable-parent"])
@pytest.mark.hazard("HZ-19")
def test_a_record_path_that_cannot_work_is_refused_before_the_belt_moves(
    tmp_path: Path, where: str
) -> None:
    if where == "folder":
        record = tmp_path
    else:
        blocker = tmp_path / "plain-file"
        blocker.write_text("")
        record = blocker / "run.jsonl"
    belt = tmp_path / "belt.jsonl"
    done = _run(tmp_path, "--record", str(record), "--sim-state-log", str(belt), timeout=30)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--record" in done.stderr
    assert not belt.exists()  # nothing connected, nothing moved


def test_an_unusable_home_folder_is_one_line_before_anything_moves(tmp_path: Path) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("")  # a home that cannot hold the default record folder
    env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    env["HOME"] = str(home)
    done = subprocess.run(
        [RETRORUN, "run", "demo", "--yes", "--plain", "--voice", "off"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "--record" in done.stderr


def test_no_log_record_reaches_the_runners_terminal(tmp_path: Path) -> None:
    """Libraries' warnings (bumble's above all) never print into the session."""
    done = _run(tmp_path, "--speedup", "100", "--record", str(tmp_path / "r.jsonl"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "WARNING" not in done.stdout
