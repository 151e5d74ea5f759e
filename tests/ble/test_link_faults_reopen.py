"""``Link.reopen()``: a new bumble host on the same HCI transport (real time, in process).

The whole-session behaviour (a frozen, killed or restarted ``treadsim`` process) is in
tests/session/test_link_faults_hci.py; this is the seam it stands on.
"""

from __future__ import annotations

import asyncio
import functools
import time

import pytest
from ble_support import FEATURE, EchoApp
from bleak import BleakClient
from bumble.link import LocalLink

from retrorun.ble import BumbleCentral, Link, open_link
from retrorun.errors import LinkError, NoAdapterError
from treadsim.gatt import Peripheral, serve_hci


def _client_spec(server_spec: str) -> str:
    return server_spec.replace("tcp-server:", "tcp-client:")


async def test_reopen_puts_a_new_host_on_the_same_transport() -> None:
    link = LocalLink()
    app = EchoApp()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
        open_link(_client_spec(spec)) as ble,
    ):
        assert ble.reopens
        first = ble.central
        async with BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client:
            assert await client.read_gatt_char(FEATURE) == bytearray(range(8))
            assert await ble.reopen() is True
            # The old host is gone, and its link with it: the peripheral saw it end.
            for _ in range(200):
                if app.links == ["up", "down"]:
                    break
                await asyncio.sleep(0.01)
            assert app.links == ["up", "down"]
        assert ble.central is not None
        assert ble.central is not first
        assert ble.client_kwargs["central"] is ble.central
        assert ble.scanner_kwargs["central"] is ble.central
        async with BleakClient(peripheral.address, timeout=5, **ble.client_kwargs) as client:
            assert await client.read_gatt_char(FEATURE) == bytearray(range(8))


async def test_reopen_on_a_dead_transport_is_a_link_error_at_once() -> None:
    link = LocalLink()
    async with (
        Peripheral(EchoApp(), local_link=link),
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
    ):
        ble_cm = open_link(_client_spec(spec))
        ble = await ble_cm.__aenter__()
    try:
        with pytest.raises(LinkError) as caught:
            await ble.reopen()
        assert not isinstance(caught.value, NoAdapterError)  # a reconnect may try again
    finally:
        await ble_cm.__aexit__(None, None, None)


async def test_reopen_on_a_silent_transport_gives_up_in_bounded_time() -> None:
    # A listener that accepts and never answers: a peer frozen with SIGSTOP looks so.
    silent: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        ble = Link(
            "silent test transport",
            opener=functools.partial(BumbleCentral.on_transport, f"tcp-client:127.0.0.1:{port}"),
            reopen_timeout=1.0,
        )
        started = time.monotonic()
        with pytest.raises(LinkError, match="no answer"):
            await ble.reopen()
        assert time.monotonic() - started < 3.0
        assert ble.central is None
    finally:
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_virtual_link_and_the_platform_adapter_keep_their_host() -> None:
    async with open_link(local_link=LocalLink()) as ble:
        central = ble.central
        assert not ble.reopens
        assert await ble.reopen() is False
        assert ble.central is central
    assert await Link("platform Bluetooth adapter").reopen() is False
