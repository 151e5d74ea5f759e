"""The embedded ``Simulator`` over a virtual link, on looptime's fake clock: a fault on
a write reaches a real BLE client as a link lost with the write unanswered; a belt
running at power-on; a fault injected at an arbitrary moment."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest
from bleak import BleakClient
from bleak.exc import BleakError
from bumble.link import LocalLink
from sim_support import generic

from retrorun.ble import open_link
from retrorun.errors import UsageError
from retrorun.ftms import FITNESS_MACHINE_CONTROL_POINT_UUID as CONTROL
from retrorun.ftms import ControlRequest, ControlResponse
from treadsim.faults import Fault
from treadsim.runtime import Simulator, read_state_log

pytestmark = pytest.mark.looptime


async def test_drop_link_on_a_write_never_answers_it() -> None:
    link = LocalLink()
    log = io.StringIO()
    indications: list[bytes] = []
    lost = asyncio.Event()
    async with (
        Simulator(generic(), faults=["drop-link@write2"], local_link=link, state_log=log) as sim,
        open_link(local_link=link) as ble,
    ):
        client = BleakClient(
            sim.peripheral.address, lambda _c: lost.set(), timeout=5, **ble.client_kwargs
        )
        await client.connect()
        await client.start_notify(CONTROL, lambda _c, data: indications.append(bytes(data)))
        await client.write_gatt_char(CONTROL, bytes(ControlRequest.request_control()), True)
        await asyncio.sleep(0.5)
        assert indications == [bytes(ControlResponse(0x00, 0x01))]
        with contextlib.suppress(BleakError):  # the link may go before the ATT answer
            await client.write_gatt_char(CONTROL, bytes(ControlRequest.set_target_speed(500)), True)
        await asyncio.wait_for(lost.wait(), 5)
        await asyncio.sleep(1.0)
    assert indications == [bytes(ControlResponse(0x00, 0x01))]  # never the second
    last = read_state_log(log.getvalue())[-1]
    assert (last["writes"], last["connected"], last["running"]) == (2, False, False)


async def test_a_running_belt_at_power_on_and_an_injected_pause() -> None:
    log = io.StringIO()
    async with Simulator(
        generic(), local_link=LocalLink(), state_log=log, initial_speed_kmh=6, initial_incline_pct=1
    ) as sim:
        await asyncio.sleep(0.25)
        state = sim.state()
        assert (state["running"], state["belt_kmh"], state["incline_pct"]) == (True, 6.0, 1.0)
        assert sim.inject("console-pause") == Fault("console-pause")
        assert sim.state()["paused"] is True
        await asyncio.sleep(5.0)
        with pytest.raises(UsageError, match="cannot fire now"):
            sim.inject("ignore-speed")
        with pytest.raises(ValueError, match="cannot be injected"):
            sim.inject(Fault("ignore-speed"))
        with pytest.raises(UsageError, match="takes no @"):
            sim.inject("console-stop@3")
    states = read_state_log(log.getvalue())
    assert states[0]["running"] is True
    assert states[-1]["paused"] is True
    assert states[-1]["belt_kmh"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"initial_speed_kmh": 30.0}, "initial speed 30 km/h"),
        ({"initial_incline_pct": -2.0}, "initial incline -2 %"),
        ({"faults": ["drop-link@write0"]}, "N must be from 1"),
    ],
)
def test_bad_initial_values_are_usage_errors(kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(UsageError, match=says):
        Simulator(generic(), **kwargs)  # type: ignore[arg-type]


async def test_a_ticker_that_died_is_said_at_power_off_not_hidden() -> None:
    """The ticker's crash (once a uint16 overflow) leaves the machine silent; at
    power-off it is raised, never swallowed with the ticker's cancellation."""

    def broken(now: float) -> None:
        raise ValueError("a field out of range")

    async def run_until_power_off() -> None:
        async with Simulator(generic(), state_log=io.StringIO()) as sim:
            sim.server.tick = broken  # type: ignore[method-assign]
            await asyncio.sleep(1.0)

    with pytest.raises(ValueError, match="out of range"):
        await run_until_power_off()
