"""Frame tables: bytes against the values the spec (FTMS v1.0) says they carry.

Frames marked "real" were sent by treadmills and published in public bug reports
and captures; the source is named next to each.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from retrorun.cli._ftms import DECODERS
from retrorun.errors import InputError
from retrorun.ftms import (
    ControlOp,
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    FtmsDecodeError,
    FtmsValueError,
    InclinationRange,
    MachineFeature,
    MachineStatus,
    ResultCode,
    ServiceData,
    SpeedRange,
    StatusOp,
    StopOrPause,
    TargetSettingFeature,
    TrainingStatus,
    TrainingStatusCode,
    TreadmillData,
    TreadmillDataFlags,
    incline_to_raw,
    speed_to_raw,
    to_json_dict,
    uuid16,
)
from retrorun.limits import kmh

# A frame with every flag bit 1-13 set, laid out by hand from table 4.5 of the spec.
FULL_FRAME = bytes.fromhex(
    "fe3f"  # flags 0x3FFE: bits 1-13, More Data clear
    "3403"  # speed 820 -> 8.20 km/h
    "bc02"  # average speed 700
    "40e201"  # total distance 123456 m (u24)
    "e7ff"  # inclination -25 -> -2.5 %
    "ff7f"  # ramp angle: not available
    "0a00"  # positive elevation gain 10 -> 1.0 m
    "0500"  # negative elevation gain 5 -> 0.5 m
    "32"  # instantaneous pace 50 -> 5.0 km/min
    "30"  # average pace 48
    "ffff"  # total energy: not available
    "2c01"  # energy per hour 300 kcal
    "ff"  # energy per minute: not available
    "82"  # heart rate 130
    "50"  # metabolic equivalent 80 -> 8.0
    "5802"  # elapsed time 600 s
    "b004"  # remaining time 1200 s
    "ff7f"  # force on belt: not available
    "9600"  # power output 150 W
    "701101"  # step count 70000 (vendor bit 13, u24)
)

TREADMILL_FRAMES: list[tuple[str, dict[str, Any]]] = [
    ("0000e803", {"more_data": False, "speed_kmh": 10.0}),
    (
        FULL_FRAME.hex(),
        {
            "more_data": False,
            "speed_kmh": 8.2,
            "avg_speed_kmh": 7.0,
            "distance_m": 123456,
            "incline_pct": -2.5,
            "ramp_angle_deg": None,
            "elevation_gain_m": 1.0,
            "elevation_loss_m": 0.5,
            "pace_kmpmin": 5.0,
            "avg_pace_kmpmin": 4.8,
            "energy_kcal": None,
            "energy_per_hour_kcal": 300,
            "energy_per_minute_kcal": None,
            "heart_rate_bpm": 130,
            "met": 8.0,
            "elapsed_s": 600,
            "remaining_s": 1200,
            "force_n": None,
            "power_w": 150,
            "steps": 70000,
        },
    ),
    # Inclination present, ramp angle "not available".
    ("08002003 1e00 ff7f", {"more_data": False, "speed_kmh": 8.0, "incline_pct": 3.0,
                             "ramp_angle_deg": None}),
    # Every energy field "not available".
    ("8000 0000 ffff ffff ff", {"more_data": False, "speed_kmh": 0.0, "energy_kcal": None,
                                "energy_per_hour_kcal": None, "energy_per_minute_kcal": None}),
    # Force and power, one available.
    ("0010 f401 ff7f 9cff", {"more_data": False, "speed_kmh": 5.0, "force_n": None,
                             "power_w": -100}),
    # A More Data part: no speed.
    ("0500 640000", {"more_data": True, "distance_m": 100}),
    ("0100", {"more_data": True}),
    # Largest values.
    ("0600 ffff ffff ffffff", {"more_data": False, "speed_kmh": 655.35, "avg_speed_kmh": 655.35,
                          "distance_m": 0xFFFFFF}),
    # Vendor bit 14 with its unknown data, and trailing bytes without any vendor bit.
    ("0040 f401 aabb", {"more_data": False, "speed_kmh": 5.0, "extra_hex": "aabb"}),
    ("0000 f401 00", {"more_data": False, "speed_kmh": 5.0, "extra_hex": "00"}),
    # Real: CITYSPORTS-Linker walking pad (CS-WP8), nRF Connect capture in
    # github.com/hughesjs/FitnessMachine protocol/CS-WP8/1_to_3_with_person_60s_49m_3cal.log
    # (00:16:07.589); flags 0x2484 include vendor bit 13, the u24 step count.
    (
        "84-24-2C-01-2E-00-00-02-00-00-00-00-39-00-53-00-00",
        {"more_data": False, "speed_kmh": 3.0, "distance_m": 46, "energy_kcal": 2,
         "energy_per_hour_kcal": 0, "energy_per_minute_kcal": 0, "elapsed_s": 57, "steps": 83},
    ),
    # Real: same capture, slowing down at the end (00:16:14.304).
    (
        "84-24-F0-00-31-00-00-02-00-00-00-00-3F-00-5E-00-00",
        {"more_data": False, "speed_kmh": 2.4, "distance_m": 49, "energy_kcal": 2,
         "energy_per_hour_kcal": 0, "energy_per_minute_kcal": 0, "elapsed_s": 63, "steps": 94},
    ),
    # Real: Horizon treadmill at rest, github.com/cagnulein/qdomyos-zwift/issues/175
    # ("Value of Characteristic 2ACD updated to 0x84-04-00-...").
    (
        "84-04-00-00-00-00-00-00-00-00-00-00-00-00",
        {"more_data": False, "speed_kmh": 0.0, "distance_m": 0, "energy_kcal": 0,
         "energy_per_hour_kcal": 0, "energy_per_minute_kcal": 0, "elapsed_s": 0},
    ),
]  # fmt: skip


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace("-", "").replace(" ", ""))


@pytest.mark.parametrize(("frame", "expected"), TREADMILL_FRAMES)
def test_treadmill_data_frames(frame: str, expected: dict[str, Any]) -> None:
    data = _bytes(frame)
    record = TreadmillData.from_bytes(data)
    assert to_json_dict(record) == expected
    assert bytes(record) == data


def test_full_frame_raw_values() -> None:
    record = TreadmillData.from_bytes(FULL_FRAME)
    assert record.flags == 0x3FFE
    assert record.speed == 820
    assert record.speed_kmh == 8.2
    assert record.total_distance == 123456
    assert record.inclination == -25
    assert record.inclination_pct == -2.5
    assert record.ramp_angle is None
    assert record.step_count == 70000
    assert not record.more_data
    assert record.extra == b""


def test_not_available_differs_from_absent() -> None:
    present_na = TreadmillData.from_bytes(_bytes("0800 f401 ff7f ff7f"))
    absent = TreadmillData.from_bytes(_bytes("0000 f401"))
    assert present_na.inclination is None
    assert absent.inclination is None
    assert present_na != absent
    assert to_json_dict(present_na)["incline_pct"] is None
    assert "incline_pct" not in to_json_dict(absent)
    assert bytes(present_na) == _bytes("0800 f401 ff7f ff7f")
    assert bytes(absent) == _bytes("0000 f401")


def test_elevation_and_ramp_marked_not_available_read_as_null() -> None:
    # Flags 0x0018: inclination + ramp angle (0x7FFF each) and elevation gain and loss
    # (0xFFFF each), as machines send them when they measure none of it.
    frame = _bytes("1800 f401 ff7f ff7f ffff ffff")
    record = TreadmillData.from_bytes(frame)
    values = to_json_dict(record)
    for key in ("incline_pct", "ramp_angle_deg", "elevation_gain_m", "elevation_loss_m"):
        assert values[key] is None, key
    assert bytes(record) == frame


def test_constructor_sends_none_in_present_group_as_not_available() -> None:
    record = TreadmillData(speed=820, inclination=15)
    assert record.flags == TreadmillDataFlags.INCLINATION
    assert record.ramp_angle is None
    assert bytes(record) == _bytes("0800 3403 0f00 ff7f")
    all_na = TreadmillData(speed=820, flags=TreadmillDataFlags.EXPENDED_ENERGY)
    assert bytes(all_na) == _bytes("8000 3403 ffff ffff ff")


def test_more_data_follows_speed() -> None:
    assert TreadmillData().more_data
    assert TreadmillData(total_distance=5).flags == (
        TreadmillDataFlags.MORE_DATA | TreadmillDataFlags.TOTAL_DISTANCE
    )
    # A MORE_DATA bit passed in flags is ignored: it always follows the speed.
    assert not TreadmillData(speed=1, flags=TreadmillDataFlags.MORE_DATA).more_data


def test_decode_accepts_bytearray_and_memoryview() -> None:
    for data in (bytearray(FULL_FRAME + b"\x01"), memoryview(FULL_FRAME + b"\x01")):
        record = TreadmillData.from_bytes(data)
        assert record == TreadmillData.from_bytes(FULL_FRAME + b"\x01")
        assert type(record.extra) is bytes


def test_decoded_record_is_a_frozen_treadmill_data() -> None:
    record = TreadmillData.from_bytes(FULL_FRAME)
    assert type(record) is TreadmillData
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.speed = 1  # type: ignore[misc]
    assert hash(record) == hash(TreadmillData.from_bytes(FULL_FRAME))
    faster = dataclasses.replace(record, speed=900)
    assert faster.speed == 900
    assert faster.total_distance == record.total_distance
    assert "ramp_angle=None" in repr(record)
    assert "average_speed" not in repr(TreadmillData(speed=1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": -1}, "speed = -1 is out of range 0..65535"),
        ({"speed": 65536}, "out of range"),
        ({"speed": 1, "inclination": 0x7FFF}, "inclination = 32767 is out of range"),
        ({"speed": 1, "total_energy": 0xFFFF}, "out of range 0..65534"),
        ({"speed": 1, "energy_per_minute": 0xFF}, "out of range 0..254"),
        ({"speed": 1, "total_distance": 1 << 24}, "out of range"),
        ({"speed": 1.5}, "must be an integer"),
        ({"speed": True}, "must be an integer"),
        ({"speed": 1, "flags": TreadmillDataFlags.AVERAGE_SPEED}, "average_speed is required"),
        ({"speed": 1, "flags": 1 << 16}, "flags = 65536"),
        ({"speed": 1, "extra": "ab"}, "extra must be bytes"),
    ],
)
def test_treadmill_data_rejects_out_of_range(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(FtmsValueError, match=message):
        TreadmillData(**kwargs)


@pytest.mark.parametrize(
    ("frame", "offset", "field"),
    [
        ("", 0, "no flags"),
        ("00", 0, "no flags"),
        ("0000f4", 2, "speed"),
        ("0400f401 0100", 4, "total_distance"),
        ("0800f401 0a00 ff", 6, "ramp_angle"),
        ("8000f401 0000 0000", 8, "energy_per_minute"),
        # Vendor bit 13 announced, step count missing.
        ("8424 2c01 960000 0c00 0000 00 7800", 14, "step_count"),
    ],
)
def test_short_treadmill_frames(frame: str, offset: int, field: str) -> None:
    with pytest.raises(FtmsDecodeError, match=field) as caught:
        TreadmillData.from_bytes(_bytes(frame))
    assert caught.value.offset == offset
    assert caught.value.characteristic == "Treadmill Data (0x2ACD)"
    assert f"byte offset {offset}" in str(caught.value)


def test_decode_error_is_value_error_and_input_error() -> None:
    assert issubclass(FtmsDecodeError, ValueError)
    assert issubclass(FtmsDecodeError, InputError)
    assert FtmsDecodeError("x", 0, "y").exit_code == 2
    assert issubclass(FtmsValueError, ValueError)


# --- Control point: requests ------------------------------------------------------

CONTROL_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("00", {"op": "request_control"}),
    ("01", {"op": "reset"}),
    ("023403", {"op": "set_target_speed", "speed_kmh": 8.2}),
    ("03e7ff", {"op": "set_target_inclination", "incline_pct": -2.5}),
    ("0455", {"op": "set_target_resistance_level", "resistance_level": 8.5}),
    ("05c8ff", {"op": "set_target_power", "power_w": -56}),
    ("068c", {"op": "set_target_heart_rate", "heart_rate_bpm": 140}),
    ("07", {"op": "start_or_resume"}),
    ("0801", {"op": "stop_or_pause", "control": "stop"}),
    ("0802", {"op": "stop_or_pause", "control": "pause"}),
    ("0803", {"op": "stop_or_pause", "control": "0x03"}),
    ("092c01", {"op": "set_targeted_expended_energy", "energy_kcal": 300}),
    ("0a1027", {"op": "set_targeted_number_of_steps", "steps": 10000}),
    ("0be803", {"op": "set_targeted_number_of_strides", "strides": 1000}),
    ("0c40e201", {"op": "set_targeted_distance", "distance_m": 123456}),
    ("0d0807", {"op": "set_targeted_training_time", "seconds": 1800}),
    ("0e2c015802", {"op": "set_targeted_time_in_two_heart_rate_zones",
                    "zone_seconds": [300, 600]}),
    ("0f3c007800b400", {"op": "set_targeted_time_in_three_heart_rate_zones",
                        "zone_seconds": [60, 120, 180]}),
    ("1001000200030004000500", {"op": "set_targeted_time_in_five_heart_rate_zones",
                                "zone_seconds": [1, 2, 3, 4, 5]}),
    ("11e803c8ff2833", {"op": "set_indoor_bike_simulation_parameters", "wind_speed_mps": 1.0,
                        "grade_pct": -0.56, "crr": 0.004, "cw_kgpm": 0.51}),
    ("125c55", {"op": "set_wheel_circumference", "wheel_circumference_mm": 2185.2}),
    ("1301", {"op": "spin_down_control", "spin_down": "start"}),
    ("14b400", {"op": "set_targeted_cadence", "cadence_rpm": 90.0}),
    # Unknown op codes decode with their raw parameter.
    ("2a0102", {"op": "0x2a", "parameter_hex": "0102"}),
    ("800201", {"op": "response_code", "parameter_hex": "0201"}),
    ("ff", {"op": "0xff"}),
    # Trailing bytes after a known parameter.
    ("023403ee", {"op": "set_target_speed", "speed_kmh": 8.2, "extra_hex": "ee"}),
    # Real: the commands a CITYSPORTS-Linker (CS-WP8) accepts, from
    # github.com/hughesjs/FitnessMachine protocol/CS-WP8/README.md (Set Speed 3.0 km/h).
    ("00", {"op": "request_control"}),
    ("0801", {"op": "stop_or_pause", "control": "stop"}),
    ("022c01", {"op": "set_target_speed", "speed_kmh": 3.0}),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "expected"), CONTROL_REQUESTS)
def test_control_requests(frame: str, expected: dict[str, Any]) -> None:
    data = bytes.fromhex(frame)
    request = ControlRequest.from_bytes(data)
    assert to_json_dict(request) == expected
    assert bytes(request) == data


def test_control_request_constructors() -> None:
    assert bytes(ControlRequest.request_control()) == b"\x00"
    assert bytes(ControlRequest.reset()) == b"\x01"
    assert bytes(ControlRequest.set_target_speed_kmh(8.2)) == bytes.fromhex("023403")
    assert bytes(ControlRequest.set_target_speed(820)) == bytes.fromhex("023403")
    assert bytes(ControlRequest.set_target_inclination_pct(-2.5)) == bytes.fromhex("03e7ff")
    assert bytes(ControlRequest.start_or_resume()) == b"\x07"
    assert bytes(ControlRequest.stop()) == bytes.fromhex("0801")
    assert bytes(ControlRequest.pause()) == bytes.fromhex("0802")
    assert bytes(ControlRequest.set_targeted_distance(5000)) == bytes.fromhex("0c881300")
    assert bytes(ControlRequest.set_targeted_training_time(1800)) == bytes.fromhex("0d0807")
    request = ControlRequest.from_bytes(bytes.fromhex("0802"))
    assert request.op is ControlOp.STOP_OR_PAUSE
    assert request.value == StopOrPause.PAUSE
    assert ControlRequest.from_bytes(b"\x2a").op == 0x2A


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ControlRequest.set_target_speed(70000), "out of range 0..65535"),
        (lambda: ControlRequest.set_target_speed_kmh(-0.01), "out of range"),
        (lambda: ControlRequest.set_target_speed_kmh(float("nan")), "finite"),
        (lambda: ControlRequest.set_target_inclination(-40000), "out of range"),
        (lambda: ControlRequest.set_targeted_distance(1 << 24), "out of range"),
        (lambda: ControlRequest(ControlOp.SET_TARGET_SPEED), "takes 1 parameter value"),
        (lambda: ControlRequest(ControlOp.RESET, (1,)), "takes 0 parameter value"),
        (lambda: ControlRequest(ControlOp.RESET, parameter=b"\x01"), "give `values`"),
        (lambda: ControlRequest(0x2A, (1,)), "no known parameter layout"),
        (lambda: ControlRequest(0x2A, extra=b"\x01"), "belong in `parameter`"),
        (lambda: ControlRequest(256), "out of range 0..255"),
    ],
)
def test_control_request_rejects(make: Any, message: str) -> None:
    with pytest.raises(FtmsValueError, match=message):
        make()


# --- Control point: response indications -------------------------------------------

CONTROL_RESPONSES: list[tuple[str, dict[str, Any]]] = [
    ("800001", {"request_op": "request_control", "result": "success"}),
    ("800201", {"request_op": "set_target_speed", "result": "success"}),
    ("800205", {"request_op": "set_target_speed", "result": "control_not_permitted"}),
    ("800303", {"request_op": "set_target_inclination", "result": "invalid_parameter"}),
    ("800702", {"request_op": "start_or_resume", "result": "op_code_not_supported"}),
    ("800804", {"request_op": "stop_or_pause", "result": "operation_failed"}),
    ("8013012c015802", {"request_op": "spin_down_control", "result": "success",
                        "parameter_hex": "2c015802"}),
    ("802a02", {"request_op": "0x2a", "result": "op_code_not_supported"}),
    ("800709", {"request_op": "start_or_resume", "result": "0x09"}),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "expected"), CONTROL_RESPONSES)
def test_control_responses(frame: str, expected: dict[str, Any]) -> None:
    data = bytes.fromhex(frame)
    response = ControlResponse.from_bytes(data)
    assert to_json_dict(response) == expected
    assert bytes(response) == data


def test_control_response_fields() -> None:
    response = ControlResponse.from_bytes(bytes.fromhex("800205"))
    assert response.request_op is ControlOp.SET_TARGET_SPEED
    assert response.result is ResultCode.CONTROL_NOT_PERMITTED
    assert not response.succeeded
    assert ControlResponse(ControlOp.START_OR_RESUME, ResultCode.SUCCESS).succeeded
    assert bytes(ControlResponse(ControlOp.RESET, ResultCode.SUCCESS)) == bytes.fromhex("800101")


# --- Fitness Machine Status ----------------------------------------------------------

STATUS_FRAMES: list[tuple[str, dict[str, Any]]] = [
    ("01", {"op": "reset"}),
    ("0201", {"op": "stopped_or_paused_by_user", "control": "stop"}),
    ("0202", {"op": "stopped_or_paused_by_user", "control": "pause"}),
    ("03", {"op": "stopped_by_safety_key"}),
    ("04", {"op": "started_or_resumed_by_user"}),
    ("053403", {"op": "target_speed_changed", "target_speed_kmh": 8.2}),
    ("06e7ff", {"op": "target_incline_changed", "target_incline_pct": -2.5}),
    ("0755", {"op": "target_resistance_level_changed", "target_resistance_level": 8.5}),
    ("08c8ff", {"op": "target_power_changed", "target_power_w": -56}),
    ("098c", {"op": "target_heart_rate_changed", "target_heart_rate_bpm": 140}),
    ("0a2c01", {"op": "targeted_expended_energy_changed", "targeted_energy_kcal": 300}),
    ("0b1027", {"op": "targeted_number_of_steps_changed", "targeted_steps": 10000}),
    ("0ce803", {"op": "targeted_number_of_strides_changed", "targeted_strides": 1000}),
    ("0d40e201", {"op": "targeted_distance_changed", "targeted_distance_m": 123456}),
    ("0e0807", {"op": "targeted_training_time_changed", "targeted_seconds": 1800}),
    ("0f2c015802", {"op": "targeted_time_in_two_heart_rate_zones_changed",
                    "targeted_zone_seconds": [300, 600]}),
    ("103c007800b400", {"op": "targeted_time_in_three_heart_rate_zones_changed",
                        "targeted_zone_seconds": [60, 120, 180]}),
    ("1101000200030004000500", {"op": "targeted_time_in_five_heart_rate_zones_changed",
                                "targeted_zone_seconds": [1, 2, 3, 4, 5]}),
    ("12e803c8ff2833", {"op": "indoor_bike_simulation_parameters_changed",
                        "wind_speed_mps": 1.0, "grade_pct": -0.56, "crr": 0.004,
                        "cw_kgpm": 0.51}),
    ("135c55", {"op": "wheel_circumference_changed", "wheel_circumference_mm": 2185.2}),
    ("1401", {"op": "spin_down_status", "spin_down_status": "spin_down_requested"}),
    ("1402", {"op": "spin_down_status", "spin_down_status": "success"}),
    ("1403", {"op": "spin_down_status", "spin_down_status": "error"}),
    ("1404", {"op": "spin_down_status", "spin_down_status": "stop_pedaling"}),
    ("15b400", {"op": "targeted_cadence_changed", "targeted_cadence_rpm": 90.0}),
    ("ff", {"op": "control_permission_lost"}),
    # Reserved and vendor op codes are kept, not fatal.
    ("00", {"op": "0x00"}),
    ("16aabb", {"op": "0x16", "parameter_hex": "aabb"}),
    ("fe01", {"op": "0xfe", "parameter_hex": "01"}),
    ("0201ee", {"op": "stopped_or_paused_by_user", "control": "stop", "extra_hex": "ee"}),
]  # fmt: skip


@pytest.mark.parametrize(("frame", "expected"), STATUS_FRAMES)
def test_machine_status(frame: str, expected: dict[str, Any]) -> None:
    data = bytes.fromhex(frame)
    status = MachineStatus.from_bytes(data)
    assert to_json_dict(status) == expected
    assert bytes(status) == data


def test_every_spec_status_op_is_in_the_table() -> None:
    tested = {bytes.fromhex(frame)[0] for frame, _ in STATUS_FRAMES}
    assert {int(op) for op in StatusOp} <= tested


def test_status_values() -> None:
    status = MachineStatus.from_bytes(bytes.fromhex("053403"))
    assert status.op is StatusOp.TARGET_SPEED_CHANGED
    assert status.value == 820
    zones = MachineStatus.from_bytes(bytes.fromhex("0f2c015802"))
    assert zones.values == (300, 600)
    assert zones.value is None
    assert bytes(MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (StopOrPause.PAUSE,))) == (
        bytes.fromhex("0202")
    )


# --- Feature, ranges, training status, advertising ----------------------------------

OTHER_FRAMES: list[tuple[type[Any], str, dict[str, Any]]] = [
    # Real: FitShow FS-6041F1, nRF Connect read of 0x2ACC in
    # github.com/TrackMyIndoorWorkout/TrackMyIndoorWorkout/issues/470
    (FitnessMachineFeature, "5C-16-00-00-03-00-00-00", {
        "machine": ["elapsed_time", "elevation_gain", "expended_energy",
                    "heart_rate_measurement", "inclination", "step_count", "total_distance"],
        "target": ["inclination", "speed"]}),
    (FitnessMachineFeature, "0c140000 03010000", {
        "machine": ["elapsed_time", "heart_rate_measurement", "inclination", "total_distance"],
        "target": ["distance", "inclination", "speed"]}),
    (FitnessMachineFeature, "00000080 00000000 01", {
        "machine": ["bit_31"], "target": [], "extra_hex": "01"}),
    (SpeedRange, "64007c0b0a00", {"min_kmh": 1.0, "max_kmh": 29.4, "step_kmh": 0.1}),
    # All zeros: seen on real machines (FTMS.md), decoded faithfully.
    (SpeedRange, "000000000000", {"min_kmh": 0.0, "max_kmh": 0.0, "step_kmh": 0.0}),
    (InclinationRange, "9cffc8000500", {"min_pct": -10.0, "max_pct": 20.0, "step_pct": 0.5}),
    (InclinationRange, "0000 9600 0a00 ff", {"min_pct": 0.0, "max_pct": 15.0, "step_pct": 1.0,
                                            "extra_hex": "ff"}),
    # Real: FitShow FS-6041F1 read of 0x2AD3 ("Status: Idle, Details: "), same issue #470:
    # the string flag is set and the string is empty.
    (TrainingStatus, "01-01", {"status": "idle", "text": ""}),
    (TrainingStatus, "0001", {"status": "idle"}),
    (TrainingStatus, "010d 517569636b", {"status": "manual_mode", "text": "Quick"}),
    # A string cut inside a multi-byte character (notifications carry MTU - 3 bytes).
    (TrainingStatus, "0302 5761726de282", {"status": "warming_up", "text": "Warm\ufffd",
                                           "extended_string": True}),
    (TrainingStatus, "0110 4f4b0000", {"status": "0x10", "text": "OK"}),
    (TrainingStatus, "000f 00ff", {"status": "post_workout", "extra_hex": "00ff"}),
    (ServiceData, "010100", {"available": True, "machine_type": ["treadmill"]}),
    (ServiceData, "002100", {"available": False, "machine_type": ["indoor_bike", "treadmill"]}),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "frame", "expected"), OTHER_FRAMES)
def test_other_characteristics(cls: type[Any], frame: str, expected: dict[str, Any]) -> None:
    data = _bytes(frame)
    value = cls.from_bytes(data)
    assert to_json_dict(value) == expected
    assert bytes(value) == data


def test_feature_flags() -> None:
    feature = FitnessMachineFeature.from_bytes(_bytes("5C-16-00-00-03-00-00-00"))
    assert MachineFeature.INCLINATION in feature.machine
    assert TargetSettingFeature.SPEED in feature.target
    assert TargetSettingFeature.DISTANCE not in feature.target


def test_ranges_from_display_units() -> None:
    assert SpeedRange.from_kmh(1.0, 29.4, 0.1) == SpeedRange(100, 2940, 10)
    assert InclinationRange.from_pct(-10, 20, 0.5) == InclinationRange(-100, 200, 5)
    with pytest.raises(FtmsValueError):
        SpeedRange(-1, 0, 0)


def test_training_status_text_and_flags() -> None:
    status = TrainingStatus.with_text(TrainingStatusCode.WARMING_UP, "Échauffement")
    assert status.text == "Échauffement"
    assert TrainingStatus.from_bytes(bytes(status)) == status
    assert status.status is TrainingStatusCode.WARMING_UP
    with pytest.raises(FtmsValueError, match="cannot follow a string"):
        TrainingStatus(1, b"x", extra=b"y")
    with pytest.raises(FtmsValueError, match="bits 2-7"):
        TrainingStatus(1, reserved_flags=1)


def test_service_data_defaults_to_available_treadmill() -> None:
    data = ServiceData()
    assert bytes(data) == bytes.fromhex("010100")
    assert data.available
    assert data.treadmill


@pytest.mark.parametrize(
    ("name", "frame", "offset"),
    [
        ("feature", "0c140000030100", 4),
        ("feature", "", 0),
        ("speed-range", "6400", 2),
        ("incline-range", "9cffc80005", 4),
        ("control-point", "", 0),
        ("control-point", "0234", 1),
        ("control-point", "0c4000", 1),
        ("control-response", "8002", 2),
        ("control-response", "", 0),
        ("control-response", "020101", 0),
        ("status", "0534", 1),
        ("status", "", 0),
        ("training-status", "01", 1),
        ("service-data", "0101", 1),
    ],
)
def test_short_values(name: str, frame: str, offset: int) -> None:
    with pytest.raises(FtmsDecodeError) as caught:
        DECODERS[name](bytes.fromhex(frame))
    assert caught.value.offset == offset
    assert f"byte offset {offset}" in str(caught.value)


# --- Units and UUIDs ----------------------------------------------------------------


def test_speed_to_raw_is_exact_and_never_rounds_up() -> None:
    assert speed_to_raw(8.2) == 820
    assert speed_to_raw(0.29) == 29  # 0.29 * 100 == 28.999999999999996 in binary floats
    assert speed_to_raw(1.005) == 100  # toward zero: never up past a ceiling
    assert speed_to_raw(8.125) == 812
    assert speed_to_raw(-1.005) == -100
    assert kmh(1.005) == speed_to_raw(1.005)  # one conversion for the whole program
    assert speed_to_raw(8) == 800
    assert incline_to_raw(1.15) == 12
    assert incline_to_raw(-2.5) == -25
    # Every raw speed survives km/h and back.
    assert all(speed_to_raw(raw / 100) == raw for raw in range(0x10000))
    for bad in (float("inf"), float("nan"), True, "8.2"):
        with pytest.raises(FtmsValueError):
            speed_to_raw(bad)  # type: ignore[arg-type]


def test_uuids() -> None:
    from retrorun import ftms

    assert ftms.FITNESS_MACHINE_SERVICE_UUID == "00001826-0000-1000-8000-00805f9b34fb"
    assert ftms.TREADMILL_DATA_UUID == "00002acd-0000-1000-8000-00805f9b34fb"
    short_uuids = {
        "FITNESS_MACHINE_FEATURE_UUID": 0x2ACC,
        "TRAINING_STATUS_UUID": 0x2AD3,
        "SUPPORTED_SPEED_RANGE_UUID": 0x2AD4,
        "SUPPORTED_INCLINATION_RANGE_UUID": 0x2AD5,
        "FITNESS_MACHINE_CONTROL_POINT_UUID": 0x2AD9,
        "FITNESS_MACHINE_STATUS_UUID": 0x2ADA,
    }
    for name, short in short_uuids.items():
        assert getattr(ftms, name) == f"0000{short:04x}-0000-1000-8000-00805f9b34fb"
    with pytest.raises(ValueError, match="16-bit"):
        uuid16(0x10000)


def test_decoder_cache_is_bounded() -> None:
    from retrorun.ftms import _treadmill_data

    for flags in range(0, 2 * 300, 2):
        frame = flags.to_bytes(2, "little") + bytes(64)
        for _ in range(_treadmill_data.COMPILE_AFTER):
            TreadmillData.from_bytes(frame)
    assert len(_treadmill_data._DECODERS) <= _treadmill_data._CACHE_LIMIT


def test_to_json_dict_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="not an FTMS codec value"):
        to_json_dict(object())
