"""Helpers for driving the sans-I/O server through bytes only."""

from __future__ import annotations

from retrorun._paths import data_dir
from retrorun.devices import DeviceProfile, load_device_profile
from retrorun.ftms import (
    ControlRequest,
    ControlResponse,
    MachineStatus,
    RecordAssembler,
    TreadmillData,
)
from treadsim._api import Outgoing
from treadsim.faults import FaultPlan
from treadsim.server import CONTROL_POINT, GARBAGE, STATUS, TREADMILL_DATA, FtmsServer


def generic() -> DeviceProfile:
    return load_device_profile(data_dir("devices") / "generic-ftms.toml")


def with_quirks(*quirks: str, **changes: object) -> DeviceProfile:
    data = generic().model_dump()
    data["quirks"] = {q: {"source": "test", "note": "test"} for q in quirks}
    data.update(changes)
    return DeviceProfile.model_validate(data)


def make(profile: DeviceProfile | None = None, *faults: str) -> FtmsServer:
    server = FtmsServer(profile or generic(), faults=FaultPlan.parse(faults))
    server.connected()
    return server


def send(server: FtmsServer, request: ControlRequest) -> tuple[int, list[MachineStatus]]:
    """Write one request; return the result code and the status notifications."""
    server.write_control_point(bytes(request), indications_enabled=True)
    out = server.drain()
    responses = [ControlResponse.from_bytes(o.payload) for o in out if o.uuid == CONTROL_POINT]
    assert len(responses) == 1
    assert responses[0].request_op == request.op
    statuses = [MachineStatus.from_bytes(o.payload) for o in out if o.uuid == STATUS]
    return responses[0].result, statuses


def control(server: FtmsServer) -> None:
    assert send(server, ControlRequest.request_control())[0] == 0x01


def run_for(server: FtmsServer, seconds: float, start: float = 0.0) -> list[Outgoing]:
    """Tick every 0.1 s from ``start`` for ``seconds``, collecting what is sent."""
    out: list[Outgoing] = []
    steps = round(seconds * 10)
    for i in range(1, steps + 1):
        server.tick(start + i / 10)
        out.extend(server.drain())
    return out


def records(out: list[Outgoing]) -> list[TreadmillData]:
    assembler = RecordAssembler()
    found = []
    for o in out:
        if o.uuid == TREADMILL_DATA and o.payload != GARBAGE:
            record = assembler.feed_bytes(o.payload)
            if record is not None:
                found.append(record)
    return found
