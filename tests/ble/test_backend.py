"""Plain bleak code reaches a bumble peripheral through retrorun's backend.

In process, on one ``LocalLink``, on looptime's fake clock (the rig is built inside
each test, never in an async fixture: see ARCHITECTURE.md "Time").

Status (bleak backend + treadsim.gatt):
- done: scan by service UUID + service data (and filtered out by another UUID);
  connect, discovery with FTMS properties, read, write with and without response,
  indication, ATT error rejection (0xFD, app-chosen codes), notifications cut at MTU
  23 vs. whole at 247, stop_notify, disconnect callback on peripheral drop and on our
  own disconnect, reconnect after a drop, bounded connect to an absent device, a
  cancelled connect leaves the virtual controller usable, platform error translation.
- done (test_hci_transport.py, real time): a peripheral in a subprocess over
  tcp-server/tcp-client, successive clients of serve_hci (a client that vanishes
  without disconnecting frees the peripheral), a Peripheral on hci=.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from ble_support import (
    CONTROL,
    DATA,
    FEATURE,
    FTMS,
    INCLINE_RANGE,
    SERVICE_DATA,
    SPEED_RANGE,
    STATUS,
    TRAINING,
    EchoApp,
)
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import core
from bumble.link import LocalLink

from retrorun.ble import open_link, translate_platform_error
from retrorun.errors import NoAdapterError, UsageError
from treadsim._api import (
    ATT_CCCD_IMPROPERLY_CONFIGURED,
    ATT_PROCEDURE_ALREADY_IN_PROGRESS,
    Outgoing,
    Send,
)
from treadsim.gatt import Peripheral

pytestmark = pytest.mark.looptime


def _first(fut: asyncio.Future[bytes]) -> Callable[[object, bytearray], None]:
    def deliver(_char: object, data: bytearray) -> None:
        if not fut.done():
            fut.set_result(bytes(data))

    return deliver


async def test_scan_finds_the_peripheral_by_service_and_service_data() -> None:
    link = LocalLink()
    async with Peripheral(EchoApp(), local_link=link), open_link(local_link=link) as ble:
        found = await BleakScanner.discover(
            0.5, return_adv=True, service_uuids=[FTMS], **ble.scanner_kwargs
        )
        other = await BleakScanner.discover(
            0.5, service_uuids=["0000180d-0000-1000-8000-00805f9b34fb"], **ble.scanner_kwargs
        )
    [(device, adv)] = found.values()
    assert device.name == adv.local_name == "Echo Mill"
    assert adv.service_data == {FTMS: SERVICE_DATA}
    assert adv.service_uuids == [FTMS]
    assert isinstance(adv.rssi, int)
    assert other == []


async def test_discovery_lists_the_ftms_characteristics() -> None:
    link = LocalLink()
    async with (
        Peripheral(EchoApp(), local_link=link) as sim,
        open_link(local_link=link) as ble,
        BleakClient(sim.address, timeout=5, **ble.client_kwargs) as client,
    ):
        service = client.services.get_service(FTMS)
        assert service is not None
        props = {c.uuid: sorted(c.properties) for c in service.characteristics}
    assert props == {
        FEATURE: ["read"],
        DATA: ["notify"],
        TRAINING: ["notify", "read"],
        SPEED_RANGE: ["read"],
        INCLINE_RANGE: ["read"],
        CONTROL: ["indicate", "write"],
        STATUS: ["notify"],
    }


async def test_read_write_indicate_and_att_errors() -> None:
    link = LocalLink()
    app = EchoApp()
    async with Peripheral(app, local_link=link), open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name("Echo Mill", 2.0, **ble.scanner_kwargs)
        assert device is not None
        async with BleakClient(device, timeout=5, **ble.client_kwargs) as client:
            assert client.mtu_size == 247
            assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
            assert await client.read_gatt_char(SPEED_RANGE) == bytes.fromhex("d42a") * 3
            with pytest.raises(BleakGATTProtocolError) as err:
                await client.write_gatt_char(CONTROL, b"\x00", response=True)
            assert err.value.args[0] == ATT_CCCD_IMPROPERLY_CONFIGURED
            got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            await client.start_notify(CONTROL, _first(got))
            await client.write_gatt_char(CONTROL, b"\x07", response=True)
            assert await asyncio.wait_for(got, 2) == bytes([0x80, 0x07, 0x01])
            app.reject = ATT_PROCEDURE_ALREADY_IN_PROGRESS
            with pytest.raises(BleakGATTProtocolError) as err:
                await client.write_gatt_char(CONTROL, b"\x08", response=True)
            assert err.value.args[0] == ATT_PROCEDURE_ALREADY_IN_PROGRESS
    assert app.links == ["up", "down"]
    assert app.mtus == [23, 247]


async def test_write_without_response_reaches_the_app() -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as sim,
        open_link(local_link=link) as ble,
        BleakClient(sim.address, timeout=5, **ble.client_kwargs) as client,
    ):
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await client.start_notify(CONTROL, _first(got))
        await client.write_gatt_char(CONTROL, b"\x01", response=False)
        assert await asyncio.wait_for(got, 2) == bytes([0x80, 0x01, 0x01])
    assert app.writes == [b"\x01"]


@pytest.mark.parametrize(("mtu", "expected"), [(None, 20), (247, 30)])
async def test_notifications_are_cut_at_the_default_mtu(mtu: int | None, expected: int) -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        open_link(local_link=link, mtu=mtu) as ble,
        BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client,
    ):
        assert client.mtu_size == (mtu or 23)
        assert peripheral.mtu == (mtu or 23)
        got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await client.start_notify(DATA, _first(got))
        app.queue.append(Outgoing(0x2ACD, bytes(range(30))))
        await peripheral.flush()
        assert await asyncio.wait_for(got, 2) == bytes(range(expected))


async def test_stop_notify_stops_delivery() -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        open_link(local_link=link) as ble,
        BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client,
    ):
        received: list[tuple[str, bytes]] = []
        await client.start_notify(TRAINING, lambda _c, d: received.append(("t", bytes(d))))
        await client.start_notify(STATUS, lambda _c, d: received.append(("s", bytes(d))))
        app.queue += [Outgoing(0x2AD3, b"\x00\x0d"), Outgoing(0x2ADA, b"\x04")]
        await peripheral.flush()
        await asyncio.sleep(0.1)
        await client.stop_notify(TRAINING)
        app.queue += [Outgoing(0x2AD3, b"\x00\x01"), Outgoing(0x2ADA, b"\x02")]
        await peripheral.flush()
        await asyncio.sleep(0.1)
    assert received == [("t", b"\x00\x0d"), ("s", b"\x04"), ("s", b"\x02")]


async def test_disconnect_callback_fires_when_the_peripheral_drops_the_link() -> None:
    link = LocalLink()
    app = EchoApp()
    async with Peripheral(app, local_link=link) as peripheral, open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name("Echo Mill", 2.0, **ble.scanner_kwargs)
        assert device is not None
        lost: list[BleakClient] = []
        client = BleakClient(device, lost.append, timeout=5, **ble.client_kwargs)
        await client.connect()
        assert app.links == ["up"]
        app.queue.append(Outgoing(0, b"", Send.DISCONNECT))
        await peripheral.flush()
        await asyncio.sleep(0.1)
        assert lost == [client]
        assert (client.is_connected, peripheral.connected) == (False, False)
        with pytest.raises(BleakError):
            await client.read_gatt_char(FEATURE)
        # It advertises again: a reconnect works. Our own disconnect calls back too,
        # as bleak's BlueZ and CoreBluetooth backends do.
        await client.connect()
        assert peripheral.connected
        await client.disconnect()
        assert lost == [client, client]
    assert app.links == ["up", "down", "up", "down"]


async def test_connect_to_an_absent_device_is_bounded() -> None:
    loop = asyncio.get_running_loop()
    async with open_link(local_link=LocalLink()) as ble:
        start = loop.time()
        with pytest.raises(BleakDeviceNotFoundError):
            async with BleakClient("AA:BB:CC:DD:EE:FF", timeout=0.3, **ble.client_kwargs):
                pass
        assert loop.time() - start == pytest.approx(0.3, abs=0.05)


async def test_a_timed_out_connect_leaves_the_controller_usable() -> None:
    # bumble's own controller ignores LE Create Connection Cancel: the connect never
    # returns and every later one is refused. Ours answers the cancel.
    link = LocalLink()
    async with Peripheral(EchoApp(), local_link=link) as sim, open_link(local_link=link) as ble:
        assert ble.central is not None
        with pytest.raises(core.TimeoutError):
            await asyncio.wait_for(ble.central.device.connect("AA:BB:CC:DD:EE:FF", timeout=0.2), 5)
        async with BleakClient(sim.address, timeout=5, **ble.client_kwargs) as client:
            assert await client.read_gatt_char(FEATURE) == bytearray(range(8))


async def test_bad_transport_spec_and_platform_errors() -> None:
    with pytest.raises(UsageError, match="HCI transport"):
        async with open_link("bluetooth-please"):
            pass
    async with open_link() as platform:
        assert platform.client_kwargs == platform.scanner_kwargs == {}
    assert isinstance(translate_platform_error(FileNotFoundError()), NoAdapterError)
    assert translate_platform_error(ValueError("x")) is None
