"""A fault explorer: random schedules, whole sessions, judged on the simulator's belt.

Each *schedule* is a program (generated or from the library), a runner profile, a
user ceiling, a device profile, simulator faults (timed, repeated, listed, or
waiting for a write, a pause or a stop), a belt already moving at power-on, and
actions at chosen moments (pause, resume, stop, +/-, a signal, a fault injected
when the session starts turning, pauses or faces backward). It runs as a whole
``retrorun run`` session on the embedded simulator on fake time (looptime).

A probe samples every 0.1 s of loop time what the simulator's belt really does
(speed, target, running, connected) beside what retrorun intends (status,
direction, turn-around limit, ceiling, tolerance, paused). The simulator's own
records (what it sent), its fault firings, and its state are the truth; retrorun's
phase says what the belt should do; the invariants of ``docs/safety.md`` compare
the two. retrorun's own record is judged too, against the simulator.

Run by path: ``python tests/explore/explorer.py [--budget N] [--seed S] [--case I]``
(``scripts/explore-safety``); the CI test in ``test_explore.py`` imports it.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import io
import itertools
import logging
import math
import multiprocessing
import os
import random
import re
import shlex
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import looptime

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.devices import load_device_profile, match_device_profile
from retrorun.errors import RetrorunError
from retrorun.events import Direction, Status
from retrorun.ftms import ControlOp, ControlRequest, ResultCode
from retrorun.limits import PROFILE_LIMITS, TRAINED_UNLOCKED_CEILING, RunnerProfile
from retrorun.record import read_record
from retrorun.safety import EXCURSION_WINDOW_S, RUNDOWN_MARGIN_S
from retrorun.session import EndReason, Session
from treadsim.faults import Fault
from treadsim.runtime import TICK_S, Simulator

ROOT = Path(__file__).resolve().parents[2]
DEVICES = ROOT / "devices"

# ----------------------------------------------------------------------- figures
#: The probe's period: the simulator's physics tick.
PROBE_S = TICK_S
#: Command latency: from the moment the simulator sends a record to the moment a
#: command answering it has changed the simulated belt's target. The controller
#: answers a record in the same loop turn it arrives; a command can wait for one
#: procedure already in flight, whose answer goes out on the next tick. Two ticks,
#: plus one tick for the probe's sampling grid.
LATENCY_S = 3 * TICK_S
#: The belt is "at rest" at or under this (km/h): the resolution of every display.
REST_KMH = 0.1
#: A runner who paused (or whose console paused the belt) resumes after this long.
RUNNER_RESUME_S = 30.0
#: The fake-time bound on a session: its plan's length plus this.
SESSION_SLACK_S = 900.0
#: Wall seconds one session may take before it counts as spinning (normal: < 2 s).
WALL_LIMIT_S = 10.0
#: Faults that can put the belt over a limit by themselves (outside causes).
SPEED_CAUSES = frozenset({"spurious-speed", "console-speedup", "console-start"})
#: The end reasons a session may give without that being a finding by itself.
END_REASONS = frozenset(str(r) for r in EndReason)
#: Each invariant and the hazards of ``docs/safety-case.md`` whose controls it judges
#: (``tests/test_safety_case.py`` holds every ``Finding`` name to this mapping).
INVARIANT_HAZARDS: dict[str, tuple[str, ...]] = {
    "excursion-answered": ("HZ-02", "HZ-05"),
    "over-limit-without-cause": ("HZ-01", "HZ-05"),
    "target-over-limit": ("HZ-01", "HZ-02", "HZ-05"),
    "recurrent-excursion": ("HZ-03",),
    "paused-belt-runs": ("HZ-06", "HZ-11"),
    "stop-on-end": ("HZ-08", "HZ-09"),
    "session-returns": ("HZ-08", "HZ-10"),
    "record-end": ("HZ-19",),
    "no-silent-task-end": ("HZ-10",),
    "record-agrees": ("HZ-19",),
}


# --------------------------------------------------------------------- schedules


@dataclass(frozen=True, slots=True)
class Action:
    """Something done to the session: at session time ``at``, or ``delay`` seconds
    after the ``nth`` time the session enters ``on`` (turning, paused, backward).

    ``what``: pause, resume, stop, faster, slower, signal, or ``inject:SPEC``.
    """

    what: str
    at: float | None = None
    on: str | None = None
    nth: int = 1
    delay: float = 0.0

    def __str__(self) -> str:
        when = f"t={self.at:g}" if self.at is not None else f"{self.on}#{self.nth}+{self.delay:g}"
        return f"{self.what}@{when}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """One session to run (everything a run needs, and nothing random left)."""

    seed: int
    case: int
    program: str  # a library name, or "" for the generated one below
    program_toml: str = ""
    profile: str | None = None
    ceiling: int | None = None  # 0.01 km/h
    unlock_fast: bool = False
    device: str | None = None  # a file name in devices/, None: the default
    faults: tuple[str, ...] = ()
    initial_speed: float = 0.0
    actions: tuple[Action, ...] = ()

    def program_arg(self, workdir: Path) -> str:
        """The PROGRAM argument: the library name, or the generated file (written)."""
        if self.program:
            return self.program
        path = workdir / f"explore-{self.seed}-{self.case}.toml"
        path.write_text(self.program_toml, encoding="utf-8")
        return str(path)

    def options(self, workdir: Path, *, record: Path, state_log: Path | None) -> RunOptions:
        return RunOptions(
            program=self.program_arg(workdir),
            sim_profile=DEVICES / self.device if self.device else None,
            sim_faults=self.faults,
            sim_initial_speed=self.initial_speed,
            profile=RunnerProfile(self.profile) if self.profile else None,
            ceiling=self.ceiling,
            unlock_fast=self.unlock_fast,
            reference_kmh=8.0,
            yes=True,
            plain=True,
            voice="off",
            record=record,
            sim_state_log=state_log,
        )

    def command(self, workdir: Path) -> str:
        """The schedule as a ``retrorun run`` command line (actions listed after it)."""
        words = ["retrorun", "run", self.program_arg(workdir)]
        if self.profile:
            words += ["--profile", self.profile]
        if self.ceiling is not None:
            words += ["--ceiling", f"{self.ceiling / 100:g}"]
        if self.unlock_fast:
            words.append("--unlock-fast")
        if self.device:
            words += ["--sim-profile", f"devices/{self.device}"]
        if self.initial_speed:
            words += ["--sim-initial-speed", f"{self.initial_speed:g}"]
        for fault in self.faults:
            words += ["--sim-fault", fault]
        words += ["--reference-kmh", "8", "--yes", "--plain", "--voice", "off", "--speedup", "1000"]
        line = shlex.join(words)
        if self.actions:
            line += "  # actions: " + ", ".join(str(a) for a in self.actions)
        return line

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        data = dict(data)
        data["faults"] = tuple(data["faults"])
        data["actions"] = tuple(Action(**a) for a in data["actions"])
        return cls(**data)


def _devices() -> list[str]:
    return sorted(p.name for p in DEVICES.glob("*.toml"))


def _r1(x: float) -> float:
    return round(x, 1)


def _generated_program(rng: random.Random, ceiling_kmh: float) -> str:
    """A short program: forward and backward steps around and over the ceiling."""
    lines = [
        f'name = "Explore {rng.randrange(10**6)}"',
        'profile = "trained"',  # the file allows backward up to 10 km/h; the run clamps
        "",
    ]
    direction = rng.choice(["forward", "backward"])
    for i in range(rng.randint(2, 6)):
        if i and rng.random() < 0.6:
            direction = "backward" if direction == "forward" else "forward"
        duration = rng.randint(5, 40)
        lines.append("[[steps]]")
        lines.append(f'direction = "{direction}"')
        lines.append(f"duration = {duration}")
        if i and rng.random() < 0.12:
            lines += ['kind = "recovery"', "stop_belt = true", ""]
            continue
        if direction == "backward":
            speed = min(10.0, max(0.6, rng.gauss(ceiling_kmh, 1.5)))
        else:
            speed = rng.uniform(1.0, 9.0)
        lines.append(f"speed_kmh = {_r1(speed)}")
        if rng.random() < 0.2:
            lines.append(f"incline_pct = {_r1(rng.uniform(0, 10))}")
        lines.append("")
    return "\n".join(lines)


def _boundaries(options: RunOptions) -> list[float]:
    """Approximate session times of step boundaries (the plan's, with ramp time)."""
    try:
        prepared = prepare(options)
    except RetrorunError:
        return [0.0]
    t, out = 2.0, [2.0]
    for step in prepared.preview.steps:
        t += step.duration_s + step.speed / 100  # ramp and settle, about 1 s per km/h
        out.append(t)
    return out


_FAULT_NAMES = [
    ("spurious-speed", 6),
    ("console-speedup", 5),
    ("console-start", 3),
    ("console-pause", 3),
    ("console-stop", 1),
    ("drop-link", 3),
    ("stall", 3),
    ("garbage", 1),
    ("reboot", 1),
    ("safety-key", 1),
    ("console-incline", 1),
]


def _pick(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    names = [name for name, _ in table]
    return rng.choices(names, [weight for _, weight in table])[0]


def _fault_arg(rng: random.Random, name: str, ceiling_kmh: float) -> str:
    if name in {"spurious-speed", "console-speedup"}:
        return f":{_r1(max(0.5, rng.uniform(ceiling_kmh - 1.0, ceiling_kmh + 4.0)))}"
    if name == "stall":
        return f":{_r1(rng.uniform(0.5, 8.0))}"
    if name == "console-incline":
        return f":{_r1(rng.uniform(0, 12))}"
    return ""


def _fault(rng: random.Random, times: list[float], ceiling_kmh: float) -> str:
    name = _pick(rng, _FAULT_NAMES)
    arg = _fault_arg(rng, name, ceiling_kmh)

    def near() -> float:
        return max(0.0, _r1(rng.choice(times) + rng.uniform(-3.0, 4.0)))

    form = rng.random()
    if form < 0.5:
        when = f"{near():g}"
    elif form < 0.65 and name not in {"safety-key", "console-stop", "reboot"}:
        when = f"{near():g}/{_r1(rng.uniform(0.5, 12.0)):g}x{rng.randint(2, 6)}"
    elif form < 0.75:
        when = ",".join(f"{t:g}" for t in sorted({near() for _ in range(rng.randint(2, 3))}))
    elif form < 0.9:
        when = f"write{rng.randint(1, 25)}"
    elif form < 0.96:
        when = "paused" + (f"+{_r1(rng.uniform(0.1, 3.0)):g}" if rng.random() < 0.7 else "")
    else:
        when = "stopped" + (f"+{_r1(rng.uniform(0.1, 3.0)):g}" if rng.random() < 0.7 else "")
    return f"{name}@{when}{arg}"


def _injection(rng: random.Random, ceiling_kmh: float) -> str:
    name = rng.choice(
        [
            "spurious-speed",
            "console-speedup",
            "console-start",
            "drop-link",
            "console-pause",
            "stall",
        ]
    )
    return f"inject:{name}{_fault_arg(rng, name, ceiling_kmh)}"


def generate(seed: int, case: int) -> Schedule:
    """The schedule of ``case`` under ``seed`` (the same every time)."""
    rng = random.Random(f"{seed}:{case}")
    program = "demo" if rng.random() < 0.08 else ""
    profile = rng.choice([None, *[str(p) for p in RunnerProfile]])
    runner = RunnerProfile(profile or ("novice" if program else "trained"))
    top = PROFILE_LIMITS[runner].backward_ceiling
    unlock = runner is RunnerProfile.TRAINED and rng.random() < 0.15
    if unlock:
        top = TRAINED_UNLOCKED_CEILING
    ceiling = None
    if rng.random() < 0.4:
        ceiling = rng.randrange(100, top + 1, 10)
    ceiling_kmh = (ceiling or top) / 100
    device_roll = rng.random()
    device = None
    if device_roll < 0.25:
        device = "coarse-step.toml"
    elif device_roll < 0.55:
        device = rng.choice(_devices())
    program_toml = "" if program else _generated_program(rng, ceiling_kmh)
    schedule = Schedule(
        seed,
        case,
        program,
        program_toml,
        profile,
        ceiling,
        unlock,
        device,
    )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            options = schedule.options(Path(tmp), record=Path(tmp) / "r.jsonl", state_log=None)
            times = _boundaries(options)
        except RetrorunError:
            times = [0.0]
    sim_profile = load_device_profile(DEVICES / device) if device else match_device_profile(None)
    initial = 0.0
    if rng.random() < 0.2:
        low, high, _ = sim_profile.speed.raw
        initial = _r1(rng.uniform(low / 100, min(high / 100, 12.0)))
        initial = max(initial, low / 100)
    faults = [
        _fault(rng, times, ceiling_kmh) for _ in range(rng.choices([0, 1, 2, 3], [1, 3, 3, 2])[0])
    ]
    if rng.random() < 0.04:
        faults.append(
            rng.choice(["slow-ramp:0.3", "slow-ramp:0.6", "ignore-speed", "reject-control"])
        )
    actions: list[Action] = []
    for _ in range(rng.choices([0, 1, 2, 3], [2, 3, 3, 2])[0]):
        roll = rng.random()
        if roll < 0.45:
            on = rng.choice(["turning", "paused", "backward"])
            actions.append(
                Action(
                    _injection(rng, ceiling_kmh),
                    on=on,
                    nth=rng.randint(1, 2),
                    delay=_r1(rng.uniform(0.0, 4.0)),
                )
            )
            continue
        at = max(0.5, _r1(rng.choice(times) + rng.uniform(-3.0, 4.0)))
        what = rng.choice(["pause", "pause", "stop", "faster", "slower", "signal", "inject"])
        if what == "inject":
            what = _injection(rng, ceiling_kmh)
        actions.append(Action(what, at=at))
        if what == "pause" and rng.random() < 0.85:
            actions.append(Action("resume", at=_r1(at + rng.uniform(0.5, 25.0))))
    return replace(schedule, faults=tuple(faults), initial_speed=initial, actions=tuple(actions))


# --------------------------------------------------------------------- the probe


@dataclass(slots=True)
class Sample:
    """One probe sample: the simulated belt (truth) and retrorun's phase (intent)."""

    t: float  # simulator time (seconds since power-on), as in the state log
    belt: float  # km/h
    target: float  # km/h, 0 when not running
    running: bool
    connected: bool
    status: str | None = None  # None: no session yet
    direction: str | None = None
    turn_limit: float = 0.0
    ceiling: float = 0.0
    tol: float = 0.0
    paused: bool = False


@dataclass(slots=True)
class Trace:
    """Everything one run left behind, for the judge."""

    period: float = 1.0  # the device's telemetry period
    decel: float = 1.5
    accel: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    records: list[Sample] = field(default_factory=list)  # the records the simulator sent
    fired: list[tuple[float, str]] = field(default_factory=list)  # (t, fault spec)
    done: list[tuple[float, str]] = field(default_factory=list)  # actions performed
    ends: list[tuple[float, str]] = field(default_factory=list)  # stop requests
    final: Sample | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    code: int | None = None
    error: str = ""
    timed_out: bool = False
    ignores_speed: bool = False  # the machine acknowledges speed commands and ignores them
    stops: list[float] = field(default_factory=list)  # when the simulator performed a Stop
    session_started: bool = False


def _phase(sample: Sample, session: Session | None) -> Sample:
    if session is None or session.origin == 0.0:
        return sample
    gov = session.governor
    sample.status = str(session.status)
    sample.direction = str(gov.direction)
    sample.turn_limit = gov.turn_limit / 100
    sample.ceiling = gov.ceiling / 100
    sample.tol = gov.tolerance / 100
    sample.paused = gov.paused
    return sample


def _belt(sim: Simulator) -> Sample:
    s = sim.state()
    return Sample(
        float(s["t"]),
        float(s["belt_kmh"]),
        float(s["target_kmh"]),
        bool(s["running"]),
        bool(s["connected"]),
    )


class Probe:
    """Samples belt and phase every 0.1 s, logs what the simulator sends and fires,
    and performs the schedule's actions at their moments."""

    def __init__(self, schedule: Schedule, trace: Trace) -> None:
        self.schedule = schedule
        self.trace = trace
        self.sim: Simulator | None = None
        self.session: Session | None = None
        self.task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None
        self._entered: dict[str, int] = {"turning": 0, "paused": 0, "backward": 0}
        self._was: dict[str, bool] = {"turning": False, "paused": False, "backward": False}
        self._armed: list[tuple[float, Action]] = []
        self._pending = [a for a in schedule.actions if a.at is not None]
        self._waiting = [a for a in schedule.actions if a.on is not None]
        self._paused_since: float | None = None
        self._stopped_seen = False

    # hooks -----------------------------------------------------------------

    def on_simulator(self, sim: Simulator) -> None:
        self.sim = sim
        self.trace.period = sim.profile.notify_period_s
        server = sim.server
        # The belt's own rates (a slow-ramp fault overrides the profile's).
        self.trace.decel = server.belt.decel_kmh_per_s
        self.trace.accel = server.belt.accel_kmh_per_s
        self.trace.ignores_speed = sim.profile.has("ignores_speed_commands") or any(
            spec.split("@")[0].split(":")[0] == "ignore-speed" for spec in self.schedule.faults
        )
        data_payloads = server.data_payloads
        fire = server._fire

        def payloads() -> list[bytes]:
            sample = _belt(sim)
            sample.belt = server.belt.speed_raw / 100  # what the record says
            self.trace.records.append(_phase(sample, self.session))
            return data_payloads()

        def fired(fault: Fault, now: float) -> None:
            self.trace.fired.append((round(now, 3), str(replace(fault, at=None, on=None))))
            fire(fault, now)

        handle = server._handle

        def handled(request: ControlRequest) -> tuple[int, list[Any]]:
            result, statuses = handle(request)
            if request.op == ControlOp.STOP_OR_PAUSE and result == ResultCode.SUCCESS:
                self.trace.stops.append(round(sim.now(), 3))
            return result, statuses

        server.data_payloads = payloads  # type: ignore[method-assign]
        server._fire = fired  # type: ignore[method-assign]
        server._handle = handled  # type: ignore[method-assign]
        self.task = asyncio.get_running_loop().create_task(self._run(), name="explore-probe")

    def on_session(self, session: Session) -> None:
        self.session = session
        self.trace.session_started = True

    # the loop ----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                self._tick()
                await asyncio.sleep(PROBE_S)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the judge reports it
            self.failure = exc

    def _tick(self) -> None:
        assert self.sim is not None
        sample = _phase(_belt(self.sim), self.session)
        self.trace.samples.append(sample)
        session = self.session
        if session is None or session.origin == 0.0:
            return
        if sample.status == str(Status.STOPPED) and not self._stopped_seen:
            self._stopped_seen = True
            self.trace.ends.append((sample.t, "session end"))
        if self._stopped_seen:
            return
        now = sample.t
        t_session = asyncio.get_running_loop().time() - session.origin
        states = {
            "turning": session.status is Status.TURNING,
            "paused": session.status is Status.PAUSED,
            "backward": session.governor.direction is Direction.BACKWARD,
        }
        for name, on in states.items():
            if on and not self._was[name]:
                self._entered[name] += 1
                for action in list(self._waiting):
                    if action.on == name and action.nth == self._entered[name]:
                        self._waiting.remove(action)
                        self._armed.append((now + action.delay, action))
            self._was[name] = on
        for action in list(self._pending):
            if action.at is not None and t_session >= action.at:
                self._pending.remove(action)
                self._do(action, now)
        for due, action in list(self._armed):
            if now >= due:
                self._armed.remove((due, action))
                self._do(action, now)
        # A runner who paused resumes after a while (a console pause has no resume task).
        if states["paused"]:
            if self._paused_since is None:
                self._paused_since = now
            elif now - self._paused_since >= RUNNER_RESUME_S:
                self._paused_since = now
                self._do(Action("resume (runner)"), now)
        else:
            self._paused_since = None

    def _do(self, action: Action, now: float) -> None:
        session, sim = self.session, self.sim
        assert session is not None
        assert sim is not None
        what = action.what
        if what.startswith("resume"):
            ok = session.request("resume", source="explorer")
        elif what == "pause":
            ok = session.request("pause", source="explorer")
        elif what == "stop":
            ok = session.request("stop", source="explorer")
            if ok:
                self.trace.ends.append((now, "stop"))
        elif what == "faster":
            ok = session.adjust_speed(10, source="explorer")
        elif what == "slower":
            ok = session.adjust_speed(-10, source="explorer")
        elif what == "signal":
            session.end(EndReason.SIGNAL, "SIGTERM: stopping the belt")
            ok = True
            self.trace.ends.append((now, "signal"))
        elif what.startswith("inject:"):
            sim.inject(what.removeprefix("inject:"))
            ok = True
        else:
            raise ValueError(f"unknown action {what!r}")
        self.trace.done.append((now, f"{what}{'' if ok else ' (refused)'}"))


async def run_schedule(
    schedule: Schedule,
    workdir: Path,
    *,
    keep_state_log: bool = False,
    wall_limit_s: float | None = WALL_LIMIT_S,
    trace: Trace | None = None,
) -> Trace:
    """Run one schedule to its end on the running (looptime) loop; its trace.

    Two ways a session can fail to return, both judged ``session-returns``:

    - its fake clock stops (a loop that spins at one instant): cut once the clock
      has stood still for ``wall_limit_s`` of wall time. A slow machine only slows
      the clock: never a cut. If the cut's cancellation is not honoured within
      another ``wall_limit_s``, the loop itself is stopped (``run_in_loop`` then
      returns the trace as it stands);
    - it outlives its fake-time bound (the plan's length and ``SESSION_SLACK_S``)
      by ``HUNG_GRACE_S`` more: the bound's cancellation was swallowed somewhere and
      the session runs on. It is abandoned, never awaited for ever.
    """
    loop = asyncio.get_running_loop()
    trace = trace if trace is not None else Trace()
    cut, done = threading.Event(), threading.Event()
    running: list[asyncio.Task[None]] = []

    def watch(limit: float) -> None:
        last = loop.time()
        while not done.wait(limit):
            now = loop.time()
            if now == last:  # not one fake tick in ``limit`` wall seconds
                cut.set()
                for task in running:
                    loop.call_soon_threadsafe(task.cancel)
                if not done.wait(limit):
                    loop.call_soon_threadsafe(loop.stop)  # the cut was not honoured
                return
            last = now

    if wall_limit_s is not None:
        threading.Thread(target=watch, args=(wall_limit_s,), daemon=True).start()
    try:
        await _run_schedule(
            schedule, workdir, trace, keep_state_log=keep_state_log, cut=cut, running=running
        )
        return trace
    finally:
        done.set()


#: Fake seconds a session may outlive its bound's cancellation before it is abandoned.
HUNG_GRACE_S = 60.0


async def _run_schedule(
    schedule: Schedule,
    workdir: Path,
    trace: Trace,
    *,
    keep_state_log: bool,
    cut: threading.Event,
    running: list[asyncio.Task[None]],
) -> None:
    record = workdir / f"record-{schedule.seed}-{schedule.case}.jsonl"
    state_log = workdir / f"state-{schedule.seed}-{schedule.case}.jsonl" if keep_state_log else None
    for path in (record, state_log):
        if path is not None and path.exists():
            path.unlink()
    probe = Probe(schedule, trace)
    options = schedule.options(workdir, record=record, state_log=state_log)
    try:
        prepared = prepare(options)
    except RetrorunError as exc:
        trace.error = f"input refused: {exc}"
        return
    bound = sum(s.duration_s for s in prepared.preview.steps) + SESSION_SLACK_S

    async def session() -> None:
        async with asyncio.timeout(bound):
            trace.code = await run_prepared(
                prepared,
                stdout=io.StringIO(),
                on_session=probe.on_session,
                on_simulator=probe.on_simulator,
            )

    task = asyncio.ensure_future(session())
    running.append(task)
    try:
        finished, _ = await asyncio.wait({task}, timeout=bound + HUNG_GRACE_S)
        if not finished:
            trace.timed_out = True
            trace.error = f"hung: still running {HUNG_GRACE_S:g} s after its bound's cancellation"
            task.cancel()  # one more try; never awaited: it may never end
        elif task.cancelled():
            trace.timed_out = True
            if cut.is_set():
                last = probe.trace.samples[-1].t if probe.trace.samples else 0.0
                trace.error = f"spin: the loop clock stood still at t={last:.3f}"
        else:
            task.result()
    except TimeoutError:
        trace.timed_out = True
    except RetrorunError as exc:
        trace.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        trace.error = f"crash: {exc!r}"
    finally:
        if probe.task is not None:
            probe.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe.task
    if probe.sim is not None:
        trace.final = _phase(_belt(probe.sim), probe.session)
    if probe.failure is not None:
        trace.error = f"probe failed: {probe.failure!r}"
    with contextlib.suppress(OSError):
        trace.lines = list(read_record(record))


# --------------------------------------------------------------------- the judge


@dataclass(frozen=True, slots=True)
class Finding:
    invariant: str
    t: float
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant} at t={self.t:.1f}: {self.detail}"


def _limited(s: Sample) -> bool:
    """Retrorun's phase limits the belt: facing backward or turning, session on."""
    return (
        s.status is not None
        and s.status not in {str(Status.STOPPED), str(Status.IDLE)}
        and s.direction in {str(Direction.BACKWARD), str(Direction.TURNING)}
    )


def _limit(s: Sample) -> float:
    return s.turn_limit if s.direction == str(Direction.TURNING) else s.ceiling


def _eps(x: float) -> float:
    return x + 1e-6


def _causes(trace: Trace) -> list[float]:
    out = [t for t, spec in trace.fired if spec.split(":")[0] in SPEED_CAUSES]
    if trace.samples and trace.samples[0].running and trace.samples[0].status is None:
        # The belt ran at power-on (``--sim-initial-speed``), before any session.
        out.append(trace.samples[0].t)
    return sorted(out)


def _last_before(times: Iterable[float], t: float) -> float | None:
    best = None
    for x in times:
        if x <= t + 1e-6:
            best = x
    return best


def judge(trace: Trace) -> list[Finding]:
    """Every invariant of docs/safety.md, on one trace; the findings (empty: none)."""
    findings: list[Finding] = []
    period, react = trace.period, trace.period + LATENCY_S
    samples, records = trace.samples, trace.records
    causes = _causes(trace)

    def answered(t0: float, t1: float, ok: Callable[[Sample], bool]) -> bool:
        return any(ok(s) for s in samples if t0 - 1e-6 <= s.t <= t1 + 1e-6)

    # 1. Excursions: a record over the phase's limit is answered within the latency;
    #    the belt is over the limit only after an outside cause.
    for r in records:
        if not _limited(r) or r.paused or r.status == str(Status.PAUSED):
            continue
        limit = _limit(r)
        if r.belt <= _eps(limit + r.tol):
            continue
        turning = r.direction == str(Direction.TURNING)

        def ok(s: Sample, limit: float = limit, turning: bool = turning) -> bool:
            if not s.running:
                return True
            return not turning and s.target <= _eps(limit)

        if any(r.t < c <= r.t + LATENCY_S for c in causes):
            continue  # a new outside cause overrode the answer: the next record judges
        # A machine that acknowledges a correction and ignores it cannot be slowed
        # within the latency; the next record shows it, and the answer is a stop.
        ignored = trace.ignores_speed and not turning
        by = r.t + (period if ignored else 0.0) + LATENCY_S
        # A Stop the simulator performed in time answers it, even when a fault set the
        # belt going again in the same tick (that is a new cause, for the next record).
        stopped = any(r.t - 1e-6 <= t <= by + 1e-6 for t in trace.stops)
        if (
            not stopped
            and not answered(r.t, by, ok)
            and any(s.connected for s in samples if r.t <= s.t <= r.t + LATENCY_S)
        ):
            findings.append(
                Finding(
                    "excursion-answered",
                    r.t,
                    f"record shows the belt at {r.belt:.2f} km/h {r.direction} over"
                    f" {limit:.2f}+{r.tol:.2f}; the simulator's target was not brought down"
                    f" {'(halt: stop)' if turning else f'to {limit:.2f}'} within"
                    f" {by - r.t:.1f} s" + (" (a machine that ignores speed: stop)" * ignored),
                )
            )
    episode_start: float | None = None
    prev: Sample | None = None
    for s in samples:
        over = _limited(s) and not s.paused and s.belt > _eps(_limit(s) + s.tol)
        lowered = (
            prev is not None
            and _limited(prev)
            and _limit(prev) > _limit(s)
            and (not s.running or s.target <= _eps(_limit(s) + s.tol))
        )  # a halt lowered the limit under a belt already told to stop: the reaction
        prev = s
        if over and episode_start is None and lowered:
            episode_start = s.t
        elif over and episode_start is None:
            episode_start = s.t
            limit = _limit(s)
            window = (limit + s.tol) / trace.accel + period + 2 * PROBE_S
            cause = _last_before(causes, s.t)
            if cause is None or s.t - cause > window:
                findings.append(
                    Finding(
                        "over-limit-without-cause",
                        s.t,
                        f"belt at {s.belt:.2f} km/h {s.direction} over {limit:.2f}+{s.tol:.2f}"
                        f" (target {s.target:.2f}) with no outside cause in the {window:.1f} s"
                        " before",
                    )
                )
        elif not over:
            episode_start = None
    # 1b. The simulator's target over the phase's limit: only until the first record
    #     after the outside cause that set it, plus the latency.
    for s in samples:
        if not _limited(s) or s.paused or s.status == str(Status.PAUSED) or not s.running:
            continue
        limit = _limit(s)
        if s.target <= _eps(limit + s.tol):
            continue
        cause = _last_before(causes, s.t)
        if cause is None:
            findings.append(
                Finding(
                    "target-over-limit",
                    s.t,
                    f"the simulator's target is {s.target:.2f} km/h {s.direction}, over"
                    f" {limit:.2f}+{s.tol:.2f}, and no outside cause set it",
                )
            )
            break
        # Seen over a limit: by a record of a limited phase (a record facing forward
        # shows a belt over nothing; seed 63 case 1132: a jump while forward, resumed
        # to after a turn by a machine that ignores speed commands, is judged by the
        # belt from then on).
        seen = [
            r.t
            for r in records
            if r.t >= cause - 1e-6 and _limited(r) and r.belt > _eps(limit + r.tol)
        ]
        # A machine that ignores speed commands is stopped at the next record instead.
        grace = LATENCY_S + (period if trace.ignores_speed else 0.0)
        if seen and s.t > seen[0] + grace + 1e-6 and s.connected:
            findings.append(
                Finding(
                    "target-over-limit",
                    s.t,
                    f"the simulator's target is still {s.target:.2f} km/h {s.direction}, over"
                    f" {limit:.2f}+{s.tol:.2f}, {s.t - seen[0]:.1f} s after the record at"
                    f" t={seen[0]:.1f} showed the belt over",
                )
            )
            break
    # 1c. Recurrent excursions end in a stopped belt: a second backward episode in the
    #     records within the excursion window stops the belt within the latency.
    episodes: list[float] = []
    in_episode = False
    for r in records:
        if r.status is None or r.status == str(Status.STOPPED):
            continue
        if r.direction == str(Direction.BACKWARD) and r.status == str(Status.PAUSED):
            continue
        over = (
            r.direction == str(Direction.BACKWARD)
            and not r.paused
            and r.belt > _eps(r.ceiling + r.tol)
        )
        if over and not in_episode:
            episodes.append(r.t)
        in_episode = over
    for first, second in itertools.pairwise(episodes):
        performed = any(second - 1e-6 <= t <= second + LATENCY_S + 1e-6 for t in trace.stops)
        if (
            second - first <= EXCURSION_WINDOW_S
            and not performed
            and not answered(second, second + LATENCY_S, lambda s: not s.running)
        ):
            findings.append(
                Finding(
                    "recurrent-excursion",
                    second,
                    f"a second excursion over the ceiling {second - first:.1f} s after the"
                    f" first (t={first:.1f}) did not stop the belt within {LATENCY_S:.1f} s",
                )
            )
            break
    # 2. Paused: the target is 0 / the belt not running within one telemetry period
    #    of the pause, of the link coming back, or of an outside cause starting it.
    paused_from: float | None = None
    last_connect: float | None = None
    was_connected = False
    for s in samples:
        if s.connected and not was_connected:
            last_connect = s.t
        was_connected = s.connected
        if s.status != str(Status.PAUSED):
            paused_from = None
            continue
        if paused_from is None:
            paused_from = s.t
        if not s.running or not s.connected:
            continue
        # The pause (or the reconnect's Stop) takes effect within one telemetry
        # period plus the latency.
        anchors = [paused_from + react]
        if last_connect is not None:
            anchors.append(last_connect + react)
        cause = _last_before(causes, s.t)
        # A cause within a reaction time before the session's status shows the pause
        # came with it (a console pause and a jump in the same tick): the session
        # learns of both from the same records.
        if cause is not None and cause >= paused_from - react - 1e-6:
            # The belt as it was just before the cause (a sample in the cause's own
            # tick already shows what the cause did).
            before = [x for x in samples if x.t < cause - 1e-6]
            at_cause = before[-1] if before else s
            # The first record that can show the cause: a later one, or one of its own
            # tick that already does (a record sent in that tick before the fault fired
            # shows the belt as it was).
            shown = next(
                (
                    r.t
                    for r in records
                    if r.t > cause + 1e-6
                    or (r.t >= cause - 1e-6 and r.belt > at_cause.belt + r.tol)
                ),
                math.inf,
            )
            readings = [r.belt for r in records if r.t < cause - 1e-6]
            last_seen = readings[-1] if readings else at_cause.belt
            if at_cause.belt <= REST_KMH and last_seen <= REST_KMH:
                # Started from rest (as the session last saw it too; a belt that came
                # to rest unseen, in an outage or a reboot, is one it knows only by
                # its run-down: seed 31 case 447): stopped by the first record showing it.
                anchors.append(shown + LATENCY_S)
            else:
                now_at = next((x for x in samples if x.t >= cause - 1e-6), s)
                # What the session last saw before the cause: a jump that leaves the
                # belt under that reading looks like a belt slowing slowly until the
                # run-down envelope tells them apart.
                # Nor is one to the speed it was heading to: to the session, a belt that
                # got to its target just before it paused (seed 11 case 262).
                if now_at.belt > max(at_cause.belt, last_seen, at_cause.target) + s.tol:
                    # Sped up while running down: stopped by the first record showing it.
                    anchors.append(shown + LATENCY_S)
                else:
                    # Restarted under its speed (or under the last reading) while running
                    # down: within the run-down allowance from the cause.
                    # The speed the cause set (a sample of its own tick may be from
                    # before it acted: the next ticks' too; seed 31 case 1283).
                    set_to = [x.belt for x in samples if cause - 1e-6 <= x.t <= cause + 2 * PROBE_S]
                    v = max(at_cause.belt, now_at.belt, *set_to)
                    anchors.append(cause + react + v / trace.decel + RUNDOWN_MARGIN_S)
        if s.t > max(anchors) + 1e-6:
            findings.append(
                Finding(
                    "paused-belt-runs",
                    s.t,
                    f"session paused since t={paused_from:.1f} but the simulated belt runs"
                    f" (target {s.target:.2f}, belt {s.belt:.2f} km/h); due stopped by"
                    f" t={max(anchors):.1f} (pause, reconnect or first record after an"
                    " outside cause, plus the latency)",
                )
            )
            break
    # 3. Every stop, signal and end: commanded to stop within two telemetry periods,
    #    at rest within its run-down time (counted from when the link is up).
    # The state at power-off counts as the last sample (the simulator stops there).
    tail = [*samples, trace.final] if trace.final is not None else samples
    for t_req, why in sorted(trace.ends)[:1]:  # the first request: the rest add nothing
        after = [s for s in tail if s.t >= t_req - 1e-6]
        # Counted from when the link is up and stays up for the whole allowance.
        up: float | None = t_req
        while up is not None:
            down = [s.t for s in after if up <= s.t <= up + 2 * period and not s.connected]
            if not down:
                break
            up = next((s.t for s in after if s.t > down[-1] and s.connected), None)
        if up is None:
            # The belt was at rest, stopped, before the link went for good, and a
            # cause from outside restarted it after: the controller had let go (its
            # exit's Stop was the write the link dropped on; seed 22 case 1485).
            gone = next((x.t for x in after if not x.connected), math.inf)
            rested = [x.t for x in after if x.t <= gone and x.belt <= REST_KMH and not x.running]
            if rested and any(c > rested[0] for c in causes):
                continue
            if trace.final is not None and trace.final.running:
                findings.append(
                    Finding(
                        "stop-on-end",
                        t_req,
                        f"{why}: the link never came back and the belt ran at"
                        f" {trace.final.belt:.2f} km/h at power-off",
                    )
                )
            continue
        start = max(t_req, up)
        cmd_by = start + 2 * period
        # A Stop the simulator performed counts even where a fault restarted the belt
        # in the same tick, before any sample could show it (its tick may come before
        # the sample that shows the session stopped: seed 63 case 1802).
        performed = any(start - PROBE_S - 1e-6 <= t <= cmd_by + 1e-6 for t in trace.stops)
        if not performed and not any(
            not s.running or s.target == 0 for s in after if start - 1e-6 <= s.t <= cmd_by + 1e-6
        ):
            findings.append(
                Finding(
                    "stop-on-end",
                    t_req,
                    f"{why}: the simulated belt was not commanded to stop within"
                    f" {2 * period:.1f} s",
                )
            )
            continue
        v = max(
            (s.belt for s in after if s.t <= start + 1e-6), default=after[0].belt if after else 0.0
        )
        rest_by = cmd_by + v / trace.decel + RUNDOWN_MARGIN_S
        later_causes = [c for c in causes if c >= t_req - 1e-6]  # one in the same tick too
        if later_causes:
            rest_by = max(
                rest_by, later_causes[-1] + 2 * period + 20 / trace.decel + RUNDOWN_MARGIN_S
            )
        last_t = tail[-1].t if tail else start
        if rest_by > last_t:
            # The simulator powered off first: it must have been told to stop by then.
            if tail and tail[-1].running:
                findings.append(
                    Finding("stop-on-end", t_req, f"{why}: the belt still ran at power-off")
                )
            continue
        if not answered(start, rest_by, lambda s: s.belt <= REST_KMH):
            findings.append(
                Finding(
                    "stop-on-end",
                    t_req,
                    f"{why}: the simulated belt was not at rest within {rest_by - t_req:.1f} s"
                    f" (from {v:.2f} km/h)",
                )
            )
    if trace.final is not None and trace.final.running and trace.final.connected:
        findings.append(
            Finding(
                "stop-on-end",
                trace.final.t,
                f"the simulated belt still runs at power-off (target {trace.final.target:.2f})",
            )
        )
    # 4. The session returns, its record ends with a reason, no task ended silently.
    if trace.timed_out:
        findings.append(
            Finding(
                "session-returns",
                trace.samples[-1].t if trace.samples else 0.0,
                "the session did not end in bounded time"
                + (f" ({trace.error})" if trace.error else ""),
            )
        )
    if trace.error.startswith(("crash", "probe")):
        findings.append(Finding("session-returns", 0.0, trace.error))
    ends = [line for line in trace.lines if line.get("type") == "end"]
    if trace.session_started and not trace.timed_out:
        if not ends:
            findings.append(Finding("record-end", 0.0, "the record has no end line"))
        for end in ends:
            reason = end.get("reason")
            message = str(end.get("message", ""))
            if reason not in END_REASONS:
                findings.append(Finding("record-end", end.get("t", 0.0), f"end reason {reason!r}"))
            if "internal error" in message or "ended without a reason" in message:
                findings.append(
                    Finding("no-silent-task-end", end.get("t", 0.0), f"{reason}: {message}")
                )
    # 5. The record agrees with the simulator: more than one record over the ceiling
    #    facing backward is in the record as an event, and in over_ceiling_s.
    run = 0
    for r in records:
        over = (
            r.direction == str(Direction.BACKWARD)
            and r.status not in {None, str(Status.STOPPED)}
            and r.belt > _eps(r.ceiling + r.tol)
        )
        run = run + 1 if over else 0
        if run >= 2:
            kinds = {line.get("kind") for line in trace.lines if line.get("type") == "event"}
            if not kinds & {"ceiling_violation", "belt_halted", "safety_stop"}:
                findings.append(
                    Finding(
                        "record-agrees",
                        r.t,
                        "records showed the belt over the ceiling facing backward, the"
                        " session record has no ceiling_violation/belt_halted/safety_stop",
                    )
                )
            if ends and not ends[-1].get("over_ceiling_s", 0) > 0:
                findings.append(
                    Finding(
                        "record-agrees",
                        r.t,
                        "records showed the belt over the ceiling facing backward, the end"
                        f" line says over_ceiling_s={ends[-1].get('over_ceiling_s')}",
                    )
                )
            break
    return findings


# ------------------------------------------------------------- running, shrinking


def run_in_loop(schedule: Schedule, workdir: Path, *, keep: bool = False) -> Trace:
    """Run one schedule on a fresh looptime loop (outside pytest)."""
    loop = looptime.new_event_loop()
    trace = Trace()
    try:
        return loop.run_until_complete(
            run_schedule(schedule, workdir, keep_state_log=keep, trace=trace)
        )
    except RuntimeError:  # the watch stopped a loop that would not let go
        trace.timed_out = True
        trace.error = trace.error or "spin: the session ignored its cut"
        return trace
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def check(schedule: Schedule, workdir: Path, *, keep: bool = False) -> tuple[Trace, list[Finding]]:
    trace = run_in_loop(schedule, workdir, keep=keep)
    return trace, judge(trace)


def _smaller(schedule: Schedule) -> Iterable[Schedule]:
    for i in range(len(schedule.faults)):
        yield replace(schedule, faults=schedule.faults[:i] + schedule.faults[i + 1 :])
    for i in range(len(schedule.actions)):
        yield replace(schedule, actions=schedule.actions[:i] + schedule.actions[i + 1 :])
    if schedule.initial_speed:
        yield replace(schedule, initial_speed=0.0)
    if schedule.ceiling is not None:
        yield replace(schedule, ceiling=None)
    if schedule.device is not None:
        yield replace(schedule, device=None)


def shrink(schedule: Schedule, invariant: str, workdir: Path, *, budget: int = 40) -> Schedule:
    """Drop faults, actions and options one at a time while ``invariant`` still fails."""
    tries = 0
    changed = True
    while changed and tries < budget:
        changed = False
        for candidate in _smaller(schedule):
            tries += 1
            _trace, findings = check(candidate, workdir)
            if any(f.invariant == invariant for f in findings):
                schedule = candidate
                changed = True
                break
            if tries >= budget:
                break
    return schedule


@dataclass(frozen=True, slots=True)
class Outcome:
    case: int
    findings: list[str]
    end: str
    wall_s: float
    sim_s: float


def run_case(seed: int, case: int, workdir: str) -> Outcome:
    """One case, for a worker process: its findings as text."""
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    schedule = generate(seed, case)
    trace, findings = check(schedule, Path(workdir))
    ends = [line for line in trace.lines if line.get("type") == "end"]
    end = str(ends[-1].get("reason")) if ends else (trace.error or "no end")
    sim_s = trace.samples[-1].t if trace.samples else 0.0
    return Outcome(case, [str(f) for f in findings], end, time.perf_counter() - started, sim_s)


def _end_kind(end: str) -> str:
    """An end reason without its device's name and figures: like ends count together."""
    kind = re.sub(r"(?<=: )[^:]*?'s belt", "the belt", end)
    return re.sub(r"\d+(?:\.\d+)?", "N", kind)


def run_batch(seed: int, cases: Sequence[int], workdir: str) -> list[Outcome]:
    return [run_case(seed, case, workdir) for case in cases]


def explore(
    seed: int,
    budget: int,
    *,
    workers: int = 2,
    workdir: Path,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run cases 0..budget-1 under ``seed`` across ``workers`` processes."""
    cases = list(range(budget))
    outcomes: list[Outcome] = []
    if workers <= 1:
        for case in cases:
            outcome = run_case(seed, case, str(workdir))
            outcomes.append(outcome)
            if progress:
                progress(outcome)
        return outcomes
    chunks = [cases[i : i + 10] for i in range(0, len(cases), 10)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(run_batch, seed, chunk, str(workdir)) for chunk in chunks]
        for future in concurrent.futures.as_completed(futures):
            for outcome in future.result():
                outcomes.append(outcome)
                if progress:
                    progress(outcome)
    outcomes.sort(key=lambda o: o.case)
    return outcomes


def reproduce_line(
    seed: int, case: int, workdir: Path, *, do_shrink: bool = True, invariant: str | None = None
) -> str:
    """The one line that reproduces a failing case (shrunk where it still fails)."""
    schedule = generate(seed, case)
    _trace, findings = check(schedule, workdir)
    if not findings:
        return f"seed={seed} case={case}: passes now"
    if invariant is None or all(f.invariant != invariant for f in findings):
        invariant = findings[0].invariant
    if do_shrink:
        shrunk = shrink(schedule, invariant, workdir)
        _trace, again = check(shrunk, workdir)
        if again:  # a case that holds on a second run is shown as it first failed
            schedule = shrunk
            findings = [f for f in again if f.invariant == invariant] or again
    return (
        f"seed={seed} case={case} [{findings[0]}]: {schedule.command(workdir)}"
        f"  # replay: scripts/explore-safety --seed {seed} --case {case}"
    )


def timeline(trace: Trace, t: float, before: float = 4.0, after: float = 4.0) -> str:
    """What the simulator and retrorun did around ``t``: samples, records, faults."""

    def near(x: float) -> bool:
        return t - before <= x <= t + after

    rows: list[tuple[float, str]] = [
        (
            s.t,
            (
                f"belt {s.belt:5.2f} target {s.target:5.2f} run {int(s.running)}"
                f" conn {int(s.connected)} | {s.status} {s.direction} ceil {s.ceiling:.2f}"
                f" turn {s.turn_limit:.2f} tol {s.tol:.2f} gov_paused {int(s.paused)}"
            ),
        )
        for s in trace.samples
        if near(s.t)
    ]
    rows += [(r.t, f"  RECORD sent: speed {r.belt:.2f}") for r in trace.records if near(r.t)]
    rows += [(ft, f"  FAULT {spec}") for ft, spec in trace.fired if near(ft)]
    rows += [(at, f"  ACTION {what}") for at, what in trace.done if near(at)]
    rows.sort(key=lambda row: row[0])
    return "\n".join(f"  {rt:7.2f} {text}" for rt, text in rows)


def _replay(seed: int, case: int, workdir: Path) -> int:
    schedule = generate(seed, case)
    trace, findings = check(schedule, workdir, keep=True)
    print(schedule.command(workdir))
    print(f"record: {workdir / f'record-{seed}-{case}.jsonl'}")
    print(f"state log: {workdir / f'state-{seed}-{case}.jsonl'}")
    print(f"faults fired: {trace.fired}")
    print(f"actions done: {trace.done}")
    for finding in findings:
        print(f"FINDING {finding}")
    if findings:
        print(timeline(trace, findings[0].t))
    if findings:
        print(reproduce_line(seed, case, workdir))
    return 1 if findings else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="explore-safety",
        description="Run random fault schedules on the simulator and judge the belt.",
    )
    parser.add_argument("--budget", type=int, default=2000, help="schedules to run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedules")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--case", type=int, help="replay one case, keep its record and state log")
    parser.add_argument("--out", type=Path, help="where records and programs go")
    parser.add_argument("--no-shrink", action="store_true", help="print failing cases unshrunk")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.gettempdir()) / "retrorun-explore"
    out.mkdir(parents=True, exist_ok=True)
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if args.case is not None:
        return _replay(args.seed, args.case, out)
    started = time.perf_counter()
    done = 0

    def progress(outcome: Outcome) -> None:
        nonlocal done
        done += 1
        if outcome.findings:
            print(f"case {outcome.case}: {outcome.findings[0]}", flush=True)
        if done % 100 == 0:
            print(f"... {done} schedules, {time.perf_counter() - started:.0f} s", flush=True)

    outcomes = explore(args.seed, args.budget, workers=args.workers, workdir=out, progress=progress)
    wall = time.perf_counter() - started
    failing = [o for o in outcomes if o.findings]
    by_invariant: dict[str, list[int]] = {}
    for o in failing:
        for text in o.findings:
            by_invariant.setdefault(text.split(" ", 1)[0], []).append(o.case)
    ends: dict[str, int] = {}
    for o in outcomes:
        kind = _end_kind(o.end)
        ends[kind] = ends.get(kind, 0) + 1
    print(
        f"schedules: {len(outcomes)}  seed: {args.seed}  workers: {args.workers}"
        f"  wall: {wall:.1f} s  simulated: {sum(o.sim_s for o in outcomes) / 3600:.1f} h"
    )
    print("ends: " + ", ".join(f"{k} {v}" for k, v in sorted(ends.items(), key=lambda kv: -kv[1])))
    print(f"failing schedules: {len(failing)}")
    for invariant, cases in sorted(by_invariant.items()):
        unique = sorted(set(cases))
        print(f"  {invariant}: {len(unique)} schedules, e.g. cases {unique[:8]}")
        if not args.no_shrink:
            print("    " + reproduce_line(args.seed, unique[0], out, invariant=invariant))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
