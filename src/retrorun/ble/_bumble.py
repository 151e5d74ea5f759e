"""A bleak backend on bumble: a software Bluetooth host over any HCI transport.

``BumbleCentral`` is one bumble ``Device`` acting as a central: on a virtual
controller joined to a ``LocalLink`` (the in-process simulator), or on an HCI
transport (``tcp-client:HOST:PORT`` to a ``treadsim`` process, ``usb:0`` for a
dongle). ``BumbleClient`` and ``BumbleScanner`` are the ``BaseBleakClient`` and
``BaseBleakScanner`` subclasses that ``BleakClient(..., backend=...)`` and
``BleakScanner(..., backend=...)`` instantiate; the central reaches them as the
``central=`` keyword argument, which bleak passes through.

Pitfalls this code exists for (each hung a prototype): a connect to a peer that
is not advertising never returns in bumble's virtual controller (it ignores LE Create
Connection Cancel; ``retrorun.ble._controller.VirtualController`` answers it), so the
client waits for an advertisement first and bounds the connect with a timeout; every
bumble error is mapped to bleak's exception types (``BleakDeviceNotFoundError`` for
absent or silent peers, ``BleakGATTProtocolError`` with the ATT error code,
``BleakError`` otherwise), so callers see one API. The disconnected callback fires on
every disconnection, ours included, as bleak's BlueZ and CoreBluetooth backends do.
An active scan merges the scan response into the advertisement: service UUIDs are
de-duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.device import Connection, Device, Peer
from bumble.host import Host
from bumble.transport.common import AsyncPipeSink

from retrorun.ble._controller import VirtualController, next_random_address
from retrorun.ble._errors import BUMBLE_ERRORS

__all__ = ["BumbleCentral", "BumbleClient", "BumbleScanner", "normalize_address"]

log = logging.getLogger(__name__)

# bumble logs a lost link's aftermath as warnings and tracebacks ("command result
# mismatch", an InvalidStateError in on_packet). With no handler anywhere Python
# would print them on the runner's terminal; a program that configures logging
# still gets them through its own handlers.
logging.getLogger("bumble").addHandler(logging.NullHandler())

DEFAULT_MTU = 247  # what the client asks for after connecting (23 is the ATT default)
# bumble's own connect timeout, then the Create Connection Cancel round trip: past
# this margin the controller is not answering and the connect is abandoned.
_CANCEL_MARGIN_S = 5.0

_PROPERTY_NAMES: dict[int, str] = {
    0x01: "broadcast",
    0x02: "read",
    0x04: "write-without-response",
    0x08: "write",
    0x10: "notify",
    0x20: "indicate",
    0x40: "authenticated-signed-writes",
    0x80: "extended-properties",
}


def normalize_address(address: object) -> str:
    """``F0:F0:F0:F0:F0:F0/P`` (bumble) or ``f0:f0:...`` -> ``F0:F0:F0:F0:F0:F0``."""
    return str(address).split("/", 1)[0].upper()


def _uuid_str(uuid: core.UUID) -> str:
    """A bumble UUID as bleak's 128-bit lower-case string."""
    return (
        str(uuid.to_hex_str("-")).lower()
        if len(uuid.uuid_bytes) == 16
        else (f"0000{uuid.to_hex_str()[-4:].lower()}-0000-1000-8000-00805f9b34fb")
    )


class BumbleCentral:
    """One bumble central ``Device``, shared by every client and scanner on it."""

    def __init__(self, device: Device, *, closers: list[Callable[[], Any]] | None = None) -> None:
        self.device = device
        self._closers = closers or []
        self._listeners: set[Callable[[Any], None]] = set()
        self._scanning = 0
        self._scan_lock = asyncio.Lock()
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @classmethod
    async def on_local_link(cls, link: Any) -> BumbleCentral:
        """A central on a new virtual controller attached to ``link``."""
        address = next_random_address()
        controller = VirtualController("retrorun", link=link, public_address=address)
        device = Device(
            name="retrorun",
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        central = cls(device, closers=[functools.partial(_leave_link, link, controller)])
        await device.power_on()
        return central

    @classmethod
    async def on_transport(cls, spec: str) -> BumbleCentral:
        """A central on an HCI transport such as ``tcp-client:127.0.0.1:9101``."""
        from bumble.transport import open_transport

        transport = await open_transport(spec)
        device = Device.with_hci(
            "retrorun", hci.Address(next_random_address()), transport.source, transport.sink
        )
        central = cls(device, closers=[transport.close])
        try:
            await device.power_on()
        except BaseException:
            await central.close()
            raise
        return central

    async def close(self, *, graceful: bool = True) -> None:
        """Disconnect everything and close the transport.

        ``graceful=False``: close the transport without a word to the controller
        (a wedged host would only wait for answers); the links end with it.
        """
        if graceful:
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await connection.disconnect()
        for close in self._closers:
            with contextlib.suppress(Exception):
                result = close()
                if asyncio.iscoroutine(result):
                    await result

    # -- scanning, shared ---------------------------------------------------------

    def _on_advertisement(self, advertisement: Any) -> None:
        for listener in list(self._listeners):
            listener(advertisement)

    async def start_scanning(self, listener: Callable[[Any], None]) -> None:
        """Deliver advertisements to ``listener`` until :meth:`stop_scanning`."""
        async with self._scan_lock:
            self._listeners.add(listener)
            self._scanning += 1
            if self._scanning == 1:
                await self.device.start_scanning(filter_duplicates=False)

    async def stop_scanning(self, listener: Callable[[Any], None]) -> None:
        async with self._scan_lock:
            if listener not in self._listeners:
                return
            self._listeners.discard(listener)
            self._scanning -= 1
            if self._scanning == 0:
                with contextlib.suppress(Exception):
                    await self.device.stop_scanning()

    async def wait_for_advertisement(self, address: str, timeout: float) -> Any:
        """The next advertisement from ``address``; ``BleakDeviceNotFoundError`` after
        ``timeout`` (a connect to a silent peer would hang the virtual controller)."""
        wanted = normalize_address(address)
        found: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Any) -> None:
            if normalize_address(advertisement.address) == wanted and not found.done():
                found.set_result(advertisement)

        await self.start_scanning(listener)
        try:
            async with asyncio.timeout(timeout):
                return await found
        except TimeoutError:
            raise BleakDeviceNotFoundError(
                address, f"{address} is not advertising (waited {timeout:g} s)"
            ) from None
        finally:
            await self.stop_scanning(listener)


def _leave_link(link: Any, controller: VirtualController) -> None:
    controller.drop_all()
    with contextlib.suppress(KeyError, ValueError):
        link.remove_controller(controller)


def _advertisement_data(advertisement: Any) -> tuple[str | None, AdvertisementData]:
    data = advertisement.data
    AD = core.AdvertisingData  # noqa: N806 - bumble's name
    name_bytes = data.get(AD.COMPLETE_LOCAL_NAME) or data.get(AD.SHORTENED_LOCAL_NAME)
    name = (
        name_bytes.decode(errors="replace")
        if isinstance(name_bytes, bytes | bytearray)
        else (str(name_bytes) if name_bytes else None)
    )
    uuids: list[str] = []
    for kind in (
        AD.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AD.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        AD.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        AD.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    ):
        for uuid in data.get_all(kind):
            items = uuid if isinstance(uuid, list) else [uuid]
            # An active scan merges the scan response in: a UUID may come twice.
            uuids.extend(u for u in map(_uuid_str, items) if u not in uuids)
    service_data: dict[str, bytes] = {}
    for kind in (AD.SERVICE_DATA_16_BIT_UUID, AD.SERVICE_DATA_128_BIT_UUID):
        for entry in data.get_all(kind):
            uuid, payload = entry
            service_data[_uuid_str(uuid)] = bytes(payload)
    manufacturer: dict[int, bytes] = {}
    for entry in data.get_all(AD.MANUFACTURER_SPECIFIC_DATA):
        company, payload = entry
        manufacturer[int(company)] = bytes(payload)
    tx_power = data.get(AD.TX_POWER_LEVEL)
    return name, AdvertisementData(
        local_name=name,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=tx_power if isinstance(tx_power, int) else None,
        rssi=int(advertisement.rssi),
        platform_data=(advertisement,),
    )


class BumbleScanner(BaseBleakScanner):
    """``BaseBleakScanner`` over a :class:`BumbleCentral` (``central=`` kwarg)."""

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        central: BumbleCentral,
        **_kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = central

    def _on_advertisement(self, advertisement: Any) -> None:
        name, adv = _advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = normalize_address(advertisement.address)
        device = self.create_or_update_device(address, address, name, advertisement, adv)
        self.call_detection_callbacks(device, adv)

    async def start(self) -> None:
        self.seen_devices = {}
        await self._central.start_scanning(self._on_advertisement)

    async def stop(self) -> None:
        await self._central.stop_scanning(self._on_advertisement)


def _gatt_error(exc: BaseException, what: str) -> BleakError:
    if isinstance(exc, att.ATT_Error):
        return BleakGATTProtocolError(int(exc.error_code))
    return BleakError(f"{what}: {exc}")


class BumbleClient(BaseBleakClient):
    """``BaseBleakClient`` over a :class:`BumbleCentral` (``central=`` kwarg).

    ``mtu``: the ATT MTU to ask for after connecting (``None`` keeps 23).
    ``scan_timeout``: how long to wait for the peer's advertisement.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        central: BumbleCentral,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        mtu: int | None = DEFAULT_MTU,
        **_kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._central = central
        self._mtu_wanted = mtu
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._name = (
            address_or_ble_device.name or "" if isinstance(address_or_ble_device, BLEDevice) else ""
        )
        self._subscriptions: dict[int, Callable[[Any], None]] = {}

    @property
    def name(self) -> str:
        return self._name or self.address

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        timeout = float(kwargs.get("timeout", self._timeout))
        advertisement = await self._central.wait_for_advertisement(self.address, timeout)
        name, _adv = _advertisement_data(advertisement)
        self._name = self._name or (name or "")
        try:
            # bumble cancels the connect itself after ``timeout`` (our virtual
            # controller answers the cancel); the outer bound is for a controller
            # that never answers.
            async with asyncio.timeout(timeout + _CANCEL_MARGIN_S):
                connection = await self._central.device.connect(
                    advertisement.address, timeout=timeout
                )
        except (TimeoutError, core.TimeoutError) as exc:
            raise BleakDeviceNotFoundError(
                self.address, f"connecting to {self.address} timed out after {timeout:g} s"
            ) from exc
        except core.ConnectionError as exc:
            raise BleakError(f"connecting to {self.address} failed: {exc}") from exc
        except core.BaseBumbleError as exc:
            raise BleakError(f"connecting to {self.address}: {exc}") from exc
        self._connection = connection
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with asyncio.timeout(timeout):
                peer = Peer(connection)
                if self._mtu_wanted is not None and self._mtu_wanted > 23:
                    await peer.request_mtu(self._mtu_wanted)
                self.services = await self._discover(peer)
            self._peer = peer
        except BaseException as exc:
            await self.disconnect()
            if isinstance(exc, TimeoutError):
                raise BleakError(f"service discovery on {self.address} timed out") from exc
            if isinstance(exc, BUMBLE_ERRORS):
                raise _gatt_error(exc, "service discovery") from exc
            raise

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        await peer.discover_services()
        mtu = self.mtu_size
        for service in peer.services:
            await service.discover_characteristics()
            bleak_service = BleakGATTService(service, service.handle, _uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                await characteristic.discover_descriptors()
                props = int(characteristic.properties)
                names = [name for bit, name in _PROPERTY_NAMES.items() if props & bit]
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    _uuid_str(characteristic.uuid),
                    names,  # type: ignore[arg-type]
                    functools.partial(int, mtu - 3),
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, _uuid_str(descriptor.type), bleak_char
                        )
                    )
        return collection

    def _on_disconnection(self, _reason: object) -> None:
        # As bleak's BlueZ and CoreBluetooth backends do: on every disconnection,
        # whether the peer dropped the link or we called disconnect().
        self._connection = None
        self._peer = None
        self._subscriptions.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await connection.disconnect()
        if self._connection is connection:  # no disconnection event came: the link is gone
            self._on_disconnection(None)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not needed by FTMS and not implemented")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not needed by FTMS and not implemented")

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        try:
            return bytearray(await peer.read_value(characteristic.handle))
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"read {characteristic.uuid}") from exc

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        try:
            return bytearray(await peer.read_value(descriptor.handle))
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"read descriptor {descriptor.uuid}") from exc

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        peer = self._require_peer()
        try:
            await peer.write_value(characteristic.handle, bytes(data), with_response=response)
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"write {characteristic.uuid}") from exc

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._require_peer()
        try:
            await peer.write_value(descriptor.handle, bytes(data), with_response=True)
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"write descriptor {descriptor.uuid}") from exc

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        peer = self._require_peer()
        bumble_char = characteristic.obj

        def deliver(value: Any) -> None:
            callback(bytearray(value))

        prefer_notify = "notify" in characteristic.properties
        try:
            await peer.subscribe(bumble_char, deliver, prefer_notify=prefer_notify)
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"subscribe {characteristic.uuid}") from exc
        self._subscriptions[characteristic.handle] = deliver

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        deliver = self._subscriptions.pop(characteristic.handle, None)
        try:
            await peer.unsubscribe(characteristic.obj, deliver)
        except BUMBLE_ERRORS as exc:
            raise _gatt_error(exc, f"unsubscribe {characteristic.uuid}") from exc
