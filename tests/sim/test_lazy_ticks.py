"""The simulator's ticker wakes the loop only for the ticks that may send something.

A steady belt's ticks only advance its counters; the ``Simulator`` makes them late
(at their own grid times) instead of waking the loop ten times a second. What the
belt did must not change: the same session, driven through a real BLE client with
writes, console keys, an injected fault, a reconnection and a Reset at moments off
the tick grid, gives the very same state log and the very same notifications, at the very
same loop times, with every tick woken for (``every_tick=True``, the reference) and
lazily. Each run is on a fresh looptime loop, so both start at loop time 0.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import looptime
from bleak import BleakClient
from bumble.link import LocalLink
from sim_support import generic

from retrorun.ble import open_link
from retrorun.ftms import FITNESS_MACHINE_CONTROL_POINT_UUID as CONTROL
from retrorun.ftms import FITNESS_MACHINE_STATUS_UUID as STATUS
from retrorun.ftms import TRAINING_STATUS_UUID as TRAINING
from retrorun.ftms import TREADMILL_DATA_UUID as DATA
from retrorun.ftms import ControlRequest
from treadsim.runtime import Simulator, read_state_log

Sent = tuple[float, str, bytes]


class Run:
    """One scenario's truth: what the client received (loop time since power-on,
    characteristic, bytes), the state log, and how often the ticker woke."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.states: list[dict[str, Any]] = []
        self.wakes = 0
        self.steady_wakes = 0  # during the 30 s the belt runs steady, untouched


async def _scenario(run: Run, *, every_tick: bool) -> None:
    link, log = LocalLink(), io.StringIO()
    async with (
        Simulator(generic(), local_link=link, state_log=log, every_tick=every_tick) as sim,
        open_link(local_link=link) as ble,
    ):

        def on(uuid: str) -> Callable[[Any, bytearray], None]:
            return lambda _char, data: run.sent.append((round(sim.now(), 6), uuid, bytes(data)))

        async def connect() -> BleakClient:
            client = BleakClient(sim.peripheral.address, timeout=5, **ble.client_kwargs)
            await client.connect()
            for uuid in (CONTROL, DATA, STATUS, TRAINING):
                await client.start_notify(uuid, on(uuid))
            return client

        async def write(request: ControlRequest, then: float) -> None:
            await client.write_gatt_char(CONTROL, bytes(request), True)
            await asyncio.sleep(then)

        await asyncio.sleep(1.234)
        client = await connect()
        await asyncio.sleep(2.37)
        await write(ControlRequest.request_control(), 1.05)
        await write(ControlRequest.set_target_speed(500), 12.31)  # ramps, then steady
        before = sim.wakes
        await asyncio.sleep(30.0)  # steady: only the records' ticks need the loop
        run.steady_wakes = sim.wakes - before
        await write(ControlRequest.set_target_inclination(20), 7.77)
        sim.server.console_speed(+50)  # a key at the console, between two ticks
        await asyncio.sleep(9.91)
        sim.inject("console-pause")
        await asyncio.sleep(6.02)
        await write(ControlRequest.start_or_resume(), 5.55)
        await client.disconnect()  # the belt runs on, unattended
        await asyncio.sleep(4.44)
        assert sim.state()["connected"] is False
        client = await connect()
        await write(ControlRequest.request_control(), 0.66)
        await write(ControlRequest.pause(), 8.08)  # to rest: Training Status Post-Workout
        await write(ControlRequest.reset(), 3.3)  # a steady belt, Training Status Idle
        await client.disconnect()
        await asyncio.sleep(3.03)
        run.wakes = sim.wakes
    run.states = read_state_log(log.getvalue())


def _run(*, every_tick: bool) -> Run:
    run = Run()
    loop = looptime.new_event_loop()
    try:
        loop.run_until_complete(_scenario(run, every_tick=every_tick))
    finally:
        loop.close()
    return run


def test_lazy_ticks_give_the_same_state_log_and_notifications() -> None:
    reference, lazy = _run(every_tick=True), _run(every_tick=False)
    # The scenario did what it says: records all along, a ramp up and a stop.
    records = [payload for _t, uuid, payload in reference.sent if uuid == DATA]
    assert len(records) > 80
    speeds = [state["belt_kmh"] for state in reference.states]
    assert max(speeds) == 5.5
    assert reference.states[-1]["belt_kmh"] == 0.0
    trainings = [payload for _t, uuid, payload in reference.sent if uuid == TRAINING]
    assert trainings[-1] == bytes([0x00, 0x01])  # Idle after the Reset, at the next tick
    # One state-log line per tick of the grid, plus the last word at power-off.
    duration = reference.states[-1]["t"]
    assert abs(len(reference.states) - (duration / 0.1 + 1)) <= 2
    assert lazy.states == reference.states
    assert lazy.sent == reference.sent
    # And the point of it: a steady belt wakes the loop once a record, not per tick.
    assert reference.steady_wakes >= 295
    assert lazy.steady_wakes <= 32
    assert lazy.wakes < reference.wakes / 2  # ramps and the ticks after inputs wake too
