"""The FTMS server through bytes only: reads, procedures, result codes, telemetry."""

from __future__ import annotations

import pytest
from sim_support import control, generic, make, records, run_for, send, with_quirks

from retrorun.ftms import (
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    InclinationRange,
    MachineFeature,
    MachineStatus,
    ServiceData,
    SpeedRange,
    StatusOp,
    TargetSettingFeature,
    TrainingStatus,
    TrainingStatusCode,
    TreadmillData,
)
from treadsim._api import AttError, GattApp, Send
from treadsim.server import (
    CONTROL_POINT,
    FEATURE,
    INCLINE_RANGE,
    SPEED_RANGE,
    STATUS,
    TRAINING_STATUS,
    TREADMILL_DATA,
    FtmsServer,
)

SUCCESS, NOT_SUPPORTED, INVALID, FAILED, NOT_PERMITTED = 0x01, 0x02, 0x03, 0x04, 0x05


def test_it_is_a_gatt_app() -> None:
    app: GattApp = make()
    assert app.advertised_name == "Generic FTMS"
    data = ServiceData.from_bytes(app.service_data())
    assert data == ServiceData()


def test_reads_feature_ranges_and_training_status() -> None:
    server = make()
    feature = FitnessMachineFeature.from_bytes(server.read(FEATURE))
    assert feature.machine & MachineFeature.INCLINATION
    assert feature.target & TargetSettingFeature.SPEED
    assert feature.target & TargetSettingFeature.INCLINATION
    assert not feature.machine & MachineFeature.STEP_COUNT
    assert SpeedRange.from_bytes(server.read(SPEED_RANGE)) == SpeedRange(50, 1600, 10)
    assert InclinationRange.from_bytes(server.read(INCLINE_RANGE)) == InclinationRange(0, 150, 5)
    status = TrainingStatus.from_bytes(server.read(TRAINING_STATUS))
    assert status.status == TrainingStatusCode.IDLE
    control(server)
    send(server, ControlRequest.start_or_resume())
    status = TrainingStatus.from_bytes(server.read(TRAINING_STATUS))
    assert status.status == TrainingStatusCode.MANUAL_MODE
    assert server.read(0x2A00) == b""


def test_flat_deck_has_no_incline_feature_and_accepts_only_zero() -> None:
    server = make(with_quirks(incline={"min_pct": 0, "max_pct": 0}))
    feature = FitnessMachineFeature.from_bytes(server.read(FEATURE))
    assert not feature.machine & MachineFeature.INCLINATION
    assert not feature.target & TargetSettingFeature.INCLINATION
    control(server)
    assert send(server, ControlRequest.set_target_inclination(0))[0] == SUCCESS
    assert send(server, ControlRequest.set_target_inclination(10))[0] == INVALID
    record = records(run_for(server, 1.0))[0]
    assert record.inclination is None


@pytest.mark.parametrize(
    "request_",
    [
        ControlRequest.reset(),
        ControlRequest.set_target_speed(300),
        ControlRequest.set_target_inclination(10),
        ControlRequest.start_or_resume(),
        ControlRequest.stop(),
        ControlRequest.pause(),
        ControlRequest.set_targeted_distance(1000),
        ControlRequest.set_targeted_training_time(600),
    ],
)
def test_every_procedure_needs_control_first(request_: ControlRequest) -> None:
    server = make()
    assert send(server, request_) == (NOT_PERMITTED, [])
    control(server)
    result, statuses = send(server, request_)
    assert result == SUCCESS
    assert len(statuses) == 1  # each change is announced


def test_procedures_and_their_status_notifications() -> None:
    server = make()
    control(server)
    assert send(server, ControlRequest.set_target_speed(500)) == (
        SUCCESS,
        [MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (500,))],
    )
    assert server.belt.running
    assert send(server, ControlRequest.set_target_inclination(25)) == (
        SUCCESS,
        [MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (25,))],
    )
    assert send(server, ControlRequest.pause()) == (
        SUCCESS,
        [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (2,))],
    )
    assert server.belt.paused
    assert send(server, ControlRequest.start_or_resume()) == (
        SUCCESS,
        [MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER)],
    )
    assert server.belt.target == 500  # resumed at the paused target
    assert send(server, ControlRequest.set_targeted_distance(5000)) == (
        SUCCESS,
        [MachineStatus(StatusOp.TARGETED_DISTANCE_CHANGED, (5000,))],
    )
    assert send(server, ControlRequest.set_targeted_training_time(1800)) == (
        SUCCESS,
        [MachineStatus(StatusOp.TARGETED_TRAINING_TIME_CHANGED, (1800,))],
    )
    assert (server.targeted_distance, server.targeted_time) == (5000, 1800)
    assert send(server, ControlRequest.stop()) == (
        SUCCESS,
        [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (1,))],
    )
    assert server.belt.target == 0
    assert send(server, ControlRequest.reset()) == (SUCCESS, [MachineStatus(StatusOp.RESET)])
    assert not server.controlled  # reset releases control
    assert send(server, ControlRequest.start_or_resume())[0] == NOT_PERMITTED


@pytest.mark.parametrize(
    "request_",
    [
        ControlRequest.set_target_speed(49),
        ControlRequest.set_target_speed(1601),
        ControlRequest.set_target_speed(0),
        ControlRequest.set_target_inclination(-5),
        ControlRequest.set_target_inclination(151),
        ControlRequest(0x08, (3,)),  # neither stop nor pause
    ],
)
def test_out_of_range_targets_are_invalid_parameters(request_: ControlRequest) -> None:
    server = make()
    control(server)
    assert send(server, request_) == (INVALID, [])
    assert server.belt.target == 0


def test_a_truncated_parameter_is_an_invalid_parameter() -> None:
    server = make()
    control(server)
    server.write_control_point(b"\x02\x10", indications_enabled=True)
    (out,) = server.drain()
    assert ControlResponse.from_bytes(out.payload) == ControlResponse(0x02, INVALID)


@pytest.mark.parametrize("op", [0x04, 0x05, 0x11, 0x13, 0x20, 0x7F])
def test_unsupported_op_codes(op: int) -> None:
    server = make()
    control(server)
    server.write_control_point(bytes([op, 0, 0, 0, 0]), indications_enabled=True)
    (out,) = server.drain()
    assert out.uuid == CONTROL_POINT
    assert out.send is Send.INDICATE
    assert ControlResponse.from_bytes(out.payload) == ControlResponse(op, NOT_SUPPORTED)


def test_att_errors() -> None:
    server = make()
    with pytest.raises(AttError) as err:
        server.write_control_point(b"\x00", indications_enabled=False)
    assert err.value.code == 0xFD
    server.write_control_point(b"\x00", indications_enabled=True)
    with pytest.raises(AttError) as err:  # the first response has not gone out
        server.write_control_point(b"\x07", indications_enabled=True)
    assert err.value.code == 0xFE
    server.drain()
    server.write_control_point(b"\x07", indications_enabled=True)  # now it may
    server.drain()
    with pytest.raises(AttError):
        server.write_control_point(b"", indications_enabled=True)


def test_disconnect_loses_control_and_the_belt_keeps_running() -> None:
    server = make()
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 4.0)
    server.disconnected()
    assert not server.controlled
    assert run_for(server, 3.0, 4.0) == []  # nothing is sent to nobody
    state = server.state_dict(7.0)
    assert state == {
        "t": 7.0,
        "belt_kmh": 3.0,
        "target_kmh": 3.0,
        "incline_pct": 0.0,
        "running": True,
        "connected": False,
        "controlled": False,
        "paused": False,
        "writes": 2,
    }
    server.connected()
    assert send(server, ControlRequest.set_target_speed(400))[0] == NOT_PERMITTED


def test_treadmill_data_at_the_notify_period() -> None:
    server = make(with_quirks(notify_period_s=0.5))
    out = run_for(server, 10.0)
    assert len(records(out)) == 20
    server = make()
    assert len(records(run_for(server, 10.0))) == 10


def test_a_tick_waking_earlier_than_the_first_keeps_the_record_on_its_second() -> None:
    """Real ticks wake a little late, by varying amounts (the selector rounds up to a
    millisecond): the first one anchors the grid, and a later one that is less late
    still sends its record rather than the tick after."""
    server = make()
    sent_at = []
    for i in range(101):
        now = i / 10 + (0.0009 if i == 0 else 0.0001)
        server.tick(now)
        if records(server.drain()):
            sent_at.append(round(now, 1))
    assert sent_at == [float(n) for n in range(11)]


def test_telemetry_reports_the_belt() -> None:
    server = make()
    control(server)
    send(server, ControlRequest.set_target_speed(500))
    send(server, ControlRequest.set_target_inclination(20))
    found = records(run_for(server, 60.0))
    speeds = [r.speed for r in found]
    assert speeds[0] is not None
    assert speeds[0] <= 110  # 1 km/h per second from standstill
    last = found[-1]
    assert last.speed == 500
    assert last.inclination == 20
    assert last.total_distance is not None
    assert 70 < last.total_distance < 80  # ~ 5 km/h for a minute, less the ramp
    assert last.elapsed_time in (59, 60)
    assert last.total_energy is not None
    assert last.total_energy > 0
    assert last.energy_per_minute is not None
    assert last.energy_per_minute > 0
    assert last.heart_rate is not None
    assert last.heart_rate > 80
    assert last.average_speed is not None
    assert 450 < last.average_speed < 500
    assert last.step_count is None
    state = server.state_dict(60.0)
    assert state["belt_kmh"] == 5.0
    assert state["incline_pct"] == 2.0
    assert state["controlled"]


def test_records_split_at_mtu_23_and_whole_after_raising_it() -> None:
    server = make()
    control(server)
    send(server, ControlRequest.set_target_speed(500))
    small = [o for o in run_for(server, 3.0) if o.uuid == TREADMILL_DATA]
    assert all(len(o.payload) <= 20 for o in small)
    assert len(small) == 6  # two parts per record
    parts = [TreadmillData.from_bytes(o.payload) for o in small[:2]]
    assert parts[0].speed is None  # More Data on the first part
    assert parts[1].speed is not None  # the speed travels in the last
    assert len(records(small)) == 3
    server.set_mtu(247)
    big = [o for o in run_for(server, 3.0, 3.0) if o.uuid == TREADMILL_DATA]
    assert len(big) == 3
    assert all(TreadmillData.from_bytes(o.payload).speed is not None for o in big)


def test_a_new_connection_starts_at_mtu_23() -> None:
    server = make()
    server.set_mtu(185)
    server.disconnected()
    server.connected()
    assert server.mtu == 23


def test_console_buttons_send_status() -> None:
    server = make()
    server.console_speed(+50)  # from rest: starts at 0.5 km/h
    server.console_speed(+50)
    server.console_speed(-20)
    server.console_speed(2000, absolute=True)  # clamped to the maximum
    server.console_pause()
    server.console_start()
    server.console_stop()
    server.safety_key()
    statuses = [MachineStatus.from_bytes(o.payload) for o in server.drain() if o.uuid == STATUS]
    assert statuses == [
        MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (50,)),
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (100,)),
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (80,)),
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (1600,)),
        MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (2,)),
        MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),
        MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (1,)),
        MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY),
    ]


def test_console_changes_without_effect_send_nothing() -> None:
    server = make()
    server.console_speed(1600, absolute=True)
    server.drain()
    server.console_speed(+10)  # already at the maximum
    assert server.drain() == []


def test_safety_key_stops_the_belt_at_once() -> None:
    server = make()
    server.console_speed(800, absolute=True)
    run_for(server, 10.0)
    server.safety_key()
    assert server.belt.speed == 0
    assert server.state_dict(10.0)["running"] is False


def test_console_status_is_not_sent_while_disconnected() -> None:
    server = FtmsServer(generic())
    server.console_speed(+100)
    assert server.drain() == []
    assert server.belt.running
