"""What a fitness machine says about itself: features, supported ranges, training status,
and the service data it advertises."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from retrorun.ftms._errors import FtmsValueError, short_value
from retrorun.ftms._units import (
    BytesLike,
    check_bytes,
    check_int,
    incline_to_raw,
    speed_to_raw,
)

__all__ = [
    "FitnessMachineFeature",
    "FitnessMachineType",
    "InclinationRange",
    "MachineFeature",
    "ServiceData",
    "ServiceDataFlags",
    "SpeedRange",
    "TargetSettingFeature",
    "TrainingStatus",
    "TrainingStatusCode",
    "TrainingStatusFlags",
]

FEATURE = "Fitness Machine Feature (0x2ACC)"
SPEED_RANGE = "Supported Speed Range (0x2AD4)"
INCLINATION_RANGE = "Supported Inclination Range (0x2AD5)"
TRAINING_STATUS = "Training Status (0x2AD3)"
SERVICE_DATA = "Fitness Machine service data (0x1826)"

_U32X2 = struct.Struct("<II")
_U16X3 = struct.Struct("<HHH")
_RANGE_S16 = struct.Struct("<hhH")
_SERVICE_DATA = struct.Struct("<BH")


_RANGE_FIELDS = (("minimum", 2), ("maximum", 2), ("step", 2))


class MachineFeature(enum.IntFlag):
    """Fitness Machine Features field (table 4.3)."""

    AVERAGE_SPEED = 1 << 0
    CADENCE = 1 << 1
    TOTAL_DISTANCE = 1 << 2
    INCLINATION = 1 << 3
    ELEVATION_GAIN = 1 << 4
    PACE = 1 << 5
    STEP_COUNT = 1 << 6
    RESISTANCE_LEVEL = 1 << 7
    STRIDE_COUNT = 1 << 8
    EXPENDED_ENERGY = 1 << 9
    HEART_RATE_MEASUREMENT = 1 << 10
    METABOLIC_EQUIVALENT = 1 << 11
    ELAPSED_TIME = 1 << 12
    REMAINING_TIME = 1 << 13
    POWER_MEASUREMENT = 1 << 14
    FORCE_ON_BELT_AND_POWER_OUTPUT = 1 << 15
    USER_DATA_RETENTION = 1 << 16


class TargetSettingFeature(enum.IntFlag):
    """Target Setting Features field (table 4.4): what the control point accepts."""

    SPEED = 1 << 0
    INCLINATION = 1 << 1
    RESISTANCE = 1 << 2
    POWER = 1 << 3
    HEART_RATE = 1 << 4
    EXPENDED_ENERGY = 1 << 5
    STEP_NUMBER = 1 << 6
    STRIDE_NUMBER = 1 << 7
    DISTANCE = 1 << 8
    TRAINING_TIME = 1 << 9
    TIME_IN_TWO_HEART_RATE_ZONES = 1 << 10
    TIME_IN_THREE_HEART_RATE_ZONES = 1 << 11
    TIME_IN_FIVE_HEART_RATE_ZONES = 1 << 12
    INDOOR_BIKE_SIMULATION = 1 << 13
    WHEEL_CIRCUMFERENCE = 1 << 14
    SPIN_DOWN_CONTROL = 1 << 15
    CADENCE = 1 << 16


_NO_MACHINE_FEATURES = MachineFeature(0)
_NO_TARGET_FEATURES = TargetSettingFeature(0)


@dataclass(frozen=True, slots=True)
class FitnessMachineFeature:
    """Fitness Machine Feature (0x2ACC): two u32 bit fields. Unknown bits are kept."""

    machine: MachineFeature = _NO_MACHINE_FEATURES
    target: TargetSettingFeature = _NO_TARGET_FEATURES
    extra: bytes = b""

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "machine", MachineFeature(check_int("machine", self.machine, 0, 2**32 - 1)))
        setter(self, "target", TargetSettingFeature(check_int("target", self.target, 0, 2**32 - 1)))
        setter(self, "extra", check_bytes("extra", self.extra))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> FitnessMachineFeature:
        if len(data) < _U32X2.size:
            raise short_value(FEATURE, len(data), (("machine features", 4), ("target features", 4)))
        machine, target = _U32X2.unpack_from(data)
        return cls(MachineFeature(machine), TargetSettingFeature(target), bytes(data[8:]))

    def __bytes__(self) -> bytes:
        return _U32X2.pack(self.machine, self.target) + self.extra


@dataclass(frozen=True, slots=True)
class SpeedRange:
    """Supported Speed Range (0x2AD4): minimum, maximum, step, each u16 in 0.01 km/h.

    Not checked for sense (``minimum <= maximum``): machines that report all zeros
    exist, and the codec reports what was sent. Judging it is the caller's business.
    """

    minimum: int
    maximum: int
    step: int
    extra: bytes = b""

    def __post_init__(self) -> None:
        for name in ("minimum", "maximum", "step"):
            check_int(name, getattr(self, name), 0, 0xFFFF)
        object.__setattr__(self, "extra", check_bytes("extra", self.extra))

    @classmethod
    def from_kmh(cls, minimum: float, maximum: float, step: float) -> SpeedRange:
        return cls(speed_to_raw(minimum), speed_to_raw(maximum), speed_to_raw(step))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> SpeedRange:
        if len(data) < _U16X3.size:
            raise short_value(SPEED_RANGE, len(data), _RANGE_FIELDS)
        minimum, maximum, step = _U16X3.unpack_from(data)
        return cls(minimum, maximum, step, bytes(data[_U16X3.size :]))

    def __bytes__(self) -> bytes:
        return _U16X3.pack(self.minimum, self.maximum, self.step) + self.extra

    @property
    def min_kmh(self) -> float:
        return self.minimum / 100

    @property
    def max_kmh(self) -> float:
        return self.maximum / 100

    @property
    def step_kmh(self) -> float:
        return self.step / 100


@dataclass(frozen=True, slots=True)
class InclinationRange:
    """Supported Inclination Range (0x2AD5): min s16, max s16, step u16, in 0.1 %."""

    minimum: int
    maximum: int
    step: int
    extra: bytes = b""

    def __post_init__(self) -> None:
        check_int("minimum", self.minimum, -0x8000, 0x7FFF)
        check_int("maximum", self.maximum, -0x8000, 0x7FFF)
        check_int("step", self.step, 0, 0xFFFF)
        object.__setattr__(self, "extra", check_bytes("extra", self.extra))

    @classmethod
    def from_pct(cls, minimum: float, maximum: float, step: float) -> InclinationRange:
        return cls(incline_to_raw(minimum), incline_to_raw(maximum), incline_to_raw(step))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> InclinationRange:
        if len(data) < _RANGE_S16.size:
            raise short_value(INCLINATION_RANGE, len(data), _RANGE_FIELDS)
        minimum, maximum, step = _RANGE_S16.unpack_from(data)
        return cls(minimum, maximum, step, bytes(data[_RANGE_S16.size :]))

    def __bytes__(self) -> bytes:
        return _RANGE_S16.pack(self.minimum, self.maximum, self.step) + self.extra

    @property
    def min_pct(self) -> float:
        return self.minimum / 10

    @property
    def max_pct(self) -> float:
        return self.maximum / 10

    @property
    def step_pct(self) -> float:
        return self.step / 10


class TrainingStatusCode(enum.IntEnum):
    """Training Status field (table 4.13)."""

    OTHER = 0x00
    IDLE = 0x01
    WARMING_UP = 0x02
    LOW_INTENSITY_INTERVAL = 0x03
    HIGH_INTENSITY_INTERVAL = 0x04
    RECOVERY_INTERVAL = 0x05
    ISOMETRIC = 0x06
    HEART_RATE_CONTROL = 0x07
    FITNESS_TEST = 0x08
    SPEED_OUTSIDE_CONTROL_REGION_LOW = 0x09
    SPEED_OUTSIDE_CONTROL_REGION_HIGH = 0x0A
    COOL_DOWN = 0x0B
    WATT_CONTROL = 0x0C
    MANUAL_MODE = 0x0D  # "quick start"
    PRE_WORKOUT = 0x0E
    POST_WORKOUT = 0x0F


class TrainingStatusFlags(enum.IntFlag):
    """Flags of Training Status (table 4.12)."""

    STRING_PRESENT = 1 << 0
    EXTENDED_STRING = 1 << 1  # more characters than fit: read the characteristic


@dataclass(frozen=True, slots=True)
class TrainingStatus:
    """Training Status (0x2AD3): flags u8, status u8, then an optional UTF-8 string.

    The string is kept as raw bytes in ``string`` (``None`` when the flags say it is
    absent): a notification carries only the first ATT_MTU - 3 bytes of the value,
    so a multi-byte character can arrive cut in half, and some machines send other
    encodings. Keeping bytes keeps ``encode(decode(b)) == b``; ``text`` decodes
    them leniently for people (invalid bytes become U+FFFD). ``reserved_flags``
    keeps flag bits 2-7 as sent. ``extra`` holds trailing bytes, possible only when
    there is no string (a string runs to the end of the value).
    """

    status: int
    string: bytes | None = None
    extended_string: bool = False
    reserved_flags: int = 0
    extra: bytes = b""

    def __post_init__(self) -> None:
        setter = object.__setattr__
        status = check_int("status", self.status, 0, 0xFF)
        try:
            setter(self, "status", TrainingStatusCode(status))
        except ValueError:
            setter(self, "status", status)
        if self.string is not None:
            setter(self, "string", check_bytes("string", self.string))
        reserved = check_int("reserved_flags", self.reserved_flags, 0, 0xFF)
        if reserved & 0x03:
            raise FtmsValueError("reserved_flags holds bits 2-7 only; bits 0-1 are derived")
        setter(self, "extended_string", bool(self.extended_string))
        setter(self, "extra", check_bytes("extra", self.extra))
        if self.string is not None and self.extra:
            raise FtmsValueError("extra bytes cannot follow a string: they would read as text")

    @classmethod
    def with_text(cls, status: int, text: str, *, extended_string: bool = False) -> TrainingStatus:
        return cls(status, text.encode("utf-8"), extended_string)

    @classmethod
    def from_bytes(cls, data: BytesLike) -> TrainingStatus:
        if len(data) < 2:
            raise short_value(TRAINING_STATUS, len(data), (("flags", 1), ("status", 1)))
        flags = data[0]
        rest = bytes(data[2:])
        has_string = bool(flags & TrainingStatusFlags.STRING_PRESENT)
        return cls(
            status=data[1],
            string=rest if has_string else None,
            extended_string=bool(flags & TrainingStatusFlags.EXTENDED_STRING),
            reserved_flags=flags & 0xFC,
            extra=b"" if has_string else rest,
        )

    def __bytes__(self) -> bytes:
        return bytes((self.flags, self.status)) + (self.string or b"") + self.extra

    @property
    def flags(self) -> TrainingStatusFlags:
        flags = TrainingStatusFlags(self.reserved_flags)
        if self.string is not None:
            flags |= TrainingStatusFlags.STRING_PRESENT
        if self.extended_string:
            flags |= TrainingStatusFlags.EXTENDED_STRING
        return flags

    @property
    def text(self) -> str | None:
        """The string for people: lenient UTF-8, trailing NUL padding removed."""
        if self.string is None:
            return None
        return self.string.decode("utf-8", errors="replace").rstrip("\x00")


class ServiceDataFlags(enum.IntFlag):
    """Flags of the advertised service data (table 3.2)."""

    MACHINE_AVAILABLE = 1 << 0


class FitnessMachineType(enum.IntFlag):
    """Fitness Machine Type field of the advertised service data (table 3.3)."""

    TREADMILL = 1 << 0
    CROSS_TRAINER = 1 << 1
    STEP_CLIMBER = 1 << 2
    STAIR_CLIMBER = 1 << 3
    ROWER = 1 << 4
    INDOOR_BIKE = 1 << 5


@dataclass(frozen=True, slots=True)
class ServiceData:
    """Service data advertised for 0x1826 (after the UUID): flags u8, machine type u16."""

    flags: ServiceDataFlags = ServiceDataFlags.MACHINE_AVAILABLE
    machine_type: FitnessMachineType = FitnessMachineType.TREADMILL
    extra: bytes = b""

    def __post_init__(self) -> None:
        setter = object.__setattr__
        setter(self, "flags", ServiceDataFlags(check_int("flags", self.flags, 0, 0xFF)))
        machine_type = check_int("machine_type", self.machine_type, 0, 0xFFFF)
        setter(self, "machine_type", FitnessMachineType(machine_type))
        setter(self, "extra", check_bytes("extra", self.extra))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> ServiceData:
        if len(data) < _SERVICE_DATA.size:
            raise short_value(SERVICE_DATA, len(data), (("flags", 1), ("machine type", 2)))
        flags, machine_type = _SERVICE_DATA.unpack_from(data)
        return cls(
            ServiceDataFlags(flags),
            FitnessMachineType(machine_type),
            bytes(data[_SERVICE_DATA.size :]),
        )

    def __bytes__(self) -> bytes:
        return _SERVICE_DATA.pack(self.flags, self.machine_type) + self.extra

    @property
    def available(self) -> bool:
        return bool(self.flags & ServiceDataFlags.MACHINE_AVAILABLE)

    @property
    def treadmill(self) -> bool:
        return bool(self.machine_type & FitnessMachineType.TREADMILL)
