"""What the treadmill client's parts share: the data they hand out, and the machine.

``Telemetry``, ``TreadmillEvent`` and ``CommandLog`` are what a session reads from
the client; ``ReopenableLink`` is what the client needs of the Bluetooth link.
``Machine`` is who the treadmill is, as the supervisor learns it at connect (its
name, profile, features, ranges, Device Information): the supervisor writes it,
the procedures and the telemetry read it (a mph console, a truncating one, a
machine that needs Start before a speed).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from retrorun.devices import DeviceProfile, SpeedCommand
from retrorun.ftms import (
    DeviceInformation,
    FitnessMachineFeature,
    InclinationRange,
    SpeedRange,
    TreadmillData,
)

__all__ = [
    "CommandLog",
    "Machine",
    "ReopenableLink",
    "Telemetry",
    "TreadmillEvent",
    "TreadmillEventKind",
]


class ReopenableLink(Protocol):
    """What the client needs of the Bluetooth link (``retrorun.ble.Link`` is one).

    ``client_kwargs``/``scanner_kwargs`` are read for every new ``BleakClient`` or
    ``BleakScanner``: they name the link's current host. ``reopen()`` replaces a
    host that may be wedged (True), or does nothing (False); it raises
    ``LinkError`` when the transport cannot be opened now. ``reopens`` says
    whether it replaces anything: then the old connection is not asked to
    disconnect first (its host goes, and its links with it).
    """

    @property
    def client_kwargs(self) -> Mapping[str, Any]: ...

    @property
    def scanner_kwargs(self) -> Mapping[str, Any]: ...

    @property
    def reopens(self) -> bool: ...

    async def reopen(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Telemetry:
    """One reassembled Treadmill Data record and the loop time it arrived."""

    t: float
    record: TreadmillData

    @property
    def speed(self) -> int | None:
        """Instantaneous speed in 0.01 km/h."""
        return self.record.speed


class TreadmillEventKind(enum.StrEnum):
    """What the treadmill reported, or what happened to the link."""

    STOPPED_BY_USER = "stopped_by_user"
    PAUSED_BY_USER = "paused_by_user"
    STARTED_BY_USER = "started_by_user"
    SAFETY_KEY = "safety_key"
    TARGET_SPEED_CHANGED = "target_speed_changed"
    TARGET_INCLINE_CHANGED = "target_incline_changed"
    CONTROL_LOST = "control_lost"
    RESET = "reset"
    OTHER_STATUS = "other_status"
    GARBAGE = "garbage"
    STALLED = "stalled"
    LINK_LOST = "link_lost"
    LINK_RESTORED = "link_restored"
    LINK_FAILED = "link_failed"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class TreadmillEvent:
    """A status notification or a link event, at loop time ``t``."""

    t: float
    kind: TreadmillEventKind
    value: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CommandLog:
    """One control-point procedure as the session record carries it."""

    t: float
    op: str
    value: float | None
    result: str


@dataclass(slots=True)
class Machine:
    """Who the treadmill is. Written by the supervisor only; read by every part.

    ``feature``, ``device_info`` and the ranges are read on the first connect;
    ``profile`` may change then (a Device Information match wins over the name's).
    """

    name: str
    address: str
    profile: DeviceProfile
    feature: FitnessMachineFeature | None = None
    device_info: DeviceInformation | None = None
    speed_range: SpeedRange | None = None
    incline_range: InclinationRange | None = None

    @property
    def speed_command(self) -> SpeedCommand:
        """How an approved speed goes out on this machine's control point (its unit,
        its grid), over the machine's range, or the profile's when distrusted."""
        if self.speed_range is not None:
            reported = (self.speed_range.minimum, self.speed_range.maximum, self.speed_range.step)
            try:
                return SpeedCommand.of(self.profile, reported)
            except ValueError:
                pass  # a mph machine whose range holds no mph speed: distrusted
        return SpeedCommand.of(self.profile, self.profile.speed.raw)

    @property
    def speed_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.01 km/h that a command may take: the machine's range
        (the profile's when distrusted), on a mph machine its mph grid in km/h (its
        lowest speed rounded up, so that the governor never approves less)."""
        return self.speed_command.limits

    @property
    def incline_limits(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.1 %: the machine's, or the profile's when distrusted."""
        if self.incline_range is not None:
            r = self.incline_range
            return (r.minimum, r.maximum, r.step)
        return self.profile.incline.raw
