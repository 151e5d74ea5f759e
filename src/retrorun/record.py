"""The session record: one JSON object per line, written as things happen.

Every line has ``type`` and ``t`` (seconds since the session started). Types:
``start``, ``telemetry`` (every record), ``command`` (every control-point
procedure), ``event`` and ``end``. Each line is flushed as it is written, so a
record cut short by a crash or ``kill -9`` still parses line by line (the reader
skips a torn last line). Field names are an interface: keep them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from retrorun.events import SAFETY_KINDS, EventKind, SessionEvent

__all__ = [
    "Recorder",
    "SessionSummary",
    "default_record_path",
    "read_record",
    "summarize",
]


def default_record_path(program: str, now: dt.datetime | None = None) -> Path:
    """``$XDG_DATA_HOME/retrorun/sessions/<timestamp>-<program>.jsonl``."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in program)[:40] or "session"
    return base / "retrorun" / "sessions" / f"{stamp}-{safe}.jsonl"


class Recorder:
    """Appends record lines to a file; never raises into the session after opening.

    A write failure (disk full, file removed) is remembered in ``error`` and the
    session goes on: losing the record must not leave a belt running.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.error: str | None = None
        self.lines = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def write(self, type_: str, t: float, **fields: Any) -> None:
        """Write one line ``{"type": type_, "t": t, **fields}`` and flush it."""
        if self._file is None:
            return
        line = json.dumps({"type": type_, "t": round(t, 3), **fields}, separators=(",", ":"))
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except (OSError, ValueError) as exc:
            self.error = f"session record {self.path}: {exc}"
            self._file = None
        else:
            self.lines += 1

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
            except OSError as exc:
                self.error = f"session record {self.path}: {exc}"
            self._file = None


def read_record(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the record's lines as dicts, skipping a torn or unreadable line."""
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
        out = [
            f"{self.program}: {self.reason.replace('_', ' ')}{belt}",
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


def summarize(lines: Iterable[Mapping[str, Any]]) -> SessionSummary:
    """Fold a record into a summary; works on a record cut short, too."""
    summary = SessionSummary()
    last_t: float | None = None
    last_direction = ""
    last_distance: float | None = None
    for line in lines:
        kind = line.get("type")
        t = float(line.get("t", 0.0))
        if kind == "start":
            summary.program = str(line.get("program", ""))
            summary.ceiling_kmh = float(line.get("ceiling_backward_kmh", 0.0))
        elif kind == "telemetry":
            distance = float(line.get("distance_m", 0.0))
            speed = float(line.get("speed_kmh", 0.0))
            direction = str(line.get("direction", "forward"))
            if last_t is not None and last_direction in {"backward", "turning"}:
                summary.backward_s += t - last_t
                if last_distance is not None and distance >= last_distance:
                    summary.backward_m += distance - last_distance
            if direction in {"backward", "turning"}:
                summary.max_backward_kmh = max(summary.max_backward_kmh, speed)
            summary.distance_m = max(summary.distance_m, distance)
            last_t, last_direction, last_distance = t, direction, distance
            summary.duration_s = max(summary.duration_s, t)
        elif kind == "event" and line.get("kind") in _SAFETY:
            summary.safety_events.append(line)
        elif kind == "end":
            summary.reason = str(line.get("reason", "unknown"))
            summary.belt_stopped = bool(line.get("belt_stopped"))
            acknowledged = line.get("stop_acknowledged")
            summary.stop_acknowledged = None if acknowledged is None else bool(acknowledged)
            summary.over_ceiling_s = float(line.get("over_ceiling_s", 0.0))
            summary.duration_s = float(line.get("duration_s", summary.duration_s))
            summary.distance_m = float(line.get("distance_m", summary.distance_m))
            summary.energy_kcal = float(line.get("energy_kcal", 0.0))
            summary.backward_s = float(line.get("backward_s", summary.backward_s))
    return summary
