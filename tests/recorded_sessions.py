"""Real sessions recorded once per test run, read by the report, history and export tests.

Each session runs whole against the embedded simulator (spec-strict) on one
fake-time loop, so one session fixture (``recorded_runs`` in tests/conftest.py)
pays for them once, and every library program runs once per suite; a driver may
press keys and inject faults while it runs. What ``retrorun run`` printed is kept:
the live summary is compared with the report read back from the file. The records
are shared: tests read them and write their changed copies elsewhere.

The sessions: every library program (Balance Steps at its week 2, so that a week
past the first is found from the record), a demo with a lowered ceiling where the
runner presses + at the ceiling, the console speeds the belt up and the runner
stops, a demo that ends in a safety stop, a demo paused and restarted at the
console, and a demo stopped at the console.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import looptime

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.programs import library
from retrorun.session import Session
from session_waits import in_step
from treadsim.runtime import Simulator

Driver = Callable[[Session, Simulator], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Run:
    """One finished session: its record, what ``retrorun run`` printed, its exit code."""

    record: Path
    printed: str
    code: int

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.record.read_text().splitlines()]


@dataclass(frozen=True)
class SessionSpec:
    """A session to record: a name, a program, ``RunOptions`` fields, a driver."""

    name: str
    program: str
    options: dict[str, Any]
    driver: Driver | None = None


async def _run(folder: Path, spec: SessionSpec) -> Run:
    record = folder / f"{spec.name}.jsonl"
    options = RunOptions(
        program=spec.program,
        yes=True,
        plain=True,
        voice="off",
        record=record,
        sim_strict=True,
        **spec.options,
    )
    out = io.StringIO()
    simulators: list[Simulator] = []
    drivers: list[asyncio.Task[None]] = []

    def on_session(session: Session) -> None:
        if spec.driver is not None:
            task = spec.driver(session, simulators[0])
            drivers.append(asyncio.get_running_loop().create_task(task))

    code = await run_prepared(
        prepare(options), stdout=out, on_session=on_session, on_simulator=simulators.append
    )
    for task in drivers:
        await task  # a failed assertion in a driver fails the fixture
    return Run(record, out.getvalue(), code)


def record_sessions(folder: Path, sessions: list[SessionSpec]) -> dict[str, Run]:
    """Run each session on one fake-time loop; their records by name."""
    loop = looptime.new_event_loop()

    async def main() -> dict[str, Run]:
        return {spec.name: await _run(folder, spec) for spec in sessions}

    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


LIBRARY = [name for name, _ in library()]
# What a library program needs beyond the defaults: one that sets the speed by the
# heart is refused without a strap, a maximum and a resting rate (the simulated
# runner's own, as a clinician would give them).
NEEDS: dict[str, dict[str, Any]] = {
    "balance-steps": {"week": 2},
    "heart-rate-walk": {"sim_hr": True, "max_hr": 180, "resting_hr": 70, "sim_hr_max": 180},
}
PRESSES = 16  # the first raises the target to the ceiling, the other 15 are refused


async def _press_then_stop(session: Session, sim: Simulator) -> None:
    await in_step(session, 2)
    for _ in range(PRESSES):
        session.adjust_speed(+10, source="key")
    await asyncio.sleep(5)
    sim.inject("console-speedup:4.0")
    await asyncio.sleep(10)
    assert session.request("stop", source="key")


SESSIONS = [
    *(SessionSpec(name, name, {"reference_kmh": 8.0, **NEEDS.get(name, {})}) for name in LIBRARY),
    SessionSpec("eventful", "demo", {"ceiling": 260}, _press_then_stop),
    SessionSpec(
        "safety-stop",
        "demo",
        {"sim_faults": ("console-speedup@55:6.5", "console-speedup@70:6.5")},
    ),
    SessionSpec(
        "demo-paused",
        "demo",
        {"reference_kmh": 8.0, "sim_faults": ("console-pause@60", "console-start@70")},
    ),
    SessionSpec("demo-stopped", "demo", {"reference_kmh": 8.0, "sim_faults": ("console-stop@60",)}),
]
