"""Device Information Service (0x180A): who made the machine, which model, which firmware.

Not part of FTMS, but every real treadmill console has one beside it, and it names
the model more reliably than an advertised name (which owners and bridges change).
Each characteristic is one UTF-8 string with no length field; consoles pad it with
NUL bytes or spaces, so those are stripped, and bytes that are not UTF-8 are
replaced rather than refused (a name is for people, never for a decision that
needs every byte).
"""

from __future__ import annotations

from dataclasses import dataclass

from retrorun.ftms._units import BytesLike

__all__ = ["DeviceInformation", "decode_string"]


def decode_string(data: BytesLike) -> str:
    """A DIS string characteristic's value as text (padding stripped)."""
    return bytes(data).decode("utf-8", errors="replace").strip("\x00 \t\r\n")


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """What the Device Information Service said; ``None``: not exposed."""

    manufacturer: str | None = None
    model: str | None = None
    serial: str | None = None
    hardware: str | None = None
    firmware: str | None = None
    software: str | None = None

    def describe(self) -> str:
        """ "Manufacturer Model" as one string for matching and display ('' if neither)."""
        return " ".join(part for part in (self.manufacturer, self.model) if part)
