"""Fitness Machine Control Point (0x2AD9) and Fitness Machine Status (0x2ADA).

Both are an op code followed by a parameter whose layout depends on the op code.
Known layouts come from the spec's tables 4.15 (requests) and 4.26 (status); each
parameter decodes to ``values``, a tuple of raw integers in spec order. An op code
this codec does not know (reserved, vendor) is not an error: it decodes with its
parameter bytes kept raw in ``parameter`` and encodes back unchanged.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrorun.ftms._errors import FtmsDecodeError, FtmsValueError, short_value
from retrorun.ftms._units import (
    RANGES,
    SIZES,
    BytesLike,
    check_bytes,
    check_int,
    incline_to_raw,
    speed_to_raw,
)

__all__ = [
    "CONTROL_LAYOUTS",
    "STATUS_LAYOUTS",
    "ControlOp",
    "ControlRequest",
    "ControlResponse",
    "MachineStatus",
    "ResultCode",
    "SpinDownControl",
    "SpinDownStatus",
    "StatusOp",
    "StopOrPause",
]

CONTROL_POINT = "Fitness Machine Control Point (0x2AD9)"
STATUS = "Fitness Machine Status (0x2ADA)"
RESPONSE_CODE = 0x80


class ControlOp(enum.IntEnum):
    """Control point op codes (table 4.15)."""

    REQUEST_CONTROL = 0x00
    RESET = 0x01
    SET_TARGET_SPEED = 0x02
    SET_TARGET_INCLINATION = 0x03
    SET_TARGET_RESISTANCE_LEVEL = 0x04
    SET_TARGET_POWER = 0x05
    SET_TARGET_HEART_RATE = 0x06
    START_OR_RESUME = 0x07
    STOP_OR_PAUSE = 0x08
    SET_TARGETED_EXPENDED_ENERGY = 0x09
    SET_TARGETED_NUMBER_OF_STEPS = 0x0A
    SET_TARGETED_NUMBER_OF_STRIDES = 0x0B
    SET_TARGETED_DISTANCE = 0x0C
    SET_TARGETED_TRAINING_TIME = 0x0D
    SET_TARGETED_TIME_IN_TWO_HEART_RATE_ZONES = 0x0E
    SET_TARGETED_TIME_IN_THREE_HEART_RATE_ZONES = 0x0F
    SET_TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES = 0x10
    SET_INDOOR_BIKE_SIMULATION_PARAMETERS = 0x11
    SET_WHEEL_CIRCUMFERENCE = 0x12
    SPIN_DOWN_CONTROL = 0x13
    SET_TARGETED_CADENCE = 0x14
    RESPONSE_CODE = 0x80  # server to client only: see ControlResponse


class ResultCode(enum.IntEnum):
    """Result of a control point procedure (table 4.24)."""

    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_PARAMETER = 0x03
    OPERATION_FAILED = 0x04
    CONTROL_NOT_PERMITTED = 0x05


class StopOrPause(enum.IntEnum):
    """Parameter of Stop or Pause and of status 0x02 ("control information", table 4.16)."""

    STOP = 0x01
    PAUSE = 0x02


class SpinDownControl(enum.IntEnum):
    """Parameter of the Spin Down Control request (table 4.21)."""

    START = 0x01
    IGNORE = 0x02


class SpinDownStatus(enum.IntEnum):
    """Parameter of the Spin Down Status notification (table 4.27)."""

    SPIN_DOWN_REQUESTED = 0x01
    SUCCESS = 0x02
    ERROR = 0x03
    STOP_PEDALING = 0x04


class StatusOp(enum.IntEnum):
    """Fitness Machine Status op codes (table 4.26)."""

    RESET = 0x01
    STOPPED_OR_PAUSED_BY_USER = 0x02
    STOPPED_BY_SAFETY_KEY = 0x03
    STARTED_OR_RESUMED_BY_USER = 0x04
    TARGET_SPEED_CHANGED = 0x05
    TARGET_INCLINE_CHANGED = 0x06
    TARGET_RESISTANCE_LEVEL_CHANGED = 0x07
    TARGET_POWER_CHANGED = 0x08
    TARGET_HEART_RATE_CHANGED = 0x09
    TARGETED_EXPENDED_ENERGY_CHANGED = 0x0A
    TARGETED_NUMBER_OF_STEPS_CHANGED = 0x0B
    TARGETED_NUMBER_OF_STRIDES_CHANGED = 0x0C
    TARGETED_DISTANCE_CHANGED = 0x0D
    TARGETED_TRAINING_TIME_CHANGED = 0x0E
    TARGETED_TIME_IN_TWO_HEART_RATE_ZONES_CHANGED = 0x0F
    TARGETED_TIME_IN_THREE_HEART_RATE_ZONES_CHANGED = 0x10
    TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES_CHANGED = 0x11
    INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED = 0x12
    WHEEL_CIRCUMFERENCE_CHANGED = 0x13
    SPIN_DOWN_STATUS = 0x14
    TARGETED_CADENCE_CHANGED = 0x15
    CONTROL_PERMISSION_LOST = 0xFF


@dataclass(frozen=True, slots=True)
class _Layout:
    """A parameter layout: wire codes (keys of SIZES) in order."""

    codes: str

    @property
    def size(self) -> int:
        return sum(SIZES[c] for c in self.codes)

    def unpack(self, data: BytesLike, offset: int) -> tuple[int, ...]:
        raw = struct.unpack_from("<" + self.codes.replace("T", "HB"), data, offset)
        values: list[int] = []
        i = 0
        for code in self.codes:
            if code == "T":
                values.append(raw[i] | raw[i + 1] << 16)
                i += 2
            else:
                values.append(raw[i])
                i += 1
        return tuple(values)

    def pack(self, values: Sequence[int]) -> bytes:
        raw: list[int] = []
        for code, value in zip(self.codes, values, strict=True):
            raw += [value & 0xFFFF, value >> 16] if code == "T" else [value]
        return struct.pack("<" + self.codes.replace("T", "HB"), *raw)

    def check(self, what: str, values: Sequence[int]) -> tuple[int, ...]:
        if len(values) != len(self.codes):
            raise FtmsValueError(
                f"{what} takes {len(self.codes)} parameter value(s), got {len(values)}"
            )
        return tuple(
            check_int(f"{what} parameter {i}", v, *RANGES[c])
            for i, (c, v) in enumerate(zip(self.codes, values, strict=True))
        )


_ZONES2, _ZONES3, _ZONES5 = _Layout("HH"), _Layout("HHH"), _Layout("HHHHH")
# Wind speed s16 0.001 m/s, grade s16 0.01 %, Crr u8 0.0001, Cw u8 0.01 kg/m (table 4.20).
_BIKE = _Layout("hhBB")

CONTROL_LAYOUTS: Mapping[int, _Layout] = {
    ControlOp.REQUEST_CONTROL: _Layout(""),
    ControlOp.RESET: _Layout(""),
    ControlOp.SET_TARGET_SPEED: _Layout("H"),  # 0.01 km/h
    ControlOp.SET_TARGET_INCLINATION: _Layout("h"),  # 0.1 %
    ControlOp.SET_TARGET_RESISTANCE_LEVEL: _Layout("B"),  # 0.1
    ControlOp.SET_TARGET_POWER: _Layout("h"),  # W
    ControlOp.SET_TARGET_HEART_RATE: _Layout("B"),  # bpm
    ControlOp.START_OR_RESUME: _Layout(""),
    ControlOp.STOP_OR_PAUSE: _Layout("B"),  # StopOrPause
    ControlOp.SET_TARGETED_EXPENDED_ENERGY: _Layout("H"),  # kcal
    ControlOp.SET_TARGETED_NUMBER_OF_STEPS: _Layout("H"),
    ControlOp.SET_TARGETED_NUMBER_OF_STRIDES: _Layout("H"),
    ControlOp.SET_TARGETED_DISTANCE: _Layout("T"),  # m
    ControlOp.SET_TARGETED_TRAINING_TIME: _Layout("H"),  # s
    ControlOp.SET_TARGETED_TIME_IN_TWO_HEART_RATE_ZONES: _ZONES2,
    ControlOp.SET_TARGETED_TIME_IN_THREE_HEART_RATE_ZONES: _ZONES3,
    ControlOp.SET_TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES: _ZONES5,
    ControlOp.SET_INDOOR_BIKE_SIMULATION_PARAMETERS: _BIKE,
    ControlOp.SET_WHEEL_CIRCUMFERENCE: _Layout("H"),  # 0.1 mm
    ControlOp.SPIN_DOWN_CONTROL: _Layout("B"),  # SpinDownControl
    ControlOp.SET_TARGETED_CADENCE: _Layout("H"),  # 0.5 /min
}

STATUS_LAYOUTS: Mapping[int, _Layout] = {
    StatusOp.RESET: _Layout(""),
    StatusOp.STOPPED_OR_PAUSED_BY_USER: _Layout("B"),  # StopOrPause
    StatusOp.STOPPED_BY_SAFETY_KEY: _Layout(""),
    StatusOp.STARTED_OR_RESUMED_BY_USER: _Layout(""),
    StatusOp.TARGET_SPEED_CHANGED: _Layout("H"),
    StatusOp.TARGET_INCLINE_CHANGED: _Layout("h"),
    StatusOp.TARGET_RESISTANCE_LEVEL_CHANGED: _Layout("B"),
    StatusOp.TARGET_POWER_CHANGED: _Layout("h"),
    StatusOp.TARGET_HEART_RATE_CHANGED: _Layout("B"),
    StatusOp.TARGETED_EXPENDED_ENERGY_CHANGED: _Layout("H"),
    StatusOp.TARGETED_NUMBER_OF_STEPS_CHANGED: _Layout("H"),
    StatusOp.TARGETED_NUMBER_OF_STRIDES_CHANGED: _Layout("H"),
    StatusOp.TARGETED_DISTANCE_CHANGED: _Layout("T"),
    StatusOp.TARGETED_TRAINING_TIME_CHANGED: _Layout("H"),
    StatusOp.TARGETED_TIME_IN_TWO_HEART_RATE_ZONES_CHANGED: _ZONES2,
    StatusOp.TARGETED_TIME_IN_THREE_HEART_RATE_ZONES_CHANGED: _ZONES3,
    StatusOp.TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES_CHANGED: _ZONES5,
    StatusOp.INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED: _BIKE,
    StatusOp.WHEEL_CIRCUMFERENCE_CHANGED: _Layout("H"),
    StatusOp.SPIN_DOWN_STATUS: _Layout("B"),  # SpinDownStatus
    StatusOp.TARGETED_CADENCE_CHANGED: _Layout("H"),
    StatusOp.CONTROL_PERMISSION_LOST: _Layout(""),
}


def _as_enum(enum_type: type[enum.IntEnum], value: int) -> int:
    """The enum member for ``value`` when there is one, else the plain int."""
    try:
        return enum_type(value)
    except ValueError:
        return value


def _op_name(enum_type: type[enum.IntEnum], op: int) -> str:
    member = enum_type._value2member_map_.get(op)
    name = member.name.lower() if member is not None and member.name else "op code"
    return f"{name} (0x{op:02X})"


def _init_op_message(
    message: ControlRequest | MachineStatus,
    enum_type: type[enum.IntEnum],
    layouts: Mapping[int, _Layout],
) -> None:
    """Shared validation of an op code, its values, parameter and extra bytes."""
    op = check_int("op", message.op, 0, 0xFF)
    setter = object.__setattr__
    setter(message, "op", _as_enum(enum_type, op))
    setter(message, "parameter", check_bytes("parameter", message.parameter))
    setter(message, "extra", check_bytes("extra", message.extra))
    layout = layouts.get(op)
    name = _op_name(enum_type, op)
    if layout is None:
        if message.values:
            raise FtmsValueError(f"{name} has no known parameter layout: give raw `parameter`")
        if message.extra:
            raise FtmsValueError(f"{name} is unknown: its bytes belong in `parameter`")
        setter(message, "values", ())
        return
    if message.parameter:
        raise FtmsValueError(f"{name} has a known layout: give `values`, not `parameter`")
    setter(message, "values", layout.check(name, tuple(message.values)))


def _decode_op_message(
    characteristic: str,
    data: BytesLike,
    enum_type: type[enum.IntEnum],
    layouts: Mapping[int, _Layout],
) -> tuple[int, tuple[int, ...], bytes, bytes]:
    """(op, values, parameter, extra) from the bytes of an op code message."""
    if len(data) < 1:
        raise FtmsDecodeError(characteristic, 0, "empty value: no op code")
    op = data[0]
    layout = layouts.get(op)
    if layout is None:
        return _as_enum(enum_type, op), (), bytes(data[1:]), b""
    size = 1 + layout.size
    if len(data) < size:
        raise FtmsDecodeError(
            characteristic,
            1,
            f"{_op_name(enum_type, op)} needs a {layout.size}-byte parameter, "
            f"got {len(data) - 1} byte(s)",
        )
    return _as_enum(enum_type, op), layout.unpack(data, 1), b"", bytes(data[size:])


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A request a client writes to the control point.

    ``values`` holds the parameter of a known op code as raw integers in spec order
    (``(820,)`` for Set Target Speed 8.20 km/h). An unknown op code carries its raw
    ``parameter`` bytes instead. ``extra`` holds bytes after a known parameter.
    """

    op: int
    values: tuple[int, ...] = ()
    parameter: bytes = b""
    extra: bytes = b""

    def __post_init__(self) -> None:
        _init_op_message(self, ControlOp, CONTROL_LAYOUTS)

    @classmethod
    def from_bytes(cls, data: BytesLike) -> ControlRequest:
        op, values, parameter, extra = _decode_op_message(
            CONTROL_POINT, data, ControlOp, CONTROL_LAYOUTS
        )
        return cls(op, values, parameter, extra)

    def __bytes__(self) -> bytes:
        layout = CONTROL_LAYOUTS.get(self.op)
        body = self.parameter if layout is None else layout.pack(self.values)
        return bytes((self.op,)) + body + self.extra

    @property
    def value(self) -> int | None:
        """The parameter of a one-value op code (``None`` for the others)."""
        return self.values[0] if len(self.values) == 1 else None

    @classmethod
    def request_control(cls) -> ControlRequest:
        return cls(ControlOp.REQUEST_CONTROL)

    @classmethod
    def reset(cls) -> ControlRequest:
        return cls(ControlOp.RESET)

    @classmethod
    def set_target_speed(cls, speed: int) -> ControlRequest:
        """Set Target Speed; ``speed`` in 0.01 km/h."""
        return cls(ControlOp.SET_TARGET_SPEED, (speed,))

    @classmethod
    def set_target_speed_kmh(cls, kmh: float) -> ControlRequest:
        """Set Target Speed from km/h, rounded to the nearest 0.01 km/h."""
        return cls.set_target_speed(speed_to_raw(kmh))

    @classmethod
    def set_target_inclination(cls, inclination: int) -> ControlRequest:
        """Set Target Inclination; ``inclination`` in 0.1 %."""
        return cls(ControlOp.SET_TARGET_INCLINATION, (inclination,))

    @classmethod
    def set_target_inclination_pct(cls, percent: float) -> ControlRequest:
        """Set Target Inclination from percent, rounded to the nearest 0.1 %."""
        return cls.set_target_inclination(incline_to_raw(percent))

    @classmethod
    def start_or_resume(cls) -> ControlRequest:
        return cls(ControlOp.START_OR_RESUME)

    @classmethod
    def stop(cls) -> ControlRequest:
        return cls(ControlOp.STOP_OR_PAUSE, (StopOrPause.STOP,))

    @classmethod
    def pause(cls) -> ControlRequest:
        return cls(ControlOp.STOP_OR_PAUSE, (StopOrPause.PAUSE,))

    @classmethod
    def set_targeted_distance(cls, meters: int) -> ControlRequest:
        return cls(ControlOp.SET_TARGETED_DISTANCE, (meters,))

    @classmethod
    def set_targeted_training_time(cls, seconds: int) -> ControlRequest:
        return cls(ControlOp.SET_TARGETED_TRAINING_TIME, (seconds,))


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """The indication answering a request: ``0x80, request op, result[, parameter]``.

    ``parameter`` is the raw response parameter (only Spin Down has one in the spec).
    """

    request_op: int
    result: int
    parameter: bytes = b""

    def __post_init__(self) -> None:
        setter = object.__setattr__
        op = check_int("request_op", self.request_op, 0, 0xFF)
        setter(self, "request_op", _as_enum(ControlOp, op))
        setter(self, "result", _as_enum(ResultCode, check_int("result", self.result, 0, 0xFF)))
        setter(self, "parameter", check_bytes("parameter", self.parameter))

    @classmethod
    def from_bytes(cls, data: BytesLike) -> ControlResponse:
        if len(data) >= 1 and data[0] != RESPONSE_CODE:
            raise FtmsDecodeError(
                CONTROL_POINT, 0, f"op code 0x{data[0]:02X} is not the response code 0x80"
            )
        if len(data) < 3:
            fields = (("response code", 1), ("request op code", 1), ("result", 1))
            raise short_value(CONTROL_POINT, len(data), fields)
        return cls(data[1], data[2], bytes(data[3:]))

    def __bytes__(self) -> bytes:
        return bytes((RESPONSE_CODE, self.request_op, self.result)) + self.parameter

    @property
    def succeeded(self) -> bool:
        return self.result == ResultCode.SUCCESS


@dataclass(frozen=True, slots=True)
class MachineStatus:
    """A Fitness Machine Status notification: an op code and its parameter.

    Same shape as ``ControlRequest``: ``values`` for a known op code (table 4.26),
    raw ``parameter`` bytes for an unknown one, ``extra`` after a known parameter.
    """

    op: int
    values: tuple[int, ...] = ()
    parameter: bytes = b""
    extra: bytes = b""

    def __post_init__(self) -> None:
        _init_op_message(self, StatusOp, STATUS_LAYOUTS)

    @classmethod
    def from_bytes(cls, data: BytesLike) -> MachineStatus:
        op, values, parameter, extra = _decode_op_message(STATUS, data, StatusOp, STATUS_LAYOUTS)
        return cls(op, values, parameter, extra)

    def __bytes__(self) -> bytes:
        layout = STATUS_LAYOUTS.get(self.op)
        body = self.parameter if layout is None else layout.pack(self.values)
        return bytes((self.op,)) + body + self.extra

    @property
    def value(self) -> int | None:
        """The parameter of a one-value op code (``None`` for the others)."""
        return self.values[0] if len(self.values) == 1 else None
