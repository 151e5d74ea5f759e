"""The session record: one JSON object per line, written as things happen.

Every line has ``type``, ``t`` (seconds since the session started) and
``session`` (an id unique to the session, so that sessions appended to one file, or
two writing it at once, never mix). Types: ``start``, ``telemetry`` (every record),
``command`` (every control-point procedure), ``event`` and ``end``. Each line is
flushed as it is written, so a record cut short by a crash or ``kill -9`` still
parses line by line (the reader skips a torn last line). Field names are an
interface: keep them.

The end-of-session summary is folded from the lines *as the session writes them*
(``Recorder.summary``), never by reading the file back: a file that cannot be read
(``/dev/full``, a pipe) or that holds other sessions cannot change it. The same
fold reads a file afterwards (``summarize``, ``load_record``), so the summary at
the end of a run and ``retrorun report`` on its record are one thing. The totals
have one definition each: backward time and distance count the records while the
runner faced backward (a turn-around is neither).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from retrorun.events import (
    SAFETY_KINDS,
    EventKind,
    SessionEvent,
    SessionStarted,
    SpeedAdjusted,
    StepInfo,
    StepStarted,
    TurnaroundConfirmed,
    TurnaroundPhase,
    UserStopped,
    event_from_json,
)
from retrorun.limits import SETTLE_TOLERANCE

__all__ = [
    "AT_SPEED_KMH",
    "HEART_RATE_SOURCES",
    "RecordFile",
    "Recorder",
    "Sample",
    "SessionSummary",
    "StepRecord",
    "TurnRecord",
    "check_record_path",
    "default_record_path",
    "default_records_dir",
    "last_session",
    "load_record",
    "read_record",
    "summarize",
]


def default_records_dir(flag: str = "--record FILE") -> Path:
    """``$XDG_DATA_HOME/retrorun/sessions``, where records go unless told otherwise.

    ``UsageError`` naming ``flag`` when there is neither ``XDG_DATA_HOME`` nor a home
    folder."""
    from retrorun.errors import UsageError

    data_home = os.environ.get("XDG_DATA_HOME")
    if not data_home:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):
            home = None
        if home is None or not str(home) or not home.is_absolute():
            raise UsageError(f"no home folder for the session records (HOME is unset): give {flag}")
        data_home = str(home / ".local" / "share")
    return Path(data_home) / "retrorun" / "sessions"


def default_record_path(program: str, now: dt.datetime | None = None) -> Path:
    """``$XDG_DATA_HOME/retrorun/sessions/<timestamp>-<program>.jsonl``.

    ``UsageError`` when there is neither ``XDG_DATA_HOME`` nor a home folder."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in program)[:40] or "session"
    return default_records_dir() / f"{stamp}-{safe}.jsonl"


def check_record_path(path: Path) -> None:
    """Refuse (``UsageError``, exit 2) a record path that cannot be written, before
    anything connects: a folder, a folder that cannot be made or written, a special
    file that is not a stream one can append to."""
    from retrorun.errors import UsageError

    if path.is_dir():
        raise UsageError(f"--record {path}: is a folder; give a file name")
    folder = path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--record {path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--record {path}: cannot write in {existing}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"--record {path}: the file is not writable")


class Recorder:
    """Appends record lines to a file; never raises into the session after opening.

    A write failure (disk full, file removed) is remembered in ``error``, reported
    once through ``on_error`` (the session turns it into a warning on every sink)
    and the session goes on: losing the record must not leave a belt running.
    ``summary`` is folded from every line as it is written.
    """

    def __init__(self, path: Path, *, on_error: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.error: str | None = None
        self.lines = 0
        self.session_id = uuid.uuid4().hex[:12]
        self.summary = SessionSummary()
        self.on_error = on_error
        self._folder = _SummaryFolder(self.summary)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._created = not path.exists()  # an empty file of ours is removed at close
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, type_: str, t: float, **fields: Any) -> None:
        """Write one line ``{"type": type_, "t": t, "session": id, **fields}``, flushed."""
        body = {"type": type_, "t": round(t, 3), "session": self.session_id, **fields}
        self._folder.add(body)
        if self._file is None:
            return
        line = json.dumps(body, separators=(",", ":"))
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._fail(exc)
        else:
            self.lines += 1

    def _fail(self, exc: BaseException) -> None:
        self.error = f"session record {self.path}: {exc}; the record is incomplete"
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError, ValueError):
                file.close()
        if self.on_error is not None:
            self.on_error(self.error)

    def start(
        self,
        *,
        program: str,
        profile: str,
        ceiling_backward_kmh: float,
        device: str,
        simulated: bool,
        **extra: Any,
    ) -> None:
        """The ``start`` line (``started_at`` is now, in ISO 8601 UTC)."""
        self.write(
            "start",
            0.0,
            program=program,
            profile=profile,
            ceiling_backward_kmh=ceiling_backward_kmh,
            device=device,
            simulated=simulated,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **extra,
        )

    def end(
        self,
        t: float,
        *,
        reason: str,
        belt_stopped: bool,
        distance_m: float,
        duration_s: float,
        backward_s: float,
        energy_kcal: float,
        message: str,
        stop_acknowledged: bool | None = None,
        over_ceiling_s: float = 0.0,
        backward_m: float | None = None,
    ) -> None:
        """The ``end`` line: why, the belt seen at rest, the stop acknowledged, the totals.

        ``belt_stopped`` is true only when telemetry showed the belt at rest after
        the stop; ``stop_acknowledged`` whether the treadmill answered the stop
        command; ``over_ceiling_s`` the seconds the belt ran over the ceiling
        while the runner faced backward or turned.
        """
        self.write(
            "end",
            t,
            reason=reason,
            belt_stopped=belt_stopped,
            distance_m=distance_m,
            duration_s=duration_s,
            backward_s=backward_s,
            energy_kcal=energy_kcal,
            message=message,
            stop_acknowledged=belt_stopped if stop_acknowledged is None else stop_acknowledged,
            over_ceiling_s=over_ceiling_s,
            **({"backward_m": backward_m} if backward_m is not None else {}),
        )

    def event(self, event: SessionEvent) -> None:
        """Record a session event."""
        body = event.to_json_dict()
        t = body.pop("t")
        self.write("event", t, **body)

    def close(self) -> None:
        """Flush and close; safe to call twice.

        A file this recorder created and never wrote a line to (the treadmill was
        never reached) is removed: no empty record in the sessions folder.
        """
        if self._file is not None:
            try:
                self._file.close()
            except (OSError, ValueError) as exc:
                self._file = None
                self._fail(exc)
            self._file = None
            if self._created and self.lines == 0 and self.error is None:
                with contextlib.suppress(OSError):
                    if self.path.is_file() and self.path.stat().st_size == 0:
                        self.path.unlink()


def read_record(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the record's lines as dicts, skipping a torn or unreadable line.

    A file may hold several sessions (``session`` tells them apart): see
    :func:`last_session`."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and "type" in obj:
                yield obj


@dataclass(frozen=True, slots=True)
class Sample:
    """One telemetry record as a chart draws it."""

    t: float
    speed_kmh: float
    direction: str
    heart_rate_bpm: int | None
    step: int
    heart_rate_source: str | None = None  # "strap" or "treadmill" (None: not said)


@dataclass(slots=True)
class StepRecord:
    """One plan step as the session ran it: the target, and what the belt did.

    Time, mean speed and time at speed are counted on telemetry spans, each span
    belonging to the record that opens it (the definition the totals use), so a
    step's time includes its ramp and any pause in it.
    """

    index: int
    label: str
    direction: str
    turnaround: bool
    target_kmh: float
    incline_pct: float
    planned_s: float
    started_t: float
    ended_t: float | None = None  # the next step's start, or the session's end
    done: bool = False  # the session went on past it (or completed with it)
    time_s: float = 0.0
    at_speed_s: float = 0.0  # within AT_SPEED_KMH of the target (as last adjusted)
    aim_kmh: float | None = None  # the target as a nudge or a heart-rate step last set it
    _speed_time: float = field(default=0.0, repr=False)  # km/h x s, for the mean

    @property
    def mean_kmh(self) -> float | None:
        """The belt's mean speed over the step (None before any telemetry in it)."""
        return self._speed_time / self.time_s if self.time_s > 0 else None


@dataclass(slots=True)
class TurnRecord:
    """A turn-around: from its step's start to the runner facing the new way."""

    index: int
    to: str
    started_t: float
    limit_kmh: float  # the turn's speed, the limit while turning (0: a stopped belt)
    stop_belt: bool = False
    turn_t: float | None = None  # when the runner was told to turn
    confirmed_t: float | None = None  # facing the new way

    @property
    def took_s(self) -> float | None:
        """Start to confirmation; None for a turn the session never finished."""
        return None if self.confirmed_t is None else max(self.confirmed_t - self.started_t, 0.0)


@dataclass(slots=True)
class SessionSummary:
    """What a person wants to know after a session, folded from its record lines.

    ``started``/``ended``: a ``start``/``end`` line was seen (a record without its
    end was cut short). ``plan`` is the plan the session announced; ``steps`` and
    ``turnarounds`` what became of it; ``samples`` every telemetry record, for a
    chart. ``safety_events`` are the record's safety event lines as written; the
    runner's own stop is not one of them (``user_stop_t`` says when it came).
    """

    program: str = ""
    reason: str = "unknown"
    belt_stopped: bool | None = None
    stop_acknowledged: bool | None = None
    over_ceiling_s: float = 0.0
    duration_s: float = 0.0
    distance_m: float = 0.0
    backward_s: float = 0.0
    backward_m: float = 0.0
    energy_kcal: float = 0.0
    max_backward_kmh: float = 0.0
    ceiling_kmh: float = 0.0
    safety_events: list[Mapping[str, Any]] = field(default_factory=list)
    session: str = ""
    profile: str = ""
    device: str = ""
    simulated: bool | None = None
    started_at: str = ""
    week: int | None = None  # the program week the session ran (records before: None)
    message: str = ""
    started: bool = False
    ended: bool = False
    lines: int = 0
    plan: tuple[StepInfo, ...] = ()
    steps: list[StepRecord] = field(default_factory=list)
    turnarounds: list[TurnRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    heart_rate_max: int | None = None
    heart_rate_sources: dict[str, int] = field(default_factory=dict)  # readings per source
    user_stop_t: float | None = None
    _heart_rate_sum: int = field(default=0, repr=False)
    _heart_rate_count: int = field(default=0, repr=False)

    @property
    def heart_rate_mean(self) -> float | None:
        """The mean of the heart-rate readings (None when the record has none)."""
        if not self._heart_rate_count:
            return None
        return self._heart_rate_sum / self._heart_rate_count


HEART_RATE_SOURCES = frozenset({"strap", "treadmill"})
"""What a telemetry line's ``heart_rate_source`` may say (anything else is not kept)."""

AT_SPEED_KMH = SETTLE_TOLERANCE / 100
"""A step's belt is "at speed" within this of its target: the scheduler's own test."""

_SAFETY = {str(k) for k in SAFETY_KINDS} - {str(EventKind.SESSION_ENDED), str(EventKind.USER_STOP)}


class _SummaryFolder:
    """Folds record lines, one at a time, into a :class:`SessionSummary`.

    The one fold: the recorder feeds it each line as the session writes it (the
    live summary), ``summarize`` and ``load_record`` the lines of a file.
    """

    def __init__(self, summary: SessionSummary, *, samples: bool = True) -> None:
        self.summary = summary
        self._keep_samples = samples  # a chart needs them; a list of sessions does not
        self._last: Sample | None = None
        self._last_distance: float | None = None
        self._steps: dict[int, StepRecord] = {}

    def add(self, line: Mapping[str, Any]) -> None:
        summary = self.summary
        summary.lines += 1
        if not summary.session and isinstance(line.get("session"), str):
            summary.session = line["session"]
        kind = line.get("type")
        t = _number(line.get("t"))
        if kind == "start":
            self._start(line)
        elif kind == "telemetry":
            self._telemetry(line, t)
        elif kind == "event":
            self._event(line)
        elif kind == "end":
            self._end(line, t)

    def _start(self, line: Mapping[str, Any]) -> None:
        summary = self.summary
        summary.started = True
        summary.program = _string(line.get("program"))
        summary.profile = _string(line.get("profile"))
        summary.device = _string(line.get("device"))
        simulated = line.get("simulated")
        summary.simulated = simulated if isinstance(simulated, bool) else None
        summary.started_at = _string(line.get("started_at"))
        summary.ceiling_kmh = _number(line.get("ceiling_backward_kmh"))
        week = line.get("week")
        whole = isinstance(week, int) and not isinstance(week, bool) and week >= 1
        summary.week = week if whole else None

    def _telemetry(self, line: Mapping[str, Any], t: float) -> None:
        summary = self.summary
        distance = _number(line.get("distance_m"))
        speed = _number(line.get("speed_kmh"))
        direction = str(line.get("direction", "forward"))
        heart_rate = line.get("heart_rate_bpm")
        bpm = (
            heart_rate if isinstance(heart_rate, int) and not isinstance(heart_rate, bool) else None
        )
        step = line.get("step")
        source = line.get("heart_rate_source")
        sample = Sample(
            t=t,
            speed_kmh=speed,
            direction=direction,
            heart_rate_bpm=bpm,
            step=-1 if step is None else step,
            heart_rate_source=source if source in HEART_RATE_SOURCES else None,
        )
        last = self._last
        if last is not None:
            span = max(t - last.t, 0.0)
            if last.direction == "backward":
                summary.backward_s += span
                if self._last_distance is not None and distance >= self._last_distance:
                    summary.backward_m += distance - self._last_distance
            record = self._steps.get(last.step)
            if record is not None:
                record.time_s += span
                record._speed_time += last.speed_kmh * span
                aim = record.target_kmh if record.aim_kmh is None else record.aim_kmh
                if abs(last.speed_kmh - aim) <= AT_SPEED_KMH + 1e-9:
                    record.at_speed_s += span
        if direction in {"backward", "turning"}:
            summary.max_backward_kmh = max(summary.max_backward_kmh, speed)
        if bpm is not None and bpm > 0:
            summary._heart_rate_sum += bpm
            summary._heart_rate_count += 1
            summary.heart_rate_max = max(summary.heart_rate_max or 0, bpm)
            if sample.heart_rate_source is not None:
                sources = summary.heart_rate_sources
                sources[sample.heart_rate_source] = sources.get(sample.heart_rate_source, 0) + 1
        summary.distance_m = max(summary.distance_m, distance)
        summary.duration_s = max(summary.duration_s, t)
        if self._keep_samples:
            summary.samples.append(sample)
        self._last, self._last_distance = sample, distance

    def _event(self, line: Mapping[str, Any]) -> None:
        summary = self.summary
        if line.get("kind") in _SAFETY:
            summary.safety_events.append(dict(line))
        try:
            event = event_from_json(line)
        except (ValueError, TypeError, KeyError):
            # A kind this version does not know, or a hand edit no event can hold:
            # nothing to fold (the fold never raises into a session's record).
            return
        match event:
            case SessionStarted():
                summary.plan = event.steps
                summary.program = summary.program or event.program
            case StepStarted():
                self._step(event)
            case TurnaroundPhase():
                turn = self._turn(event.index)
                if turn is not None:
                    turn.to = str(event.to)
                    turn.stop_belt = event.stop_belt
                    if event.phase != "slowing" and turn.turn_t is None:
                        turn.turn_t = event.t
            case TurnaroundConfirmed():
                turn = summary.turnarounds[-1] if summary.turnarounds else None
                if turn is not None and turn.confirmed_t is None:
                    turn.to = str(event.to)
                    turn.confirmed_t = event.t
            case UserStopped():
                summary.user_stop_t = event.t
            case SpeedAdjusted():
                # A nudge, or a heart-rate step's zone moving its target: "at target"
                # is then at that speed (the step's planned one is only where it began).
                current = summary.steps[-1] if summary.steps else None
                if current is not None and current.ended_t is None:
                    current.aim_kmh = event.target_kmh
            case _:
                pass

    def _step(self, event: StepStarted) -> None:
        summary = self.summary
        step = event.step
        if summary.steps and summary.steps[-1].ended_t is None:
            summary.steps[-1].ended_t = event.t
            summary.steps[-1].done = True
        record = StepRecord(
            index=step.index,
            label=step.label,
            direction=str(step.direction),
            turnaround=step.turnaround,
            target_kmh=step.speed_kmh,
            incline_pct=step.incline_pct,
            planned_s=step.duration_s,
            started_t=event.t,
        )
        summary.steps.append(record)
        self._steps[step.index] = record
        if step.turnaround:
            summary.turnarounds.append(
                TurnRecord(index=step.index, to="", started_t=event.t, limit_kmh=step.speed_kmh)
            )

    def _turn(self, index: int) -> TurnRecord | None:
        for turn in reversed(self.summary.turnarounds):
            if turn.index == index:
                return turn
        return self.summary.turnarounds[-1] if self.summary.turnarounds else None

    def _end(self, line: Mapping[str, Any], t: float) -> None:
        summary = self.summary
        summary.ended = True
        summary.reason = str(line.get("reason", "unknown"))
        summary.message = _string(line.get("message"))
        summary.belt_stopped = bool(line.get("belt_stopped"))
        acknowledged = line.get("stop_acknowledged")
        summary.stop_acknowledged = None if acknowledged is None else bool(acknowledged)
        summary.over_ceiling_s = _number(line.get("over_ceiling_s"))
        summary.duration_s = _number(line.get("duration_s"), summary.duration_s)
        summary.distance_m = _number(line.get("distance_m"), summary.distance_m)
        summary.energy_kcal = _number(line.get("energy_kcal"))
        summary.backward_s = _number(line.get("backward_s"), summary.backward_s)
        if "backward_m" in line:
            summary.backward_m = _number(line.get("backward_m"), summary.backward_m)
        if summary.steps and summary.steps[-1].ended_t is None:
            summary.steps[-1].ended_t = t
            summary.steps[-1].done = summary.reason == "completed"


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object, default: float = 0.0) -> float:
    """A finite number from a record field (a hand-edited record may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    number = float(value)
    return number if math.isfinite(number) else default


def last_session(lines: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The lines of the last session a record holds (records without ids: all)."""
    sessions: dict[object, list[Mapping[str, Any]]] = {}
    for line in lines:
        sessions.setdefault(line.get("session"), []).append(line)
    if not sessions:
        return []
    return list(sessions.values())[-1]


def summarize(lines: Iterable[Mapping[str, Any]]) -> SessionSummary:
    """Fold one session's lines into a summary; works on a record cut short, too."""
    summary = SessionSummary()
    folder = _SummaryFolder(summary)
    for line in lines:
        folder.add(line)
    return summary


@dataclass(slots=True)
class RecordFile:
    """A record file read back: each session in it folded, and what could not be read.

    ``bad_lines`` counts the lines that are not a record line (a torn last line, a
    hand edit, garbage); ``error`` says why the file could not be read at all.
    """

    path: Path
    sessions: list[SessionSummary] = field(default_factory=list)
    bad_lines: int = 0
    error: str | None = None


def load_record(path: Path, *, samples: bool = True) -> RecordFile:
    """Read and fold every session of one record file, in one pass; never raises.

    Sessions are told apart by their ``session`` id (lines without one belong
    together), in the order they first appear. ``samples=False`` folds without
    keeping every telemetry record (what a list of many sessions needs)."""
    result = RecordFile(path)
    folders: dict[object, _SummaryFolder] = {}
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for raw in f:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except (json.JSONDecodeError, RecursionError):
                    line = None
                if not isinstance(line, dict) or not isinstance(line.get("type"), str):
                    result.bad_lines += 1
                    continue
                folder = folders.get(line.get("session"))
                if folder is None:
                    folder = folders[line.get("session")] = _SummaryFolder(
                        SessionSummary(), samples=samples
                    )
                    result.sessions.append(folder.summary)
                folder.add(line)
    except OSError as exc:
        result.error = exc.strerror or str(exc)
    return result
