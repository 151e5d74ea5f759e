"""The FTMS GATT service on a bumble ``Device``, serving any :class:`GattApp`.

The treadmill's logic lives in the sans-I/O :class:`~treadsim.server.FtmsServer`;
this module only moves bytes: reads and control-point writes in, notifications and
indications out (:meth:`Peripheral.flush`), connection and MTU changes reported.

Facts it is built on: bumble's GATT server does not check write permissions, and a
value with no ``write=`` handler sends no ATT response (the client hangs), so the
control point always has a handler that answers or raises ``ATT_Error``; the
default advertising interval of 1 s makes every connect take a second, so the
simulator advertises every 20 ms.

:func:`serve_hci` does not use bumble's ``tcp-server:`` transport: that one shares one
controller and one sink between successive clients, and a departed client's late
"connection lost" cuts off the next client (its host never hears back), while the
departed client's links stay up (the treadmill never advertises again). Here every
TCP client gets a fresh virtual controller whose links die with the client.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

from bumble import att
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink, StreamPacketSource

from retrorun.ble import VirtualController, next_random_address
from treadsim._api import AttError, GattApp, Send

__all__ = ["FTMS_SERVICE", "Peripheral", "serve_hci", "stable_address"]

log = logging.getLogger(__name__)

FTMS_SERVICE = 0x1826
DEVICE_INFORMATION_SERVICE = 0x180A
FEATURE, TREADMILL_DATA, TRAINING_STATUS = 0x2ACC, 0x2ACD, 0x2AD3
SPEED_RANGE, INCLINE_RANGE, CONTROL_POINT, STATUS = 0x2AD4, 0x2AD5, 0x2AD9, 0x2ADA

_P = Characteristic.Properties

_named: collections.Counter[str] = collections.Counter()


def stable_address(name: str) -> str:
    """The address of the n-th peripheral named ``name`` in this process: the same
    static random address in every process, as a treadmill keeps its address when
    it is switched off and on (a restarted ``treadsim`` is the same machine to a
    controller that reconnects by address)."""
    n = _named[name]
    _named[name] += 1
    digest = hashlib.sha256(f"{name}\0{n}".encode()).digest()
    return ":".join(f"{octet:02X}" for octet in (0xF0, *digest[:5]))


class Peripheral:
    """A simulated treadmill's Bluetooth side. ``async with`` powers it on and
    advertises; leaving it disconnects and leaves the link.

    ``local_link``: a bumble ``LocalLink`` to put a new virtual controller on (the
    central joins the same link; a new link if neither this nor ``hci`` is given).
    ``hci``: serve from the controller behind an HCI transport instead (``usb:0``,
    ``tcp-client:HOST:PORT`` to another process's :func:`serve_hci`).
    ``adv_interval_ms``: advertising interval (bumble's default of 1 s makes every
    connect take a second). ``address``: by default :func:`stable_address`.
    """

    def __init__(
        self,
        app: GattApp,
        *,
        local_link: LocalLink | None = None,
        hci: str | None = None,
        adv_interval_ms: int = 20,
        address: str | None = None,
    ) -> None:
        if local_link is not None and hci is not None:
            raise ValueError("give local_link or hci, not both")
        self.app = app
        self.hci = hci
        self.link = local_link if local_link is not None or hci is not None else LocalLink()
        self.address = address or stable_address(app.advertised_name)
        self._adv_interval_ms = adv_interval_ms
        self._controller: VirtualController | None = None
        self._transport: Any = None
        self.device: Any = None
        self._chars: dict[int, Characteristic] = {}
        self._connection: Connection | None = None
        self._flush_lock = asyncio.Lock()
        self._closing = False
        self._advertising: asyncio.Task[None] | None = None
        if self.link is not None:
            self._controller = VirtualController(
                "treadsim", link=self.link, public_address=self.address
            )
            self._attach(
                Device(
                    name=app.advertised_name,
                    address=Address(self.address),
                    host=Host(self._controller, AsyncPipeSink(self._controller)),
                )
            )

    def _attach(self, device: Any) -> None:
        self.device = device
        self._build_service()
        device.on(device.EVENT_CONNECTION, self._on_connection)

    # -- the service -----------------------------------------------------------------

    def _readable(self, uuid: int, props: int) -> Characteristic:
        def read(_connection: Connection) -> bytes:
            return self.app.read(uuid)

        return Characteristic(
            UUID.from_16_bits(uuid), props, Characteristic.READABLE, CharacteristicValue(read=read)
        )

    def _build_service(self) -> None:
        feature = self._readable(FEATURE, _P.READ)
        speed = self._readable(SPEED_RANGE, _P.READ)
        incline = self._readable(INCLINE_RANGE, _P.READ)
        training = self._readable(TRAINING_STATUS, _P.READ | _P.NOTIFY)
        data = Characteristic(
            UUID.from_16_bits(TREADMILL_DATA), _P.NOTIFY, Characteristic.READABLE, b""
        )
        status = Characteristic(UUID.from_16_bits(STATUS), _P.NOTIFY, Characteristic.READABLE, b"")
        control = Characteristic(
            UUID.from_16_bits(CONTROL_POINT),
            _P.WRITE | _P.INDICATE,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._on_control_write),
        )
        for uuid, char in (
            (FEATURE, feature),
            (TREADMILL_DATA, data),
            (TRAINING_STATUS, training),
            (SPEED_RANGE, speed),
            (INCLINE_RANGE, incline),
            (CONTROL_POINT, control),
            (STATUS, status),
        ):
            self._chars[uuid] = char
        self.device.add_service(
            Service(UUID.from_16_bits(FTMS_SERVICE), list(self._chars.values()))
        )
        strings = self.app.device_information()
        if strings:
            self.device.add_service(
                Service(
                    UUID.from_16_bits(DEVICE_INFORMATION_SERVICE),
                    [
                        Characteristic(
                            UUID.from_16_bits(uuid), _P.READ, Characteristic.READABLE, value
                        )
                        for uuid, value in strings.items()
                    ],
                )
            )

    def _indications_enabled(self, connection: Connection) -> bool:
        config = self.device.gatt_server.read_cccd(connection, self._chars[CONTROL_POINT])
        return bool(int.from_bytes(bytes(config)[:2], "little") & 0x02)

    def _on_control_write(self, connection: Connection, value: bytes) -> None:
        try:
            self.app.write_control_point(
                bytes(value), indications_enabled=self._indications_enabled(connection)
            )
        except AttError as exc:
            raise att.ATT_Error(exc.code) from exc
        # The response indication goes out after the write response.
        asyncio.get_running_loop().call_soon(self.flush_soon)

    def flush_soon(self) -> None:
        """Start a :meth:`flush` in the background (what the app queued goes out now
        rather than at the next tick)."""
        task = asyncio.get_running_loop().create_task(self.flush(), name="treadsim-flush")
        task.add_done_callback(_log_failure)

    # -- connection --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connection is not None

    @property
    def max_mtu(self) -> int:
        """The largest ATT MTU this treadmill accepts in an MTU exchange (bumble's
        default: 517). Many consoles stay at 23, the default; set it before a
        client connects to be one of them."""
        return int(self.device.gatt_server.max_mtu)

    @max_mtu.setter
    def max_mtu(self, mtu: int) -> None:
        if not 23 <= mtu <= 517:
            raise ValueError(f"an ATT MTU is 23..517, not {mtu}")
        self.device.gatt_server.max_mtu = mtu

    @property
    def mtu(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    def _on_connection(self, connection: Connection) -> None:
        self._connection = connection
        self.app.connected()
        self.app.set_mtu(int(connection.att_mtu))
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        connection.on("connection_att_mtu_update", self._on_mtu)

    def _on_mtu(self, *_args: Any) -> None:
        if self._connection is not None:
            self.app.set_mtu(int(self._connection.att_mtu))

    def _on_disconnection(self, _reason: object) -> None:
        self._connection = None
        self.app.disconnected()
        if not self._closing:
            # Real treadmills advertise again as soon as the link is gone.
            task = asyncio.get_running_loop().create_task(self._advertise())
            task.add_done_callback(_log_failure)
            self._advertising = task

    async def _advertise(self) -> None:
        name = self.app.advertised_name.encode()
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, name),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        FTMS_SERVICE.to_bytes(2, "little"),
                    ),
                    (
                        AdvertisingData.SERVICE_DATA_16_BIT_UUID,
                        FTMS_SERVICE.to_bytes(2, "little") + self.app.service_data(),
                    ),
                ]
            )
        )
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        await self.device.start_advertising(
            advertising_interval_min=self._adv_interval_ms,
            advertising_interval_max=self._adv_interval_ms,
            auto_restart=False,
        )

    async def flush(self) -> None:
        """Send what the app queued, in order. Without a subscriber it is dropped,
        as a real treadmill drops it."""
        async with self._flush_lock:
            for item in self.app.drain():
                connection = self._connection
                if item.send is Send.DISCONNECT:
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            await connection.disconnect()
                    continue
                if connection is None:
                    continue
                char = self._chars.get(item.uuid)
                if char is None:
                    continue
                try:
                    if item.send is Send.INDICATE:
                        async with asyncio.timeout(5.0):
                            await self.device.indicate_subscriber(connection, char, item.payload)
                    else:
                        await self.device.notify_subscriber(connection, char, item.payload)
                except Exception as exc:  # noqa: BLE001 - a link going down mid-send
                    log.debug("could not send 0x%04X: %s", item.uuid, exc)

    async def __aenter__(self) -> Self:
        if self.device is None:
            from bumble.transport import open_transport

            if self.hci is None:  # the constructor takes a device or an HCI spec
                raise RuntimeError("internal error: a peripheral with neither device nor hci")
            self._transport = await open_transport(self.hci)
            self._attach(
                Device.with_hci(
                    self.app.advertised_name,
                    Address(self.address),
                    self._transport.source,
                    self._transport.sink,
                )
            )
        try:
            await self.device.power_on()
            await self._advertise()
        except BaseException:
            await self._close_transport()
            raise
        return self

    async def _close_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(Exception):
                await transport.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        if self._advertising is not None:
            # Never cancel a bumble HCI command half way: its answer would arrive
            # for a future that is gone. Let the re-advertising finish first.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._advertising), 2.0)
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await connection.disconnect()
        if self._controller is not None:
            self._controller.drop_all()
            with contextlib.suppress(KeyError, ValueError):
                self._controller.link.remove_controller(self._controller)
        await self._close_transport()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("treadsim GATT task failed: %r", task.exception())


class _HciBridge(asyncio.Protocol):
    """One TCP client of :func:`serve_hci`: a fresh virtual controller on the link for
    as long as the client stays connected.

    bumble's own ``tcp-server:`` transport shares one controller and one packet sink
    between successive clients, and the old client's late "connection lost" clears
    the new client's sink: the second host to connect never hears back. It also
    keeps the old client's links up, so the peripheral never advertises again.
    """

    def __init__(self, link: LocalLink, bridges: set[_HciBridge]) -> None:
        self._link = link
        self._bridges = bridges
        self._transport: asyncio.Transport | None = None
        self._source = StreamPacketSource()
        self._controller: VirtualController | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # asyncio's servers give one
            raise TypeError(f"internal error: not a stream transport: {transport!r}")
        self._transport = transport
        self._controller = VirtualController(
            "hci-bridge",
            host_source=self._source,
            host_sink=self,
            link=self._link,
            public_address=next_random_address(0xC0),
        )
        self._bridges.add(self)

    def on_packet(self, packet: bytes) -> None:  # the controller's host sink
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(packet)

    def data_received(self, data: bytes) -> None:
        self._source.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._bridges.discard(self)
        if self._controller is not None:
            # The host behind this controller is gone: its links die with it.
            self._controller.drop_all()
            with contextlib.suppress(KeyError, ValueError):
                self._link.remove_controller(self._controller)
            self._controller = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@contextlib.asynccontextmanager
async def serve_hci(local_link: LocalLink, spec: str) -> AsyncIterator[str]:
    """Expose a virtual controller on ``local_link`` over an HCI transport
    (``tcp-server:HOST:PORT``): another process's host drives it as if it were a USB
    dongle, and reaches every peripheral on the link. Yields the spec actually served
    (with the real port when PORT is 0). ``OSError`` if it cannot listen.

    Each TCP client gets its own controller; when a client goes away, its links to
    the peripherals are dropped (they advertise again) and the next client starts
    clean. Other transports (``pty:``, ...) are served by one controller.
    """
    if spec.startswith("tcp-server:"):
        host, _, port = spec.removeprefix("tcp-server:").rpartition(":")
        bridges: set[_HciBridge] = set()
        server = await asyncio.get_running_loop().create_server(
            lambda: _HciBridge(local_link, bridges),
            host=None if host in {"", "_"} else host,
            port=int(port),
        )
        bound = server.sockets[0].getsockname()[1]
        try:
            yield f"tcp-server:{host}:{bound}"
        finally:
            server.close()
            for bridge in list(bridges):
                bridge.close()
            await asyncio.sleep(0)  # let connection_lost run: links dropped
        return

    from bumble.transport import open_transport

    transport = await open_transport(spec)
    controller = VirtualController(
        "hci-bridge", host_source=transport.source, host_sink=transport.sink, link=local_link
    )
    try:
        yield spec
    finally:
        controller.drop_all()
        with contextlib.suppress(KeyError, ValueError):
            local_link.remove_controller(controller)
        with contextlib.suppress(Exception):
            await transport.close()
