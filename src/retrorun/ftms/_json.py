"""The JSON view of every codec value: what ``retrorun ftms decode`` prints, and what
the session record and the simulator's logs store.

Numbers are in display units (km/h, %, m, s); a field absent from the frame is
omitted, a field present with the "not available" value is ``null``. Enumerated
values are snake_case names, or ``"0x.."`` when the value is not one the spec names.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

from retrorun.ftms._control import (
    ControlOp,
    ControlRequest,
    ControlResponse,
    MachineStatus,
    ResultCode,
    SpinDownControl,
    SpinDownStatus,
    StatusOp,
    StopOrPause,
)
from retrorun.ftms._machine import (
    FitnessMachineFeature,
    InclinationRange,
    ServiceData,
    SpeedRange,
    TrainingStatus,
    TrainingStatusCode,
)
from retrorun.ftms._treadmill_data import TreadmillData

__all__ = ["to_json_dict"]

JsonDict = dict[str, Any]

# A parameter value: (key, raw steps per display unit) or (key, enum of its values).
# One entry for an op with several values of one kind means a list (heart rate zones).
_Param = tuple[str, int | type[enum.IntEnum]]

_BIKE: Sequence[_Param] = (
    ("wind_speed_mps", 1000),
    ("grade_pct", 100),
    ("crr", 10000),
    ("cw_kgpm", 100),
)

_CONTROL_PARAMS: Mapping[int, Sequence[_Param]] = {
    ControlOp.SET_TARGET_SPEED: (("speed_kmh", 100),),
    ControlOp.SET_TARGET_INCLINATION: (("incline_pct", 10),),
    ControlOp.SET_TARGET_RESISTANCE_LEVEL: (("resistance_level", 10),),
    ControlOp.SET_TARGET_POWER: (("power_w", 1),),
    ControlOp.SET_TARGET_HEART_RATE: (("heart_rate_bpm", 1),),
    ControlOp.STOP_OR_PAUSE: (("control", StopOrPause),),
    ControlOp.SET_TARGETED_EXPENDED_ENERGY: (("energy_kcal", 1),),
    ControlOp.SET_TARGETED_NUMBER_OF_STEPS: (("steps", 1),),
    ControlOp.SET_TARGETED_NUMBER_OF_STRIDES: (("strides", 1),),
    ControlOp.SET_TARGETED_DISTANCE: (("distance_m", 1),),
    ControlOp.SET_TARGETED_TRAINING_TIME: (("seconds", 1),),
    ControlOp.SET_TARGETED_TIME_IN_TWO_HEART_RATE_ZONES: (("zone_seconds", 1),),
    ControlOp.SET_TARGETED_TIME_IN_THREE_HEART_RATE_ZONES: (("zone_seconds", 1),),
    ControlOp.SET_TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES: (("zone_seconds", 1),),
    ControlOp.SET_INDOOR_BIKE_SIMULATION_PARAMETERS: _BIKE,
    ControlOp.SET_WHEEL_CIRCUMFERENCE: (("wheel_circumference_mm", 10),),
    ControlOp.SPIN_DOWN_CONTROL: (("spin_down", SpinDownControl),),
    ControlOp.SET_TARGETED_CADENCE: (("cadence_rpm", 2),),
}

_STATUS_PARAMS: Mapping[int, Sequence[_Param]] = {
    StatusOp.STOPPED_OR_PAUSED_BY_USER: (("control", StopOrPause),),
    StatusOp.TARGET_SPEED_CHANGED: (("target_speed_kmh", 100),),
    StatusOp.TARGET_INCLINE_CHANGED: (("target_incline_pct", 10),),
    StatusOp.TARGET_RESISTANCE_LEVEL_CHANGED: (("target_resistance_level", 10),),
    StatusOp.TARGET_POWER_CHANGED: (("target_power_w", 1),),
    StatusOp.TARGET_HEART_RATE_CHANGED: (("target_heart_rate_bpm", 1),),
    StatusOp.TARGETED_EXPENDED_ENERGY_CHANGED: (("targeted_energy_kcal", 1),),
    StatusOp.TARGETED_NUMBER_OF_STEPS_CHANGED: (("targeted_steps", 1),),
    StatusOp.TARGETED_NUMBER_OF_STRIDES_CHANGED: (("targeted_strides", 1),),
    StatusOp.TARGETED_DISTANCE_CHANGED: (("targeted_distance_m", 1),),
    StatusOp.TARGETED_TRAINING_TIME_CHANGED: (("targeted_seconds", 1),),
    StatusOp.TARGETED_TIME_IN_TWO_HEART_RATE_ZONES_CHANGED: (("targeted_zone_seconds", 1),),
    StatusOp.TARGETED_TIME_IN_THREE_HEART_RATE_ZONES_CHANGED: (("targeted_zone_seconds", 1),),
    StatusOp.TARGETED_TIME_IN_FIVE_HEART_RATE_ZONES_CHANGED: (("targeted_zone_seconds", 1),),
    StatusOp.INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED: _BIKE,
    StatusOp.WHEEL_CIRCUMFERENCE_CHANGED: (("wheel_circumference_mm", 10),),
    StatusOp.SPIN_DOWN_STATUS: (("spin_down_status", SpinDownStatus),),
    StatusOp.TARGETED_CADENCE_CHANGED: (("targeted_cadence_rpm", 2),),
}


def enum_name(enum_type: type[enum.IntEnum], value: int) -> str:
    """``success`` for a named value, ``0x06`` for any other."""
    member = enum_type._value2member_map_.get(value)
    return member.name.lower() if member is not None and member.name else f"0x{value:02x}"


def flag_names(flags: enum.IntFlag, width: int) -> list[str]:
    """Sorted snake_case names of the set bits; an unnamed bit reads ``bit_N``."""
    names = []
    for bit in range(width):
        if flags & (1 << bit):
            member = type(flags)._value2member_map_.get(1 << bit)
            names.append(
                member.name.lower() if member is not None and member.name else f"bit_{bit}"
            )
    return sorted(names)


def _scaled(raw: int | None, per_unit: int) -> int | float | None:
    if raw is None or per_unit == 1:
        return raw
    return raw / per_unit


def _params(out: JsonDict, spec: Sequence[_Param], values: tuple[int, ...]) -> None:
    if len(spec) == 1 and len(values) > 1:
        key, per_unit = spec[0]
        if isinstance(per_unit, int):
            out[key] = [_scaled(v, per_unit) for v in values]
        return
    for (key, kind), value in zip(spec, values, strict=True):
        out[key] = _scaled(value, kind) if isinstance(kind, int) else enum_name(kind, value)


def _op_message(
    value: ControlRequest | MachineStatus,
    enum_type: type[enum.IntEnum],
    specs: Mapping[int, Sequence[_Param]],
) -> JsonDict:
    out: JsonDict = {"op": enum_name(enum_type, value.op)}
    _params(out, specs.get(value.op, ()), value.values)
    if value.parameter:
        out["parameter_hex"] = value.parameter.hex()
    if value.extra:
        out["extra_hex"] = value.extra.hex()
    return out


def _treadmill_data(value: TreadmillData) -> JsonDict:
    out: JsonDict = {"more_data": value.more_data}
    for f, raw in value.present_fields():
        out[f.json_key] = _scaled(raw, f.per_unit)
    if value.extra:
        out["extra_hex"] = value.extra.hex()
    if value.truncated:
        out["partial"] = True
        out["truncated"] = flag_names(value.truncated, 16)
    return out


def to_json_dict(value: object) -> JsonDict:
    """The JSON-ready dict of any value this codec decodes (``TypeError`` otherwise)."""
    out: JsonDict
    if isinstance(value, TreadmillData):
        return _treadmill_data(value)
    if isinstance(value, ControlRequest):
        return _op_message(value, ControlOp, _CONTROL_PARAMS)
    if isinstance(value, MachineStatus):
        return _op_message(value, StatusOp, _STATUS_PARAMS)
    if isinstance(value, ControlResponse):
        out = {
            "request_op": enum_name(ControlOp, value.request_op),
            "result": enum_name(ResultCode, value.result),
        }
        if value.parameter:
            out["parameter_hex"] = value.parameter.hex()
        return out
    if isinstance(value, FitnessMachineFeature):
        out = {"machine": flag_names(value.machine, 32), "target": flag_names(value.target, 32)}
    elif isinstance(value, SpeedRange):
        out = {"min_kmh": value.min_kmh, "max_kmh": value.max_kmh, "step_kmh": value.step_kmh}
    elif isinstance(value, InclinationRange):
        out = {"min_pct": value.min_pct, "max_pct": value.max_pct, "step_pct": value.step_pct}
    elif isinstance(value, TrainingStatus):
        out = {"status": enum_name(TrainingStatusCode, value.status)}
        if value.text is not None:
            out["text"] = value.text
        if value.extended_string:
            out["extended_string"] = True
    elif isinstance(value, ServiceData):
        out = {"available": value.available, "machine_type": flag_names(value.machine_type, 16)}
    else:
        raise TypeError(f"not an FTMS codec value: {type(value).__name__}")
    if value.extra:
        out["extra_hex"] = value.extra.hex()
    return out
