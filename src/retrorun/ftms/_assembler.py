"""A Treadmill Data record split over several notifications (spec 4.19), both ways.

A record that does not fit the ATT MTU is sent in parts: More Data = 1 on every part
but the last, and the instantaneous speed only in the last (More Data = 0) part.

Merging rules (``RecordAssembler``):

- A record is emitted when its More Data = 0 part arrives; the parts before it wait.
  A More Data = 0 part with nothing waiting is emitted as it is (the common case).
- Flags of the parts are OR-ed together (More Data taken from the last part).
- A field group sent in more than one part takes the value of the later part: it is
  the newer reading. A part's "not available" value is a value, so it overrides too.
- ``extra`` bytes of the parts are concatenated in arrival order.
- A truncated part (``partial``) keeps the record partial for the groups it lost
  that no other part carried.

Interrupted sequences: the spec (4.18) has the server drop a half-sent record on link
loss, and so must the client: call ``reset()`` on disconnect. Without a reset, parts
of an interrupted record merge into the next one; since later parts win, only a
field group the next record does not carry at all can be stale. A machine that never
sends a More Data = 0 part would grow the waiting list without end, so when
``max_parts`` parts are already waiting, they are dropped (counted in ``discarded``)
and collecting starts over with the new part.
"""

from __future__ import annotations

from retrorun.ftms._errors import FtmsValueError
from retrorun.ftms._treadmill_data import (
    GROUPS,
    KNOWN_FLAGS,
    MORE_DATA_BIT,
    NOT_MORE_DATA,
    TreadmillData,
    fields_present,
    make_unchecked,
)
from retrorun.ftms._units import BytesLike

__all__ = ["RecordAssembler", "split_record"]

_GROUP_FIELDS = {group.mask: group.fields for group in GROUPS}


def merge_parts(parts: list[TreadmillData]) -> TreadmillData:
    """One record from its parts, in arrival order (rules in the module docstring)."""
    flags = 0
    truncated = 0
    values: dict[str, int | None] = {}
    extra = b""
    for part in parts:
        part_flags = int(part.flags)
        flags |= part_flags
        truncated |= int(part.truncated)
        for f in fields_present(part_flags):
            values[f.name] = getattr(part, f.name)
        if part.extra:
            extra += part.extra
    flags = (flags & NOT_MORE_DATA) | (int(parts[-1].flags) & MORE_DATA_BIT)
    return make_unchecked(flags, values, extra, truncated & ~flags)


class RecordAssembler:
    """Feed it every Treadmill Data notification; it returns whole records.

    Stateful but sans-I/O: no clock, no callbacks. ``feed`` returns the record a
    More Data = 0 part completes, else ``None``.
    """

    __slots__ = ("_waiting", "discarded", "max_parts")

    def __init__(self, max_parts: int = 8) -> None:
        if max_parts < 1:
            raise FtmsValueError(f"max_parts must be at least 1, not {max_parts}")
        self.max_parts = max_parts
        self.discarded = 0
        self._waiting: list[TreadmillData] = []

    def feed(self, part: TreadmillData) -> TreadmillData | None:
        """Add one part; return the completed record, or ``None`` while parts are missing."""
        if part.speed is None:  # More Data = 1 (the decoder keeps the two in step)
            if len(self._waiting) >= self.max_parts:
                self.discarded += len(self._waiting)
                self._waiting.clear()
            self._waiting.append(part)
            return None
        if not self._waiting:
            return part
        parts = self._waiting
        parts.append(part)
        self._waiting = []
        return merge_parts(parts)

    def feed_bytes(self, data: BytesLike, *, partial: bool = False) -> TreadmillData | None:
        """Decode a notification and ``feed`` it (``FtmsDecodeError`` if malformed;
        ``partial``: a truncated frame is decoded as far as it goes, see
        ``TreadmillData.from_bytes``)."""
        return self.feed(TreadmillData.from_bytes(data, partial=partial))

    def reset(self) -> int:
        """Drop the parts waiting (on disconnect); returns how many were dropped."""
        dropped = len(self._waiting)
        self.discarded += dropped
        self._waiting.clear()
        return dropped

    @property
    def waiting(self) -> int:
        """Parts received for a record not yet complete."""
        return len(self._waiting)


def split_record(record: TreadmillData, max_size: int) -> list[bytes]:
    """Split a record into notification payloads of at most ``max_size`` bytes.

    ``max_size`` is ATT_MTU - 3. Each payload is a valid Treadmill Data frame; field
    groups stay whole and in bit order, greedily packed; the last payload has More
    Data = 0 and carries the speed, together with vendor flag bits and ``extra``
    (whose meaning belongs to those bits). A record that fits is returned whole.
    Reassembling the parts with ``RecordAssembler`` gives back ``record``.
    """
    whole = bytes(record)
    if len(whole) <= max_size:
        return [whole]
    if record.speed is None:
        raise FtmsValueError("only a complete record (one with a speed) can be split")
    room = max_size - 2  # after the flags field
    last_needs = 2 + len(record.extra)
    flags = int(record.flags)
    groups = [g for g in GROUPS if g.mask != MORE_DATA_BIT and flags & g.mask]
    largest = max([last_needs, *(g.size for g in groups)])
    if largest > room:
        raise FtmsValueError(f"max_size {max_size} is too small: a part needs {largest + 2} bytes")
    parts: list[list[int]] = [[]]  # the group masks of each part
    used = 0
    for group in groups:
        if used + group.size > room:
            parts.append([])
            used = 0
        parts[-1].append(group.mask)
        used += group.size
    if used + last_needs > room:
        parts.append([])
    payloads = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        part_flags = 0 if last else MORE_DATA_BIT
        values: dict[str, int | None] = {}
        for mask in part:
            part_flags |= mask
            for f in _GROUP_FIELDS[mask]:
                values[f.name] = getattr(record, f.name)
        if last:
            part_flags |= flags & (0xFFFF ^ KNOWN_FLAGS)
            values["speed"] = record.speed
        extra = record.extra if last else b""
        payloads.append(bytes(make_unchecked(part_flags, values, extra)))
    return payloads
