"""Plain text guidance: one line per event or state change worth printing.

This is what ``--plain`` prints (and what runs when there is no terminal), and the
lowest layer of the guidance sinks: the display and the voice read the same
``step_started`` / ``turnaround`` event data through :class:`StepInfo` and
:class:`TurnaroundInfo`, and reuse the formatting helpers here.

The event data contract (emitted by the session, read here):

``session_started``
    ``program`` (str), ``ceiling_kmh`` (float), ``steps``: a list of
    ``{"direction", "speed_kmh", "duration_s", "label", "turnaround"}``, one per
    plan step, in plan order (the display draws the program bar from it).
``step_started``
    ``index`` (int, equal to ``SessionState.step`` while the step runs),
    ``total`` (int), ``direction`` ("forward" | "backward"), ``speed_kmh``,
    ``incline_pct``, ``duration_s``, ``label``, ``cue`` (the program's own cue
    text or ""), ``turnaround`` (bool), and ``next``: the following step as a
    mapping with the same fields (without ``next``), or null for the last step.
``turnaround``
    ``index`` (the turn-around's plan index), ``phase`` ("slowing" when the
    belt starts slowing, "turn" when it is slow enough to turn), ``to``
    (the direction after the turn), ``stop_belt`` (bool), ``needs_confirm``
    (bool: a person presses Enter), ``hold_s`` (float). A session that emits a
    single event without ``phase`` gets the whole script at once.
``turnaround_confirmed`` when the runner (or the unattended hold) lets it go on.
``speed_adjusted``: ``target_kmh``. ``ceiling_clamped``: ``ceiling_kmh``.
``command_refused``: ``command``, and the reason in ``message``.
``session_ended``: ``reason`` ("completed", "stopped", "safety_stop", "error").
Every event's ``message`` is shown as is (banner, console line): one short
sentence for a person.

Everything here tolerates missing or malformed fields: a sink must never end a
session because of a field it did not expect.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from retrorun.bus import Item
from retrorun.events import Direction, EventKind, SessionEvent, SessionState, Status

__all__ = [
    "PlainSink",
    "StepInfo",
    "TurnaroundInfo",
    "format_clock",
    "format_distance",
    "format_event",
    "format_speed",
    "format_state",
    "format_step",
]


def _float(data: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _direction(value: object) -> Direction:
    # An unknown direction is treated as backward: every limit does the same.
    try:
        return Direction(str(value))
    except ValueError:
        return Direction.BACKWARD


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One plan step as the guidance sinks see it (from ``step_started`` data)."""

    index: int
    direction: Direction
    speed_kmh: float
    duration_s: float
    label: str = ""
    cue: str = ""
    incline_pct: float = 0.0
    turnaround: bool = False

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, index: int = -1) -> StepInfo:
        """Read a step from event data, with defaults for anything missing."""
        return cls(
            index=_int(data, "index", index),
            direction=_direction(data.get("direction")),
            speed_kmh=max(0.0, _float(data, "speed_kmh")),
            duration_s=max(0.0, _float(data, "duration_s")),
            label=_str(data, "label"),
            cue=_str(data, "cue"),
            incline_pct=_float(data, "incline_pct"),
            turnaround=data.get("turnaround") is True,
        )

    @classmethod
    def from_event(cls, event: SessionEvent) -> tuple[StepInfo, StepInfo | None, int]:
        """``(step, next step or None, total steps)`` from a ``step_started`` event."""
        step = cls.from_data(event.data)
        raw_next = event.data.get("next")
        upcoming = (
            cls.from_data(raw_next, index=step.index + 1) if isinstance(raw_next, Mapping) else None
        )
        return step, upcoming, _int(event.data, "total", 0)

    def changes_from(self, other: StepInfo) -> bool:
        """True when going from ``other`` to this step changes speed or direction."""
        return (
            self.turnaround
            or other.turnaround
            or self.direction is not other.direction
            or round(self.speed_kmh * 100) != round(other.speed_kmh * 100)
        )


@dataclass(frozen=True, slots=True)
class TurnaroundInfo:
    """A turn-around as announced by the session's ``turnaround`` event."""

    index: int
    phase: str | None
    to: Direction
    stop_belt: bool
    needs_confirm: bool
    hold_s: float

    @classmethod
    def from_event(cls, event: SessionEvent) -> TurnaroundInfo:
        """Read the event's data; ``phase`` is None for a single, whole-script event."""
        phase = _str(event.data, "phase")
        return cls(
            index=_int(event.data, "index", -1),
            phase=phase if phase in {"slowing", "turn"} else None,
            to=_direction(event.data.get("to")),
            stop_belt=event.data.get("stop_belt") is True,
            needs_confirm=event.data.get("needs_confirm", True) is not False,
            hold_s=_float(event.data, "hold_s"),
        )


def format_clock(seconds: float) -> str:
    """``83`` -> ``1:23``; ``3725`` -> ``1:02:05``. Negative values count as zero."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_speed(kmh: float) -> str:
    """One decimal, or two when the speed needs them: ``2.5``, ``4.0``, ``2.25``."""
    hundredths = round(kmh * 100)
    return f"{hundredths / 100:.2f}" if hundredths % 10 else f"{hundredths / 100:.1f}"


def format_distance(metres: float) -> str:
    """``850 m`` below a kilometre, ``1.23 km`` from there."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.2f} km"


def format_step(step: StepInfo, total: int = 0) -> str:
    """``step 3/14 BACKWARD 2.5 km/h for 1:00 · work`` (1-based for people)."""
    number = f"step {step.index + 1}/{total}" if total else f"step {step.index + 1}"
    if step.turnaround:
        what = f"TURN AROUND to face {_facing(step.direction)}"
    else:
        what = f"{step.direction.upper()} {format_speed(step.speed_kmh)} km/h"
        if step.incline_pct:
            what += f" at {step.incline_pct:g} %"
    text = f"{number} {what} for {format_clock(step.duration_s)}"
    return f"{text} · {step.label}" if step.label else text


def _facing(direction: Direction) -> str:
    return "the console" if direction is Direction.FORWARD else "the rear"


def format_state(state: SessionState) -> str:
    """One telemetry line: direction, speed and target, the step, distance, HR."""
    hr = f"{state.heart_rate_bpm} bpm" if state.heart_rate_bpm is not None else "-- bpm"
    step = f"step {state.step + 1}"
    if state.steps_total:
        step += f"/{state.steps_total}"
    if state.step_label:
        step += f" {state.step_label}"
    speed = f"{state.direction.upper()} {format_speed(state.speed_kmh)} km/h"
    parts = [
        f"{speed} (target {format_speed(state.target_kmh)})",
        f"{step} {format_clock(state.step_remaining_s)} left",
        format_distance(state.distance_m),
        f"HR {hr}",
    ]
    if state.status is not Status.RUNNING:
        parts.append(state.status.upper())
    return " · ".join(parts)


def format_event(event: SessionEvent) -> str:
    """One line for an event: a step in words, or the event's own message.

    Safety events start with ``!`` so they stand out in a scrolling console.
    """
    if event.kind is EventKind.STEP_STARTED:
        step, upcoming, total = StepInfo.from_event(event)
        text = f"> {format_step(step, total)}"
        if step.cue:
            text += f' "{step.cue}"'
        if upcoming is not None:
            text += f" (next: {format_step(upcoming, total)})"
        return text
    if event.kind is EventKind.TURNAROUND:
        turn = TurnaroundInfo.from_event(event)
        if turn.phase == "turn":
            action = "turn around now" + (", then press Enter" if turn.needs_confirm else "")
        else:
            action = ("stopping the belt" if turn.stop_belt else "slowing down") + (
                ", hold the rails"
            )
        return f"~ turn-around to face {_facing(turn.to)}: {action}"
    label = event.kind.replace("_", " ")
    message = event.message.strip()
    text = f"{label}: {message}" if message and message != str(event.kind) else label
    return f"! {text}" if event.safety else f"- {text}"


class PlainSink:
    """Prints the session to a text stream, one line per thing worth a line.

    Every event gets a line. A state gets one on a step change, on a status
    change, and otherwise every ``every_s`` seconds of session time: a console
    scrolled by ten telemetry records a second is unreadable.
    """

    def __init__(
        self,
        subscription: AsyncIterable[Item],
        *,
        stream: TextIO | None = None,
        every_s: float = 10.0,
    ) -> None:
        self._subscription = subscription
        self._stream = stream
        self._every_s = every_s
        self._last: SessionState | None = None
        self._last_t = float("-inf")
        self.lines = 0

    def line_for(self, item: Item) -> str | None:
        """The line ``item`` earns (with its session time), or None."""
        if isinstance(item, SessionEvent):
            return f"{format_clock(item.t):>8}  {format_event(item)}"
        last, self._last = self._last, item
        if (
            last is not None
            and last.step == item.step
            and last.status is item.status
            and item.t - self._last_t < self._every_s
        ):
            return None
        self._last_t = item.t
        return f"{format_clock(item.t):>8}  {format_state(item)}"

    async def run(self) -> None:
        """Print until the subscription ends."""
        stream = self._stream if self._stream is not None else sys.stdout
        async for item in self._subscription:
            line = self.line_for(item)
            if line is None:
                continue
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):
                # A closed or broken stdout (a pipe whose reader left) ends the
                # printing, never the session.
                return
            self.lines += 1
