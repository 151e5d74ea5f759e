"""Sans-I/O codec for the Bluetooth Fitness Machine Service, as a treadmill speaks it.

Bytes in, frozen dataclasses out, and back: ``X.from_bytes(data)`` decodes and
``bytes(x)`` encodes, for both directions (the simulator encodes what the controller
decodes). No asyncio, no bleak, no logging here.

Values are the raw FTMS integers (speed in 0.01 km/h, inclination in 0.1 %, ...);
floats appear only at the edge (``speed_kmh`` properties, ``*_kmh`` / ``*_pct``
constructors, ``speed_to_raw``): speeds toward zero, other values to nearest.
Constructors check ranges and
raise ``FtmsValueError``; decoding tolerates trailing bytes (kept in ``extra``),
vendor flag bits and unknown op codes, and raises ``FtmsDecodeError`` (a
``ValueError`` and an ``InputError``) only for a value too short for what it
announces. ``to_json_dict`` gives the JSON view of any of these values.

``DeviceInformation`` reads the Device Information Service that real consoles expose
beside FTMS (manufacturer, model, firmware).

A Treadmill Data record too long for one notification travels in parts (More Data);
``RecordAssembler`` merges them back and ``split_record`` cuts one for a given MTU.
"""

from __future__ import annotations

from retrorun.ftms._assembler import RecordAssembler, split_record
from retrorun.ftms._control import (
    RESPONSE_CODE,
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
from retrorun.ftms._dis import DeviceInformation, decode_string
from retrorun.ftms._errors import FtmsDecodeError, FtmsError, FtmsValueError
from retrorun.ftms._json import to_json_dict
from retrorun.ftms._machine import (
    FitnessMachineFeature,
    FitnessMachineType,
    InclinationRange,
    MachineFeature,
    ServiceData,
    ServiceDataFlags,
    SpeedRange,
    TargetSettingFeature,
    TrainingStatus,
    TrainingStatusCode,
    TrainingStatusFlags,
)
from retrorun.ftms._treadmill_data import TreadmillData, TreadmillDataFlags
from retrorun.ftms._units import KMH_PER_MPH, BytesLike, incline_to_raw, speed_to_raw
from retrorun.ftms._uuids import (
    DEVICE_INFORMATION_SERVICE_UUID,
    DIS_STRINGS,
    FITNESS_MACHINE_CONTROL_POINT_UUID,
    FITNESS_MACHINE_FEATURE_UUID,
    FITNESS_MACHINE_SERVICE_UUID,
    FITNESS_MACHINE_STATUS_UUID,
    SUPPORTED_INCLINATION_RANGE_UUID,
    SUPPORTED_SPEED_RANGE_UUID,
    TRAINING_STATUS_UUID,
    TREADMILL_DATA_UUID,
    Short,
    uuid16,
)

__all__ = [
    "DEVICE_INFORMATION_SERVICE_UUID",
    "DIS_STRINGS",
    "FITNESS_MACHINE_CONTROL_POINT_UUID",
    "FITNESS_MACHINE_FEATURE_UUID",
    "FITNESS_MACHINE_SERVICE_UUID",
    "FITNESS_MACHINE_STATUS_UUID",
    "KMH_PER_MPH",
    "RESPONSE_CODE",
    "SUPPORTED_INCLINATION_RANGE_UUID",
    "SUPPORTED_SPEED_RANGE_UUID",
    "TRAINING_STATUS_UUID",
    "TREADMILL_DATA_UUID",
    "BytesLike",
    "ControlOp",
    "ControlRequest",
    "ControlResponse",
    "DeviceInformation",
    "FitnessMachineFeature",
    "FitnessMachineType",
    "FtmsDecodeError",
    "FtmsError",
    "FtmsValueError",
    "InclinationRange",
    "MachineFeature",
    "MachineStatus",
    "RecordAssembler",
    "ResultCode",
    "ServiceData",
    "ServiceDataFlags",
    "Short",
    "SpeedRange",
    "SpinDownControl",
    "SpinDownStatus",
    "StatusOp",
    "StopOrPause",
    "TargetSettingFeature",
    "TrainingStatus",
    "TrainingStatusCode",
    "TrainingStatusFlags",
    "TreadmillData",
    "TreadmillDataFlags",
    "decode_string",
    "incline_to_raw",
    "speed_to_raw",
    "split_record",
    "to_json_dict",
    "uuid16",
]
