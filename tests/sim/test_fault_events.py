"""Faults beyond one time: repeated, on events (writes, pauses, stops), injected at
any moment; the console's incline; a belt already running at power-on. Through bytes."""

from __future__ import annotations

import pytest
from sim_support import control, generic, make, records, run_for, send, with_quirks

from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.errors import UsageError
from retrorun.ftms import (
    ControlRequest,
    ControlResponse,
    MachineStatus,
    StatusOp,
    TrainingStatus,
    TrainingStatusCode,
)
from treadsim._api import AttError, Outgoing, Send
from treadsim.faults import Fault, FaultPlan, parse_fault, parse_injection
from treadsim.server import (
    CONTROL_POINT,
    GARBAGE,
    STATUS,
    TRAINING_STATUS,
    FtmsServer,
    initial_state,
)

SUCCESS, NOT_PERMITTED = 0x01, 0x05
DISCONNECT = Outgoing(0, b"", Send.DISCONNECT)
STOP, PAUSE = 1, 2


def statuses(out: list[Outgoing]) -> list[MachineStatus]:
    return [MachineStatus.from_bytes(o.payload) for o in out if o.uuid == STATUS]


def garbage_times(server: FtmsServer, seconds: float) -> list[float]:
    """The ticks (every 0.1 s from 0) at which a garbage notification went out."""
    sent = []
    for i in range(1, round(seconds * 10) + 1):
        server.tick(i / 10)
        if any(o.payload == GARBAGE for o in server.drain()):
            sent.append(i / 10)
    return sent


def write(server: FtmsServer, request: ControlRequest) -> list[Outgoing]:
    server.write_control_point(bytes(request), indications_enabled=True)
    return list(server.drain())


# -- repeated faults -------------------------------------------------------------------


def test_a_repeated_fault_fires_count_times_every_period() -> None:
    server = make(None, "garbage@2/1.5x3")
    assert garbage_times(server, 10.0) == [2.0, 3.5, 5.0]


def test_a_repeated_fault_without_count_fires_until_the_end() -> None:
    server = make(None, "garbage@2/1")
    assert garbage_times(server, 10.0) == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert server.faults.pending() == [parse_fault("garbage@2/1")]


def test_a_list_of_times_fires_at_each() -> None:
    server = make(None, "garbage@3.5,1,2")
    assert garbage_times(server, 10.0) == [1.0, 2.0, 3.5]
    assert server.faults.pending() == []


def test_spurious_speed_again_and_again() -> None:
    server = make(None, "spurious-speed@2/5x2:8")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 2.0)
    assert server.belt.speed_raw == 800
    send(server, ControlRequest.set_target_speed(300))  # the controller takes it back
    run_for(server, 4.9, 2.0)
    assert server.belt.speed_raw == 300
    run_for(server, 0.1, 6.9)
    assert server.belt.speed_raw == 800  # at 7 s, again
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 10.0, 7.0)
    assert server.belt.speed_raw == 300  # twice only


def test_a_late_tick_catches_up_on_every_time_in_order() -> None:
    plan = FaultPlan.parse(["garbage@1/2x3", "console-stop@2", "drop-link@write1"])
    assert plan.due(0.5) == []
    assert plan.due(10.0) == [
        Fault("garbage", 1.0, every=2.0, count=3),
        Fault("console-stop", 2.0),
        Fault("garbage", 1.0, every=2.0, count=3),
        Fault("garbage", 1.0, every=2.0, count=3),
    ]
    assert plan.due(20.0) == []
    assert plan.pending() == [Fault("drop-link", on="write")]


def test_a_repetition_without_count_stops_at_the_longest_run() -> None:
    times = list(parse_fault("garbage@604790/4").times())
    assert times == [604790.0, 604794.0, 604798.0]


# -- the Nth control-point write -------------------------------------------------------


def test_drop_link_on_a_write_loses_it_unanswered() -> None:
    server = make(None, "drop-link@write3")
    control(server)  # write 1
    send(server, ControlRequest.set_target_speed(300))  # write 2
    out = write(server, ControlRequest.set_target_speed(900))  # write 3
    assert out == [DISCONNECT]  # no indication, ever
    assert server.belt.target == 300  # nor was it performed
    state = server.state_dict(0.0)
    assert (state["writes"], state["connected"], state["controlled"]) == (3, False, False)
    server.disconnected()  # what the GATT layer reports next
    server.connected()
    assert send(server, ControlRequest.set_target_speed(400))[0] == NOT_PERMITTED  # write 4
    assert server.writes == 4


def test_a_write_triggered_fault_comes_before_the_answer() -> None:
    server = make(None, "console-stop@write3")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = write(server, ControlRequest.set_target_speed(500))
    assert [o.uuid for o in out] == [STATUS, CONTROL_POINT, STATUS]
    assert statuses(out) == [
        MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (STOP,)),  # the console, first
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (500,)),
    ]
    assert ControlResponse.from_bytes(out[1].payload) == ControlResponse(0x02, SUCCESS)
    assert server.belt.target == 500  # the write was performed after the console stop


def test_every_write_counts_even_refused_ones() -> None:
    server = make(None, "garbage@write2")
    with pytest.raises(AttError):
        server.write_control_point(b"\x00", indications_enabled=False)  # write 1
    assert server.drain() == []
    with pytest.raises(AttError):
        server.write_control_point(b"\x00", indications_enabled=False)  # write 2
    assert server.drain() == [Outgoing(0x2ACD, GARBAGE)]
    assert server.writes == 2


def test_a_delay_after_a_write_counts_from_the_last_tick() -> None:
    server = make(None, "console-pause@write2+1.5")
    control(server)
    run_for(server, 3.0)
    send(server, ControlRequest.set_target_speed(300))  # write 2, after the 3.0 s tick
    assert statuses(run_for(server, 1.4, 3.0)) == []
    assert statuses(run_for(server, 0.1, 4.4)) == [
        MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (PAUSE,))
    ]


# -- the belt pausing and ending its run ----------------------------------------------


def test_a_fault_on_the_first_pause_by_the_control_point() -> None:
    server = make(None, "console-speedup@paused:5.5")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 5.0)
    out = write(server, ControlRequest.pause())
    assert [o.uuid for o in out] == [CONTROL_POINT, STATUS, STATUS, STATUS]
    assert statuses(out) == [
        MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (PAUSE,)),
        MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),  # someone at the console
        MachineStatus(StatusOp.TARGET_SPEED_CHANGED, (550,)),
    ]
    assert server.state_dict(5.0)["belt_kmh"] == 5.5
    send(server, ControlRequest.pause())
    assert server.belt.paused  # the second pause: nothing fires


def test_a_fault_after_a_console_pause() -> None:
    server = make(None, "console-pause@3", "spurious-speed@paused+2:5.3")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 4.9)
    assert server.state_dict(4.9)["paused"] is True
    assert server.belt.speed_raw < 300
    run_for(server, 0.1, 4.9)
    state = server.state_dict(5.0)
    assert (state["paused"], state["running"], state["belt_kmh"]) == (False, True, 5.3)


def test_the_second_pause() -> None:
    server = make(None, "safety-key@paused2")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    send(server, ControlRequest.pause())
    send(server, ControlRequest.start_or_resume())
    out = write(server, ControlRequest.pause())
    assert statuses(out)[-1] == MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY)


@pytest.mark.parametrize(
    "request_", [ControlRequest.stop(), ControlRequest.reset()], ids=["stop", "reset"]
)
def test_a_fault_when_the_run_ends(request_: ControlRequest) -> None:
    server = make(None, "drop-link@stopped")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = write(server, request_)
    assert out[0].uuid == CONTROL_POINT  # the stop is answered, then the link drops
    assert out[-1] == DISCONNECT


def test_a_pause_is_not_the_end_of_a_run_but_a_stop_after_it_is() -> None:
    server = make(None, "console-start@stopped")
    control(server)
    send(server, ControlRequest.stop())  # never ran: not a stop of a run
    send(server, ControlRequest.pause())
    send(server, ControlRequest.stop())
    assert not server.belt.running
    send(server, ControlRequest.set_target_speed(300))
    send(server, ControlRequest.pause())
    assert not server.belt.running
    assert send(server, ControlRequest.stop()) == (
        SUCCESS,
        [
            MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (STOP,)),
            MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),  # the console's start
        ],
    )
    assert server.belt.running
    assert server.belt.target == 50  # from standstill at the minimum


def test_the_safety_key_and_a_reboot_end_a_run() -> None:
    server = make(
        None, "safety-key@2", "console-start@stopped", "reboot@5", "console-speedup@stopped2:4"
    )
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    out = run_for(server, 2.0)
    assert statuses(out)[-2:] == [
        MachineStatus(StatusOp.STOPPED_BY_SAFETY_KEY),
        MachineStatus(StatusOp.STARTED_OR_RESUMED_BY_USER),  # stopped: the console starts
    ]
    assert server.belt.running
    out = run_for(server, 3.0, 2.0)
    assert out[-1] == DISCONNECT
    state = server.state_dict(5.0)  # rebooted (stopped again): the console speeds it up
    assert (state["running"], state["belt_kmh"], state["connected"]) == (True, 4.0, False)
    assert server.faults.pending() == []


def test_a_trigger_with_a_delay_fires_on_its_tick() -> None:
    server = make(None, "console-stop@2", "console-start@stopped+3")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 4.9)
    assert not server.belt.running
    assert server.faults.pending() == [parse_fault("console-start@stopped+3")]
    run_for(server, 0.1, 4.9)
    assert server.belt.running
    assert server.faults.pending() == []


def test_the_state_log_says_paused_and_writes() -> None:
    server = make()
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    send(server, ControlRequest.pause())
    state = server.state_dict(1.0)
    assert (state["paused"], state["running"], state["writes"]) == (True, False, 3)


# -- a person at the console's incline ---------------------------------------------------


def test_console_incline() -> None:
    server = make(None, "console-incline@2:4")
    out = run_for(server, 2.0)
    assert statuses(out) == [MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (40,))]
    run_for(server, 8.0, 2.0)  # the deck moves at 0.5 % a second
    assert server.state_dict(10.0)["incline_pct"] == 4.0
    assert records(run_for(server, 1.0, 10.0))[-1].inclination == 40


def test_console_incline_is_clamped_and_a_flat_deck_says_nothing() -> None:
    server = make(None, "console-incline@1:40", "console-incline@2:40")
    out = run_for(server, 3.0)
    assert statuses(out) == [MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (150,))]
    flat = make(with_quirks(incline={"min_pct": 0, "max_pct": 0}), "console-incline@1:5")
    assert statuses(run_for(flat, 2.0)) == []
    assert flat.belt.target_incline == 0


def test_console_incline_buttons() -> None:
    server = make()
    server.console_incline(+5)
    server.console_incline(+5)
    server.console_incline(-200)  # clamped to the minimum
    assert statuses(list(server.drain())) == [
        MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (5,)),
        MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (10,)),
        MachineStatus(StatusOp.TARGET_INCLINE_CHANGED, (0,)),
    ]


# -- injected at any moment ------------------------------------------------------------


def test_inject_fires_now_as_a_timed_fault_would() -> None:
    timed = make(None, "console-speedup@3:9")
    injected = make()
    run_for(timed, 2.9)
    run_for(injected, 2.9)
    timed.tick(3.0)
    injected.inject(parse_injection("console-speedup:9"), 3.0)
    injected.tick(3.0)
    assert timed.drain() == injected.drain()
    assert timed.state_dict(3.0) == injected.state_dict(3.0)


def test_inject_drop_link_stall_and_pause() -> None:
    server = make(None, "garbage@paused")
    control(server)
    send(server, ControlRequest.set_target_speed(300))
    run_for(server, 2.0)
    server.inject(Fault("stall", arg=3.0), 2.05)
    assert records(run_for(server, 3.0, 2.0)) == []
    server.inject(Fault("console-pause"), 5.0)
    out = list(server.drain())
    assert statuses(out) == [MachineStatus(StatusOp.STOPPED_OR_PAUSED_BY_USER, (PAUSE,))]
    assert out[-1] == Outgoing(0x2ACD, GARBAGE)  # the pause was seen: its fault fired
    server.inject(parse_fault("drop-link@999"), 5.0)  # its @ does not matter
    assert server.drain() == [DISCONNECT]
    assert not server.is_connected


@pytest.mark.parametrize("fault", [Fault("ignore-speed"), Fault("warp")])
def test_only_event_faults_can_be_injected(fault: Fault) -> None:
    with pytest.raises(ValueError, match="cannot be injected"):
        make().inject(fault, 1.0)


# -- a belt already running at power-on ------------------------------------------------


def test_a_belt_already_running_at_power_on() -> None:
    server = FtmsServer(generic(), initial_speed=800, initial_incline=25)
    state = server.state_dict(0.0)
    assert state == {
        "t": 0.0,
        "belt_kmh": 8.0,
        "target_kmh": 8.0,
        "incline_pct": 2.5,
        "running": True,
        "connected": False,
        "controlled": False,
        "paused": False,
        "writes": 0,
    }
    server.connected()
    status = TrainingStatus.from_bytes(server.read(TRAINING_STATUS))
    assert status.status == TrainingStatusCode.MANUAL_MODE
    found = records(run_for(server, 3.0))
    assert [r.speed for r in found] == [800, 800, 800]
    assert found[-1].inclination == 25


def test_a_belt_running_at_power_on_has_run_when_it_stops() -> None:
    server = FtmsServer(generic(), initial_speed=500, faults=FaultPlan.parse(["garbage@stopped"]))
    server.connected()
    control(server)
    out = write(server, ControlRequest.stop())
    assert out[-1] == Outgoing(0x2ACD, GARBAGE)


@pytest.mark.parametrize(
    ("speed", "incline"), [(49, 0), (1601, 0), (-100, 0), (500, 151), (500, -5)]
)
def test_the_initial_belt_must_be_in_the_model_s_ranges(speed: int, incline: int) -> None:
    with pytest.raises(ValueError, match="initial"):
        FtmsServer(generic(), initial_speed=speed, initial_incline=incline)


def test_initial_state_in_people_s_units() -> None:
    profile: DeviceProfile = generic()
    assert initial_state(profile) == (0, 0)
    assert initial_state(profile, speed_kmh=8.0, incline_pct=2.5) == (800, 25)
    assert initial_state(profile, speed_kmh=0.5, incline_pct=15) == (50, 150)
    coarse = match_device_profile("Coarse Step")
    assert initial_state(coarse, speed_kmh=1.5) == (150, 0)  # any speed in its range


@pytest.mark.parametrize(
    ("speed", "incline", "says"),
    [
        (0.3, 0.0, "initial speed 0.3 km/h: 'Generic FTMS' runs from 0.5 to 16 km/h"),
        (17.0, 0.0, "runs from 0.5 to 16 km/h (or 0: stopped)"),
        (-1.0, 0.0, "initial speed -1 km/h"),
        (float("nan"), 0.0, "initial speed nan km/h"),
        (float("inf"), 0.0, "initial speed inf km/h"),
        (5.0, 16.0, "initial incline 16 %: 'Generic FTMS' inclines from 0 to 15 %"),
        (5.0, -1.0, "initial incline -1 %"),
        (5.0, float("nan"), "initial incline nan %"),
    ],
)
def test_a_bad_initial_state_is_a_one_line_usage_error(
    speed: float, incline: float, says: str
) -> None:
    with pytest.raises(UsageError) as err:
        initial_state(generic(), speed_kmh=speed, incline_pct=incline)
    assert says in str(err.value)
    assert "\n" not in str(err.value)
