"""Wire integer types, range checks, and the float <-> raw unit edge.

Values inside the codec are the raw FTMS integers (0.01 km/h, 0.1 %, ...). Floats
exist only here, at the edge: ``speed_to_raw(8.2)`` is 820, never 819. The float is
read through its shortest decimal form (``repr``), so binary float error cannot
move a value across a rounding boundary. Speeds round toward zero — the one km/h
to raw conversion of the whole program, and a speed never rounds up past a ceiling
(1.005 km/h is 100, not 101) — other values round to nearest, halves away from zero.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import TypeAlias

from retrorun.ftms._errors import FtmsValueError

__all__ = [
    "KMH_PER_MPH",
    "RANGES",
    "SIZES",
    "BytesLike",
    "check_bytes",
    "check_int",
    "incline_to_raw",
    "speed_to_raw",
    "to_raw",
]

BytesLike: TypeAlias = bytes | bytearray | memoryview

# Machines with the speed_in_mph quirk put 0.01 mph where FTMS says 0.01 km/h.
KMH_PER_MPH = 1.609344

# Wire integer codes used by every layout table in the codec: the ``struct`` code,
# except "T", the little-endian u24 FTMS uses for distances and step counts.
SIZES = {"B": 1, "b": 1, "H": 2, "h": 2, "T": 3, "I": 4}
RANGES = {
    "B": (0, 0xFF),
    "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF),
    "h": (-0x8000, 0x7FFF),
    "T": (0, 0xFFFFFF),
    "I": (0, 0xFFFFFFFF),
}


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an int in ``low..high``, or ``FtmsValueError`` naming the field."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise FtmsValueError(f"{name} must be an integer in raw units, not {value!r}")
    if not low <= value <= high:
        raise FtmsValueError(f"{name} = {value} is out of range {low}..{high}")
    return int(value)


def check_bytes(name: str, value: object) -> bytes:
    """``value`` as immutable ``bytes`` (a bytearray or memoryview is copied)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise FtmsValueError(f"{name} must be bytes, not {type(value).__name__}")
    return bytes(value)


def to_raw(value: float, per_unit: int, *, rounding: str = ROUND_HALF_UP) -> int:
    """``value`` in display units -> raw integer with ``per_unit`` steps per unit."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FtmsValueError(f"expected a number, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FtmsValueError(f"expected a finite number, not {value!r}")
    scaled = Decimal(repr(value)) * per_unit
    return int(scaled.to_integral_value(rounding=rounding))


def speed_to_raw(kmh: float) -> int:
    """km/h -> FTMS speed units (0.01 km/h), toward zero: 8.2 -> 820, 1.005 -> 100.

    The one km/h conversion (``retrorun.limits.kmh`` is this): a speed or a
    ceiling never rounds up past what was asked.
    """
    return to_raw(kmh, 100, rounding=ROUND_DOWN)


def incline_to_raw(percent: float) -> int:
    """Percent grade -> FTMS inclination units (0.1 %), rounded to nearest: 1.5 -> 15."""
    return to_raw(percent, 10)
