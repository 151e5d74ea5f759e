"""The Bluetooth link: which bleak backend the treadmill client talks through.

``open_link()`` with no argument uses bleak's platform backend (BlueZ, CoreBluetooth,
WinRT): a real adapter. ``open_link("tcp-client:127.0.0.1:9101")`` (or ``usb:0``)
runs bumble's host over that HCI transport, and ``open_link(local_link=link)``
puts a bumble central on a virtual controller beside the in-process simulator.
Either way the caller passes ``link.client_kwargs`` to ``BleakClient`` and
``link.scanner_kwargs`` to ``BleakScanner`` and otherwise writes plain bleak code.

Status: client (connect, discovery, read, write with/without response, notify and
indicate, MTU exchange, disconnect callback) and scanner (name, service UUIDs, service
data, RSSI, UUID filter) done and tested against ``treadsim.gatt.Peripheral`` on a
``LocalLink`` and over ``tcp-server:``/``tcp-client:`` (tests/ble). Not implemented:
pairing, descriptor caching, scanner ``passive`` mode (always active).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from retrorun.ble._bumble import BumbleCentral, BumbleClient, BumbleScanner, normalize_address
from retrorun.errors import NoAdapterError, UsageError

__all__ = [
    "BumbleCentral",
    "BumbleClient",
    "BumbleScanner",
    "Link",
    "normalize_address",
    "open_link",
    "translate_platform_error",
]

_TRANSPORTS = (
    "tcp-client:",
    "tcp-server:",
    "usb:",
    "pyusb:",
    "serial:",
    "unix:",
    "vhci",
    "pty:",
    "hci-socket:",
    "file:",
    "udp:",
    "ws-client:",
    "android-netsim",
)


@dataclass(frozen=True, slots=True)
class Link:
    """Keyword arguments that put ``BleakClient``/``BleakScanner`` on this link."""

    description: str
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    scanner_kwargs: dict[str, Any] = field(default_factory=dict)
    central: BumbleCentral | None = None


@contextlib.asynccontextmanager
async def open_link(
    hci: str | None = None, *, local_link: Any = None, mtu: int | None = 247
) -> AsyncIterator[Link]:
    """A link for the duration of the ``async with``; see the module docstring.

    ``mtu``: the ATT MTU bumble clients ask for after connecting (None keeps 23).
    """
    if hci is not None and local_link is not None:
        raise UsageError("open_link: give an HCI transport or a local link, not both")
    if hci is None and local_link is None:
        yield Link("platform Bluetooth adapter")
        return
    if hci is not None and not hci.startswith(_TRANSPORTS):
        raise UsageError(
            f"--hci {hci!r}: expected an HCI transport such as tcp-client:127.0.0.1:9101 or usb:0"
        )
    if local_link is not None:
        central = await BumbleCentral.on_local_link(local_link)
        description = "virtual Bluetooth link (embedded simulator)"
    else:
        assert hci is not None
        try:
            central = await BumbleCentral.on_transport(hci)
        except (OSError, ConnectionError) as exc:
            raise NoAdapterError(f"cannot open HCI transport {hci}: {exc}") from exc
        except Exception as exc:  # bumble raises its own types per transport
            raise NoAdapterError(f"cannot open HCI transport {hci}: {exc}") from exc
        description = f"HCI transport {hci}"
    try:
        yield Link(
            description,
            client_kwargs={"backend": BumbleClient, "central": central, "mtu": mtu},
            scanner_kwargs={"backend": BumbleScanner, "central": central},
            central=central,
        )
    finally:
        await central.close()


def translate_platform_error(exc: BaseException) -> NoAdapterError | None:
    """bleak's errors on a machine with no Bluetooth adapter -> one clear error.

    Without a system D-Bus, bleak's BlueZ backend raises a bare ``FileNotFoundError``;
    with D-Bus but no BlueZ or no adapter, a ``BleakDBusError`` or
    ``BleakBluetoothNotAvailableError``. Anything else is not ours to translate.
    """
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

    if isinstance(exc, FileNotFoundError | BleakBluetoothNotAvailableError):
        return NoAdapterError(str(exc) or "no system bus")
    if isinstance(exc, BleakDBusError):
        return NoAdapterError(str(exc))
    if isinstance(exc, BleakError):
        text = str(exc).lower()
        if "no bluetooth adapter" in text or ("adapter" in text and "not found" in text):
            return NoAdapterError(str(exc))
    return None
