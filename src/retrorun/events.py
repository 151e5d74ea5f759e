"""What a session tells the world: live state, discrete events, and the controls it accepts.

Every sink (display, voice, MQTT, recorder) reads the same stream of these two
types from ``retrorun.bus``. Field names here are the names on the wire (the
session record's JSON lines and the MQTT payloads): keep them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "SAFETY_KINDS",
    "Direction",
    "EventKind",
    "LocalControls",
    "RemoteCommand",
    "SessionControls",
    "SessionEvent",
    "SessionState",
    "Status",
]


class Direction(enum.StrEnum):
    """Which way the runner faces. ``turning`` counts as backward for every limit."""

    FORWARD = "forward"
    BACKWARD = "backward"
    TURNING = "turning"


class Status(enum.StrEnum):
    """What the session is doing, as a person would say it."""

    IDLE = "idle"
    RUNNING = "running"
    TURNING = "turning"
    PAUSED = "paused"
    STOPPED = "stopped"


class EventKind(enum.StrEnum):
    """Kinds of session events (the ``kind`` field of records and MQTT events)."""

    SESSION_STARTED = "session_started"
    STEP_STARTED = "step_started"
    TURNAROUND = "turnaround"
    TURNAROUND_CONFIRMED = "turnaround_confirmed"
    PAUSED = "paused"
    RESUMED = "resumed"
    SPEED_ADJUSTED = "speed_adjusted"
    CEILING_CLAMPED = "ceiling_clamped"
    CEILING_VIOLATION = "ceiling_violation"
    BELT_HALTED = "belt_halted"  # moving where the phase wants it still: stopped, paused
    SPEED_REFUSED = "speed_refused"  # a speed the device cannot reach within the ramp rule
    HR_HIGH = "hr_high"
    SAFETY_STOP = "safety_stop"
    SAFETY_KEY = "safety_key"
    CONSOLE_CHANGE = "console_change"
    COMMAND_IGNORED_BY_DEVICE = "command_ignored_by_device"
    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"
    USER_STOP = "user_stop"
    COMMAND_ACK = "command_ack"
    COMMAND_REFUSED = "command_refused"
    CONFIRM_NEEDED = "confirm_needed"  # pre-flight: waiting for the runner to say ready
    SINK_WARNING = "sink_warning"
    SESSION_ENDED = "session_ended"


# Never dropped by a full queue, and interrupt whatever the voice is saying.
SAFETY_KINDS: frozenset[EventKind] = frozenset(
    {
        EventKind.CEILING_CLAMPED,
        EventKind.CEILING_VIOLATION,
        EventKind.BELT_HALTED,
        EventKind.SPEED_REFUSED,
        EventKind.HR_HIGH,
        EventKind.SAFETY_STOP,
        EventKind.SAFETY_KEY,
        EventKind.LINK_LOST,
        EventKind.LINK_RESTORED,
        EventKind.USER_STOP,
        EventKind.CONSOLE_CHANGE,
        EventKind.COMMAND_IGNORED_BY_DEVICE,
        EventKind.SESSION_ENDED,
    }
)


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something that happened at session time ``t`` (seconds since the start)."""

    t: float
    kind: EventKind
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def safety(self) -> bool:
        """Safety events are never dropped and are always announced."""
        return self.kind in SAFETY_KINDS

    def to_json_dict(self) -> dict[str, Any]:
        """The event as the record and MQTT carry it."""
        return {"t": round(self.t, 3), "kind": str(self.kind), "message": self.message, **self.data}


@dataclass(frozen=True, slots=True)
class SessionState:
    """The session as of one telemetry record: what a dashboard shows."""

    t: float
    speed_kmh: float
    incline_pct: float
    distance_m: float
    elapsed_s: float
    heart_rate_bpm: int | None
    direction: Direction
    step: int
    step_label: str
    step_remaining_s: float
    program: str
    status: Status
    ceiling_kmh: float
    target_kmh: float = 0.0
    steps_total: int = 0
    energy_kcal: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        """The MQTT ``state`` payload (one flat JSON object)."""
        return {
            "speed_kmh": round(self.speed_kmh, 2),
            "incline_pct": round(self.incline_pct, 1),
            "distance_m": round(self.distance_m, 1),
            "elapsed_s": round(self.elapsed_s, 1),
            "heart_rate_bpm": self.heart_rate_bpm,
            "direction": str(self.direction),
            "step": self.step,
            "step_label": self.step_label,
            "step_remaining_s": round(self.step_remaining_s, 1),
            "program": self.program,
            "status": str(self.status),
            "ceiling_kmh": round(self.ceiling_kmh, 2),
            "target_kmh": round(self.target_kmh, 2),
            "energy_kcal": round(self.energy_kcal, 1),
        }


RemoteCommand = Literal["pause", "resume", "stop"]


class SessionControls(Protocol):
    """What a sink may ask of a running session. Nothing here can raise speed.

    ``request`` never blocks: it queues the action for the session and answers
    whether it was accepted. The session itself emits ``command_ack`` (accepted)
    or ``command_refused`` events, so every sink sees the outcome.
    """

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        """Queue ``command``; False when it cannot apply now (e.g. resume while running)."""
        ...


class LocalControls(SessionControls, Protocol):
    """What a person at the treadmill may do from the keyboard, beyond remote commands.

    Speed adjustments go through the safety governor like every other command: at
    the ceiling, ``adjust_speed(+10)`` changes nothing and the session says so.
    """

    def adjust_speed(self, delta: int, *, source: str) -> bool:
        """Nudge the current step's target by ``delta`` in 0.01 km/h (the keys use +-10)."""
        ...

    def confirm(self, *, source: str) -> bool:
        """Confirm a turn-around (or the pre-flight checks); False when nothing waits."""
        ...
