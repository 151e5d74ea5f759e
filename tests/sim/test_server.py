"""The simulated treadmill's FTMS server, through bytes only (no Bluetooth)."""

from __future__ import annotations

import pytest

from retrorun.devices import DeviceProfile, builtin_device_profiles
from retrorun.errors import UsageError
from retrorun.ftms import (
    ControlRequest,
    ControlResponse,
    MachineStatus,
    RecordAssembler,
    ResultCode,
    SpeedRange,
    StatusOp,
    TreadmillData,
)
from treadsim._api import AttError, Outgoing, Send
from treadsim.faults import FaultPlan, parse_fault
from treadsim.physics import Belt
from treadsim.server import FtmsServer

CONTROL, STATUS, DATA = 0x2AD9, 0x2ADA, 0x2ACD


def generic() -> DeviceProfile:
    return builtin_device_profiles()[0]


def with_quirks(*quirks: str) -> DeviceProfile:
    base = generic().model_dump()
    base["quirks"] = {q: {"source": "test", "note": "test"} for q in quirks}
    return DeviceProfile.model_validate(base)


def make(profile: DeviceProfile | None = None, *faults: str) -> FtmsServer:
    server = FtmsServer(profile or generic(), faults=FaultPlan([parse_fault(f) for f in faults]))
    server.connected()
    return server


def send(server: FtmsServer, request: ControlRequest) -> tuple[int, list[MachineStatus]]:
    server.write_control_point(bytes(request), indications_enabled=True)
    out = server.drain()
    responses = [ControlResponse.from_bytes(o.payload) for o in out if o.uuid == CONTROL]
    assert len(responses) == 1
    assert responses[0].request_op == request.op
    statuses = [MachineStatus.from_bytes(o.payload) for o in out if o.uuid == STATUS]
    return responses[0].result, statuses


def run_for(server: FtmsServer, seconds: float, start: float = 0.0) -> list[Outgoing]:
    out: list[Outgoing] = []
    t = start
    while t < start + seconds - 1e-9:
        t += 0.1
        server.tick(t)
        out.extend(server.drain())
    return out


def records(out: list[Outgoing]) -> list[TreadmillData]:
    assembler = RecordAssembler()
    found = []
    for o in out:
        if o.uuid == DATA and o.payload != bytes([0x04, 0x00, 0x10]):
            record = assembler.feed_bytes(o.payload)
            if record is not None:
                found.append(record)
    return found


def test_request_control_comes_first() -> None:
    server = make()
    assert send(server, ControlRequest.set_target_speed(300))[0] == ResultCode.CONTROL_NOT_PERMITTED
    assert send(server, ControlRequest.request_control())[0] == ResultCode.SUCCESS
    result, statuses = send(server, ControlRequest.set_target_speed(300))
    assert result == ResultCode.SUCCESS
    assert statuses == [MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (300,))]


def test_ranges_unknown_ops_and_att_errors() -> None:
    server = make()
    send(server, ControlRequest.request_control())
    assert send(server, ControlRequest.set_target_speed(2000))[0] == ResultCode.INVALID_PARAMETER
    assert send(server, ControlRequest.set_target_inclination(500))[0] == (
        ResultCode.INVALID_PARAMETER
    )
    assert send(server, ControlRequest(0x13, (1,)))[0] == ResultCode.OP_CODE_NOT_SUPPORTED
    with pytest.raises(AttError) as err:
        server.write_control_point(b"\x00", indications_enabled=False)
    assert err.value.code == 0xFD
    server.write_control_point(b"\x00", indications_enabled=True)
    with pytest.raises(AttError) as err:  # the first response is not out yet
        server.write_control_point(b"\x00", indications_enabled=True)
    assert err.value.code == 0xFE


def test_belt_accelerates_at_the_profile_rate_and_reports_it() -> None:
    server = make()
    send(server, ControlRequest.request_control())
    send(server, ControlRequest.set_target_speed(500))
    out = run_for(server, 6.0)
    speeds = [r.speed for r in records(out)]
    assert speeds[0] is not None
    assert speeds[0] <= 110  # 1 km/h per second from standstill
    assert speeds[-1] == 500
    state = server.state_dict(6.0)
    assert state["belt_kmh"] == 5.0
    assert state["controlled"]


def test_records_split_at_mtu_23_and_whole_after_raising_it() -> None:
    server = make(with_quirks("step_count_bit13"))
    run_for(server, 1.0)
    small = [o for o in run_for(server, 1.0, 1.0) if o.uuid == DATA]
    assert all(len(o.payload) <= 20 for o in small)
    assert len(small) > 1
    server.set_mtu(247)
    big = [o for o in run_for(server, 1.0, 2.0) if o.uuid == DATA]
    assert len(big) == 1
    assert records(big)[0].step_count is not None


def test_disconnect_loses_control_and_the_belt_keeps_running() -> None:
    server = make()
    send(server, ControlRequest.request_control())
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 4.0)
    server.disconnected()
    assert not server.controlled
    assert server.state_dict(4.0)["belt_kmh"] == 3.0


def test_console_and_safety_key_send_status() -> None:
    server = make()
    server.console_speed(+50)
    server.safety_key()
    ops = [MachineStatus.from_bytes(o.payload).op for o in server.drain() if o.uuid == STATUS]
    assert ops == [StatusOp.TARGET_SPEED_CHANGED, StatusOp.STOPPED_BY_SAFETY_KEY]
    assert server.belt.speed == 0


@pytest.mark.parametrize(
    ("quirk", "request_", "expected"),
    [
        ("rejects_request_control", ControlRequest.request_control(), 0x02),
        ("needs_start_before_speed", ControlRequest.set_target_speed(300), 0x04),
    ],
)
def test_quirks_change_the_procedure(quirk: str, request_: ControlRequest, expected: int) -> None:
    server = make(with_quirks(quirk, "rejects_request_control"))
    assert send(server, request_)[0] == expected


def test_speed_in_mph_quirk_converts_both_ways() -> None:
    server = make(with_quirks("speed_in_mph"))
    send(server, ControlRequest.request_control())
    _, statuses = send(server, ControlRequest.set_target_speed(310))  # 3.10 mph
    assert server.belt.target == 499  # 4.99 km/h
    assert statuses[0].values == (310,)  # reported back in mph


def test_zero_ranges_quirk_and_fault() -> None:
    for server in (make(with_quirks("zero_ranges")), make(None, "zero-ranges")):
        assert SpeedRange.from_bytes(server.read(0x2AD4)) == SpeedRange(0, 0, 0)


def test_timed_faults_fire_once_at_their_time() -> None:
    server = make(None, "console-speedup@1:9", "garbage@2", "drop-link@3", "stall@0.5:2")
    out = run_for(server, 4.0)
    assert any(o.send is Send.DISCONNECT for o in out)
    assert server.belt.target == 900
    assert any(o.payload == bytes([0x04, 0x00, 0x10]) for o in out)
    assert len(records(out)) <= 3  # silent from 0.5 s to 2.5 s


def test_ignore_speed_and_reject_control_faults() -> None:
    server = make(None, "ignore-speed")
    send(server, ControlRequest.request_control())
    assert send(server, ControlRequest.set_target_speed(300))[0] == ResultCode.SUCCESS
    run_for(server, 3.0)
    assert server.belt.speed == 0
    rejecting = make(None, "reject-control")
    assert send(rejecting, ControlRequest.request_control())[0] == (
        ResultCode.CONTROL_NOT_PERMITTED
    )


def test_physics_distance_and_heart_rate() -> None:
    belt = Belt(1.0, 1.5, 0.5)
    belt.target = 360
    belt.start()
    for _ in range(600):
        belt.step(0.1)
    assert 55 < belt.distance_m < 60  # 3.6 km/h = 1 m/s, less the ramp
    assert belt.heart_rate > 90
    belt.stop()
    for _ in range(30):
        belt.step(0.1)
    assert belt.speed == 0


@pytest.mark.parametrize(
    "spec",
    [
        "warp@3",
        "stall@3",
        "console-stop",
        "reject-control@3",
        "slow-ramp",
        "stall@x:3",
        "console-speedup@-1:5",
        "slow-ramp:0",
        "garbage@2:1",
    ],
)
def test_bad_fault_specs_are_one_line_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_fault(spec)
    assert "\n" not in str(err.value)


def test_fault_specs_parse() -> None:
    assert str(parse_fault("console-speedup@30:9")) == "console-speedup@30:9"
    assert parse_fault("slow-ramp:0.2").arg == 0.2
