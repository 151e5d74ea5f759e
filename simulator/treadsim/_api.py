"""The seam between the sans-I/O FTMS server and the GATT layer that serves it.

``treadsim.server.FtmsServer`` implements :class:`GattApp` with no I/O at all;
``treadsim.gatt`` serves any :class:`GattApp` from a bumble ``Device``. Everything
the GATT layer needs to know about the treadmill passes through here, as bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AttError", "GattApp", "Outgoing", "Send"]

# ATT application error codes the FTMS spec uses on the control point.
ATT_PROCEDURE_ALREADY_IN_PROGRESS = 0xFE
ATT_CCCD_IMPROPERLY_CONFIGURED = 0xFD
ATT_WRITE_REQUEST_REJECTED = 0xFC


class AttError(Exception):
    """Reject an ATT write with this error code (the GATT layer answers with it)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"ATT error 0x{code:02X}")
        self.code = code


class Send(enum.Enum):
    NOTIFY = "notify"
    INDICATE = "indicate"
    DISCONNECT = "disconnect"  # the treadmill drops the link (uuid 0, empty payload)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One notification or indication the GATT layer must send, in order."""

    uuid: int  # 16-bit characteristic UUID, e.g. 0x2ACD for Treadmill Data
    payload: bytes
    send: Send = Send.NOTIFY


class GattApp(Protocol):
    """What a treadmill looks like from its GATT server."""

    @property
    def advertised_name(self) -> str: ...

    def service_data(self) -> bytes:
        """FTMS advertising service data (flags + machine type), for UUID 0x1826."""
        ...

    def device_information(self) -> Mapping[int, bytes]:
        """The Device Information Service (0x180A): each string characteristic's
        16-bit UUID and value; empty for a machine without one."""
        ...

    def read(self, uuid: int) -> bytes:
        """Value of a readable characteristic (0x2ACC feature, 0x2AD4 speed range,
        0x2AD5 incline range, 0x2AD3 training status)."""
        ...

    def write_control_point(self, data: bytes, *, indications_enabled: bool) -> None:
        """A client wrote the control point (0x2AD9). Raise :class:`AttError` to reject
        the write; otherwise the response indication and any status notifications
        come out of :meth:`drain`."""
        ...

    def set_mtu(self, mtu: int) -> None:
        """The ATT MTU of the connection changed (23 at connect)."""
        ...

    def connected(self) -> None: ...

    def disconnected(self) -> None:
        """The link is gone: control is lost; the belt keeps whatever it was doing."""
        ...

    def drain(self) -> Sequence[Outgoing]:
        """Everything waiting to be sent since the last call, oldest first."""
        ...
