"""The Bluetooth link: which bleak backend the treadmill client talks through.

``open_link()`` with no argument uses bleak's platform backend (BlueZ, CoreBluetooth,
WinRT): a real adapter. ``open_link("tcp-client:127.0.0.1:9101")`` (or ``usb:0``)
runs bumble's host over that HCI transport, and ``open_link(local_link=link)``
puts a bumble central on a virtual controller beside the in-process simulator.
Either way the caller passes ``link.client_kwargs`` to ``BleakClient`` and
``link.scanner_kwargs`` to ``BleakScanner`` and otherwise writes plain bleak code.

``await link.reopen()`` replaces a bumble host on an HCI transport by a new one (a
frozen or restarted peer, or a dongle that went away, leaves the old host waiting
for answers forever); the treadmill client calls it before each reconnect attempt.
It does nothing on the platform adapter or the in-process virtual link.

What bleak, bumble and the OS raise for one situation (a link gone, a host wedged,
no adapter, a device not found, a timeout) is read from one table
(``retrorun.ble._errors``): the client catches ``BLUETOOTH_ERRORS`` around every
Bluetooth call and raises what ``link_error``/``command_error`` give.

bumble's log records get a ``NullHandler``: they reach the handlers of a program
that configured logging, and never the terminal of one that did not (a lost
link's "command result mismatch" and tracebacks are not for the runner).

``VirtualController`` (a bumble controller on a virtual link that honours
connect-cancel) and ``next_random_address`` are shared with the simulator's
peripheral, which stands on the other end of the same virtual link.

Status: client (connect, discovery, read, write with/without response, notify and
indicate, MTU exchange, disconnect callback) and scanner (name, service UUIDs, service
data, RSSI, UUID filter) done and tested against ``treadsim.gatt.Peripheral`` on a
``LocalLink`` and over ``tcp-server:``/``tcp-client:`` (tests/ble). Not implemented:
pairing, descriptor caching, scanner ``passive`` mode (always active).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from retrorun.ble._bumble import BumbleCentral, BumbleClient, BumbleScanner, normalize_address
from retrorun.ble._controller import VirtualController, next_random_address
from retrorun.ble._errors import (
    BLUETOOTH_ERRORS,
    TRANSPORT_ERRORS,
    Situation,
    command_error,
    link_error,
    situation,
    translate_platform_error,
)
from retrorun.errors import LinkError, NoAdapterError, UsageError

__all__ = [
    "BLUETOOTH_ERRORS",
    "REOPEN_TIMEOUT_S",
    "BumbleCentral",
    "BumbleClient",
    "BumbleScanner",
    "Link",
    "Situation",
    "VirtualController",
    "command_error",
    "link_error",
    "next_random_address",
    "normalize_address",
    "open_link",
    "situation",
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


#: How long opening a new host on an HCI transport may take (HCI Reset and setup;
#: some USB dongles load firmware here). Past it the transport counts as dead.
REOPEN_TIMEOUT_S = 10.0


class Link:
    """Keyword arguments that put ``BleakClient``/``BleakScanner`` on this link, and
    :meth:`reopen` for a host that has gone bad.

    ``client_kwargs`` and ``scanner_kwargs`` name the *current* host: read them for
    every new client or scanner (a :meth:`reopen` replaces the host in them).
    """

    def __init__(
        self,
        description: str,
        client_kwargs: dict[str, Any] | None = None,
        scanner_kwargs: dict[str, Any] | None = None,
        central: BumbleCentral | None = None,
        *,
        opener: Callable[[], Awaitable[BumbleCentral]] | None = None,
        reopen_timeout: float = REOPEN_TIMEOUT_S,
    ) -> None:
        self.description = description
        self.client_kwargs: dict[str, Any] = dict(client_kwargs or {})
        self.scanner_kwargs: dict[str, Any] = dict(scanner_kwargs or {})
        self.central = central
        self.reopens_done = 0
        self._opener = opener
        self._reopen_timeout = reopen_timeout
        self._lock = asyncio.Lock()

    @property
    def reopens(self) -> bool:
        """Whether :meth:`reopen` replaces the host (an HCI transport); a platform
        adapter and the in-process virtual link keep theirs."""
        return self._opener is not None

    async def reopen(self) -> bool:
        """Throw the host away and open a new one on the same transport.

        For an HCI transport whose host may be wedged: a peer that froze, or a
        transport that died, leaves bumble's host waiting for answers to commands
        it already gave up on, and every later command fails. The old host's
        transport is closed without a word to the controller (its links end with
        it), then a new host is powered on, bounded by ``reopen_timeout``.
        True when a new host is in place; False when this link has no host to
        replace. ``LinkError`` (never ``NoAdapterError``) when the transport
        cannot be opened now: the caller may try again later.
        """
        if self._opener is None:
            return False
        async with self._lock:
            old, self.central = self.central, None
            if old is not None:
                await old.close(graceful=False)
            try:
                async with asyncio.timeout(self._reopen_timeout):
                    central = await self._opener()
            except TimeoutError:
                raise LinkError(
                    f"{self.description}: no answer from the controller in "
                    f"{self._reopen_timeout:g} s"
                ) from None
            except TRANSPORT_ERRORS as exc:
                raise LinkError(f"{self.description}: cannot reopen: {exc}") from exc
            self._use(central)
            self.reopens_done += 1
            return True

    def _use(self, central: BumbleCentral) -> None:
        self.central = central
        self.client_kwargs["central"] = central
        self.scanner_kwargs["central"] = central

    async def close(self) -> None:
        """Disconnect everything and close the transport (the current host)."""
        async with self._lock:
            central, self.central = self.central, None
            if central is not None:
                await central.close()


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
    opener: Callable[[], Awaitable[BumbleCentral]] | None = None
    if hci is None:
        central = await BumbleCentral.on_local_link(local_link)
        description = "virtual Bluetooth link (embedded simulator)"
    else:
        opener = functools.partial(BumbleCentral.on_transport, hci)
        try:
            central = await opener()
        except TRANSPORT_ERRORS as exc:
            raise NoAdapterError(f"cannot open HCI transport {hci}: {exc}") from exc
        description = f"HCI transport {hci}"
    link = Link(
        description,
        client_kwargs={"backend": BumbleClient, "central": central, "mtu": mtu},
        scanner_kwargs={"backend": BumbleScanner, "central": central},
        central=central,
        opener=opener,
    )
    try:
        yield link
    finally:
        await link.close()
