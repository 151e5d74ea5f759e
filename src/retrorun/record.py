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
(``/dev/full``, a pipe) or that holds other sessions cannot change it. The totals
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

from retrorun.events import SAFETY_KINDS, EventKind, SessionEvent

__all__ = [
    "Recorder",
    "SessionSummary",
    "check_record_path",
    "default_record_path",
    "last_session",
    "read_record",
    "summarize",
]


def default_record_path(program: str, now: dt.datetime | None = None) -> Path:
    """``$XDG_DATA_HOME/retrorun/sessions/<timestamp>-<program>.jsonl``.

    ``UsageError`` when there is neither ``XDG_DATA_HOME`` nor a home folder."""
    from retrorun.errors import UsageError

    data_home = os.environ.get("XDG_DATA_HOME")
    if not data_home:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):
            home = None
        if home is None or not str(home) or not home.is_absolute():
            raise UsageError(
                "no home folder for the session record (HOME is unset): give --record FILE"
            )
        data_home = str(home / ".local" / "share")
    base = Path(data_home)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in program)[:40] or "session"
    return base / "retrorun" / "sessions" / f"{stamp}-{safe}.jsonl"


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
        """Flush and close; safe to call twice."""
        if self._file is not None:
            try:
                self._file.close()
            except (OSError, ValueError) as exc:
                self._file = None
                self._fail(exc)
            self._file = None


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


@dataclass(slots=True)
class SessionSummary:
    """What a person wants to know after a session, computed from its record."""

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

    def lines(self) -> list[str]:
        """The summary as lines of text for the terminal."""

        def clock(seconds: float) -> str:
            m, s = divmod(round(seconds), 60)
            return f"{m}:{s:02d}"

        belt = ""
        if self.belt_stopped:
            belt = ", belt stopped"
        elif self.stop_acknowledged:
            belt = ", stop commanded, belt not yet seen stopped"
        elif self.belt_stopped is not None:
            belt = ", belt NOT confirmed stopped"
        out = [f"{self.program}: {self.reason.replace('_', ' ')}{belt}"]
        if self.belt_stopped is False and not self.stop_acknowledged:
            out.append(
                "  The belt could not be confirmed stopped: it may still be moving."
                " Stop it at the treadmill's console or pull the safety key."
            )
        out += [
            (
                f"  time {clock(self.duration_s)}   distance {self.distance_m:.0f} m"
                f"   energy ~{self.energy_kcal:.0f} kcal"
            ),
            (
                f"  backward {clock(self.backward_s)} and {self.backward_m:.0f} m, top speed "
                f"{self.max_backward_kmh:.1f} km/h against a ceiling of {self.ceiling_kmh:.1f} km/h"
            ),
        ]
        if self.over_ceiling_s > 0:
            out.append(f"  over the ceiling for {self.over_ceiling_s:.1f} s")
        if self.safety_events:
            out.append(f"  safety events ({len(self.safety_events)}):")
            out.extend(
                f"    {float(e.get('t', 0)):7.1f} s  {e.get('kind')}: {e.get('message', '')}"
                for e in self.safety_events
            )
        else:
            out.append("  no safety events")
        return out


_SAFETY = {str(k) for k in SAFETY_KINDS} - {str(EventKind.SESSION_ENDED)}


class _SummaryFolder:
    """Folds record lines, one at a time, into a :class:`SessionSummary`."""

    def __init__(self, summary: SessionSummary) -> None:
        self.summary = summary
        self._last_t: float | None = None
        self._last_direction = ""
        self._last_distance: float | None = None

    def add(self, line: Mapping[str, Any]) -> None:
        summary = self.summary
        kind = line.get("type")
        t = _number(line.get("t"))
        if kind == "start":
            summary.program = str(line.get("program", ""))
            summary.ceiling_kmh = _number(line.get("ceiling_backward_kmh"))
        elif kind == "telemetry":
            distance = _number(line.get("distance_m"))
            speed = _number(line.get("speed_kmh"))
            direction = str(line.get("direction", "forward"))
            if self._last_t is not None and self._last_direction == "backward":
                summary.backward_s += max(t - self._last_t, 0.0)
                if self._last_distance is not None and distance >= self._last_distance:
                    summary.backward_m += distance - self._last_distance
            if direction in {"backward", "turning"}:
                summary.max_backward_kmh = max(summary.max_backward_kmh, speed)
            summary.distance_m = max(summary.distance_m, distance)
            self._last_t, self._last_direction, self._last_distance = t, direction, distance
            summary.duration_s = max(summary.duration_s, t)
        elif kind == "event" and line.get("kind") in _SAFETY:
            summary.safety_events.append(dict(line))
        elif kind == "end":
            summary.reason = str(line.get("reason", "unknown"))
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
