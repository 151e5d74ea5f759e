"""Whole sessions against the embedded simulator, in process, on looptime's fake clock.

What the belt did is read from the simulator's own state log (its ground truth),
never from the controller's belief; the record says what retrorun meant to do.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.record import read_record
from retrorun.session import Session
from treadsim.runtime import Simulator, read_state_log

Driver = Callable[[Session], Coroutine[Any, Any, None]]


@dataclass
class Run:
    """One finished session: exit code, record lines, printed output, the belt's log."""

    code: int
    lines: list[dict[str, Any]]
    printed: str
    states: list[dict[str, Any]]
    simulator: Simulator | None = None
    marks: dict[str, float] = field(default_factory=dict)  # simulator times a driver noted

    def end(self) -> dict[str, Any]:
        [last] = [line for line in self.lines if line["type"] == "end"]
        return last

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["type"] == "event" and (kind is None or line["kind"] == kind)
        ]

    def commands(self, op: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line["type"] == "command" and (op is None or line["op"] == op)
        ]

    def belt_after(self, t: float) -> list[dict[str, Any]]:
        """The simulator's states from simulator time ``t`` on."""
        return [s for s in self.states if s["t"] >= t]


async def run_session(
    tmp_path: Path,
    program: str = "demo",
    faults: tuple[str, ...] = (),
    *,
    driver: Callable[[Session, Simulator], Coroutine[Any, Any, None]] | None = None,
    **extra: Any,
) -> Run:
    """Run a whole session; ``driver`` gets the Session and the Simulator."""
    record = tmp_path / "session.jsonl"
    state_log = extra.pop("sim_state_log", tmp_path / "belt.jsonl")
    options = RunOptions(
        program=program,
        sim_faults=faults,
        yes=extra.pop("yes", True),
        plain=True,
        voice="off",
        record=record,
        reference_kmh=8.0,
        sim_strict=extra.pop("sim_strict", True),  # the strictest treadmill the spec allows
        sim_state_log=state_log,
        **extra,
    )
    out = io.StringIO()
    drivers: list[asyncio.Task[None]] = []
    simulators: list[Simulator] = []

    def on_session(session: Session) -> None:
        if driver is not None:
            task = driver(session, simulators[0])
            drivers.append(asyncio.get_running_loop().create_task(task))

    code = await run_prepared(
        prepare(options), stdout=out, on_session=on_session, on_simulator=simulators.append
    )
    for task in drivers:
        await task  # a failed assertion in the driver fails the test
    states = read_state_log(state_log.read_text()) if state_log.exists() else []
    return Run(
        code,
        list(read_record(record)),
        out.getvalue(),
        states,
        simulators[0] if simulators else None,
    )


def backward_speeds(lines: list[dict[str, Any]]) -> list[float]:
    return [
        line["speed_kmh"]
        for line in lines
        if line["type"] == "telemetry" and line["direction"] == "backward"
    ]
