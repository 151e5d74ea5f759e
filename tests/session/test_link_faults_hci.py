"""Link faults across an HCI transport: a real ``treadsim`` process frozen, killed or
restarted under a real ``retrorun run --hci tcp-client:...`` (real time).

What the belt did is read from the simulator's ``--state-log``; what retrorun meant
to do, from its record. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from process_support import stop_process
from retrorun.record import read_record
from treadsim.runtime import read_state_log

pytestmark = [pytest.mark.process, pytest.mark.slow]

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}

# One long backward step at a walking speed: the belt is moving backward from the
# first seconds, and the step outlasts every test.
PROGRAM = """\
name = "Link faults"
description = "One long backward step"
profile = "novice"

[[steps]]
kind = "work"
direction = "backward"
duration = "10m"
speed_kmh = 2.5
label = "Backward walk"
cue = "Walk backward."
"""


def wait_until(condition: Callable[[], bool], limit_s: float, what: str) -> float:
    """Poll ``condition`` for at most ``limit_s`` wall seconds; the time it took."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {limit_s:g} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Treadsim:
    proc: subprocess.Popen[bytes]
    log: Path

    def states(self) -> list[dict[str, Any]]:
        return read_state_log(self.log.read_text()) if self.log.exists() else []


def start_treadsim(tmp_path: Path, name: str, port: int, *extra: str) -> tuple[Treadsim, str]:
    """A ``treadsim`` process serving ``tcp-server:127.0.0.1:PORT``; and the spec to reach it."""
    log = tmp_path / f"{name}.jsonl"
    out = tmp_path / f"{name}.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(BIN / "treadsim"),
                "--listen",
                f"tcp-server:127.0.0.1:{port}",
                "--quiet",
                "--state-log",
                str(log),
                *extra,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    sim = Treadsim(proc, log)
    try:
        wait_until(lambda: "--hci tcp-client:" in out.read_text(), 20, "treadsim listening")
    except AssertionError:
        stop_process(proc)
        raise AssertionError(out.read_text()) from None
    return sim, out.read_text().rsplit("--hci ", 1)[1].split()[0]


@dataclass
class Retrorun:
    proc: subprocess.Popen[bytes]
    record: Path
    out: Path
    err: Path

    def lines(self) -> list[dict[str, Any]]:
        return list(read_record(self.record)) if self.record.exists() else []

    def events(self) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["type"] == "event"]

    def finish(self, limit_s: float) -> tuple[int, str, str]:
        code = self.proc.wait(limit_s)
        return code, self.out.read_text(), self.err.read_text()


def start_retrorun(tmp_path: Path, spec: str) -> Retrorun:
    program = tmp_path / "long-backward.toml"
    program.write_text(PROGRAM)
    run = Retrorun(
        proc=None,  # type: ignore[arg-type]
        record=tmp_path / "run.jsonl",
        out=tmp_path / "retrorun.out",
        err=tmp_path / "retrorun.err",
    )
    with run.out.open("wb") as out, run.err.open("wb") as err:
        run.proc = subprocess.Popen(
            [
                str(BIN / "retrorun"),
                "run",
                str(program),
                "--hci",
                spec,
                "--device",
                "Generic FTMS",
                "--yes",
                "--plain",
                "--voice",
                "off",
                "--record",
                str(run.record),
            ],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=ENV,
        )
    return run


@contextlib.contextmanager
def cleanup(*procs: Callable[[], subprocess.Popen[Any] | None]) -> Iterator[None]:
    try:
        yield
    finally:
        for get in procs:
            proc = get()
            if proc is not None:
                stop_process(proc)


def belt_moving_backward(sim: Treadsim, run: Retrorun) -> bool:
    assert run.proc.poll() is None, run.err.read_text()
    states = sim.states()
    return bool(states) and states[-1]["running"] and states[-1]["belt_kmh"] >= 1.0


@contextlib.contextmanager
def walking_backward(tmp_path: Path, port: int = 0) -> Iterator[tuple[Treadsim, Retrorun]]:
    """A ``treadsim`` on ``port`` (0: any free one) and a ``retrorun run`` against it,
    once the belt has moved backward for 3 s; both stopped on the way out."""
    sim, spec = start_treadsim(tmp_path, "belt", port)
    run: Retrorun | None = None
    with cleanup(lambda: sim.proc, lambda: run.proc if run else None):
        run = start_retrorun(tmp_path, spec)
        wait_until(lambda: belt_moving_backward(sim, run), 30, "the belt moving backward")
        time.sleep(3)
        yield sim, run


def stopped(state: dict[str, Any]) -> bool:
    return state["connected"] and not state["running"] and state["target_kmh"] == 0.0


def assert_quiet(err: str) -> None:
    """Nothing for the runner but retrorun's own words: no traceback, no bumble noise."""
    assert "Traceback" not in err, err
    assert "mismatch" not in err, err
    assert "bumble" not in err, err


def interrupt_and_check_stopped(run: Retrorun, sim: Treadsim) -> str:
    run.proc.send_signal(signal.SIGINT)
    code, out, err = run.finish(30)
    assert code == 130, err
    [end] = [line for line in run.lines() if line["type"] == "end"]
    assert end["reason"] == "signal"
    assert end["belt_stopped"] is True
    last = sim.states()[-1]
    assert not last["running"]
    assert last["target_kmh"] == 0.0
    assert_quiet(err)
    return out


@pytest.mark.hazard("HZ-11")
def test_a_frozen_treadmill_side_is_reconnected_and_its_belt_stopped(tmp_path: Path) -> None:
    with walking_backward(tmp_path) as (sim, run):
        sim.proc.send_signal(signal.SIGSTOP)
        time.sleep(10)
        before = len(sim.states())
        sim.proc.send_signal(signal.SIGCONT)
        # The watchdog saw the stall 3 s into the freeze; the link comes back on SIGCONT
        # and the first thing the reconnect does is stop the belt.
        took = wait_until(
            lambda: any(stopped(s) for s in sim.states()[before:]), 10, "belt stopped after CONT"
        )
        assert took < 10
        kinds = [(e["kind"], e["message"]) for e in run.events()]
        assert any(k == "link_lost" and "stalled" in m for k, m in kinds), kinds
        wait_until(
            lambda: any(e["kind"] == "link_restored" for e in run.events()), 5, "link_restored"
        )
        assert not any("Could not reconnect" in m for _k, m in kinds), kinds
        # The session goes on (--yes: a short hold, then it resumes).
        wait_until(lambda: any(e["kind"] == "resumed" for e in run.events()), 15, "resumed")
        interrupt_and_check_stopped(run, sim)


@pytest.mark.hazard("HZ-11", "HZ-19")
def test_a_killed_treadmill_side_ends_the_session_with_link_lost(tmp_path: Path) -> None:
    with walking_backward(tmp_path) as (sim, run):
        sim.proc.kill()
        sim.proc.wait(10)
        killed = time.monotonic()
        code, out, err = run.finish(30)
        assert time.monotonic() - killed < 25  # the reconnect's attempts, then the end
        assert code == 1, err
        [end] = [line for line in run.lines() if line["type"] == "end"]
        assert end["reason"] == "link_lost"
        assert end["belt_stopped"] is False  # nobody could see the belt stop
        assert any("Could not reconnect" in e["message"] for e in run.events())
        assert "link lost" in out
        assert "Stop it at the treadmill's console or pull the safety key" in out
        assert_quiet(err)


@pytest.mark.hazard("HZ-11")
def test_a_restarted_treadmill_side_is_reconnected_and_its_belt_stopped(tmp_path: Path) -> None:
    port = free_port()
    new: Treadsim | None = None
    with (
        walking_backward(tmp_path, port) as (sim, run),
        cleanup(lambda: new.proc if new else None),
    ):
        sim.proc.kill()
        sim.proc.wait(10)
        # Back on the same port, its belt running (the machine kept going while its
        # Bluetooth side restarted).
        new, _ = start_treadsim(tmp_path, "belt-after-restart", port, "--initial-speed", "2.5")
        wait_until(lambda: bool(new.states()), 5, "the new belt's first state")
        # Moving at its first state (a reconnect as quick as the simulator's first tick
        # may already have told it to stop: running down, not yet at rest).
        assert new.states()[0]["belt_kmh"] > 0
        wait_until(lambda: any(stopped(s) for s in new.states()), 15, "the new belt stopped")
        wait_until(
            lambda: any(e["kind"] == "link_restored" for e in run.events()), 5, "link_restored"
        )
        assert not any("Could not reconnect" in e["message"] for e in run.events())
        wait_until(lambda: any(e["kind"] == "resumed" for e in run.events()), 15, "resumed")
        interrupt_and_check_stopped(run, new)
