"""Treadmill Data (0x2ACD): flags u16, then the fields the flags announce, in bit order.

A field's absence and its "not available" value are different things: absence is
recorded in ``flags`` (the wire truth), a present field holding the spec's sentinel
(0x7FFF, 0xFFFF, 0xFF) reads as ``None``. So ``bytes(TreadmillData.from_bytes(b))``
gives ``b`` back for any frame, vendor flag bits and trailing bytes included.

Speed: one notification arrives per second per connection, but the record is the
hot path of the codec (the simulator encodes it, the controller, the recorder and
the bench decode it). Flags repeat frame after frame, so for each distinct flags
value one ``struct.Struct`` and one straight-line decoder and encoder are compiled
once and cached. The decoder fills a mutable twin of the class (same slots) and
then gives the object its real class: going through ``object.__setattr__`` for the
twenty fields of a frozen dataclass costs several times the unpacking itself. Values
unpacked by a ``Struct`` are in range by construction, so validation is skipped
there (never in ``__init__``).

Truncated frames: some machines (Matrix consoles) cut every notification at the
default ATT payload of 20 bytes while the flags still announce more fields. Such a
frame is an error by default; ``from_bytes(data, partial=True)`` decodes the field
groups that are complete and records the ones cut off in ``truncated`` (the bytes
of a group cut in the middle stay in ``extra``, so the frame still encodes back to
itself). Speed is the first field, so a frame too short even for it is still an
error: a record without its speed would read as a More Data part.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn, final

from retrorun.ftms._errors import FtmsDecodeError, FtmsValueError
from retrorun.ftms._units import RANGES, SIZES, BytesLike, check_bytes, check_int

__all__ = ["TreadmillData", "TreadmillDataFlags"]

CHARACTERISTIC = "Treadmill Data (0x2ACD)"


class TreadmillDataFlags(enum.IntFlag):
    """Flags of Treadmill Data. Bit 0 is inverted: set means speed is *absent*."""

    MORE_DATA = 1 << 0
    AVERAGE_SPEED = 1 << 1
    TOTAL_DISTANCE = 1 << 2
    INCLINATION = 1 << 3  # inclination and ramp angle setting
    ELEVATION_GAIN = 1 << 4  # positive and negative elevation gain
    INSTANTANEOUS_PACE = 1 << 5
    AVERAGE_PACE = 1 << 6
    EXPENDED_ENERGY = 1 << 7  # total, per hour, per minute
    HEART_RATE = 1 << 8
    METABOLIC_EQUIVALENT = 1 << 9
    ELAPSED_TIME = 1 << 10
    REMAINING_TIME = 1 << 11
    FORCE_AND_POWER = 1 << 12  # force on belt and power output
    STEP_COUNT = 1 << 13  # vendor extension (KingSmith, Urevo), not in FTMS v1.0


KNOWN_FLAGS = (1 << 14) - 1
# Plain ints for masking: ``~`` on an IntFlag member inverts only the named bits in
# Python 3.11+, which would drop vendor bits 14-15.
MORE_DATA_BIT = 1
NOT_MORE_DATA = 0xFFFF ^ MORE_DATA_BIT


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One Treadmill Data field: attribute name, wire code, sentinel, JSON key, scale."""

    name: str
    code: str  # a key of SIZES
    sentinel: int | None  # the raw "not available" value, if the field has one
    json_key: str
    per_unit: int  # raw steps per display unit (100 for 0.01 km/h)

    @property
    def low(self) -> int:
        return RANGES[self.code][0]

    @property
    def high(self) -> int:
        # The sentinel itself is not a value: it would decode back as None.
        high = RANGES[self.code][1]
        return high - 1 if self.sentinel == high else high


F = TreadmillDataFlags
_TABLE: tuple[tuple[TreadmillDataFlags, tuple[FieldSpec, ...]], ...] = (
    (F.MORE_DATA, (FieldSpec("speed", "H", None, "speed_kmh", 100),)),
    (F.AVERAGE_SPEED, (FieldSpec("average_speed", "H", None, "avg_speed_kmh", 100),)),
    (F.TOTAL_DISTANCE, (FieldSpec("total_distance", "T", None, "distance_m", 1),)),
    (
        F.INCLINATION,
        (
            FieldSpec("inclination", "h", 0x7FFF, "incline_pct", 10),
            FieldSpec("ramp_angle", "h", 0x7FFF, "ramp_angle_deg", 10),
        ),
    ),
    (
        F.ELEVATION_GAIN,
        (
            # FTMS v1.0 names no sentinel here; real machines send all ones (0xFFFF)
            # for "not measured", as for every other unsigned field that has one.
            FieldSpec("elevation_gain", "H", 0xFFFF, "elevation_gain_m", 10),
            FieldSpec("elevation_loss", "H", 0xFFFF, "elevation_loss_m", 10),
        ),
    ),
    (F.INSTANTANEOUS_PACE, (FieldSpec("pace", "B", None, "pace_kmpmin", 10),)),
    (F.AVERAGE_PACE, (FieldSpec("average_pace", "B", None, "avg_pace_kmpmin", 10),)),
    (
        F.EXPENDED_ENERGY,
        (
            FieldSpec("total_energy", "H", 0xFFFF, "energy_kcal", 1),
            FieldSpec("energy_per_hour", "H", 0xFFFF, "energy_per_hour_kcal", 1),
            FieldSpec("energy_per_minute", "B", 0xFF, "energy_per_minute_kcal", 1),
        ),
    ),
    (F.HEART_RATE, (FieldSpec("heart_rate", "B", None, "heart_rate_bpm", 1),)),
    (F.METABOLIC_EQUIVALENT, (FieldSpec("metabolic_equivalent", "B", None, "met", 10),)),
    (F.ELAPSED_TIME, (FieldSpec("elapsed_time", "H", None, "elapsed_s", 1),)),
    (F.REMAINING_TIME, (FieldSpec("remaining_time", "H", None, "remaining_s", 1),)),
    (
        F.FORCE_AND_POWER,
        (
            FieldSpec("force_on_belt", "h", 0x7FFF, "force_n", 1),
            FieldSpec("power_output", "h", 0x7FFF, "power_w", 1),
        ),
    ),
    (F.STEP_COUNT, (FieldSpec("step_count", "T", None, "steps", 1),)),
)
del F


class Group(NamedTuple):
    """Fields announced by one flag bit. ``mask`` is the bit as a plain int: IntFlag
    operators run Python code, ten times slower than int ones on the hot paths."""

    flag: TreadmillDataFlags
    mask: int
    fields: tuple[FieldSpec, ...]
    size: int  # bytes on the wire


GROUPS: tuple[Group, ...] = tuple(
    Group(flag, int(flag), fields, sum(SIZES[f.code] for f in fields)) for flag, fields in _TABLE
)
FIELDS: tuple[FieldSpec, ...] = tuple(f for group in GROUPS for f in group.fields)


def group_present(flags: int, mask: int) -> bool:
    """Whether ``flags`` (a plain int) announce the group of ``mask`` (bit 0 inverted)."""
    if mask == MORE_DATA_BIT:
        return not flags & MORE_DATA_BIT
    return bool(flags & mask)


def fields_present(flags: int) -> tuple[FieldSpec, ...]:
    """The fields ``flags`` (a plain int) announce, in wire order; cached per flags value."""
    fields = _PRESENT.get(flags)
    if fields is None:
        if len(_PRESENT) >= _CACHE_LIMIT:
            _PRESENT.clear()
        fields = tuple(f for g in GROUPS if group_present(flags, g.mask) for f in g.fields)
        _PRESENT[flags] = fields
    return fields


# Bounded so that garbage flags cannot grow the per-flags caches without end.
_CACHE_LIMIT = 256
_PRESENT: dict[int, tuple[FieldSpec, ...]] = {}


@final
@dataclass(frozen=True, slots=True, init=False, repr=False)
class TreadmillData:
    """One Treadmill Data notification, or a whole record merged from several.

    Values are raw FTMS integers: ``speed`` in 0.01 km/h, ``inclination`` in 0.1 %,
    ``ramp_angle`` in 0.1 degree, elevations in 0.1 m, paces in 0.1 km/min,
    ``metabolic_equivalent`` in 0.1 MET; the rest in whole units (m, kcal, bpm, s,
    N, W, steps).

    ``flags`` is the wire flags field and records which field groups are present.
    A field of a present group that is ``None`` is sent as "not available"; only
    fields that have a sentinel (inclination, ramp angle, the energies, force,
    power) may be ``None`` inside a present group. When constructing, ``flags``
    only has to name groups present with every value ``None`` and vendor bits:
    groups holding a value are added, and More Data (bit 0) always follows
    ``speed`` (set exactly when speed is absent). ``extra`` holds trailing bytes
    after the known fields (vendor data, announced by unknown flag bits or not).

    ``truncated`` names the field groups the wire flags announced but the frame cut
    off (only ``from_bytes(..., partial=True)`` sets it; see the module docstring):
    ``flags`` then holds the groups actually decoded, and ``partial`` is true.
    """

    flags: TreadmillDataFlags
    speed: int | None
    average_speed: int | None
    total_distance: int | None
    inclination: int | None
    ramp_angle: int | None
    elevation_gain: int | None
    elevation_loss: int | None
    pace: int | None
    average_pace: int | None
    total_energy: int | None
    energy_per_hour: int | None
    energy_per_minute: int | None
    heart_rate: int | None
    metabolic_equivalent: int | None
    elapsed_time: int | None
    remaining_time: int | None
    force_on_belt: int | None
    power_output: int | None
    step_count: int | None
    extra: bytes
    truncated: TreadmillDataFlags = field(init=False)  # set by partial decoding only

    def __init__(
        self,
        *,
        speed: int | None = None,
        average_speed: int | None = None,
        total_distance: int | None = None,
        inclination: int | None = None,
        ramp_angle: int | None = None,
        elevation_gain: int | None = None,
        elevation_loss: int | None = None,
        pace: int | None = None,
        average_pace: int | None = None,
        total_energy: int | None = None,
        energy_per_hour: int | None = None,
        energy_per_minute: int | None = None,
        heart_rate: int | None = None,
        metabolic_equivalent: int | None = None,
        elapsed_time: int | None = None,
        remaining_time: int | None = None,
        force_on_belt: int | None = None,
        power_output: int | None = None,
        step_count: int | None = None,
        flags: int = 0,
        extra: bytes = b"",
    ) -> None:
        values: dict[str, int | None] = {
            "speed": speed,
            "average_speed": average_speed,
            "total_distance": total_distance,
            "inclination": inclination,
            "ramp_angle": ramp_angle,
            "elevation_gain": elevation_gain,
            "elevation_loss": elevation_loss,
            "pace": pace,
            "average_pace": average_pace,
            "total_energy": total_energy,
            "energy_per_hour": energy_per_hour,
            "energy_per_minute": energy_per_minute,
            "heart_rate": heart_rate,
            "metabolic_equivalent": metabolic_equivalent,
            "elapsed_time": elapsed_time,
            "remaining_time": remaining_time,
            "force_on_belt": force_on_belt,
            "power_output": power_output,
            "step_count": step_count,
        }
        wire = check_int("flags", flags, 0, 0xFFFF) & NOT_MORE_DATA
        if speed is None:
            wire |= MORE_DATA_BIT
        for group in GROUPS:
            if group.mask != MORE_DATA_BIT and any(
                values[f.name] is not None for f in group.fields
            ):
                wire |= group.mask
            present = group_present(wire, group.mask)
            for f in group.fields:
                value = values[f.name]
                if value is not None:
                    check_int(f.name, value, f.low, f.high)
                elif present and f.sentinel is None:
                    raise FtmsValueError(
                        f"{f.name} is required: flag {group.flag.name} is set and the field "
                        "has no 'not available' value"
                    )
        setter = object.__setattr__
        for name, value in values.items():
            setter(self, name, value)
        setter(self, "flags", TreadmillDataFlags(wire))
        setter(self, "extra", check_bytes("extra", extra))
        setter(self, "truncated", _NOTHING)

    @classmethod
    def from_bytes(cls, data: BytesLike, *, partial: bool = False) -> TreadmillData:
        """Decode one notification. Raises ``FtmsDecodeError`` if it is too short;
        with ``partial``, only if it is too short for its speed (a truncated frame
        gives a record with ``partial`` set)."""
        if len(data) < 2:
            raise FtmsDecodeError(CHARACTERISTIC, 0, f"{len(data)}-byte frame: no flags field")
        flags = data[0] | data[1] << 8
        decoder = _DECODERS.get(flags)
        if decoder is None:
            decoder = _cached(_DECODERS, flags, _compile_decoder)
        if not partial:
            return decoder(data)
        try:
            return decoder(data)
        except FtmsDecodeError as exc:
            return _decode_partial(data, flags, exc)

    def __bytes__(self) -> bytes:
        encoder = _ENCODERS.get(self.flags)
        if encoder is None:
            encoder = _cached(_ENCODERS, int(self.flags), _compile_encoder)
        if self.truncated:
            # The wire flags announced the groups cut off too.
            wire = int(self.flags) | int(self.truncated)
            return wire.to_bytes(2, "little") + encoder(self)[2:]
        return encoder(self)

    def __repr__(self) -> str:
        parts = [f"flags=0x{self.flags:04X}"]
        parts += [f"{f.name}={value!r}" for f, value in self.present_fields()]
        if self.extra:
            parts.append(f"extra={self.extra!r}")
        if self.truncated:
            parts.append(f"truncated=0x{self.truncated:04X}")
        return f"TreadmillData({', '.join(parts)})"

    def present_fields(self) -> Iterator[tuple[FieldSpec, int | None]]:
        """Each field present on the wire, as (its ``FieldSpec``, its value); the value
        is ``None`` when the field was sent as "not available"."""
        for f in fields_present(int(self.flags)):
            yield f, getattr(self, f.name)

    @property
    def partial(self) -> bool:
        """The frame was cut short: ``truncated`` names the field groups it lost."""
        return bool(self.truncated)

    @property
    def more_data(self) -> bool:
        """More Data bit: this part carries no speed and more parts of the record follow."""
        return bool(int(self.flags) & MORE_DATA_BIT)

    @property
    def speed_kmh(self) -> float | None:
        """Instantaneous belt speed in km/h, ``None`` when this part carries none."""
        return None if self.speed is None else self.speed / 100

    @property
    def average_speed_kmh(self) -> float | None:
        return None if self.average_speed is None else self.average_speed / 100

    @property
    def inclination_pct(self) -> float | None:
        """Inclination in percent; ``None`` when absent or not available."""
        return None if self.inclination is None else self.inclination / 10

    @property
    def ramp_angle_deg(self) -> float | None:
        return None if self.ramp_angle is None else self.ramp_angle / 10


# A mutable twin with the very same slots: the compiled decoders fill it with plain
# attribute stores and then assign the real class (same layout, so CPython allows
# it). The result is an ordinary frozen TreadmillData.
_Builder: type = type("_TreadmillDataBuilder", (), {"__slots__": TreadmillData.__slots__})

_Decoder = Callable[[BytesLike], TreadmillData]
_Encoder = Callable[[TreadmillData], bytes]
_DECODERS: dict[int, _Decoder] = {}
_ENCODERS: dict[int, _Encoder] = {}
_FLAG_MEMBERS: dict[int, TreadmillDataFlags] = {}
_NOTHING = TreadmillDataFlags(0)


def _cached(cache: dict[int, Any], flags: int, compile_: Callable[[int], Any]) -> Any:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    function = cache[flags] = compile_(flags)
    return function


def _flags_member(flags: int) -> TreadmillDataFlags:
    member = _FLAG_MEMBERS.get(flags)
    if member is None:
        if len(_FLAG_MEMBERS) >= _CACHE_LIMIT:
            _FLAG_MEMBERS.clear()
        member = _FLAG_MEMBERS[flags] = TreadmillDataFlags(flags)
    return member


def _raise_short(data: BytesLike, flags: int) -> NoReturn:
    """Name the first field that does not fit in ``data``."""
    offset = 2
    for group in GROUPS:
        if not group_present(flags, group.mask):
            continue
        for f in group.fields:
            size = SIZES[f.code]
            if offset + size > len(data):
                raise FtmsDecodeError(
                    CHARACTERISTIC,
                    offset,
                    f"{len(data)}-byte frame too short for flags 0x{flags:04X}: "
                    f"{f.name} needs {size} bytes",
                )
            offset += size
    # Only reachable if a decoder disagreed with the table above.
    raise FtmsDecodeError(CHARACTERISTIC, offset, f"frame too short for flags 0x{flags:04X}")


def _decode_partial(data: BytesLike, flags: int, error: FtmsDecodeError) -> TreadmillData:
    """A frame too short for its flags, as the complete groups it holds (``error`` is
    raised again when even the speed, announced, does not fit)."""
    offset = 2
    truncated = 0
    for group in GROUPS:
        if not group_present(flags, group.mask):
            continue
        if truncated or offset + group.size > len(data):
            if group.mask == MORE_DATA_BIT:
                raise error
            truncated |= group.mask
            continue
        offset += group.size
    kept = flags & (0xFFFF ^ truncated)
    decoder = _DECODERS.get(kept)
    if decoder is None:
        decoder = _cached(_DECODERS, kept, _compile_decoder)
    record = decoder(kept.to_bytes(2, "little") + bytes(data[2:]))
    object.__setattr__(record, "truncated", _flags_member(truncated))
    return record


def _layout(flags: int) -> tuple[str, list[tuple[FieldSpec, bool]]]:
    """The struct format of the fields ``flags`` announce, and which fields are present."""
    fmt = ""
    plan = []
    for group in GROUPS:
        present = group_present(flags, group.mask)
        for f in group.fields:
            plan.append((f, present))
            if present:
                fmt += "HB" if f.code == "T" else f.code
    return fmt, plan


def _compile_decoder(flags: int) -> _Decoder:
    fmt, plan = _layout(flags)
    layout = struct.Struct("<" + fmt)
    size = 2 + layout.size
    names: list[str] = []
    body: list[str] = []
    for f, present in plan:
        if not present:
            body.append(f"    o.{f.name} = None")
            continue
        if f.code == "T":
            low, high = f"v{len(names)}", f"v{len(names) + 1}"
            names += [low, high]
            body.append(f"    o.{f.name} = {low} | {high} << 16")
        else:
            value = f"v{len(names)}"
            names.append(value)
            if f.sentinel is None:
                body.append(f"    o.{f.name} = {value}")
            else:
                body.append(f"    o.{f.name} = None if {value} == {f.sentinel} else {value}")
    lines = ["def decode(data):", "    n = len(data)", f"    if n < {size}:"]
    lines.append(f"        _short(data, {flags})")
    if names:
        lines.append(f"    {', '.join(names)}, = _unpack(data, 2)")
    lines += ["    o = _Builder()", "    o.flags = _flags", "    o.truncated = _nothing", *body]
    lines.append(f"    o.extra = b'' if n == {size} else bytes(data[{size}:])")
    lines += ["    o.__class__ = _TreadmillData", "    return o"]
    namespace: dict[str, Any] = {
        "_unpack": layout.unpack_from,
        "_short": _raise_short,
        "_Builder": _Builder,
        "_flags": _flags_member(flags),
        "_nothing": _NOTHING,
        "_TreadmillData": TreadmillData,
    }
    # Generated from the field table above only (no outside text): the way
    # dataclasses builds __init__, for a straight-line decoder per flags value.
    exec("\n".join(lines), namespace)  # noqa: S102
    decoder: _Decoder = namespace["decode"]
    return decoder


def _compile_encoder(flags: int) -> _Encoder:
    fmt, plan = _layout(flags)
    layout = struct.Struct("<H" + fmt)
    args = [str(flags)]
    for f, present in plan:
        if not present:
            continue
        if f.code == "T":
            args += [f"o.{f.name} & 0xFFFF", f"o.{f.name} >> 16"]
        elif f.sentinel is None:
            args.append(f"o.{f.name}")
        else:
            args.append(f"({f.sentinel} if o.{f.name} is None else o.{f.name})")
    lines = [
        "def encode(o):",
        f"    b = _pack({', '.join(args)})",
        "    e = o.extra",
        "    return b + e if e else b",
    ]
    namespace: dict[str, Any] = {"_pack": layout.pack}
    exec("\n".join(lines), namespace)  # noqa: S102  (see _compile_decoder)
    encoder: _Encoder = namespace["encode"]
    return encoder


def make_unchecked(
    flags: int, values: dict[str, int | None], extra: bytes, truncated: int = 0
) -> TreadmillData:
    """A TreadmillData from values already known to be valid (merged or split parts)."""
    o = _Builder()
    for f in FIELDS:
        setattr(o, f.name, values.get(f.name))
    o.flags = _flags_member(flags)
    o.extra = extra
    o.truncated = _flags_member(truncated)
    o.__class__ = TreadmillData
    record: TreadmillData = o
    return record
