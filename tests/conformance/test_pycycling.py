"""pycycling's FTMS client (a third-party peer) drives treadsim through retrorun's
bleak backend, at ATT MTU 23, against the spec-strict simulator.

pycycling has no Treadmill Data parser: telemetry is read from the same
notifications with retrorun's codec. What the belt did is read from the
simulator's state log, never from what either client believes.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError
from bumble.link import LocalLink
from pycycling.fitness_machine_service import FitnessMachineService
from pycycling.ftms_parsers.control_point import (
    ControlPointResponse,
    FTMSControlPointOpCode,
    FTMSControlPointResponseResultCode,
)

from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from retrorun.ftms import TREADMILL_DATA_UUID, RecordAssembler, TreadmillData
from treadsim.runtime import Simulator, read_state_log

pytestmark = pytest.mark.looptime

Result = FTMSControlPointResponseResultCode
Op = FTMSControlPointOpCode


@dataclass
class Peer:
    """pycycling on one connection, with its answers and our reading of telemetry."""

    ftms: FitnessMachineService
    answers: asyncio.Queue[ControlPointResponse] = field(default_factory=asyncio.Queue)
    records: list[TreadmillData] = field(default_factory=list)

    async def answer(self) -> tuple[Op, Result]:
        response = await asyncio.wait_for(self.answers.get(), 5)
        return response.request_code_enum, response.result_code_enum


@pytest.fixture
def belt() -> io.StringIO:
    return io.StringIO()


async def connect(
    belt: io.StringIO,
) -> AsyncIterator[tuple[Peer, BleakClient, Simulator]]:
    link = LocalLink()
    profile = match_device_profile(None)
    async with (
        Simulator(profile, local_link=link, strict=True, state_log=belt) as sim,
        open_link(local_link=link, mtu=None) as ble,
    ):
        device = await BleakScanner.find_device_by_name(profile.name, 5, **ble.scanner_kwargs)
        assert device is not None
        async with BleakClient(device, timeout=5, **ble.client_kwargs) as client:
            peer = Peer(FitnessMachineService(client))
            yield peer, client, sim


async def test_pycycling_drives_the_belt_through_every_procedure(belt: io.StringIO) -> None:
    async for peer, client, sim in connect(belt):
        assert client.mtu_size == 23
        # Before indications are enabled the control point refuses the write (ATT 0xFD).
        with pytest.raises(BleakError):
            await peer.ftms.request_control()
        peer.ftms.set_control_point_response_handler(peer.answers.put_nowait)
        await peer.ftms.enable_control_point_indicate()
        assembler = RecordAssembler()

        def on_data(
            _sender: object,
            data: bytearray,
            assembler: RecordAssembler = assembler,
            peer: Peer = peer,
        ) -> None:
            record = assembler.feed_bytes(data)
            if record is not None:
                peer.records.append(record)

        await client.start_notify(TREADMILL_DATA_UUID, on_data)

        # No control yet: the speed is refused and the belt never moves.
        await peer.ftms.set_target_speed(500)
        assert await peer.answer() == (Op.SET_TARGET_SPEED, Result.CONTROL_NOT_PERMITTED)
        await peer.ftms.request_control()
        assert await peer.answer() == (Op.REQUEST_CONTROL, Result.SUCCESS)

        await peer.ftms.start_or_resume()
        assert await peer.answer() == (Op.START_OR_RESUME, Result.SUCCESS)
        await peer.ftms.set_target_speed(500)
        assert await peer.answer() == (Op.SET_TARGET_SPEED, Result.SUCCESS)
        await peer.ftms.set_target_incline(20)
        assert await peer.answer() == (Op.SET_TARGET_INCLINE, Result.SUCCESS)
        # Out of the supported ranges (16 km/h, 15 %): refused, nothing changes.
        await peer.ftms.set_target_speed(5000)
        assert await peer.answer() == (Op.SET_TARGET_SPEED, Result.INCORRECT_PARAMETER)
        await peer.ftms.set_target_incline(400)
        assert await peer.answer() == (Op.SET_TARGET_INCLINE, Result.INCORRECT_PARAMETER)
        await asyncio.sleep(10)
        state = sim.state()
        assert (state["belt_kmh"], state["incline_pct"]) == (5.0, 2.0)
        assert peer.records[-1].speed == 500  # the record reassembled at MTU 23
        assert peer.records[-1].inclination == 20

        await peer.ftms.stop_or_pause(pause=True)
        assert await peer.answer() == (Op.STOP_OR_PAUSE, Result.SUCCESS)
        await asyncio.sleep(6)
        assert sim.state()["paused"]
        assert sim.state()["belt_kmh"] == 0.0
        # A strict machine: pausing a paused belt is Operation Failed.
        await peer.ftms.stop_or_pause(pause=True)
        assert await peer.answer() == (Op.STOP_OR_PAUSE, Result.OPERATION_FAILED)

        await peer.ftms.start_or_resume()
        assert await peer.answer() == (Op.START_OR_RESUME, Result.SUCCESS)
        await asyncio.sleep(8)
        assert sim.state()["belt_kmh"] == 5.0  # resumed at the target it had

        await peer.ftms.stop_or_pause(pause=False)
        assert await peer.answer() == (Op.STOP_OR_PAUSE, Result.SUCCESS)
        await asyncio.sleep(6)
        assert peer.records[-1].speed == 0
    states = read_state_log(belt.getvalue())
    assert max(s["belt_kmh"] for s in states) == 5.0  # never over what was accepted
    assert not states[-1]["running"]
    assert states[-1]["belt_kmh"] == 0.0
