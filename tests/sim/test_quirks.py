"""Each device-profile quirk, through bytes."""

from __future__ import annotations

import pytest
from sim_support import control, make, records, run_for, send, with_quirks

from retrorun.devices import QUIRKS
from retrorun.ftms import (
    ControlRequest,
    FitnessMachineFeature,
    FtmsDecodeError,
    InclinationRange,
    MachineFeature,
    MachineStatus,
    SpeedRange,
    StatusOp,
    TreadmillData,
)
from treadsim.server import FEATURE, INCLINE_RANGE, SPEED_RANGE, STATUS, TREADMILL_DATA

SUCCESS, NOT_SUPPORTED, INVALID, FAILED, NOT_PERMITTED = 0x01, 0x02, 0x03, 0x04, 0x05


def test_every_quirk_is_covered_here() -> None:
    covered = {
        "rejects_request_control",
        "needs_start_before_speed",
        "speed_in_mph",
        "zero_ranges",
        "ignores_speed_commands",
        "step_count_bit13",
        "split_records",
        "truncated_records",
    }
    assert covered == set(QUIRKS)


def test_rejects_request_control_yet_obeys_without_it() -> None:
    server = make(with_quirks("rejects_request_control"))
    assert send(server, ControlRequest.request_control()) == (NOT_SUPPORTED, [])
    assert not server.controlled
    assert send(server, ControlRequest.set_target_speed(300))[0] == SUCCESS
    assert server.belt.target == 300


def test_needs_start_before_speed() -> None:
    server = make(with_quirks("needs_start_before_speed"))
    control(server)
    assert send(server, ControlRequest.set_target_speed(300)) == (FAILED, [])
    assert send(server, ControlRequest.start_or_resume())[0] == SUCCESS
    assert send(server, ControlRequest.set_target_speed(300))[0] == SUCCESS
    run_for(server, 5.0)
    assert server.belt.speed_raw == 300


def test_speed_in_mph_both_ways() -> None:
    server = make(with_quirks("speed_in_mph"))
    control(server)
    result, statuses = send(server, ControlRequest.set_target_speed(310))  # 3.10 mph
    assert result == SUCCESS
    assert server.belt.target == 499  # 4.99 km/h on the belt
    assert statuses == [MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (310,))]  # echoed in mph
    # Range checks apply to the belt speed: 10 mph = 16.09 km/h is over 16 km/h.
    assert send(server, ControlRequest.set_target_speed(1000))[0] == INVALID
    # Telemetry stays in km/h (what the belt does), as the controller expects.
    last = records(run_for(server, 10.0))[-1]
    assert last.speed == 499
    server.console_speed(805, absolute=True)  # the console speaks the same unit back
    (status,) = [MachineStatus.from_bytes(o.payload) for o in server.drain() if o.uuid == STATUS]
    assert status == MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (500,))


def test_zero_ranges() -> None:
    server = make(with_quirks("zero_ranges"))
    assert SpeedRange.from_bytes(server.read(SPEED_RANGE)) == SpeedRange(0, 0, 0)
    assert InclinationRange.from_bytes(server.read(INCLINE_RANGE)) == InclinationRange(0, 0, 0)
    control(server)  # the machine still enforces its real range
    assert send(server, ControlRequest.set_target_speed(500))[0] == SUCCESS
    assert send(server, ControlRequest.set_target_speed(2000))[0] == INVALID


def test_ignores_speed_commands() -> None:
    server = make(with_quirks("ignores_speed_commands"))
    control(server)
    assert send(server, ControlRequest.set_target_speed(500)) == (SUCCESS, [])
    run_for(server, 5.0)
    assert server.belt.speed == 0
    server.console_speed(400, absolute=True)  # the console still works
    run_for(server, 5.0, 5.0)
    assert send(server, ControlRequest.set_target_speed(800)) == (SUCCESS, [])
    run_for(server, 5.0, 10.0)
    assert server.belt.speed_raw == 400


def test_step_count_bit13() -> None:
    server = make(with_quirks("step_count_bit13"))
    feature = FitnessMachineFeature.from_bytes(server.read(FEATURE))
    assert feature.machine & MachineFeature.STEP_COUNT
    server.console_speed(500, absolute=True)
    out = run_for(server, 30.0)
    last = records(out)[-1]
    assert last.step_count is not None
    assert 50 < last.step_count < 80
    assert any(
        int.from_bytes(o.payload[:2], "little") & (1 << 13) for o in out if o.uuid == TREADMILL_DATA
    )


@pytest.mark.parametrize("mtu", [23, 247])
def test_split_records_whatever_the_mtu(mtu: int) -> None:
    server = make(with_quirks("split_records"))
    server.set_mtu(mtu)
    out = [o for o in run_for(server, 3.0) if o.uuid == TREADMILL_DATA]
    parts = [TreadmillData.from_bytes(o.payload) for o in out]
    assert len(parts) == 6  # two parts a record, even when one notification would do
    assert [p.speed is None for p in parts] == [True, False] * 3
    assert all(len(o.payload) <= 20 for o in out)
    assert len(records(out)) == 3


def test_without_split_records_a_record_that_fits_is_whole() -> None:
    server = make()
    server.set_mtu(247)
    out = [o for o in run_for(server, 3.0) if o.uuid == TREADMILL_DATA]
    assert len(out) == 3


@pytest.mark.parametrize("mtu", [23, 247])
def test_truncated_records_cut_at_20_bytes_whatever_the_mtu(mtu: int) -> None:
    server = make(with_quirks("truncated_records"))
    server.set_mtu(mtu)
    server.console_speed(650, absolute=True)
    out = [o for o in run_for(server, 10.0) if o.uuid == TREADMILL_DATA]
    assert len(out) == 10
    assert {len(o.payload) for o in out} == {20}
    # The flags announce what a Matrix console announces, not what the frame holds.
    assert {int.from_bytes(o.payload[:2], "little") for o in out} == {0x1F9E}
    with pytest.raises(FtmsDecodeError, match="20-byte frame too short for flags 0x1F9E"):
        TreadmillData.from_bytes(out[-1].payload)
    last = TreadmillData.from_bytes(out[-1].payload, partial=True)
    assert last.partial
    assert last.speed == server.belt.speed_raw == 650
    assert last.inclination == server.belt.incline_raw
    assert last.heart_rate is None  # cut off
