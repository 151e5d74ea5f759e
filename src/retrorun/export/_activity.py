"""One session of a record, read back as an activity: samples, one lap per step, totals.

The record is the only source (no session, no treadmill): ``start`` dates the
activity, ``telemetry`` lines are the samples, ``step_started`` events cut the
laps, ``paused``/``resumed`` events are the timer's stops, and the ``end`` line's
totals win where it has them. A record cut short (a torn last line, no ``end``)
still reads: what it holds becomes the activity, and ``problems`` says what is
missing so the command can say the export is partial.

Values are read as tolerantly as the rest of the record code reads them, and a
value no activity file can carry (a negative speed, a distance of a light year,
a heart rate of 900) is dropped from its sample rather than written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrorun.energy import kcal_per_min
from retrorun.errors import InputError
from retrorun.events import (
    Direction,
    EventKind,
    Paused,
    Resumed,
    SessionStarted,
    StepInfo,
    StepStarted,
    event_from_json,
)
from retrorun.programs import printable
from retrorun.record import read_record

__all__ = ["Activity", "Lap", "RecordError", "Sample", "read_activity"]

MAX_SPEED_KMH = 40.0  # faster than any treadmill: a value past it is not a reading
MAX_DISTANCE_M = 1_000_000.0  # a thousand kilometres in one session is not a reading
MAX_INCLINE_PCT = 100.0
MAX_SESSION_S = 24 * 3600.0  # a record's time past a day is not a session's
MAX_ENERGY_KCAL = 20_000.0  # more than any day of running: not an estimate
ESTIMATE_WEIGHT_KG = 70.0  # the session's default body mass, for a record with no end line


class RecordError(InputError):
    """A file that is not a session record, or a session with nothing to export."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One telemetry line: ``t`` in session seconds, the belt as the treadmill read it."""

    t: float
    speed_kmh: float
    incline_pct: float
    distance_m: float
    heart_rate_bpm: int | None
    direction: Direction

    @property
    def speed_ms(self) -> float:
        return self.speed_kmh / 3.6


@dataclass(frozen=True, slots=True)
class Lap:
    """One plan step as it was run: from its ``step_started`` to the next one (or the end)."""

    step: StepInfo  # the step as planned: index, direction, label, speed, duration
    start_s: float
    end_s: float
    timer_s: float  # the span less the time paused within it
    distance_m: float
    energy_kcal: float
    samples: tuple[Sample, ...]
    last: bool  # the session ended in this lap

    @property
    def backward(self) -> bool:
        """The runner faced backward for this step (a turn-around is not a backward lap)."""
        return self.step.direction is Direction.BACKWARD and not self.step.turnaround

    @property
    def elapsed_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def completed(self) -> bool:
        """The step ran its planned time (within a second), so a timer ended it."""
        return self.timer_s + 1.0 >= self.step.duration_s

    @property
    def max_speed_kmh(self) -> float:
        return max((s.speed_kmh for s in self.samples), default=0.0)

    @property
    def avg_speed_kmh(self) -> float:
        """Distance over the timer's time (bounded: a lap of a blink is no speed)."""
        if self.timer_s < 1:
            return self.max_speed_kmh
        return min(self.distance_m / self.timer_s * 3.6, MAX_SPEED_KMH)

    @property
    def heart_rates(self) -> list[int]:
        return [s.heart_rate_bpm for s in self.samples if s.heart_rate_bpm is not None]

    @property
    def name(self) -> str:
        """The step's label with its direction, for readers that show only a name."""
        return step_name(self.step)


def step_name(step: StepInfo) -> str:
    """``Backward walk`` stays as it is; ``Easy jog`` facing back reads ``Backward: Easy jog``.

    FIT and TCX have no direction, so a backward step carries it in its name."""
    label = step.label or ("Turn-around" if step.turnaround else "Step")
    if step.direction is Direction.BACKWARD and "backward" not in label.lower():
        return f"Backward: {label}"
    return label


@dataclass(frozen=True, slots=True)
class Activity:
    """A session as an activity file shows it."""

    session: str
    program: str
    device: str | None
    simulated: bool
    started_at: dt.datetime  # UTC
    duration_s: float
    timer_s: float
    distance_m: float
    energy_kcal: float
    laps: tuple[Lap, ...]
    samples: tuple[Sample, ...]
    pauses: tuple[tuple[float, float], ...]  # session seconds, paused to resumed
    steps: tuple[StepInfo, ...]  # the whole plan, as the session announced it
    reason: str | None  # the end line's; None when the record has no end
    problems: tuple[str, ...]  # why the export is partial (empty: it is complete)

    @property
    def partial(self) -> bool:
        return bool(self.problems)

    @property
    def backward_laps(self) -> tuple[Lap, ...]:
        return tuple(lap for lap in self.laps if lap.backward)

    @property
    def ended_at(self) -> dt.datetime:
        return self.started_at + dt.timedelta(seconds=self.duration_s)

    @property
    def heart_rates(self) -> list[int]:
        return [s.heart_rate_bpm for s in self.samples if s.heart_rate_bpm is not None]

    @property
    def max_speed_kmh(self) -> float:
        return max((s.speed_kmh for s in self.samples), default=0.0)

    @property
    def avg_speed_kmh(self) -> float:
        if self.timer_s < 1:
            return self.max_speed_kmh
        return min(self.distance_m / self.timer_s * 3.6, MAX_SPEED_KMH)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _facing(value: object) -> Direction:
    # As everywhere in retrorun, a direction nobody knows counts as backward.
    try:
        return Direction(str(value))
    except ValueError:
        return Direction.BACKWARD


def _sample(line: Mapping[str, Any]) -> Sample | None:
    """A telemetry line as a sample; None when its time, speed or distance is not a reading."""
    t = _number(line.get("t"))
    speed = _number(line.get("speed_kmh"))
    distance = _number(line.get("distance_m"))
    if t is None or not 0 <= t <= MAX_SESSION_S:
        return None
    if speed is None or not 0 <= speed <= MAX_SPEED_KMH:
        return None
    if distance is None or not 0 <= distance <= MAX_DISTANCE_M:
        return None
    incline = _number(line.get("incline_pct")) or 0.0
    heart = _number(line.get("heart_rate_bpm"))
    return Sample(
        t=t,
        speed_kmh=speed,
        incline_pct=max(-MAX_INCLINE_PCT, min(incline, MAX_INCLINE_PCT)),
        distance_m=distance,
        heart_rate_bpm=int(heart) if heart is not None and 1 <= heart <= 254 else None,
        direction=_facing(line.get("direction")),
    )


def _started_at(start: Mapping[str, Any] | None) -> dt.datetime | None:
    """The start line's ``started_at`` (UTC); None when it is missing or not a time."""
    text = start.get("started_at") if start is not None else None
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _pick_session(path: Path, session_id: str | None) -> list[Mapping[str, Any]]:
    """The lines of ``session_id`` (default: the last session the file holds)."""
    shown = printable(str(path))
    try:
        lines: list[Mapping[str, Any]] = list(read_record(path))
    except FileNotFoundError:
        raise RecordError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise RecordError(f"{shown}: is a folder, not a session record") from None
    except OSError as exc:
        raise RecordError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    lines = [line for line in lines if isinstance(line.get("type"), str)]
    known = {"start", "telemetry", "command", "event", "end"}
    if not any(line["type"] in known for line in lines):
        raise RecordError(f"{shown}: not a retrorun session record (no record lines in it)")
    sessions: dict[str, list[Mapping[str, Any]]] = {}
    for line in lines:
        if isinstance(line.get("session"), str):
            sessions.setdefault(line["session"], []).append(line)
    if not sessions:
        return lines  # a record from before sessions had ids: one session
    if session_id is None:
        # The session of the record's last line that names one: a line of garbage
        # without an id does not make a session of its own.
        last = next(str(ln["session"]) for ln in reversed(lines) if ln.get("session") in sessions)
        return sessions[last]
    if session_id not in sessions:
        ids = ", ".join(sessions)
        raise RecordError(
            f"{shown}: no session {printable(session_id)} in this record (it holds: {ids})"
        )
    return sessions[session_id]


def _pauses(events: Sequence[tuple[float, EventKind]], end_s: float) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for t, kind in events:
        if kind is EventKind.PAUSED and since is None:
            since = t
        elif kind is EventKind.RESUMED and since is not None:
            spans.append((since, max(t, since)))
            since = None
    if since is not None:
        spans.append((since, max(end_s, since)))
    return spans


def _paused_within(pauses: Iterable[tuple[float, float]], start: float, end: float) -> float:
    return sum(max(0.0, min(b, end) - max(a, start)) for a, b in pauses)


def _distance_at(samples: Sequence[Sample], t: float) -> float:
    """The belt's distance at session time ``t``: the furthest reading at or before it."""
    return max((s.distance_m for s in samples if s.t <= t), default=0.0)


def _energy(samples: Sequence[Sample]) -> list[float]:
    """Each sample's share of the energy, as the session counts it (ACSM, 70 kg): the
    span from a sample to the next at that sample's speed, grade and direction."""
    shares = [0.0] * len(samples)
    for i in range(1, len(samples)):
        before = samples[i - 1]
        dt_s = samples[i].t - before.t
        backward = before.direction is Direction.BACKWARD
        rate = kcal_per_min(
            before.speed_kmh, before.incline_pct, ESTIMATE_WEIGHT_KG, backward=backward
        )
        shares[i - 1] = rate * dt_s / 60
    return shares


def _main_direction(samples: Sequence[Sample]) -> Direction:
    """The direction the runner faced for most of the samples' time."""
    time: dict[Direction, float] = {}
    for before, after in itertools.pairwise(samples):
        time[before.direction] = time.get(before.direction, 0.0) + after.t - before.t
    return max(time, key=lambda d: time[d], default=samples[0].direction)


def read_activity(path: Path, *, session_id: str | None = None) -> Activity:
    """Read one session of the record at ``path`` (default: its last) as an activity.

    ``RecordError`` (exit 2) for a file that is not a record, a session id it does
    not hold, or a session without a single telemetry line (nothing moved: there
    is nothing to export)."""
    lines = _pick_session(path, session_id)
    shown = printable(str(path))
    start = next((line for line in lines if line["type"] == "start"), None)
    end = next((line for line in reversed(lines) if line["type"] == "end"), None)
    problems: list[str] = []

    samples: list[Sample] = []
    for line in lines:
        if line["type"] != "telemetry":
            continue
        sample = _sample(line)
        if sample is None or (samples and sample.t < samples[-1].t):
            continue  # not a reading, or out of order: the activity keeps time moving on
        samples.append(sample)
    if not samples:
        raise RecordError(f"{shown}: the session holds no telemetry: nothing to export")

    steps: list[StepInfo] = []
    starts: list[tuple[float, StepInfo]] = []
    marks: list[tuple[float, EventKind]] = []
    for line in lines:
        if line["type"] != "event":
            continue
        try:
            event = event_from_json(line)
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(event, SessionStarted) and not steps:
            steps = list(event.steps)
        elif isinstance(event, StepStarted):
            if not starts or event.t >= starts[-1][0]:
                starts.append((event.t, event.step))
        elif isinstance(event, Paused | Resumed):
            marks.append((event.t, event.kind))

    last_t = max(samples[-1].t, max((t for t, _ in starts), default=0.0))
    end_t = _number(end.get("duration_s")) if end is not None else None
    if end_t is None or not last_t <= end_t <= MAX_SESSION_S:
        end_t = last_t
    duration = end_t
    if end is None:
        problems.append("no end line (the record was cut short)")
    started_at = _started_at(start)
    if started_at is None:
        problems.append("no start time in the record: dated from the file's modification time")
        stamp = path.stat().st_mtime - duration
        started_at = dt.datetime.fromtimestamp(int(stamp), dt.UTC)

    distance = max(s.distance_m for s in samples)
    end_distance = _number(end.get("distance_m")) if end is not None else None
    if end_distance is not None and distance <= end_distance <= MAX_DISTANCE_M:
        distance = end_distance
    pauses = _pauses(marks, duration)

    if not starts:
        label = str(start.get("program", "")) if start is not None else ""
        whole = StepInfo(
            index=0,
            direction=_main_direction(samples),
            speed_kmh=0.0,
            duration_s=duration,
            label=label or "Session",
        )
        starts = [(0.0, whole)]
        problems.append("no step events: the session is one lap")
    shares = _energy(samples)
    laps: list[Lap] = []
    for i, (t, step) in enumerate(starts):
        lap_start = 0.0 if i == 0 else t
        last = i == len(starts) - 1
        lap_end = duration if last else starts[i + 1][0]
        inside = [
            k
            for k, s in enumerate(samples)
            if lap_start <= s.t < lap_end or (last and s.t >= lap_end)
        ]
        begin_m = _distance_at(samples, lap_start) if i else 0.0
        end_m = distance if last else _distance_at(samples, lap_end)
        laps.append(
            Lap(
                step=step,
                start_s=lap_start,
                end_s=lap_end,
                timer_s=(lap_end - lap_start) - _paused_within(pauses, lap_start, lap_end),
                distance_m=max(end_m - begin_m, 0.0),
                energy_kcal=sum(shares[k] for k in inside),
                samples=tuple(samples[k] for k in inside),
                last=last,
            )
        )

    modelled = sum(lap.energy_kcal for lap in laps)
    recorded = _number(end.get("energy_kcal")) if end is not None else None
    valid = recorded is not None and 0 <= recorded <= MAX_ENERGY_KCAL
    energy = recorded if recorded is not None and valid else modelled
    if modelled > 0:
        scale = energy / modelled  # the record's total, shared as the model shares it
        laps = [dataclasses.replace(lap, energy_kcal=lap.energy_kcal * scale) for lap in laps]

    program = str(start.get("program", "")) if start is not None else ""
    device = start.get("device") if start is not None else None
    return Activity(
        session=str(lines[0].get("session") or ""),
        program=program or "retrorun session",
        device=device if isinstance(device, str) and device else None,
        simulated=bool(start.get("simulated")) if start is not None else False,
        started_at=started_at,
        duration_s=duration,
        timer_s=duration - _paused_within(pauses, 0.0, duration),
        distance_m=distance,
        energy_kcal=energy,
        laps=tuple(laps),
        samples=tuple(samples),
        pauses=tuple(pauses),
        steps=tuple(steps) or tuple(lap.step for lap in laps),
        reason=str(end.get("reason")) if end is not None else None,
        problems=tuple(problems),
    )
