"""Heart Rate Measurement (0x2A37), sans I/O: bytes <-> a frozen dataclass.

The layout (Heart Rate Service 1.0): one flags byte, then the heart rate (uint8,
or uint16 when bit 0 is set), the energy expended (uint16 kJ, bit 3), and any
number of RR intervals (uint16 each, in 1/1024 s, bit 4) to the end of the value.
Reserved bits and trailing bytes are kept in ``flags`` and ``extra``.
Bits 1-2 are the sensor contact status: 0b00 and 0b01 mean the sensor cannot tell
(no contact feature), 0b10 contact supported but **not detected**, 0b11 supported
and detected. A reading whose contact is supported but not detected is no reading
of a heart at all: :attr:`HeartRateMeasurement.contact` says ``False`` then, never
"fine".

Raw integers inside (RR in 1/1024 s, as sent); seconds only at the edge
(:attr:`HeartRateMeasurement.rr_s`). Decoding keeps every byte it is given: the
reserved flag bits, an odd trailing byte after the RR intervals (``extra``), so
``bytes(decode(b)) == b`` for every value that decodes. Too short for what the
flags announce raises :class:`HeartRateDecodeError`, nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from retrorun.errors import InputError

__all__ = [
    "HEART_RATE_MEASUREMENT_UUID",
    "HEART_RATE_SERVICE_UUID",
    "HeartRateDecodeError",
    "HeartRateFlags",
    "HeartRateMeasurement",
]

HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"

_NAME = "heart-rate-measurement"
_U16 = 0xFFFF


class HeartRateDecodeError(ValueError, InputError):
    """Bytes that cannot be a Heart Rate Measurement (too short for their flags).

    An ``InputError`` too, so a command line reports it as one line. ``offset`` is
    the byte offset of the first field that did not fit.
    """

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{_NAME}: {message} (byte offset {offset})")
        self.offset = offset


class HeartRateFlags(enum.IntFlag):
    """The flags byte of 0x2A37 (bits 5-7 are reserved, and kept)."""

    UINT16 = 0x01
    CONTACT_DETECTED = 0x02
    CONTACT_SUPPORTED = 0x04
    ENERGY_EXPENDED = 0x08
    RR_INTERVALS = 0x10


# The same bits as plain ints: ``int & IntFlag`` builds an enum value each time, which
# made a decode cost 20 us (bench/hr.py); these keep it to a few.
_F_UINT16 = int(HeartRateFlags.UINT16)
_F_CONTACT_DETECTED = int(HeartRateFlags.CONTACT_DETECTED)
_F_CONTACT_SUPPORTED = int(HeartRateFlags.CONTACT_SUPPORTED)
_F_ENERGY = int(HeartRateFlags.ENERGY_EXPENDED)
_F_RR = int(HeartRateFlags.RR_INTERVALS)


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One 0x2A37 value.

    ``flags`` is the whole flags byte (reserved bits included); the fields it
    announces are the others. ``rr`` are the RR intervals in 1/1024 s, as sent.
    Construction checks that every value fits its wire field and that the flags
    announce exactly the optional fields given.
    """

    flags: int
    bpm: int
    energy_kj: int | None = None
    rr: tuple[int, ...] = ()
    extra: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.flags <= 0xFF:
            raise ValueError(f"{_NAME}: flags must be one byte, not {self.flags}")
        limit = _U16 if self.flags & _F_UINT16 else 0xFF
        if not 0 <= self.bpm <= limit:
            raise ValueError(f"{_NAME}: heart rate {self.bpm} does not fit its field (0-{limit})")
        has_energy = bool(self.flags & _F_ENERGY)
        if has_energy != (self.energy_kj is not None):
            raise ValueError(f"{_NAME}: the energy flag and the energy value disagree")
        if self.energy_kj is not None and not 0 <= self.energy_kj <= _U16:
            raise ValueError(f"{_NAME}: energy {self.energy_kj} kJ does not fit 16 bits")
        if self.rr and not self.flags & _F_RR:
            raise ValueError(f"{_NAME}: RR intervals given but not flagged")
        if any(not 0 <= rr <= _U16 for rr in self.rr):
            raise ValueError(f"{_NAME}: an RR interval does not fit 16 bits")
        if self.flags & _F_RR and len(self.extra) > 1:
            raise ValueError(f"{_NAME}: only one odd byte may follow the RR intervals")

    @classmethod
    def of(
        cls,
        bpm: int,
        *,
        contact: bool | None = None,
        energy_kj: int | None = None,
        rr: tuple[int, ...] = (),
    ) -> HeartRateMeasurement:
        """The canonical value: uint8 when it fits, contact supported when ``contact``
        is not None, RR flagged when there are any."""
        flags = 0
        if bpm > 0xFF:
            flags |= _F_UINT16
        if contact is not None:
            flags |= _F_CONTACT_SUPPORTED
            if contact:
                flags |= _F_CONTACT_DETECTED
        if energy_kj is not None:
            flags |= _F_ENERGY
        if rr:
            flags |= _F_RR
        return cls(int(flags), bpm, energy_kj, tuple(rr))

    @property
    def contact(self) -> bool | None:
        """Skin contact: None when the sensor cannot tell, else whether it is detected.

        Supported-but-not-detected is ``False`` (the sensor is off the skin): a
        value sent then is not a heart rate.
        """
        if not self.flags & _F_CONTACT_SUPPORTED:
            return None
        return bool(self.flags & _F_CONTACT_DETECTED)

    @property
    def rr_s(self) -> tuple[float, ...]:
        """The RR intervals in seconds (512 on the wire is 0.5 s)."""
        return tuple(rr / 1024 for rr in self.rr)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> HeartRateMeasurement:
        """Decode one value; ``HeartRateDecodeError`` when it is too short."""
        raw = bytes(data)
        if not raw:
            raise HeartRateDecodeError(0, "empty value: the flags need 1 byte")
        flags = raw[0]
        offset = 1
        size = 2 if flags & _F_UINT16 else 1
        if len(raw) < offset + size:
            raise HeartRateDecodeError(
                offset, f"{len(raw)}-byte value too short: heart rate needs {size} byte(s)"
            )
        bpm = int.from_bytes(raw[offset : offset + size], "little")
        offset += size
        energy = None
        if flags & _F_ENERGY:
            if len(raw) < offset + 2:
                raise HeartRateDecodeError(
                    offset, f"{len(raw)}-byte value too short: energy expended needs 2 bytes"
                )
            energy = int.from_bytes(raw[offset : offset + 2], "little")
            offset += 2
        body = raw[offset:]
        if not flags & _F_RR:
            return cls(flags, bpm, energy, (), body)  # trailing bytes kept as they came
        whole = len(body) - len(body) % 2
        rr = tuple(int.from_bytes(body[i : i + 2], "little") for i in range(0, whole, 2))
        return cls(flags, bpm, energy, rr, body[whole:])

    def __bytes__(self) -> bytes:
        size = 2 if self.flags & _F_UINT16 else 1
        out = bytearray([self.flags])
        out += self.bpm.to_bytes(size, "little")
        if self.energy_kj is not None:
            out += self.energy_kj.to_bytes(2, "little")
        for rr in self.rr:
            out += rr.to_bytes(2, "little")
        return bytes(out + self.extra)
