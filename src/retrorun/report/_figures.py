"""The figures a report shows, computed once for the text, the JSON and the chart.

Everything here reads a :class:`~retrorun.record.SessionSummary` (the one fold of
a record's lines) and derives what a person reads: how the session ended in
words, paces, the safety events with repeats counted, each step's target against
what the belt did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retrorun.guidance import format_clock
from retrorun.record import SessionSummary, StepRecord

__all__ = [
    "EventGroup",
    "StepRow",
    "ending",
    "event_groups",
    "heart_rate_source",
    "limits_in_force",
    "local_start",
    "pace_s_per_km",
    "step_rows",
    "tenths_clock",
]

_ENDINGS = {
    "completed": "completed",
    "user_stop": "stopped by the runner",
    "safety_stop": "safety stop",
    "safety_key": "safety key pulled",
    "link_lost": "link lost",
    "signal": "interrupted",
    "error": "ended by an error",
}


def ending(summary: SessionSummary) -> str:
    """How the session ended, in words; a record without its end line was cut short."""
    if not summary.ended:
        return "cut short (no end line)"
    return _ENDINGS.get(summary.reason, summary.reason.replace("_", " "))


def heart_rate_source(summary: SessionSummary) -> str | None:
    """Where the session's heart rate came from, as the telemetry lines say:
    ``strap``, ``treadmill``, ``strap and treadmill`` (a strap that came late or
    dropped out: the treadmill's field filled in), or None when no line says."""
    sources = [s for s in ("strap", "treadmill") if summary.heart_rate_sources.get(s)]
    return " and ".join(sources) or None


def tenths_clock(seconds: float) -> str:
    """``m:ss.s``: a short safety figure (time over the ceiling) without losing it."""
    tenths = max(0, round(seconds * 10))
    minutes, rest = divmod(tenths, 600)
    return f"{minutes}:{rest // 10:02d}.{rest % 10}"


def pace_s_per_km(seconds: float, metres: float) -> float | None:
    """Seconds per kilometre; None when too little distance to say (under 10 m)."""
    return seconds / metres * 1000 if metres >= 10 and seconds > 0 else None


def local_start(summary: SessionSummary) -> dt.datetime | None:
    """When the session started, in this machine's time zone (None if unknown)."""
    try:
        started = dt.datetime.fromisoformat(summary.started_at)
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return started.astimezone()


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Identical safety events (same kind, same message) counted, not repeated."""

    kind: str
    message: str
    times: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.times)

    def text(self) -> str:
        """``0:45  ceiling_clamped, 15 times to 2:10: message``."""
        repeat = ""
        if self.count > 1:
            last = format_clock(self.times[-1])
            until = f" to {last}" if last != format_clock(self.times[0]) else ""
            repeat = f", {self.count} times{until}"
        return f"{format_clock(self.times[0]):>6}  {self.kind}{repeat}: {self.message}"


def event_groups(events: list[Mapping[str, Any]]) -> list[EventGroup]:
    """Safety events grouped by kind and message, in the order each first came."""
    groups: dict[tuple[str, str], list[float]] = {}
    for event in events:
        t = event.get("t")
        time = float(t) if isinstance(t, int | float) and not isinstance(t, bool) else 0.0
        key = (str(event.get("kind", "")), str(event.get("message", "")))
        groups.setdefault(key, []).append(time)
    return [EventGroup(kind, message, tuple(times)) for (kind, message), times in groups.items()]


@dataclass(frozen=True, slots=True)
class StepRow:
    """A plan step (turn-arounds aside): what it asked, and what became of it."""

    index: int
    label: str
    direction: str
    target_kmh: float
    planned_s: float
    record: StepRecord | None  # None: the session never reached it

    @property
    def state(self) -> str:
        """``done``, ``cut short`` (the session ended in it) or ``not reached``."""
        if self.record is None:
            return "not reached"
        return "done" if self.record.done else "cut short"


def step_rows(summary: SessionSummary) -> list[StepRow]:
    """Every step of the announced plan (or, without it, every step that started)."""
    started = {step.index: step for step in summary.steps if not step.turnaround}
    rows = [
        StepRow(
            info.index,
            info.label,
            str(info.direction),
            info.speed_kmh,
            info.duration_s,
            started.pop(info.index, None),
        )
        for info in summary.plan
        if not info.turnaround
    ]
    rows += [
        StepRow(s.index, s.label, s.direction, s.target_kmh, s.planned_s, s)
        for s in started.values()  # steps the plan did not announce (a cut head)
    ]
    return sorted(rows, key=lambda row: row.index)


def limits_in_force(summary: SessionSummary) -> list[float | None]:
    """The speed limit at each telemetry record, where one applies: facing backward
    the ceiling, turning the turn's own speed (0 on a stopped belt), forward none."""
    turns = summary.turnarounds
    out: list[float | None] = []
    for sample in summary.samples:
        if sample.direction == "backward":
            out.append(summary.ceiling_kmh)
        elif sample.direction == "turning":
            started = [turn for turn in turns if turn.started_t <= sample.t]
            out.append(started[-1].limit_kmh if started else summary.ceiling_kmh)
        else:
            out.append(None)
    return out
