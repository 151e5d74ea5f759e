"""Plain bleak code reaches a bumble peripheral through retrorun's backend."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakGATTProtocolError
from bumble.link import LocalLink

from retrorun.ble import open_link, translate_platform_error
from retrorun.errors import NoAdapterError, UsageError
from treadsim._api import ATT_CCCD_IMPROPERLY_CONFIGURED, AttError, Outgoing, Send
from treadsim.gatt import Peripheral

FTMS = "00001826-0000-1000-8000-00805f9b34fb"
FEATURE = "00002acc-0000-1000-8000-00805f9b34fb"
DATA = "00002acd-0000-1000-8000-00805f9b34fb"
CONTROL = "00002ad9-0000-1000-8000-00805f9b34fb"


class EchoApp:
    """A minimal GattApp: answers every control-point write with success."""

    advertised_name = "Echo Mill"

    def __init__(self) -> None:
        self.queue: list[Outgoing] = []
        self.mtus: list[int] = []
        self.links: list[str] = []

    def service_data(self) -> bytes:
        return bytes([0x01, 0x01, 0x00])

    def read(self, uuid: int) -> bytes:
        return bytes(range(8)) if uuid == 0x2ACC else bytes(6)

    def write_control_point(self, data: bytes, *, indications_enabled: bool) -> None:
        if not indications_enabled:
            raise AttError(ATT_CCCD_IMPROPERLY_CONFIGURED)
        self.queue.append(Outgoing(0x2AD9, bytes([0x80, data[0], 0x01]), Send.INDICATE))

    def set_mtu(self, mtu: int) -> None:
        self.mtus.append(mtu)

    def connected(self) -> None:
        self.links.append("up")

    def disconnected(self) -> None:
        self.links.append("down")

    def drain(self) -> Sequence[Outgoing]:
        out, self.queue = self.queue, []
        return out


async def test_scan_finds_the_peripheral_by_service_and_service_data() -> None:
    link = LocalLink()
    async with Peripheral(EchoApp(), local_link=link), open_link(local_link=link) as ble:
        found = await BleakScanner.discover(
            0.5, return_adv=True, service_uuids=[FTMS], **ble.scanner_kwargs
        )
    [(device, adv)] = found.values()
    assert device.name == "Echo Mill"
    assert adv.service_data[FTMS] == bytes([0x01, 0x01, 0x00])
    assert FTMS in adv.service_uuids


async def test_read_write_indicate_and_att_errors() -> None:
    link = LocalLink()
    app = EchoApp()
    async with Peripheral(app, local_link=link), open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name("Echo Mill", 2.0, **ble.scanner_kwargs)
        assert device is not None
        async with BleakClient(device, timeout=5, **ble.client_kwargs) as client:
            assert client.mtu_size == 247
            assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
            with pytest.raises(BleakGATTProtocolError) as err:
                await client.write_gatt_char(CONTROL, b"\x00", response=True)
            assert err.value.args[0] == ATT_CCCD_IMPROPERLY_CONFIGURED
            got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            await client.start_notify(CONTROL, lambda _c, d: got.done() or got.set_result(bytes(d)))
            await client.write_gatt_char(CONTROL, b"\x07", response=True)
            assert await asyncio.wait_for(got, 2) == bytes([0x80, 0x07, 0x01])
    assert app.links == ["up", "down"]
    assert app.mtus[-1] == 247


@pytest.mark.parametrize(("mtu", "expected"), [(None, 20), (247, 30)])
async def test_notifications_are_cut_at_the_default_mtu(mtu: int | None, expected: int) -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        open_link(local_link=link, mtu=mtu) as ble,
    ):
        device = await BleakScanner.find_device_by_name("Echo Mill", 2.0, **ble.scanner_kwargs)
        assert device is not None
        async with BleakClient(device, timeout=5, **ble.client_kwargs) as client:
            got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
            await client.start_notify(DATA, lambda _c, d: got.done() or got.set_result(bytes(d)))
            app.queue.append(Outgoing(0x2ACD, bytes(range(30))))
            await peripheral.flush()
            assert len(await asyncio.wait_for(got, 2)) == expected


async def test_disconnect_callback_fires_when_the_peripheral_drops_the_link() -> None:
    link = LocalLink()
    app = EchoApp()
    async with Peripheral(app, local_link=link) as peripheral, open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name("Echo Mill", 2.0, **ble.scanner_kwargs)
        assert device is not None
        lost = asyncio.Event()
        client = BleakClient(device, lambda _c: lost.set(), timeout=5, **ble.client_kwargs)
        await client.connect()
        app.queue.append(Outgoing(0, b"", Send.DISCONNECT))
        await peripheral.flush()
        await asyncio.wait_for(lost.wait(), 2)
        assert not client.is_connected
        # It advertises again: a reconnect works.
        await client.connect()
        assert client.is_connected
        await client.disconnect()


async def test_connect_to_an_absent_device_is_bounded() -> None:
    async with open_link(local_link=LocalLink()) as ble:
        with pytest.raises(BleakDeviceNotFoundError):
            async with BleakClient("AA:BB:CC:DD:EE:FF", timeout=0.3, **ble.client_kwargs):
                pass


async def test_bad_transport_spec_and_platform_errors() -> None:
    with pytest.raises(UsageError, match="HCI transport"):
        async with open_link("bluetooth-please"):
            pass
    assert isinstance(translate_platform_error(FileNotFoundError()), NoAdapterError)
    assert translate_platform_error(ValueError("x")) is None
