"""A spec-strict treadmill: the strictest answers FTMS v1.0 allows, and the duties it
names (Training Status notified, Reset back to the power-on state)."""

from __future__ import annotations

from sim_support import control, generic, run_for, send

from retrorun.ftms import ControlRequest, ResultCode, TrainingStatus, TrainingStatusCode
from treadsim.faults import FaultPlan
from treadsim.server import TRAINING_STATUS, FtmsServer


def strict_server() -> FtmsServer:
    server = FtmsServer(generic(), faults=FaultPlan(), strict=True)
    server.connected()
    return server


def test_a_redundant_start_or_stop_is_operation_failed() -> None:
    server = strict_server()
    control(server)
    assert send(server, ControlRequest.stop())[0] == ResultCode.OPERATION_FAILED  # never ran
    assert send(server, ControlRequest.pause())[0] == ResultCode.OPERATION_FAILED
    assert send(server, ControlRequest.start_or_resume())[0] == ResultCode.SUCCESS
    assert send(server, ControlRequest.start_or_resume())[0] == ResultCode.OPERATION_FAILED
    assert send(server, ControlRequest.pause())[0] == ResultCode.SUCCESS
    assert send(server, ControlRequest.stop())[0] == ResultCode.SUCCESS  # a paused run ends
    assert send(server, ControlRequest.stop())[0] == ResultCode.OPERATION_FAILED


def test_the_lenient_default_answers_success_to_a_repetition() -> None:
    server = FtmsServer(generic(), faults=FaultPlan())
    server.connected()
    control(server)
    assert send(server, ControlRequest.stop())[0] == ResultCode.SUCCESS


def _training(out: list) -> list[int]:  # type: ignore[type-arg]
    return [TrainingStatus.from_bytes(o.payload).status for o in out if o.uuid == TRAINING_STATUS]


def test_training_status_is_notified_on_every_change() -> None:
    server = strict_server()
    control(server)
    notified = _training(run_for(server, 1.0))
    assert notified == [TrainingStatusCode.IDLE]
    send(server, ControlRequest.set_target_speed(300))
    notified = _training(run_for(server, 2.0, 1.0))
    assert notified == [TrainingStatusCode.MANUAL_MODE]
    send(server, ControlRequest.stop())
    notified = _training(run_for(server, 10.0, 3.0))
    assert notified == [TrainingStatusCode.POST_WORKOUT, TrainingStatusCode.IDLE]


def test_reset_zeroes_the_run_and_reads_idle() -> None:
    server = strict_server()
    control(server)
    send(server, ControlRequest.set_target_speed(500))
    run_for(server, 20.0)
    assert server.record().total_distance
    send(server, ControlRequest.reset())
    record = server.record()
    assert record.total_distance == 0
    assert record.elapsed_time == 0
    run_for(server, 10.0, 20.0)  # the belt runs down
    assert TrainingStatus.from_bytes(server.read(TRAINING_STATUS)).status == TrainingStatusCode.IDLE
