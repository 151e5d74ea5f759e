"""What a session tells the world: live state, discrete events, and the controls it accepts.

Every sink (display, voice, MQTT, recorder) reads the same stream of these two
types from ``retrorun.bus``. Field names here are the names on the wire (the
session record's JSON lines and the MQTT payloads): keep them.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Literal, Protocol, TypeAlias

__all__ = [
    "EVENT_TYPES",
    "SAFETY_KINDS",
    "BeltHalted",
    "CeilingClamped",
    "CeilingViolation",
    "CommandAck",
    "CommandRefused",
    "ConfirmNeeded",
    "ConsoleChange",
    "DeviceIgnoredCommand",
    "Direction",
    "EventKind",
    "HeartRateHigh",
    "LinkDown",
    "LinkRestored",
    "LocalControls",
    "Paused",
    "RemoteCommand",
    "Resumed",
    "SafetyKeyPulled",
    "SafetyStopped",
    "SessionControls",
    "SessionEnded",
    "SessionEvent",
    "SessionStarted",
    "SessionState",
    "SinkWarning",
    "SpeedAdjusted",
    "SpeedRefused",
    "Status",
    "StepInfo",
    "StepStarted",
    "TreadmillNote",
    "TurnaroundConfirmed",
    "TurnaroundPhase",
    "UserStopped",
    "event_from_json",
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
    SINK_WARNING = "sink_warning"  # a display or the record failed: the session goes on
    TREADMILL_NOTE = "treadmill_note"  # what the client learned of the machine, in words
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


def _number(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _whole(value: object, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _facing(value: object) -> Direction:
    # An unknown direction is treated as backward: every limit does the same.
    try:
        return Direction(str(value))
    except ValueError:
        return Direction.BACKWARD


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One plan step as events carry it (``session_started``, ``step_started``)."""

    index: int
    direction: Direction
    speed_kmh: float
    duration_s: float
    label: str = ""
    cue: str = ""
    incline_pct: float = 0.0
    turnaround: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        """The step as the record and MQTT carry it."""
        return {
            "index": self.index,
            "direction": str(self.direction),
            "speed_kmh": self.speed_kmh,
            "incline_pct": self.incline_pct,
            "duration_s": self.duration_s,
            "label": self.label,
            "cue": self.cue,
            "turnaround": self.turnaround,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, index: int = -1) -> StepInfo:
        """Read a step back from JSON, with defaults for anything missing or malformed."""
        return cls(
            index=_whole(data.get("index"), index),
            direction=_facing(data.get("direction")),
            speed_kmh=max(0.0, _number(data.get("speed_kmh"))),
            duration_s=max(0.0, _number(data.get("duration_s"))),
            label=_text(data.get("label")),
            cue=_text(data.get("cue")),
            incline_pct=_number(data.get("incline_pct")),
            turnaround=data.get("turnaround") is True,
        )

    def changes_from(self, other: StepInfo) -> bool:
        """True when going from ``other`` to this step changes speed or direction."""
        return (
            self.turnaround
            or other.turnaround
            or self.direction is not other.direction
            or round(self.speed_kmh * 100) != round(other.speed_kmh * 100)
        )


_OMIT_NONE: Final = {"omit_none": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    """What every event has: session time ``t`` and one short sentence for a person."""

    kind: ClassVar[EventKind]
    t: float
    message: str

    @property
    def safety(self) -> bool:
        """Safety events are never dropped and are always announced."""
        return self.kind in SAFETY_KINDS

    def to_json_dict(self) -> dict[str, Any]:
        """The event as the record and MQTT carry it: ``t``, ``kind``, ``message``,
        then its own fields (the one place the wire form is made)."""
        body: dict[str, Any] = {"t": round(self.t, 3), "kind": str(self.kind)}
        body["message"] = self.message
        body.update(self._fields_json())
        return body

    def _fields_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in {"t", "message"}:
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = _json_value(value)
        return out

    @classmethod
    def _from_fields(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        """Keyword arguments for ``cls`` from a JSON body (tolerant: a record may be
        hand-edited; missing or malformed fields take their defaults)."""
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in {"t", "message"} or f.name not in body:
                continue
            kwargs[f.name] = _from_json_value(str(f.type), body[f.name])
        return kwargs


def _json_value(value: object) -> object:
    if isinstance(value, StepInfo):
        return value.to_json_dict()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, enum.Enum):
        return str(value)
    return value


def _from_json_value(annotation: str, value: object) -> object:
    if "StepInfo" in annotation:
        if "tuple" in annotation:
            items = value if isinstance(value, list) else []
            return tuple(
                StepInfo.from_json(v, index=i) for i, v in enumerate(items) if isinstance(v, dict)
            )
        return StepInfo.from_json(value) if isinstance(value, Mapping) else None
    if annotation.startswith("Direction"):
        return _facing(value)
    if annotation.startswith("float"):
        return None if value is None and "None" in annotation else _number(value)
    if annotation.startswith("int"):
        return _whole(value, 0)
    if annotation.startswith("bool"):
        return value is True
    return value if isinstance(value, str) or value is None else str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted(_Event):
    """The session begins: the whole plan, for the display's program bar."""

    kind: ClassVar[EventKind] = EventKind.SESSION_STARTED
    program: str = ""
    ceiling_kmh: float = 0.0
    steps: tuple[StepInfo, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(_Event):
    """A plan step begins; ``next`` is the one after it (None for the last), and
    ``total`` the number of steps in the plan.

    On the wire the step's fields are flat; a turn-around's carries no ``next``.
    """

    kind: ClassVar[EventKind] = EventKind.STEP_STARTED
    step: StepInfo
    next: StepInfo | None = None
    total: int = 0

    def _fields_json(self) -> dict[str, Any]:
        out = self.step.to_json_dict()
        out["total"] = self.total
        if not self.step.turnaround:
            out["next"] = self.next.to_json_dict() if self.next is not None else None
        return out

    @classmethod
    def _from_fields(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        upcoming = body.get("next")
        step = StepInfo.from_json(body)
        return {
            "step": step,
            "total": _whole(body.get("total"), 0),
            "next": (
                StepInfo.from_json(upcoming, index=step.index + 1)
                if isinstance(upcoming, Mapping)
                else None
            ),
        }


TurnPhase = Literal["slowing", "turn"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnaroundPhase(_Event):
    """A turn-around: ``slowing`` when the belt starts slowing, ``turn`` when the
    runner may turn (``needs_confirm``: a person presses Enter to go on)."""

    kind: ClassVar[EventKind] = EventKind.TURNAROUND
    phase: TurnPhase | None = None  # None: a single event with the whole script
    index: int = -1
    to: Direction = Direction.FORWARD
    stop_belt: bool = False
    needs_confirm: bool = True
    hold_s: float = 0.0

    @classmethod
    def _from_fields(cls, body: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = super(TurnaroundPhase, cls)._from_fields(body)
        phase = body.get("phase")
        kwargs["phase"] = phase if phase in {"slowing", "turn"} else None
        kwargs["needs_confirm"] = body.get("needs_confirm", True) is not False
        return kwargs


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnaroundConfirmed(_Event):
    """The runner (or the unattended hold) lets the turn-around go on."""

    kind: ClassVar[EventKind] = EventKind.TURNAROUND_CONFIRMED
    to: Direction = Direction.FORWARD


@dataclass(frozen=True, slots=True, kw_only=True)
class Paused(_Event):
    """The session paused; ``source`` says who asked (console, safety, ...)."""

    kind: ClassVar[EventKind] = EventKind.PAUSED
    source: str | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resumed(_Event):
    kind: ClassVar[EventKind] = EventKind.RESUMED


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedAdjusted(_Event):
    """The runner's nudge, as the governor will approve it."""

    kind: ClassVar[EventKind] = EventKind.SPEED_ADJUSTED
    target_kmh: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CeilingClamped(_Event):
    """A request lowered by a limit: a speed (``ceiling_kmh``, ``requested_kmh``),
    an incline (``incline_pct``, ``requested_incline_pct``) or a refused nudge
    (``ceiling_kmh``, ``source``)."""

    kind: ClassVar[EventKind] = EventKind.CEILING_CLAMPED
    ceiling_kmh: float | None = field(default=None, metadata=_OMIT_NONE)
    requested_kmh: float | None = field(default=None, metadata=_OMIT_NONE)
    incline_pct: float | None = field(default=None, metadata=_OMIT_NONE)
    requested_incline_pct: float | None = field(default=None, metadata=_OMIT_NONE)
    source: str | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, slots=True, kw_only=True)
class CeilingViolation(_Event):
    """The belt over a limit: corrected at once."""

    kind: ClassVar[EventKind] = EventKind.CEILING_VIOLATION
    speed_kmh: float = 0.0
    ceiling_kmh: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BeltHalted(_Event):
    """The belt moved where the phase wants it still: stopped, the session paused."""

    kind: ClassVar[EventKind] = EventKind.BELT_HALTED
    speed_kmh: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeedRefused(_Event):
    """A speed the device cannot reach within the backward ramp rule: held lower."""

    kind: ClassVar[EventKind] = EventKind.SPEED_REFUSED
    speed_kmh: float = 0.0
    requested_kmh: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartRateHigh(_Event):
    """The belt slows for heart rate: over the limit, or (``heart_rate_unknown``) no
    trusted value (stale, off the skin, stuck), which is never "high" to a runner."""

    kind: ClassVar[EventKind] = EventKind.HR_HIGH
    heart_rate_unknown: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyStopped(_Event):
    kind: ClassVar[EventKind] = EventKind.SAFETY_STOP


@dataclass(frozen=True, slots=True, kw_only=True)
class SafetyKeyPulled(_Event):
    kind: ClassVar[EventKind] = EventKind.SAFETY_KEY


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleChange(_Event):
    """A person at the console: a speed (``speed_kmh``) or Start."""

    kind: ClassVar[EventKind] = EventKind.CONSOLE_CHANGE
    speed_kmh: float | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceIgnoredCommand(_Event):
    kind: ClassVar[EventKind] = EventKind.COMMAND_IGNORED_BY_DEVICE


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDown(_Event):
    kind: ClassVar[EventKind] = EventKind.LINK_LOST


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRestored(_Event):
    kind: ClassVar[EventKind] = EventKind.LINK_RESTORED


@dataclass(frozen=True, slots=True, kw_only=True)
class UserStopped(_Event):
    kind: ClassVar[EventKind] = EventKind.USER_STOP


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandAck(_Event):
    """A remote or local command accepted (``command`` from ``source``)."""

    kind: ClassVar[EventKind] = EventKind.COMMAND_ACK
    command: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRefused(_Event):
    """A command that does not apply now; the reason is the message."""

    kind: ClassVar[EventKind] = EventKind.COMMAND_REFUSED
    command: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmNeeded(_Event):
    """The session waits for the runner: ``preflight``, ``resume``, ``link``, ``rest``."""

    kind: ClassVar[EventKind] = EventKind.CONFIRM_NEEDED
    what: str = "resume"


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkWarning(_Event):
    """A display, a publisher or the record failed; the session goes on."""

    kind: ClassVar[EventKind] = EventKind.SINK_WARNING


@dataclass(frozen=True, slots=True, kw_only=True)
class TreadmillNote(_Event):
    """Something the client learned of the machine that the runner should know
    (it refused remote control, it cuts its records short, ...)."""

    kind: ClassVar[EventKind] = EventKind.TREADMILL_NOTE


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(_Event):
    """The last event: ``reason`` as the record's ``end`` line says it."""

    kind: ClassVar[EventKind] = EventKind.SESSION_ENDED
    reason: str = ""


SessionEvent: TypeAlias = (
    SessionStarted
    | StepStarted
    | TurnaroundPhase
    | TurnaroundConfirmed
    | Paused
    | Resumed
    | SpeedAdjusted
    | CeilingClamped
    | CeilingViolation
    | BeltHalted
    | SpeedRefused
    | HeartRateHigh
    | SafetyStopped
    | SafetyKeyPulled
    | ConsoleChange
    | DeviceIgnoredCommand
    | LinkDown
    | LinkRestored
    | UserStopped
    | CommandAck
    | CommandRefused
    | ConfirmNeeded
    | SinkWarning
    | TreadmillNote
    | SessionEnded
)
"""Every event a session publishes: a closed union, one frozen class per kind."""

EVENT_TYPES: Final[dict[EventKind, type[_Event]]] = {
    cls.kind: cls for cls in typing.get_args(SessionEvent)
}


def event_from_json(body: Mapping[str, Any]) -> SessionEvent:
    """The typed event a record line or MQTT payload holds (``ValueError`` for an
    unknown ``kind``); tolerant of missing or malformed fields."""
    kind = EventKind(str(body.get("kind")))
    cls = EVENT_TYPES[kind]
    return cls(  # type: ignore[return-value]
        t=_number(body.get("t")),
        message=body["message"] if isinstance(body.get("message"), str) else "",
        **cls._from_fields(body),
    )


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
