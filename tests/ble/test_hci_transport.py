"""The backend over real HCI transports (TCP), in real time: no looptime here, since
real I/O under fake time gives spurious timeouts (ARCHITECTURE.md "Time")."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from ble_support import CONTROL, DATA, FEATURE, FTMS, SERVICE_DATA, EchoApp
from bleak import BleakClient, BleakScanner
from bumble.device import Device
from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport

from retrorun.ble import open_link
from treadsim.gatt import Peripheral, serve_hci

SUPPORT = Path(__file__).with_name("ble_support.py")


def _client_spec(server_spec: str) -> str:
    return server_spec.replace("tcp-server:", "tcp-client:")


@pytest.mark.process
async def test_plain_bleak_reaches_a_peripheral_in_another_process() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SUPPORT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        spec = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert spec.startswith("tcp-server:127.0.0.1:")
        async with open_link(_client_spec(spec)) as ble:
            found = await BleakScanner.find_device_by_filter(
                lambda _d, adv: adv.service_data.get(FTMS) == SERVICE_DATA,
                5.0,
                service_uuids=[FTMS],
                **ble.scanner_kwargs,
            )
            assert found is not None
            assert found.name == "Echo Mill"
            async with BleakClient(found, timeout=5, **ble.client_kwargs) as client:
                assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
                data: asyncio.Queue[bytes] = asyncio.Queue()
                await client.start_notify(DATA, lambda _c, d: data.put_nowait(bytes(d)))
                assert await asyncio.wait_for(data.get(), 5) == bytes(range(30))
                got: asyncio.Queue[bytes] = asyncio.Queue()
                await client.start_notify(CONTROL, lambda _c, d: got.put_nowait(bytes(d)))
                await client.write_gatt_char(CONTROL, b"\x00", response=True)
                assert await asyncio.wait_for(got.get(), 5) == b"\x80\x00\x01"
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0


async def test_a_client_that_vanishes_frees_the_peripheral_for_the_next() -> None:
    # bumble's own tcp-server transport wedges here: the old client's late
    # "connection lost" detaches the new client, and the old link stays up.
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
    ):
        # A host that connects, then dies without disconnecting.
        transport = await open_transport(_client_spec(spec))
        device = Device.with_hci("doomed", Address("C1:00:00:00:00:01"), *transport)
        await device.power_on()
        await device.connect(peripheral.address, timeout=5)
        assert app.links == ["up"]
        await transport.close()
        for _ in range(200):
            if app.links == ["up", "down"]:
                break
            await asyncio.sleep(0.01)
        assert app.links == ["up", "down"]
        for _ in range(3):
            async with (
                open_link(_client_spec(spec)) as ble,
                BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client,
            ):
                assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
    assert app.links == ["up", "down"] * 4


async def test_a_peripheral_on_an_hci_transport() -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
        Peripheral(app, hci=_client_spec(spec)) as peripheral,
        open_link(local_link=link) as ble,
        BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client,
    ):
        assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
        assert peripheral.mtu == 247
