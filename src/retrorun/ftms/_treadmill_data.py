"""Treadmill Data (0x2ACD): flags u16, then the fields the flags announce, in bit order.

A field's absence and its "not available" value are different things: absence is
recorded in ``flags`` (the wire truth), a present field holding the spec's sentinel
(0x7FFF, 0xFFFF, 0xFF) reads as ``None``. So ``bytes(TreadmillData.from_bytes(b))``
gives ``b`` back for any frame, vendor flag bits and trailing bytes included.

Speed: one notification arrives per second per connection, but the record is the
hot path of the codec (the simulator encodes it, the controller, the recorder and
the bench decode it). Flags repeat frame after frame, so for a flags value seen
``COMPILE_AFTER`` times one ``struct.Struct`` and one straight-line decoder are
compiled and cached (encoders are compiled at once: only our own records are
encoded). Compiling costs about two hundred decodes, so the first frames of new
flags are read by a plain decoder that walks the field groups (a few times a
compiled decode): a frame from a fuzzer, a sniffer log or a machine that varies
its flags costs no compile. The record's slots live in a mutable base class of
its own (``_RecordSlots``, no other code); both decoders fill an instance of that
base with plain attribute stores and then give it its real class, a frozen
dataclass that adds no slots (so CPython's class switch takes its fast path):
going through ``object.__setattr__`` for the twenty fields of a frozen dataclass
costs several times the unpacking itself. Values unpacked by a ``Struct`` are in
range by construction, so validation is skipped there (never in ``__init__``).
``from_bytes`` is a static method with a plain ``partial`` parameter: a class
method, or a keyword-only parameter, makes every call take CPython's slow path
(about a tenth of a warm decode each).

The per-flags caches are bounded (garbage flags must not grow them without end)
and keep what is in use: each has two generations, and a full one becomes the old
one; an entry used since is carried over on its next use, the rest go. A lookup
that hits is one ``dict.get`` (for the decoders, two list subscripts by the
frame's flag bytes: ``_DecoderCache``).

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
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar, final

from retrorun.ftms._errors import FtmsDecodeError, FtmsValueError
from retrorun.ftms._units import RANGES, SIZES, BytesLike, check_bytes, check_int

__all__ = ["TreadmillData", "TreadmillDataFlags"]

CHARACTERISTIC = "Treadmill Data (0x2ACD)"
V = TypeVar("V")


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
        fields = _PRESENT_CACHE.recall(flags)
        if fields is None:
            fields = tuple(f for g in GROUPS if group_present(flags, g.mask) for f in g.fields)
            _PRESENT_CACHE.put(flags, fields)
    return fields


# Entries per generation of each per-flags cache (so at most twice this many).
_CACHE_LIMIT = 256


class Generations(Generic[V]):
    """A bounded per-flags cache that keeps what is in use.

    ``new`` is a plain dict the hot paths read directly (one ``get``, no bookkeeping
    on a hit). A miss asks ``recall``, which carries an entry of the old generation
    over to the new one. When ``new`` is full it becomes the old generation (in place:
    the dict objects keep their identity) and the previous old one is dropped, so an
    entry survives as long as it is used once per ``limit`` new entries. Emptying a
    full cache whole instead would throw out the decoder of the machine in use
    whenever enough garbage flags went by.
    """

    __slots__ = ("limit", "new", "old")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.new: dict[int, V] = {}
        self.old: dict[int, V] = {}

    def recall(self, key: int) -> V | None:
        """The entry from the old generation, now in the new one; ``None`` if unknown."""
        value = self.old.pop(key, None)
        if value is not None:
            self.put(key, value)
        return value

    def put(self, key: int, value: V) -> None:
        if len(self.new) >= self.limit:
            self.old.clear()
            self.old.update(self.new)
            self.new.clear()
        self.new[key] = value

    def clear(self) -> None:
        self.new.clear()
        self.old.clear()


_PRESENT_CACHE: Generations[tuple[FieldSpec, ...]] = Generations(_CACHE_LIMIT)
_PRESENT = _PRESENT_CACHE.new


#: The record's attributes, in the order its slots are laid out.
SLOT_NAMES: tuple[str, ...] = (
    "flags",
    *(f.name for f in FIELDS),
    "extra",
    "truncated",
)


class _RecordSlots:
    """The storage of a ``TreadmillData``: its slots, mutable, and nothing else.

    The decoders build an instance of this class with plain attribute stores and
    then assign ``TreadmillData`` as its class (it adds no slots, so the layouts are
    the same and the switch is cheap); ``TreadmillData`` itself is frozen.
    """

    __slots__ = SLOT_NAMES


@final
@dataclass(frozen=True, init=False, repr=False)
class TreadmillData(_RecordSlots):
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

    __slots__ = ()  # all in _RecordSlots

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

    @staticmethod
    def from_bytes(data: BytesLike, partial: bool = False) -> TreadmillData:
        """Decode one notification. Raises ``FtmsDecodeError`` if it is too short;
        with ``partial=True``, only if it is too short for its speed (a truncated
        frame gives a record with ``partial`` set). Pass ``partial`` by keyword; it
        is not keyword-only because that alone makes every call slower (see the
        module docstring)."""
        # The decoder by the flags' two bytes (see ``_DecoderCache``); ``try`` costs
        # nothing when it does not raise, unlike a length check.
        try:
            decoder = _ROWS[data[1]][data[0]]
        except IndexError:
            raise FtmsDecodeError(
                CHARACTERISTIC, 0, f"{len(data)}-byte frame: no flags field"
            ) from None
        if not partial:
            return decoder(data)
        try:
            return decoder(data)
        except FtmsDecodeError as exc:
            return _decode_partial(data, data[0] | data[1] << 8, exc)

    def __getstate__(self) -> tuple[object, ...]:
        """For ``copy`` and ``pickle`` (a frozen record cannot be filled by setattr)."""
        return tuple(getattr(self, name) for name in SLOT_NAMES)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(SLOT_NAMES, state, strict=True):
            object.__setattr__(self, name, value)

    def __bytes__(self) -> bytes:
        encoder = _ENCODERS.get(self.flags)
        if encoder is None:
            flags = int(self.flags)
            encoder = _ENCODER_CACHE.recall(flags)
            if encoder is None:
                encoder = _compile_encoder(flags)
                _ENCODER_CACHE.put(flags, encoder)
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


# What the compiled decoders fill with plain attribute stores before assigning the
# real class (the same layout, so CPython allows it). The result is an ordinary
# frozen TreadmillData.
_Builder: type = _RecordSlots

_Decoder = Callable[[BytesLike], TreadmillData]
_Encoder = Callable[[TreadmillData], bytes]

#: Frames of one flags value decoded plainly before its decoder is compiled.
COMPILE_AFTER = 4


class _DecoderCache(Generations[_Decoder]):
    """The compiled decoders, also laid out in a table by the flags' two bytes.

    ``rows[high][low]`` is the decoder of flags ``high << 8 | low`` while it is in the
    new generation, else ``miss`` (which finds or makes one, as a ``dict.get`` miss
    did). Two list subscripts by the frame's own bytes cost half of building the
    flags value and looking it up in a dict, on every frame. A row is made for a
    high byte when a decoder of it is cached, and dropped when the generation it
    was in is: at most 256 rows of 256 references (512 KiB; a machine uses one or
    two).
    """

    __slots__ = ("_empty", "miss", "rows")

    def __init__(self, limit: int, miss: _Decoder) -> None:
        super().__init__(limit)
        self.miss = miss
        self._empty: list[_Decoder] = [miss] * 256  # shared by rows with no decoder
        self.rows: list[list[_Decoder]] = [self._empty] * 256

    def put(self, key: int, value: _Decoder) -> None:
        if len(self.new) >= self.limit:
            # The new generation becomes the old one: its entries must miss now, so
            # that a use carries them over (``recall``).
            highs = {flags >> 8 for flags in self.new}
            for flags in self.new:
                self.rows[flags >> 8][flags & 0xFF] = self.miss
            for high in highs:
                self.rows[high] = self._empty
        super().put(key, value)
        row = self.rows[key >> 8]
        if row is self._empty:
            row = self.rows[key >> 8] = [self.miss] * 256
        row[key & 0xFF] = value

    def clear(self) -> None:
        super().clear()
        self.rows[:] = [self._empty] * 256


def _decode_miss(data: BytesLike) -> TreadmillData:
    """A frame whose flags have no decoder in the table: find or make one."""
    return _decoder(data[0] | data[1] << 8)(data)


_DECODER_CACHE = _DecoderCache(_CACHE_LIMIT, _decode_miss)
_ROWS = _DECODER_CACHE.rows
_ENCODER_CACHE: Generations[_Encoder] = Generations(_CACHE_LIMIT)
_MEMBER_CACHE: Generations[TreadmillDataFlags] = Generations(_CACHE_LIMIT)
_DECODERS = _DECODER_CACHE.new
_ENCODERS = _ENCODER_CACHE.new
_FLAG_MEMBERS = _MEMBER_CACHE.new
# Frames seen per flags value not compiled yet. Emptied whole when full: that only
# delays a compile.
_SIGHTINGS: dict[int, int] = {}
_NOTHING = TreadmillDataFlags(0)


def _decoder(flags: int) -> _Decoder:
    """The decoder for ``flags`` on a miss: the compiled one from the old generation,
    one compiled now for the ``COMPILE_AFTER``-th frame, or the plain decoder."""
    decoder = _DECODER_CACHE.recall(flags)
    if decoder is not None:
        return decoder
    seen = _SIGHTINGS.get(flags, 0) + 1
    if seen < COMPILE_AFTER:
        if len(_SIGHTINGS) >= 4 * _CACHE_LIMIT:
            _SIGHTINGS.clear()
        _SIGHTINGS[flags] = seen
        return _decode_plain
    _SIGHTINGS.pop(flags, None)
    decoder = _compile_decoder(flags)
    _DECODER_CACHE.put(flags, decoder)
    return decoder


def clear_caches() -> None:
    """Forget every per-flags decoder, encoder and flags value (the bench's cold start)."""
    for cache in (_DECODER_CACHE, _ENCODER_CACHE, _MEMBER_CACHE, _PRESENT_CACHE):
        cache.clear()
    _SIGHTINGS.clear()


def _flags_member(flags: int) -> TreadmillDataFlags:
    member = _FLAG_MEMBERS.get(flags)
    if member is None:
        member = _MEMBER_CACHE.recall(flags)
        if member is None:
            member = _new_flags_member(flags)
            _MEMBER_CACHE.put(flags, member)
    return member


# Every defined member by value: a single bit is its member, never a copy.
_CANONICAL: dict[int, TreadmillDataFlags] = {int(m): m for m in TreadmillDataFlags}
_CANONICAL[0] = _NOTHING
_BIT_NAMES: tuple[tuple[int, str], ...] = tuple((int(m), str(m.name)) for m in TreadmillDataFlags)
# The names of the bits set in each value of the low byte and of bits 8-13, joined.
_LOW_NAMES = tuple(
    "|".join(n for bit, n in _BIT_NAMES if bit < 0x100 and v & bit) for v in range(256)
)
_HIGH_NAMES = tuple("|".join(n for bit, n in _BIT_NAMES if bit >> 8 & v) for v in range(64))


def _new_flags_member(flags: int) -> TreadmillDataFlags:
    """``TreadmillDataFlags(flags)``, built as enum builds a combination of flags.

    Enum's own construction of a combination not seen before decomposes it in
    Python and costs about twenty compiled decodes; that alone would make the first
    frame of new flags slow. This gives the same value, name and repr (vendor bits
    14-15 shown as a number after the names, as enum shows unknown bits);
    ``tests/ftms`` compares the two across flags values.
    """
    member = _CANONICAL.get(flags)
    if member is not None:
        return member
    low, high = _LOW_NAMES[flags & 0xFF], _HIGH_NAMES[flags >> 8 & 0x3F]
    names = f"{low}|{high}" if low and high else low or high
    unknown = flags & ~KNOWN_FLAGS
    member = int.__new__(TreadmillDataFlags, flags)
    member._value_ = flags
    if not names:
        member._name_ = None
    elif unknown:
        member._name_ = f"{names}|{unknown!r}"
    else:
        member._name_ = names
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
    decoder = _ROWS[kept >> 8][kept & 0xFF]
    record = decoder(kept.to_bytes(2, "little") + bytes(data[2:]))
    object.__setattr__(record, "truncated", _flags_member(truncated))
    return record


def _plain_group(
    group: Group,
) -> tuple[int, int, Callable[..., tuple[int, ...]], int, int, bool, tuple[tuple[int, int], ...]]:
    """What the plain decoder needs of a group: mask, size, its ``unpack_from``, the
    positions of its fields in ``FIELDS`` (first, end: a group's fields are adjacent),
    whether it is one u24 field (read as u16 + u8), and (position, sentinel) of each
    field that has a sentinel."""
    first = FIELDS.index(group.fields[0])
    u24 = group.fields[0].code == "T"  # alone in its group, in the table above
    fmt = "HB" if u24 else "".join(f.code for f in group.fields)
    sentinels = tuple(
        (first + i, f.sentinel) for i, f in enumerate(group.fields) if f.sentinel is not None
    )
    unpack = struct.Struct("<" + fmt).unpack_from
    return group.mask, group.size, unpack, first, first + len(group.fields), u24, sentinels


_PLAIN_GROUPS = tuple(_plain_group(group) for group in GROUPS)
#: ``high << 16`` for every high byte of a u24 field (read as u16 + u8): an indexed
#: read of a ready int, where shifting allocates a new one on every frame.
U24_HIGH: tuple[int, ...] = tuple(high << 16 for high in range(256))


class _Filled(_RecordSlots):
    """The builder of the plain decoder: every slot set in one call, in ``FIELDS`` order
    (one call with plain stores costs a third of a ``setattr`` per field)."""

    __slots__ = ()

    def __init__(  # noqa: PLR0917  (positional on purpose: one call, nothing to match)
        self,
        flags: TreadmillDataFlags,
        extra: bytes,
        speed: int | None,
        average_speed: int | None,
        total_distance: int | None,
        inclination: int | None,
        ramp_angle: int | None,
        elevation_gain: int | None,
        elevation_loss: int | None,
        pace: int | None,
        average_pace: int | None,
        total_energy: int | None,
        energy_per_hour: int | None,
        energy_per_minute: int | None,
        heart_rate: int | None,
        metabolic_equivalent: int | None,
        elapsed_time: int | None,
        remaining_time: int | None,
        force_on_belt: int | None,
        power_output: int | None,
        step_count: int | None,
    ) -> None:
        self.flags = flags
        self.extra = extra
        self.truncated = _NOTHING
        self.speed = speed
        self.average_speed = average_speed
        self.total_distance = total_distance
        self.inclination = inclination
        self.ramp_angle = ramp_angle
        self.elevation_gain = elevation_gain
        self.elevation_loss = elevation_loss
        self.pace = pace
        self.average_pace = average_pace
        self.total_energy = total_energy
        self.energy_per_hour = energy_per_hour
        self.energy_per_minute = energy_per_minute
        self.heart_rate = heart_rate
        self.metabolic_equivalent = metabolic_equivalent
        self.elapsed_time = elapsed_time
        self.remaining_time = remaining_time
        self.force_on_belt = force_on_belt
        self.power_output = power_output
        self.step_count = step_count


def _decode_plain(data: BytesLike) -> TreadmillData:
    """Any frame, group by group, with no per-flags code: the first frames of new flags.

    The same record and the same errors as a compiled decoder (``tests/ftms``
    compares them on every frame they decode).
    """
    flags = data[0] | data[1] << 8
    wanted = flags ^ MORE_DATA_BIT  # bit 0 set now means speed is present
    n = len(data)
    values: list[int | None] = [None] * len(FIELDS)
    offset = 2
    for mask, size, unpack, first, last, u24, sentinels in _PLAIN_GROUPS:
        if wanted & mask:
            end = offset + size
            if end > n:
                _raise_short(data, flags)
            if u24:
                low, high = unpack(data, offset)
                values[first] = low + U24_HIGH[high]
            else:
                values[first:last] = unpack(data, offset)
                for slot, sentinel in sentinels:
                    if values[slot] == sentinel:
                        values[slot] = None
            offset = end
    # The flags value is built, not cached: most flags seen here are seen once.
    o: Any = _Filled(_new_flags_member(flags), bytes(data[offset:]), *values)
    o.__class__ = TreadmillData
    record: TreadmillData = o
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
            body.append(f"    o.{f.name} = {low} + _u24_high[{high}]")
        else:
            value = f"v{len(names)}"
            names.append(value)
            if f.sentinel is None:
                body.append(f"    o.{f.name} = {value}")
            else:
                body.append(f"    o.{f.name} = None if {value} == {f.sentinel} else {value}")
    # One comparison of the length on the common path (a frame of exactly the size
    # its flags announce); shorter raises, longer keeps its tail in ``extra``.
    lines = [
        "def decode(data):",
        "    n = len(data)",
        f"    if n == {size}:",
        "        extra = b''",
    ]
    lines += [f"    elif n < {size}:", f"        _short(data, {flags})"]
    lines += ["    else:", f"        extra = bytes(data[{size}:])"]
    if names:
        lines.append(f"    {', '.join(names)}, = _unpack(data, 2)")
    lines += ["    o = _Builder()", "    o.flags = _flags", "    o.truncated = _nothing", *body]
    lines += ["    o.extra = extra", "    o.__class__ = _TreadmillData", "    return o"]
    namespace: dict[str, Any] = {
        "_unpack": layout.unpack_from,
        "_short": _raise_short,
        "_Builder": _Builder,
        "_flags": _flags_member(flags),
        "_nothing": _NOTHING,
        "_TreadmillData": TreadmillData,
        "_u24_high": U24_HIGH,
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
