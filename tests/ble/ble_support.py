"""A small GattApp for the bleak backend tests, and a script entry point that serves
it from a separate process over ``tcp-server:`` (``python ble_support.py``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from treadsim._api import ATT_CCCD_IMPROPERLY_CONFIGURED, AttError, Outgoing, Send

FTMS = "00001826-0000-1000-8000-00805f9b34fb"
FEATURE = "00002acc-0000-1000-8000-00805f9b34fb"
DATA = "00002acd-0000-1000-8000-00805f9b34fb"
TRAINING = "00002ad3-0000-1000-8000-00805f9b34fb"
SPEED_RANGE = "00002ad4-0000-1000-8000-00805f9b34fb"
INCLINE_RANGE = "00002ad5-0000-1000-8000-00805f9b34fb"
CONTROL = "00002ad9-0000-1000-8000-00805f9b34fb"
STATUS = "00002ada-0000-1000-8000-00805f9b34fb"
SERVICE_DATA = bytes([0x01, 0x01, 0x00])


class EchoApp:
    """A minimal GattApp: answers every control-point write with success, or with
    ATT error 0xFD when indications are off; ``reject`` forces another ATT error."""

    advertised_name = "Echo Mill"

    def __init__(self) -> None:
        self.queue: list[Outgoing] = []
        self.mtus: list[int] = []
        self.links: list[str] = []
        self.writes: list[bytes] = []
        self.reject: int | None = None

    def service_data(self) -> bytes:
        return SERVICE_DATA

    def device_information(self) -> dict[int, bytes]:
        return {}  # no Device Information Service

    def read(self, uuid: int) -> bytes:
        return bytes(range(8)) if uuid == 0x2ACC else uuid.to_bytes(2, "little") * 3

    def write_control_point(self, data: bytes, *, indications_enabled: bool) -> None:
        self.writes.append(data)
        if self.reject is not None:
            raise AttError(self.reject)
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


async def _serve() -> None:
    """Serve an EchoApp on tcp-server:127.0.0.1:0, print the spec, notify 30 bytes
    of Treadmill Data every 50 ms, until stdin closes."""
    from bumble.link import LocalLink

    from treadsim.gatt import Peripheral, serve_hci

    link = LocalLink()
    app = EchoApp()
    loop = asyncio.get_running_loop()
    async with (
        Peripheral(app, local_link=link) as peripheral,
        serve_hci(link, "tcp-server:127.0.0.1:0") as spec,
    ):
        print(spec, flush=True)  # the parent reads the port
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        eof = loop.create_task(reader.read())
        while not eof.done():
            app.queue.append(Outgoing(0x2ACD, bytes(range(30))))
            await peripheral.flush()
            await asyncio.wait({eof}, timeout=0.05)


if __name__ == "__main__":
    asyncio.run(_serve())
