"""Each fault of the plan, and the parsing of fault specs."""

from __future__ import annotations

import pytest
from sim_support import control, make, records, run_for, send

from retrorun.errors import UsageError
from retrorun.ftms import (
    ControlRequest,
    FtmsDecodeError,
    InclinationRange,
    MachineStatus,
    SpeedRange,
    StatusOp,
    TreadmillData,
)
from treadsim._api import Outgoing, Send
from treadsim.faults import FAULTS, Fault, FaultPlan, parse_fault, parse_injection
from treadsim.server import GARBAGE, INCLINE_RANGE, SPEED_RANGE, STATUS, TREADMILL_DATA

SUCCESS, NOT_PERMITTED = 0x01, 0x05
DISCONNECT = Outgoing(0, b"", Send.DISCONNECT)


def statuses(out: list[Outgoing]) -> list[MachineStatus]:
    return [MachineStatus.from_bytes(o.payload) for o in out if o.uuid == STATUS]


def running(*faults: str, kmh: float = 3.0) -> object:
    server = make(None, *faults)
    control(server)
    send(server, ControlRequest.set_target_speed(round(kmh * 100)))
    return server


def test_console_speedup() -> None:
    server = make(None, "console-speedup@2:9")
    out = run_for(server, 1.9)
    assert statuses(out) == []
    out = run_for(server, 0.2, 1.9)
    assert statuses(out) == [
        MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (900,)),
    ]
    assert server.state_dict(2.1)["belt_kmh"] == 9.0


def test_console_stop() -> None:
    server = make(None, "console-stop@5")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = run_for(server, 6.0)
    assert statuses(out) == [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (1,))]
    assert not server.belt.running
    run_for(server, 5.0, 6.0)
    assert server.belt.speed == 0
    assert server.controlled  # a console stop does not take control away


def test_console_pause_then_start_resumes_at_the_target() -> None:
    server = make(None, "console-pause@5", "console-start@12")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = run_for(server, 6.0)
    assert statuses(out) == [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (2,))]
    run_for(server, 5.0, 6.0)
    assert server.belt.speed == 0
    out = run_for(server, 10.0, 11.0)
    assert statuses(out) == [MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER)]
    assert server.state_dict(21.0)["belt_kmh"] == 3.0


def test_safety_key() -> None:
    server = make(None, "safety-key@5")
    control(server)
    send(server, ControlRequest.set_target_speed(600))
    out = run_for(server, 5.05)
    assert statuses(out) == [MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY)]
    assert server.belt.speed == 0


def test_drop_link_keeps_the_belt_running() -> None:
    server = make(None, "drop-link@5")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = run_for(server, 10.0)
    assert out.count(DISCONNECT) == 1
    after = out[out.index(DISCONNECT) + 1 :]
    assert after == []  # nothing more on a dead link
    state = server.state_dict(10.0)
    assert (state["connected"], state["controlled"]) == (False, False)
    assert state["belt_kmh"] == 3.0
    server.disconnected()  # what the GATT layer reports next: harmless
    server.connected()
    assert len(records(run_for(server, 2.0, 10.0))) == 2


def test_stall_silences_treadmill_data() -> None:
    server = make(None, "stall@3:4")
    out = run_for(server, 10.0)
    assert len(records(out)) == 6  # t = 0.1, 1.1, 2.1, then 7.1, 8.1, 9.1
    assert server.is_connected


def test_reject_control() -> None:
    server = make(None, "reject-control")
    assert send(server, ControlRequest.request_control()) == (NOT_PERMITTED, [])
    assert send(server, ControlRequest.set_target_speed(300)) == (NOT_PERMITTED, [])


def test_ignore_speed() -> None:
    server = make(None, "ignore-speed")
    control(server)
    assert send(server, ControlRequest.set_target_speed(300)) == (SUCCESS, [])
    run_for(server, 3.0)
    assert server.belt.speed == 0


def test_slow_ramp() -> None:
    server = make(None, "slow-ramp:0.2")
    control(server)
    send(server, ControlRequest.set_target_speed(500))
    run_for(server, 10.0)
    assert 190 <= server.belt.speed_raw <= 200  # 0.2 km/h per second
    send(server, ControlRequest.set_target_speed(100))
    run_for(server, 5.0, 10.0)
    assert server.belt.speed_raw == 100  # slow both ways


def test_spurious_speed_changes_the_belt_without_a_word() -> None:
    server = make(None, "spurious-speed@5:7.5")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = run_for(server, 6.0)
    assert statuses(out) == []
    assert server.belt.speed_raw == 750
    assert records(out)[-1].speed == 750
    assert server.controlled


def test_reboot() -> None:
    server = make(None, "reboot@10")
    control(server)
    send(server, ControlRequest.set_target_speed(500))
    send(server, ControlRequest.set_targeted_distance(2000))
    out = run_for(server, 10.0)
    assert out.count(DISCONNECT) == 1
    assert server.belt.speed == 0
    assert server.belt.distance_m == 0
    assert server.targeted_distance is None
    assert not server.controlled
    server.disconnected()
    server.connected()
    out = run_for(server, 5.0, 10.0)
    found = records(out)
    assert len(found) == 3  # silent while it boots, then telemetry of a fresh machine
    assert found[0].total_distance == 0
    assert found[0].speed == 0


def test_garbage() -> None:
    server = make(None, "garbage@2")
    out = run_for(server, 4.0)
    bad = [o for o in out if o.payload == GARBAGE]
    assert len(bad) == 1
    assert bad[0].uuid == TREADMILL_DATA
    with pytest.raises(FtmsDecodeError):
        TreadmillData.from_bytes(bad[0].payload)
    assert len(records(out)) == 4  # the good ones keep coming


def test_zero_ranges() -> None:
    server = make(None, "zero-ranges")
    assert SpeedRange.from_bytes(server.read(SPEED_RANGE)) == SpeedRange(0, 0, 0)
    assert InclinationRange.from_bytes(server.read(INCLINE_RANGE)) == InclinationRange(0, 0, 0)


def test_timed_faults_fire_once_in_time_order() -> None:
    plan = FaultPlan.parse(["garbage@3", "console-stop@1", "garbage@3", "reject-control"])
    assert plan.due(0.5) == []
    assert plan.due(3.0) == [
        Fault("console-stop", 1.0),
        Fault("garbage", 3.0),
        Fault("garbage", 3.0),
    ]
    assert plan.due(100.0) == []
    assert plan.pending() == []
    assert plan.has("reject-control")
    assert not plan.has("garbage")


def test_every_fault_name_is_known() -> None:
    assert set(FAULTS) == {
        "console-speedup",
        "console-incline",
        "console-stop",
        "console-pause",
        "console-start",
        "safety-key",
        "drop-link",
        "stall",
        "reject-control",
        "ignore-speed",
        "slow-ramp",
        "spurious-speed",
        "reboot",
        "garbage",
        "zero-ranges",
        # the heart-rate strap's (treadsim.strap)
        "hr-contact-lost",
        "hr-dropout",
        "hr-stuck",
        "hr-spike",
        "hr-drift",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("console-speedup@30:9", Fault("console-speedup", 30.0, 9.0)),
        ("console-stop@12.5", Fault("console-stop", 12.5)),
        ("safety-key@0", Fault("safety-key", 0.0)),
        ("drop-link@60", Fault("drop-link", 60.0)),
        ("stall@10:5", Fault("stall", 10.0, 5.0)),
        ("reject-control", Fault("reject-control")),
        ("ignore-speed", Fault("ignore-speed")),
        ("slow-ramp:0.2", Fault("slow-ramp", None, 0.2)),
        ("spurious-speed@40:7", Fault("spurious-speed", 40.0, 7.0)),
        ("reboot@90", Fault("reboot", 90.0)),
        ("garbage@5", Fault("garbage", 5.0)),
        (" zero-ranges ", Fault("zero-ranges")),
        ("console-incline@60:4", Fault("console-incline", 60.0, 4.0)),
        ("console-incline@60:-2.5", Fault("console-incline", 60.0, -2.5)),
        # T/EVERY[xCOUNT]
        (
            "spurious-speed@48/3x10:8",
            Fault("spurious-speed", 48.0, 8.0, every=3.0, count=10),
        ),
        ("garbage@5/0.5", Fault("garbage", 5.0, every=0.5)),
        ("garbage@0/0.1x1", Fault("garbage", 0.0, every=0.1, count=1)),
        ("garbage@5/3x100000", Fault("garbage", 5.0, every=3.0, count=100_000)),
        # T,T,...: in any order, kept in time order
        ("spurious-speed@48,51,60:8", Fault("spurious-speed", 48.0, 8.0, also=(51.0, 60.0))),
        ("garbage@60,48", Fault("garbage", 48.0, also=(60.0,))),
        ("garbage@5,5", Fault("garbage", 5.0, also=(5.0,))),
        # EVENT[N][+DELAY]
        ("drop-link@write5", Fault("drop-link", on="write", nth=5)),
        ("drop-link@write", Fault("drop-link", on="write")),
        ("stall@write3+1.5:2", Fault("stall", arg=2.0, on="write", nth=3, delay=1.5)),
        ("console-speedup@paused:5.5", Fault("console-speedup", arg=5.5, on="paused")),
        (
            "spurious-speed@paused+2:5.3",
            Fault("spurious-speed", arg=5.3, on="paused", delay=2.0),
        ),
        ("console-start@stopped", Fault("console-start", on="stopped")),
        ("console-start@stopped2+1", Fault("console-start", on="stopped", nth=2, delay=1.0)),
        ("reboot@paused+0", Fault("reboot", on="paused")),
    ],
)
def test_fault_specs_parse(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected
    assert parse_fault(str(expected)) == expected


@pytest.mark.parametrize(
    ("fault", "text"),
    [
        (Fault("console-speedup", 30.0, 9.0), "console-speedup@30:9"),
        (Fault("spurious-speed", 48.0, 8.0, every=3.0, count=10), "spurious-speed@48/3x10:8"),
        (Fault("garbage", 5.0, every=0.5), "garbage@5/0.5"),
        (Fault("garbage", 48.0, also=(51.0, 60.0)), "garbage@48,51,60"),
        (Fault("drop-link", on="write", nth=5), "drop-link@write5"),
        (Fault("drop-link", on="write"), "drop-link@write1"),
        (Fault("spurious-speed", arg=5.3, on="paused", delay=2.0), "spurious-speed@paused+2:5.3"),
        (Fault("console-start", on="stopped", nth=2), "console-start@stopped2"),
        (Fault("garbage", 123456.7), "garbage@123456.7"),
        (Fault("garbage", 0.1 + 0.2), "garbage@0.30000000000000004"),
        (Fault("ignore-speed"), "ignore-speed"),
    ],
)
def test_faults_write_back_as_specs(fault: Fault, text: str) -> None:
    assert str(fault) == text
    assert parse_fault(text) == fault


def test_injections_parse_without_a_time() -> None:
    assert parse_injection("drop-link") == Fault("drop-link")
    assert parse_injection(" console-speedup:9 ") == Fault("console-speedup", arg=9.0)
    assert not parse_injection("drop-link").standing
    assert Fault("ignore-speed").standing


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("drop-link@5", "takes no @"),
        ("drop-link@write5", "takes no @"),
        ("ignore-speed", "lasts the whole run"),
        ("console-speedup", "needs :KMH"),
        ("garbage:1", "takes no argument"),
        ("warp", "unknown fault"),
    ],
)
def test_bad_injections_are_one_line_usage_errors(spec: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_injection(spec)
    assert "\n" not in str(err.value)
    assert says in str(err.value)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("warp@3", "unknown fault 'warp'"),
        ("", "unknown fault ''"),
        ("Console-Stop@3", "unknown fault"),
        ("stall@3", "needs :SECONDS"),
        ("stall@3:", "needs :SECONDS"),
        ("console-stop", "needs a time"),
        ("reject-control@3", "takes no @"),
        ("slow-ramp", "needs :KMH_PER_S"),
        ("stall@x:3", "SECONDS must be a number"),
        ("console-speedup@-1:5", "must be a number >= 0"),
        ("console-speedup@5:fast", "KMH must be a number"),
        ("console-speedup@5:99", "KMH must be at most 40"),
        ("stall@nan:3", "must be a number >= 0"),
        ("stall@inf:3", "must be a number >= 0"),
        ("slow-ramp:0", "KMH_PER_S must be above 0"),
        ("garbage@2:1", "takes no argument"),
        ("reboot@1e9", "at most"),
        # T/EVERY[xCOUNT]
        ("garbage@5/0.05", "EVERY must be at least 0.1"),
        ("garbage@5/0", "EVERY must be at least 0.1"),
        ("garbage@5/", "EVERY must be a number"),
        ("garbage@5/fast", "EVERY must be a number"),
        ("garbage@5/1e9", "EVERY must be at most"),
        ("garbage@5/3x0", "COUNT must be from 1 to 100000"),
        ("garbage@5/3x100001", "COUNT must be from 1 to 100000"),
        ("garbage@5/3x1.5", "COUNT must be a whole number"),
        ("garbage@5/3x", "COUNT must be a whole number"),
        ("garbage@5/3x-2", "COUNT must be a whole number"),
        ("garbage@5x3", "xCOUNT follows /EVERY"),
        ("garbage@600000/10x1000", "the last time must be at most"),
        ("garbage@-1/3x2", "must be a number >= 0"),
        # T,T,...
        ("garbage@5,x", "SECONDS must be a number"),
        ("garbage@5,,6", "SECONDS must be a number"),
        ("garbage@5,-1", "must be a number >= 0"),
        ("garbage@5,1e9", "at most"),
        ("garbage@5,6/1", "cannot repeat"),
        ("garbage@" + ",".join(["1"] * 100_001), "at most 100000 times"),
        # EVENT[N][+DELAY]
        ("garbage@", "after @ comes"),
        ("drop-link@write0", "N must be from 1 to 100000"),
        ("drop-link@write100001", "N must be from 1 to 100000"),
        ("drop-link@write-1", "after @ comes"),
        ("drop-link@writes", "after @ comes"),
        ("drop-link@write5x3", "after @ comes"),
        ("drop-link@write5+", "DELAY must be a number"),
        ("drop-link@write5+-2", "DELAY must be a number >= 0"),
        ("drop-link@paused+1e9", "DELAY must be at most"),
        ("drop-link@pause", "SECONDS must be a number, not 'pause'; after @ comes"),
        ("drop-link@Paused", "SECONDS must be a number"),
        ("reject-control@write1", "takes no @"),
        ("stall@write2", "needs :SECONDS"),
        # console-incline's PCT
        ("console-incline@5", "needs :PCT"),
        ("console-incline@5:50", "PCT must be a number from -30 to 40"),
        ("console-incline@5:-31", "PCT must be a number from -30 to 40"),
        ("console-incline@5:steep", "PCT must be a number"),
        ("console-incline@5:nan", "PCT must be a number"),
    ],
)
def test_bad_fault_specs_are_one_line_usage_errors(spec: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_fault(spec)
    message = str(err.value)
    assert "\n" not in message
    assert says in message
    assert message.startswith((f"fault {spec[:60]!r}"[:-1], "unknown fault"))  # names it
    assert len(message) < 300
    assert err.value.exit_code == 2


def test_a_plan_stops_at_the_first_bad_spec() -> None:
    with pytest.raises(UsageError, match="warp"):
        FaultPlan.parse(["garbage@1", "warp@2"])
