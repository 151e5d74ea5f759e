"""Helpers for the program tests: write a program file, build a program from data, time limits."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retrorun.programs import Program


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    """Write ``text`` as ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def program(*steps: dict[str, Any], **fields: Any) -> Program:
    """A program from plain step tables (name defaults to "t")."""
    return Program.model_validate({"name": "t", **fields, "steps": list(steps)})


def fwd(seconds: float = 60, kmh: float = 4.0, **extra: Any) -> dict[str, Any]:
    """A forward step table."""
    return {"direction": "forward", "duration": seconds, "speed_kmh": kmh, **extra}


def back(seconds: float = 60, kmh: float = 2.5, **extra: Any) -> dict[str, Any]:
    """A backward step table."""
    return {"direction": "backward", "duration": seconds, "speed_kmh": kmh, **extra}


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail with ``TimeoutError`` when the block runs longer than ``seconds`` (main thread).

    A program that hangs the planner (a huge expansion, a loop over a huge week)
    fails its test in ``seconds`` instead of hanging the suite.
    """

    def expired(signum: int, frame: object) -> None:
        del signum, frame
        raise TimeoutError(f"took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def nested_repeats(levels: int, leaf: str, times: int = 100) -> str:
    """A TOML program of ``levels`` repeat blocks of ``times`` around one inline ``leaf``."""
    inner = leaf
    for _ in range(levels):
        inner = f"{{ repeat = {times}, steps = [{inner}] }}"
    return f'name = "n"\nsteps = [{inner}]\n'
