"""Session figures through the whole ``retrorun run`` path, in one run.

Every session here is ``retrorun.app.prepare`` + ``retrorun.app.run_prepared`` against
the embedded simulator (what ``retrorun run PROGRAM --yes --plain --voice off`` does):
the real Session, SafetyGovernor and Treadmill client, BleakClient over the bumble
backend and a virtual link, the treadsim GATT peripheral, the recorder and the plain
sink (writing to /dev/null). To take time stamps the bench wraps a few methods and
watches two session attributes, inside this process only (see ``Probe``); it changes no
behaviour. Programs are TOML files written to a temporary directory, in the format of
``programs/*.toml`` (novice profile, 5.0 km/h backward ceiling).

1. Step deadline -> control-point acknowledgement, 1x (wall clock). For every step
   that ends on its deadline and is followed by another step: from the deadline (loop
   time) to the 0x80 indication acknowledging the first Set Target Speed after it.
   Also split: deadline -> scheduler awake, deadline -> write into bleak. Target p99
   < 15 ms.
2. Over-ceiling record -> corrective write, wall clock. The simulator's
   ``spurious-speed`` fault jumps the belt over the ceiling while the runner faces
   backward, many times; from the Treadmill Data notification entering
   ``Treadmill._on_data`` to the corrective Set Target Speed entering
   ``BleakClient.write_gatt_char``. Target p99 < 5 ms. The faults are further apart
   than the governor's excursion window (a second excursion within it stops the
   session), so the session runs on the paced clock at ``CORRECTION_SPEEDUP``: the
   path measured has no timer in it (the record, the governor and the write follow
   each other on the loop without a sleep), so its wall time is the same as at 1x.
3. Schedule drift over a 60-minute program on the paced clock (``--speedup``): per
   step, lateness = actual end - scheduled end; at the end, the session's actual
   length against the planned length plus the measured settle times. Target: no
   accumulation (the last step's cumulative error is no larger than one step's
   lateness). The same figures at 1x come from section 1's session, for comparison.
4. CPU seconds and peak RSS of a 10-minute session at 1x, in a fresh interpreter
   (a child process runs this file with ``--resources-child``). Target RSS < 120 MB.

It reports; it never asserts (exit 0 when a target is missed). Run:

    .venv/bin/python bench/session.py            # about 20 minutes (10 of them at 1x)
    .venv/bin/python bench/session.py --quick    # smoke run, about 3.5 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from bleak import BleakClient

from figures import pct, verdict
from retrorun import clock
from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.events import Direction
from retrorun.ftms import ControlOp
from retrorun.limits import TURNAROUND_HOLD_S
from retrorun.safety import EXCURSION_WINDOW_S
from retrorun.session import Session, SessionResult
from retrorun.treadmill import Telemetry, Treadmill
from treadsim.runtime import TICK_S

RESPONSE_CODE = 0x80  # control-point indication: 0x80, request op, result
SET_TARGET_SPEED = int(ControlOp.SET_TARGET_SPEED)

LATENCY_TARGET_MS = 15.0
CORRECTION_TARGET_MS = 5.0
RSS_TARGET_MB = 120.0

LATENCY_STEP_S = 2.0  # planned length of each step in the step-change session
# Over the novice 5.0 km/h ceiling + 0.3 km/h tolerance; slowing at 1.5 km/h/s, the belt
# is under it again by the next 1 Hz record, so a correction never becomes a safety stop.
SPURIOUS_KMH = 6.0
FAULT_FIRST_S = 24.0  # first fault, s after simulator power-on (the belt is at 3.0 by then)
# Each fault a new excursion: a second one within the governor's window stops the session.
FAULT_INTERVAL_S = EXCURSION_WINDOW_S + 2.0
CORRECTION_SPEEDUP = 20.0  # 50 faults a minute apart in under three wall minutes


# ------------------------------------------------------------------------- helpers


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def spread(label: str, values: Sequence[float]) -> str:
    """One line: p50, p99, max and mean in milliseconds."""
    if not values:
        return f"  {label:<34} no samples"
    return (
        f"  {label:<34} p50 {ms(pct(values, 0.5)):>10}   p99 {ms(pct(values, 0.99)):>10}"
        f"   max {ms(max(values)):>10}   mean {ms(statistics.mean(values)):>10}"
    )


def current_rss_bytes() -> int | None:
    """This process's resident set size now (Linux /proc; None elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def max_rss_bytes() -> int:
    """This process's peak resident set size: ru_maxrss is KiB on Linux, bytes on macOS."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


# ------------------------------------------------------------------------ programs


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One ``[[steps]]`` table of a program file."""

    direction: str
    speed_kmh: float
    duration_s: float
    kind: str = "work"


def program_toml(name: str, steps: Sequence[StepSpec]) -> str:
    lines = [f'name = "{name}"', 'description = "bench/session.py"', 'profile = "novice"']
    for index, step in enumerate(steps):
        lines += [
            "",
            "[[steps]]",
            f'kind = "{step.kind}"',
            f'direction = "{step.direction}"',
            f"duration = {step.duration_s!r}",
            f"speed_kmh = {step.speed_kmh!r}",
            f'label = "{step.direction} {step.speed_kmh:g} km/h #{index}"',
        ]
    return "\n".join(lines) + "\n"


def interval_steps(total_s: float, step_s: float) -> list[StepSpec]:
    """A forward warm-up, then backward 3.0/4.0/3.5 and forward 4.5 km/h, repeating.

    Exactly ``total_s`` long as planned, counting the turn-around holds the plan
    inserts at every change of direction; the last step takes what is left.
    """
    pattern = [("backward", 3.0), ("backward", 4.0), ("backward", 3.5), ("forward", 4.5)]
    steps = [StepSpec("forward", 3.5, min(step_s, total_s), "warmup")]
    used = steps[0].duration_s
    for direction, speed in itertools.cycle(pattern):
        left = total_s - used
        if left <= 1e-9:
            break
        turn = TURNAROUND_HOLD_S if direction != steps[-1].direction else 0.0
        if left - turn < step_s / 2:
            steps[-1] = replace(steps[-1], duration_s=steps[-1].duration_s + left)
            break
        duration = step_s if left - turn - step_s >= step_s / 2 else left - turn
        steps.append(StepSpec(direction, speed, duration))
        used += turn + duration
    return steps


def step_change_steps(changes: int) -> list[StepSpec]:
    """``changes + 1`` short steps: backward 3.0/3.5 km/h, then forward 3.0/4.0 km/h."""
    backward = (changes + 1) // 2
    forward = changes + 1 - backward
    return [StepSpec("backward", (3.0, 3.5)[i % 2], LATENCY_STEP_S) for i in range(backward)] + [
        StepSpec("forward", (3.0, 4.0)[i % 2], LATENCY_STEP_S) for i in range(forward)
    ]


def write_program(folder: Path, name: str, steps: Sequence[StepSpec]) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(program_toml(name, steps), encoding="utf-8")
    return path


def run_session(
    program: Path, record: Path, *, speedup: float = 1.0, faults: Sequence[str] = ()
) -> int:
    """``retrorun run PROGRAM --yes --plain --voice off`` on the embedded simulator."""
    options = RunOptions(
        program=str(program),
        sim_faults=tuple(faults),
        speedup=speedup,
        yes=True,
        plain=True,
        voice="off",
        record=record,
    )
    prepared = prepare(options)
    with Path(os.devnull).open("w", encoding="utf-8") as sink:
        return clock.run(run_prepared(prepared, stdout=sink), speedup=speedup)


# --------------------------------------------------------------------------- probe


@dataclass(slots=True)
class StepTiming:
    """One plan step as the scheduler ran it (loop times)."""

    index: int
    turnaround: bool
    direction: str
    speed: int  # 0.01 km/h
    duration_s: float  # planned
    start: float  # the scheduler entered the step
    anchor: float | None = None  # its timed part began: belt settled / turn-around hold
    deadline: float | None = None  # the session's step deadline (running steps)
    end: float | None = None  # the scheduler left the step

    @property
    def settle_s(self) -> float:
        assert self.anchor is not None
        return self.anchor - self.start

    @property
    def lateness_s(self) -> float:
        assert self.anchor is not None
        assert self.end is not None
        return self.end - (self.anchor + self.duration_s)


@dataclass(slots=True)
class StepAck:
    """Step deadline -> first Set Target Speed write -> its acknowledgement."""

    deadline: float
    awake: float
    next_kind: str
    write: float | None = None
    ack: float | None = None


@dataclass(slots=True)
class Correction:
    """Over-ceiling record received -> corrective write -> its acknowledgement."""

    received: float
    ceiling: int  # the governor's backward ceiling, 0.01 km/h
    write: float | None = None
    ack: float | None = None


@dataclass
class Probe:
    """Time stamps from inside one session; ``install`` puts the hooks in and takes them out.

    Hooks: ``Session.run`` (public) to find the session; the ``step_index`` and
    ``step_deadline`` attributes the session publishes its state with (a property on
    the class sees every assignment); ``Session._hold`` for the start of a turn-around
    hold; and the Bluetooth edges: ``Treadmill._on_data`` / ``_on_indication`` (the bleak
    notify callbacks) and ``BleakClient.write_gatt_char``.
    """

    session: Session | None = None
    result: SessionResult | None = None
    steps: list[StepTiming] = field(default_factory=list)
    acks: list[StepAck] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    over_records: int = 0  # records over the ceiling while not facing forward
    # Stamp the Bluetooth edges on the wall clock (time.monotonic, the loop's clock at
    # 1x) rather than the loop's: on the paced clock the loop's time stands still
    # while work runs, which is what section 2 measures.
    wall_edges: bool = False
    uncorrected: int = 0  # over-ceiling streaks that ended without a corrective write
    _pending_ack: StepAck | None = None
    _pending_correction: Correction | None = None

    @contextlib.contextmanager
    def install(self) -> Iterator[Probe]:
        wrappers: list[tuple[type, str, Callable[[Any], Any]]] = [
            (Session, "run", self._wrap_run),
            (Session, "_hold", self._wrap_hold),
            (Treadmill, "_on_data", self._wrap_on_data),
            (Treadmill, "_on_indication", self._wrap_on_indication),
            (BleakClient, "write_gatt_char", self._wrap_write),
        ]
        watched: list[tuple[str, Callable[[Session, Any], None]]] = [
            ("step_index", self._on_step_index),
            ("step_deadline", self._on_step_deadline),
        ]
        undo: list[tuple[type, str, Any]] = []
        try:
            for owner, name, wrap in wrappers:
                if name not in vars(owner):
                    raise RuntimeError(f"bench/session.py hooks {owner.__name__}.{name}: gone")
                original = vars(owner)[name]
                setattr(owner, name, functools.wraps(original)(wrap(original)))
                undo.append((owner, name, original))
            for name, on_set in watched:
                if name in vars(Session):
                    raise RuntimeError(f"bench/session.py watches Session.{name}: now a class attr")
                setattr(Session, name, self._watch(name, on_set))
                undo.append((Session, name, None))
            yield self
        finally:
            for owner, name, original in reversed(undo):
                if original is None:
                    delattr(owner, name)
                else:
                    setattr(owner, name, original)

    def _watch(self, name: str, on_set: Callable[[Session, Any], None]) -> property:
        """A property storing ``name`` in the instance as before, calling ``on_set``."""

        def get(session: Session) -> Any:
            try:
                return vars(session)[name]
            except KeyError:
                raise AttributeError(name) from None

        def set_(session: Session, value: Any) -> None:
            vars(session)[name] = value
            if session is self.session:
                on_set(session, value)

        return property(get, set_)

    # -- session side

    def _wrap_run(self, original: Any) -> Any:
        async def run(session: Session) -> SessionResult:
            self.session = session
            self.result = await original(session)
            return self.result

        return run

    def _on_step_index(self, session: Session, index: int) -> None:
        """The scheduler moved to plan step ``index``: the previous step is over."""
        now = asyncio.get_running_loop().time()
        previous = self.steps[-1] if self.steps else None
        if previous is not None:
            if previous.end is None:  # a turn-around ends when the next step begins
                previous.end = now
            if not previous.turnaround and previous.deadline is not None:
                upcoming = session.plan.steps[index]
                kind = "turn-around" if upcoming.turnaround else str(upcoming.direction)
                self._pending_ack = StepAck(previous.deadline, previous.end, kind)
        step = session.plan.steps[index]
        timing = StepTiming(
            index, step.turnaround, str(step.direction), step.speed, step.duration_s, now
        )
        self.steps.append(timing)

    def _on_step_deadline(self, session: Session, deadline: float | None) -> None:
        """Set: the belt settled and the step's time runs; cleared: the step is over."""
        current = self.steps[-1] if self.steps else None
        if current is None or current.turnaround:
            return
        if deadline is None:
            if current.deadline is not None and current.end is None:
                current.end = asyncio.get_running_loop().time()
            return
        if current.anchor is None:
            current.anchor = deadline - current.duration_s
        current.deadline = deadline

    def _wrap_hold(self, original: Any) -> Any:
        async def hold(session: Session, seconds: float) -> None:
            current = self.steps[-1] if self.steps else None
            if current is not None and current.turnaround and current.anchor is None:
                current.anchor = asyncio.get_running_loop().time()
            await original(session, seconds)

        return hold

    # -- treadmill and bleak side

    def _wrap_on_data(self, original: Any) -> Any:
        def on_data(treadmill: Treadmill, char: Any, data: bytearray) -> None:
            received = self._edge_time()
            before = treadmill.latest
            original(treadmill, char, data)
            latest = treadmill.latest
            if latest is not None and latest is not before:  # this part completed a record
                self._observe(latest, received)

        return on_data

    def _observe(self, sample: Telemetry, received: float) -> None:
        """Spot a record over the ceiling the way the governor does (while not forward)."""
        session = self.session
        if session is None:
            return
        governor = session.governor
        over = (
            governor.direction is not Direction.FORWARD
            and (sample.speed or 0) > governor.ceiling + governor.tolerance
        )
        pending = self._pending_correction
        if over:
            self.over_records += 1
            if pending is None:  # the first record of a streak starts the clock
                self._pending_correction = Correction(received, governor.ceiling)
        elif pending is not None and pending.write is None:
            self.uncorrected += 1
            self._pending_correction = None

    def _edge_time(self) -> float:
        return time.monotonic() if self.wall_edges else asyncio.get_running_loop().time()

    def _wrap_on_indication(self, original: Any) -> Any:
        def on_indication(treadmill: Treadmill, char: Any, data: bytearray) -> None:
            now = self._edge_time()
            original(treadmill, char, data)
            if len(data) < 3 or data[0] != RESPONSE_CODE or data[1] != SET_TARGET_SPEED:
                return
            pending = self._pending_ack
            if pending is not None and pending.write is not None and pending.ack is None:
                pending.ack = now
                self.acks.append(pending)
                self._pending_ack = None
            correction = self._pending_correction
            if correction is not None and correction.write is not None:
                correction.ack = now
                self.corrections.append(correction)
                self._pending_correction = None

        return on_indication

    def _wrap_write(self, original: Any) -> Any:
        async def write_gatt_char(
            client: BleakClient, char: Any, data: Any, response: bool | None = None
        ) -> None:
            now = self._edge_time()
            payload = bytes(data)
            if len(payload) >= 3 and payload[0] == SET_TARGET_SPEED:
                if self._pending_ack is not None and self._pending_ack.write is None:
                    self._pending_ack.write = now
                # The first command back under the ceiling is the corrective one.
                correction = self._pending_correction
                value = int.from_bytes(payload[1:3], "little")
                if (
                    correction is not None
                    and correction.write is None
                    and value <= correction.ceiling
                ):
                    correction.write = now
            await original(client, char, data, response)

        return write_gatt_char


# -------------------------------------------------------------------- measurements


def measure_step_latency(folder: Path, changes: int) -> tuple[Probe, int]:
    program = write_program(folder, "bench-step-changes", step_change_steps(changes))
    probe = Probe()
    with probe.install():
        code = run_session(program, folder / "step-changes.jsonl")
    return probe, code


def report_step_latency(probe: Probe, code: int, changes: int) -> None:
    print(f"\n1. step deadline -> control-point ack (1x, wall clock), {changes} step changes")
    print(
        f"   program: {(changes + 1) // 2} backward steps 3.0/3.5 km/h, a turn-around,"
        f" {changes + 1 - (changes + 1) // 2} forward steps 3.0/4.0 km/h, {LATENCY_STEP_S:g} s each"
    )
    acks = [a for a in probe.acks if a.write is not None and a.ack is not None]
    awake = [a.awake - a.deadline for a in acks]
    to_write = [a.write - a.deadline for a in acks if a.write is not None]
    to_ack = [a.ack - a.deadline for a in acks if a.ack is not None]
    print(f"   session exit code {code}, samples {len(acks)}")
    print(spread("deadline -> scheduler awake", awake))
    print(spread("deadline -> write into bleak", to_write))
    print(spread("deadline -> 0x80 ack received", to_ack))
    for kind in ("backward", "turn-around", "forward"):
        part = [a.ack - a.deadline for a in acks if a.next_kind == kind and a.ack is not None]
        if part:
            print(spread(f"  ... next step {kind} (n={len(part)})", part))
    if to_ack:
        p99 = pct(to_ack, 0.99)
        ok = p99 * 1000 < LATENCY_TARGET_MS
        print(f"   target p99 < {LATENCY_TARGET_MS:g} ms: {ms(p99)}  {verdict(ok)}")
    else:
        print(f"   target p99 < {LATENCY_TARGET_MS:g} ms: no samples  MISS")


def measure_corrections(folder: Path, corrections: int) -> tuple[Probe, int, int]:
    fault_times = [FAULT_FIRST_S + i * FAULT_INTERVAL_S for i in range(corrections)]
    faults = [f"spurious-speed@{t:g}:{SPURIOUS_KMH:g}" for t in fault_times]
    # Ramping from a standing belt to 3.0 km/h backward takes ~12 s; the step ends
    # well after the last fault, however long the ramp took.
    duration = fault_times[-1] + 8.0
    steps = [StepSpec("backward", 3.0, duration), StepSpec("backward", 2.5, 3.0, "cooldown")]
    program = write_program(folder, "bench-corrections", steps)
    probe = Probe(wall_edges=True)
    with probe.install():
        code = run_session(
            program, folder / "corrections.jsonl", faults=faults, speedup=CORRECTION_SPEEDUP
        )
    return probe, code, len(faults)


def report_corrections(probe: Probe, code: int, faults: int) -> None:
    print(
        f"\n2. over-ceiling record -> corrective write (wall clock; paced clock at"
        f" {CORRECTION_SPEEDUP:g}x), {faults} x spurious-speed:{SPURIOUS_KMH:g}"
        f" every {FAULT_INTERVAL_S:g} s"
    )
    print("   backward 3.0 km/h, ceiling 5.0 km/h; the belt jumps to 6.0 with no status")
    reason = probe.result.reason if probe.result is not None else "none"
    print(
        f"   session exit code {code} ({reason}); records over the ceiling {probe.over_records},"
        f" corrections measured {len(probe.corrections)}, uncorrected {probe.uncorrected}"
    )
    to_write = [c.write - c.received for c in probe.corrections if c.write is not None]
    to_ack = [c.ack - c.received for c in probe.corrections if c.ack is not None]
    print(spread("record -> corrective write", to_write))
    print(spread("record -> its 0x80 ack", to_ack))
    if to_write:
        p99 = pct(to_write, 0.99)
        ok = p99 * 1000 < CORRECTION_TARGET_MS
        print(f"   target p99 < {CORRECTION_TARGET_MS:g} ms: {ms(p99)}  {verdict(ok)}")
    else:
        print(f"   target p99 < {CORRECTION_TARGET_MS:g} ms: no samples  MISS")


def measure_drift(folder: Path, minutes: float, speedup: float) -> tuple[Probe, int, float]:
    steps = interval_steps(minutes * 60, step_s=120.0)
    program = write_program(folder, "bench-drift", steps)
    probe = Probe()
    wall = time.perf_counter()
    with probe.install():
        code = run_session(program, folder / "drift.jsonl", speedup=speedup)
    return probe, code, time.perf_counter() - wall


@dataclass(frozen=True, slots=True)
class Schedule:
    """The measured steps of one session and their cumulative schedule error."""

    steps: list[StepTiming]
    cumulative: list[float]  # per step: (end - first start) - sum(planned + settle) so far

    @property
    def drift(self) -> float:
        return self.cumulative[-1]

    @property
    def worst_lateness(self) -> float:
        return max(abs(s.lateness_s) for s in self.steps)


def schedule(probe: Probe) -> Schedule | None:
    steps = [s for s in probe.steps if s.anchor is not None and s.end is not None]
    if not steps:
        return None
    first = steps[0].start
    so_far = 0.0
    cumulative = []
    for step in steps:
        assert step.end is not None
        so_far += step.duration_s + step.settle_s
        cumulative.append((step.end - first) - so_far)
    return Schedule(steps, cumulative)


def ms3(seconds: float) -> str:
    """Milliseconds to 1 us; float noise from subtracting loop times prints as 0.000."""
    return f"{round(seconds * 1000, 3) + 0.0:.3f}"


def report_drift(
    probe: Probe, code: int, wall_s: float, minutes: float, speedup: float, *, one_x: Probe
) -> None:
    print(f"\n3. schedule drift, {minutes:g}-minute program at --speedup {speedup:g} (loop time)")
    print(
        "   start     = the scheduler enters the step\n"
        "   settle    = start -> the step's timed part begins (running step: the first record"
        " with the\n"
        "               belt within 0.2 km/h of the command; turn-around: the hold, after"
        " slowing)\n"
        "   lateness  = actual end - scheduled end, scheduled end = settle moment + planned"
        " length\n"
        "               (for a running step that is the session's own step deadline)\n"
        "   cumulative = (actual end - first step's start) - sum(planned + settle) so far\n"
        "   drift     = cumulative at the last step = session length - planned - settles -"
        " start - stop.\n"
        "   Zero drift: it is no larger than the largest single step's lateness (nothing adds"
        " up)."
    )
    session, result, measured = probe.session, probe.result, schedule(probe)
    if session is None or result is None or measured is None:
        print(f"   session exit code {code}: no steps measured  MISS")
        return
    print(
        f"   session exit code {code} ({result.reason}), {len(measured.steps)} of"
        f" {len(session.plan.steps)} plan steps, {wall_s:.1f} wall s"
        f" ({session.plan.total_s / wall_s:.0f} planned s per wall s)"
    )
    print(
        f"   {'step':>4} {'kind':<11} {'km/h':>5} {'planned s':>10} {'settle s':>9}"
        f" {'lateness ms':>12} {'cumulative ms':>14}"
    )
    for step, cumulative in zip(measured.steps, measured.cumulative, strict=True):
        kind = "turn-around" if step.turnaround else step.direction
        print(
            f"   {step.index:>4} {kind:<11} {step.speed / 100:>5.1f} {step.duration_s:>10.1f}"
            f" {step.settle_s:>9.3f} {ms3(step.lateness_s):>12} {ms3(cumulative):>14}"
        )
    first, last = measured.steps[0], measured.steps[-1]
    assert last.end is not None
    settles = sum(s.settle_s for s in measured.steps)
    start_gap = first.start - session.origin
    stop_s = (session.origin + result.duration_s) - last.end
    rows = [
        ("planned (plan steps incl. turn-around holds)", session.plan.total_s),
        ("+ measured settle times", settles),
        ("+ session start -> first step", start_gap),
        ("+ last step's end -> session end (belt stop)", stop_s),
        ("+ drift", measured.drift),
        ("= session duration (record's end line)", result.duration_s),
    ]
    for label, value in rows:
        print(f"   {label:<48} {round(value, 3) + 0.0:12.3f} s")
    worst = measured.worst_lateness
    complete = len(measured.steps) == len(session.plan.steps)
    ok = complete and abs(measured.drift) <= worst + 1e-6
    print(
        f"   target zero drift: |drift| {ms3(abs(measured.drift))} ms <= largest single-step"
        f" lateness {ms3(worst)} ms  {verdict(ok)}"
    )
    report_wall_drift(one_x)


def phase_spread(probe: Probe, period: float) -> float | None:
    """How far the running steps' settle moments spread, modulo ``period`` seconds.

    Each settle moment is the arrival of a Treadmill Data record, and the simulator
    sends those on its own grid (1 Hz records, 0.1 s physics ticks). Lateness carried
    from step to step would move later settle moments off that grid.
    """
    anchors = [s.anchor for s in probe.steps if not s.turnaround and s.anchor is not None]
    if len(anchors) < 2:
        return None
    phases = [(a - anchors[0] + period / 2) % period - period / 2 for a in anchors]
    return max(phases) - min(phases)


def report_wall_drift(probe: Probe) -> None:
    """The same definitions on section 1's session at 1x, where timers wake late."""
    measured = schedule(probe)
    if measured is None or probe.session is None:
        return
    lateness = [s.lateness_s for s in measured.steps]
    n = len(measured.steps)
    print(
        f"   for comparison, section 1's session at 1x (wall clock, {n} steps): lateness p50"
        f" {ms(pct(lateness, 0.5))}, max {ms(max(lateness))};\n"
        f"   cumulative at the last step {ms(measured.drift)} = the sum of all {n} latenesses:"
        " each settle is timed\n"
        "   from its step's late start, so by the definition above they add up (the rule"
        " would say MISS)."
    )
    record_period = probe.session.treadmill.profile.notify_period_s
    on_records, on_ticks = phase_spread(probe, record_period), phase_spread(probe, TICK_S)
    if on_records is not None and on_ticks is not None:
        print(
            f"   The settle moments, which the deadlines count from, spread {ms(on_ticks)} against"
            f" the simulator's\n   {TICK_S:g} s tick grid ({ms(on_records)} against its"
            f" {record_period:g} s record grid): the latenesses move no later\n"
            "   settle moment, so they are absorbed by the next settle wait, not carried"
            " into later deadlines."
        )


# ----------------------------------------------------------------------- resources


def resources_child(minutes: float) -> None:
    """In a fresh interpreter: run a session at 1x, print one JSON line of figures."""
    peak_imported, rss_imported = max_rss_bytes(), current_rss_bytes()
    import_cpu = time.process_time()
    with tempfile.TemporaryDirectory(prefix="retrorun-bench-") as tmp:
        folder = Path(tmp)
        steps = interval_steps(minutes * 60, step_s=min(max(minutes * 3, 15.0), 120.0))
        program = write_program(folder, "bench-resources", steps)
        cpu, wall = time.process_time(), time.perf_counter()
        code = run_session(program, folder / "resources.jsonl")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rss_end = current_rss_bytes()
        record_bytes = (folder / "resources.jsonl").stat().st_size
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "code": code,
        "steps": len(steps),
        "session_cpu_s": cpu,
        "session_wall_s": wall,
        "startup_cpu_s": import_cpu,
        "total_user_s": usage.ru_utime,
        "total_sys_s": usage.ru_stime,
        "peak_imported": peak_imported,
        "rss_imported": rss_imported,
        "rss_end": rss_end,
        "rss_peak": max_rss_bytes(),
        "record_bytes": record_bytes,
    }
    print(json.dumps(figures))


def measure_resources(minutes: float) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--resources-child", f"{minutes:g}"]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report_resources(figures: dict[str, Any], minutes: float) -> None:
    mib = 1024 * 1024
    cpu, wall = figures["session_cpu_s"], figures["session_wall_s"]
    print(f"\n4. CPU and peak RSS, {minutes:g}-minute program at 1x, fresh interpreter")
    print(
        f"   session exit code {figures['code']}, {figures['steps']} program steps,"
        f" record {figures['record_bytes'] / 1024:.0f} KiB"
    )
    print(f"   startup (interpreter + imports) CPU     {figures['startup_cpu_s']:8.2f} s")
    print(f"   session (connect .. belt stopped) wall  {wall:8.1f} s")
    print(
        f"   session CPU (process_time)              {cpu:8.2f} s"
        f"   = {cpu / (wall / 60):.3f} CPU s per session minute"
        f" ({cpu / wall * 100:.2f} % of one core)"
    )
    print(
        f"   whole process user / sys                {figures['total_user_s']:8.2f} s"
        f" / {figures['total_sys_s']:.2f} s"
    )
    imported, end = figures["rss_imported"], figures["rss_end"]
    if imported is not None and end is not None:
        print(
            f"   RSS now: after imports / session end    {imported / mib:8.1f} MiB"
            f" / {end / mib:.1f} MiB (the session grew it {(end - imported) / mib:.1f} MiB)"
        )
    peak_imported, peak = figures["peak_imported"], figures["rss_peak"]
    print(
        f"   peak RSS (ru_maxrss): after imports     {peak_imported / mib:8.1f} MiB"
        f", whole run {peak / mib:.1f} MiB = {peak / 1e6:.1f} MB"
    )
    ok = peak / 1e6 < RSS_TARGET_MB
    print(f"   target peak RSS < {RSS_TARGET_MB:g} MB: {peak / 1e6:.1f} MB  {verdict(ok)}")


# ---------------------------------------------------------------------------- main


def header(out: TextIO = sys.stdout) -> None:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    argv = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    out.write(
        f"retrorun session bench: {argv}\n"
        f"python {platform.python_implementation()} {platform.python_version()},"
        f" {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs,"
        f" load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        "stack: app.prepare + app.run_prepared, embedded treadsim (Generic FTMS, 1 Hz),"
        " bleak over bumble, plain sink to /dev/null, voice off, no MQTT\n"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: fewer samples, shorter sessions"
    )
    parser.add_argument(
        "--minutes", type=float, help="length of the 1x CPU/RSS session (default 10; quick 1)"
    )
    parser.add_argument("--steps", type=int, help="step changes timed at 1x (default 80; quick 12)")
    parser.add_argument(
        "--corrections", type=int, help="over-ceiling corrections timed (default 50; quick 6)"
    )
    parser.add_argument(
        "--corrections-only", action="store_true", help="run section 2 alone (about 3 minutes)"
    )
    parser.add_argument(
        "--drift-minutes", type=float, help="length of the drift program (default 60; quick 20)"
    )
    parser.add_argument(
        "--speedup", type=float, help="paced clock for the drift program (default 120; quick 300)"
    )
    parser.add_argument("--resources-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults: dict[str, tuple[float, float]] = {  # name: (full run, --quick)
        "minutes": (10, 1),
        "steps": (80, 12),
        "corrections": (50, 6),
        "drift_minutes": (60, 20),
        "speedup": (120, 300),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, type(full)(quick if args.quick else full))
    if args.steps < 1 or args.corrections < 1:
        parser.error("--steps and --corrections take 1 or more")
    if args.minutes <= 0 or args.drift_minutes <= 0 or args.speedup < 1:
        parser.error("the minutes must be above 0 and --speedup at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop("RETRORUN_MQTT_URL", None)  # the same stack on every machine: no MQTT
    if args.resources_child is not None:
        resources_child(args.resources_child)
        return 0
    header()
    sys.stdout.flush()
    with tempfile.TemporaryDirectory(prefix="retrorun-bench-") as tmp:
        folder = Path(tmp)
        if args.corrections_only:
            probe, code, faults = measure_corrections(folder, args.corrections)
            report_corrections(probe, code, faults)
            return 0
        steps_probe, code = measure_step_latency(folder, args.steps)
        report_step_latency(steps_probe, code, args.steps)
        sys.stdout.flush()
        probe, code, faults = measure_corrections(folder, args.corrections)
        report_corrections(probe, code, faults)
        sys.stdout.flush()
        paced, code, wall = measure_drift(folder, args.drift_minutes, args.speedup)
        report_drift(paced, code, wall, args.drift_minutes, args.speedup, one_x=steps_probe)
        sys.stdout.flush()
    report_resources(measure_resources(args.minutes), args.minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
