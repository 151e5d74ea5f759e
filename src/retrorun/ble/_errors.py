"""One table: what bleak, bumble and the operating system raise, as retrorun's errors.

The same situation reaches a Bluetooth call as many exceptions. A link gone is
bleak's ``BleakError("Not connected")``, a ``ConnectionResetError`` or
``BrokenPipeError`` from an HCI socket, bumble's ``ConnectionError`` or
``TransportLostError``; a host that no longer answers is a ``TimeoutError``
(asyncio's) or bumble's ``TimeoutError``/``CommandTimeoutError``; a machine with no
Bluetooth is a bare ``FileNotFoundError`` (bleak's BlueZ backend without a system
D-Bus), a ``BleakDBusError`` naming no BlueZ or no adapter object, or
``BleakBluetoothNotAvailableError``; another D-Bus error (a write that failed, a
device that went away) is a failure of that call, not a missing adapter.
:data:`TABLE` names each (first match wins), :func:`situation` looks one up, and
:func:`link_error` / :func:`command_error` give the ``retrorun.errors`` class for
it with the caller's words for what was being done.

Every ``except`` around a Bluetooth call in the treadmill client and this
package catches :data:`BLUETOOTH_ERRORS` (all the table knows) and raises what the
table gives; anything else is a bug and propagates as it is. Two kinds of call
stand apart, on purpose: opening a transport, where bumble's transports raise
whatever their own libraries raise (a refused socket, pyusb, pyserial, gRPC,
websockets), so any exception there means "cannot be opened now"
(:data:`TRANSPORT_ERRORS`); and a best-effort disconnect on the way out, whose
failure changes nothing.

The bleak backend on bumble (``_bumble``) sits one layer lower: bleak's callers
expect bleak's exceptions, so it turns bumble's (:data:`BUMBLE_ERRORS`) into those,
and this table then reads them like any other backend's.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
)
from bumble import att, core
from bumble.transport.common import TransportLostError

from retrorun.errors import (
    CommandTimeout,
    DeviceNotFoundError,
    LinkError,
    LinkLost,
    NoAdapterError,
)

__all__ = [
    "BLUETOOTH_ERRORS",
    "BUMBLE_ERRORS",
    "TABLE",
    "TRANSPORT_ERRORS",
    "Situation",
    "command_error",
    "link_error",
    "situation",
    "translate_platform_error",
]


class Situation(enum.Enum):
    """What a Bluetooth failure means, whoever raised it."""

    NO_ADAPTER = "no Bluetooth adapter"
    NOT_FOUND = "device not found"
    TIMED_OUT = "no answer in time"
    LINK_GONE = "link gone"
    REFUSED = "refused by the peer"  # an ATT error: the peer is there and said no
    FAILED = "Bluetooth failure"


#: Everything a Bluetooth call raises for a situation of the table (``TimeoutError``,
#: ``ConnectionError`` and ``FileNotFoundError`` are ``OSError``\ s).
BLUETOOTH_ERRORS: tuple[type[Exception], ...] = (
    BleakError,
    core.BaseBumbleError,
    OSError,
    EOFError,
)

#: What bumble raises from a GATT or connection call (``att.ATT_Error`` is one).
BUMBLE_ERRORS: tuple[type[Exception], ...] = (core.BaseBumbleError,)

#: Opening an HCI transport: any exception means it cannot be opened now.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (Exception,)


# D-Bus answers that mean no BlueZ to talk to, or no adapter object in it.
_NO_BLUEZ: Final = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.UnknownObject",
        "org.bluez.Error.NotReady",
    }
)


def _says_no_adapter(exc: BaseException) -> bool:
    if isinstance(exc, BleakDBusError):
        return exc.dbus_error in _NO_BLUEZ
    text = str(exc).lower()
    return "no bluetooth adapter" in text or ("adapter" in text and "not found" in text)


def _says_not_connected(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("not connected", "notconnected", "disconnected"))


def _always(_exc: BaseException) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Row:
    """Exceptions of these types (and saying so, where ``says`` is given) mean ``situation``."""

    situation: Situation
    raised: tuple[type[BaseException], ...]
    says: Callable[[BaseException], bool] = _always


TABLE: tuple[Row, ...] = (
    Row(Situation.NO_ADAPTER, (FileNotFoundError, BleakBluetoothNotAvailableError)),
    Row(Situation.NO_ADAPTER, (BleakError,), _says_no_adapter),
    Row(Situation.NOT_FOUND, (BleakDeviceNotFoundError,)),
    Row(Situation.TIMED_OUT, (TimeoutError, core.TimeoutError, core.CommandTimeoutError)),
    Row(
        Situation.LINK_GONE,
        (ConnectionError, EOFError, core.ConnectionError, TransportLostError),
    ),
    Row(Situation.LINK_GONE, (BleakError,), _says_not_connected),
    Row(Situation.REFUSED, (BleakGATTProtocolError, att.ATT_Error)),
    Row(Situation.FAILED, BLUETOOTH_ERRORS),
)


def situation(exc: BaseException) -> Situation | None:
    """What ``exc`` means by the table; ``None`` for an exception it does not know."""
    for row in TABLE:
        if isinstance(exc, row.raised) and row.says(exc):
            return row.situation
    return None


def link_error(exc: BaseException, what: str) -> LinkError:
    """``exc``, raised while doing ``what`` ("connect to X"), as retrorun's error.

    No adapter is :class:`NoAdapterError` (its own message), a device not found
    :class:`DeviceNotFoundError`, a link gone :class:`LinkLost`; anything else,
    a timeout of a call that is no procedure included, :class:`LinkError`.
    """
    found = situation(exc)
    detail = str(exc) or (found.value if found is not None else type(exc).__name__)
    if found is Situation.NO_ADAPTER:
        return NoAdapterError(str(exc) or "no system bus")
    if found is Situation.NOT_FOUND:
        return DeviceNotFoundError(f"{what}: {detail}")
    if found is Situation.LINK_GONE:
        return LinkLost(f"{what}: {detail}")
    return LinkError(f"{what}: {detail}")


def command_error(
    exc: BaseException, what: str, *, op: int, op_name: str, timeout_s: float
) -> CommandTimeout | LinkError:
    """``exc`` from a control-point procedure (``op``): no answer in time is
    :class:`CommandTimeout`; anything else as :func:`link_error` gives it."""
    if situation(exc) is Situation.TIMED_OUT:
        return CommandTimeout(op, timeout_s, op_name)
    return link_error(exc, what)


def translate_platform_error(exc: BaseException) -> NoAdapterError | None:
    """The :class:`NoAdapterError` ``exc`` means (a machine with no Bluetooth), or
    ``None`` when it means something else."""
    error = link_error(exc, "Bluetooth") if situation(exc) is Situation.NO_ADAPTER else None
    return error if isinstance(error, NoAdapterError) else None
