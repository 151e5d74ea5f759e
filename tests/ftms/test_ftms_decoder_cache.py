"""Treadmill Data's two decoders and its per-flags caches.

The first frames of new flags are read by the plain decoder, later ones by a decoder
compiled for their flags: both must give the same record and the same error for
every frame. The caches are bounded and keep the decoder in use however many
other flags values go by.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
from collections.abc import Iterator

import pytest
from ftms_strategies import treadmill_data
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.ftms import FtmsDecodeError, TreadmillData, TreadmillDataFlags
from retrorun.ftms import _treadmill_data as td


@pytest.fixture(autouse=True)
def _cold() -> Iterator[None]:
    td.clear_caches()
    yield
    td.clear_caches()


def _outcome(decode: object, data: bytes) -> tuple[str, object]:
    try:
        record = decode(data)  # type: ignore[operator]
    except FtmsDecodeError as exc:
        return "error", str(exc)
    return "record", (record, repr(record), record.extra, record.truncated)


def _same_by_both(data: bytes) -> None:
    flags = data[0] | data[1] << 8
    assert _outcome(td._decode_plain, data) == _outcome(td._compile_decoder(flags), data)


@given(record=treadmill_data())
@settings(max_examples=200)
def test_both_decoders_read_any_record_alike(record: TreadmillData) -> None:
    _same_by_both(bytes(record))


@given(frame=st.binary(min_size=2, max_size=48))
@settings(max_examples=300)
def test_both_decoders_read_any_bytes_alike(frame: bytes) -> None:
    """Short frames give the same error naming the same field; trailing bytes stay."""
    _same_by_both(frame)


def test_both_decoders_read_random_frames_of_every_size_alike() -> None:
    rng = random.Random(20)
    for _ in range(3000):
        _same_by_both(rng.randbytes(2) + rng.randbytes(rng.randrange(0, 45)))


def test_a_flags_value_is_compiled_after_its_first_frames() -> None:
    frame = bytes.fromhex("0404f4014001003c00")  # speed, distance, elapsed time
    flags = frame[0] | frame[1] << 8
    records = [TreadmillData.from_bytes(frame) for _ in range(td.COMPILE_AFTER + 2)]
    assert all(record == records[0] for record in records)
    assert flags in td._DECODERS
    assert td._DECODERS[flags] is not td._decode_plain


def test_partial_frames_decode_alike_cold_and_warm() -> None:
    frame = bytes.fromhex("9e1f8a028a02c800000a000000000000000c00a4")
    cold = TreadmillData.from_bytes(frame, partial=True)
    for _ in range(td.COMPILE_AFTER + 1):
        assert TreadmillData.from_bytes(frame, partial=True) == cold
    assert cold.partial
    assert bytes(cold) == frame


def _frame(flags: int) -> bytes:
    return flags.to_bytes(2, "little") + bytes(64)


def _warm(flags: int) -> None:
    for _ in range(td.COMPILE_AFTER):
        TreadmillData.from_bytes(_frame(flags))


def test_the_caches_are_bounded() -> None:
    for flags in range(0, 2 * 1000, 2):
        _warm(flags)
        bytes(TreadmillData.from_bytes(_frame(flags)))
    for cache in (td._DECODER_CACHE, td._ENCODER_CACHE, td._MEMBER_CACHE, td._PRESENT_CACHE):
        assert len(cache.new) <= td._CACHE_LIMIT
        assert len(cache.old) <= td._CACHE_LIMIT
    assert len(td._SIGHTINGS) <= 4 * td._CACHE_LIMIT


def test_the_decoder_in_use_is_kept_while_other_flags_go_by() -> None:
    """A machine's own flags, seen once a second, survive thousands of others compiled."""
    ours = 0x040C
    _warm(ours)
    decoder = td._DECODERS[ours]
    for i, flags in enumerate(range(0x4000, 0x4000 + 3000, 2)):
        _warm(flags)
        if i % (td._CACHE_LIMIT // 2) == 0:
            TreadmillData.from_bytes(_frame(ours))
            assert td._DECODERS[ours] is decoder  # the very same: never compiled again


def _table_matches_the_cache() -> None:
    """The table ``from_bytes`` reads holds exactly the new generation's decoders."""
    for flags in range(0x10000):
        expected = td._DECODERS.get(flags, td._decode_miss)
        assert td._ROWS[flags >> 8][flags & 0xFF] is expected, hex(flags)
    live = {flags >> 8 for flags in td._DECODERS}
    rows = [high for high, row in enumerate(td._ROWS) if row is not td._DECODER_CACHE._empty]
    assert set(rows) == live  # no row kept for a generation that was dropped


def test_the_decoder_table_follows_the_cache_through_generations() -> None:
    """Hits through the table and through the dict agree however the generations turn:
    vendor bits (other high bytes), roll-overs, recalls of the old generation."""
    rng = random.Random(7)
    seen: list[int] = []
    for i in range(3 * td._CACHE_LIMIT):
        flags = rng.randrange(0x10000) if i % 3 else rng.choice(seen or [0x040C])
        seen.append(flags)
        _warm(flags)
        frame = _frame(flags)
        assert TreadmillData.from_bytes(frame) == td._decode_plain(frame)
        if i % 97 == 0:
            _table_matches_the_cache()
    _table_matches_the_cache()
    td.clear_caches()
    _table_matches_the_cache()


def test_a_record_copies_and_pickles_to_an_equal_frozen_record() -> None:
    frame = bytes.fromhex("9e1f8a028a02c800000a000000000000000c00a4")
    for record in (
        TreadmillData.from_bytes(bytes.fromhex("0404f4014001003c00") + b"\x07"),
        TreadmillData.from_bytes(frame, partial=True),
    ):
        for other in (copy.copy(record), copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
            assert type(other) is TreadmillData
            assert other == record
            assert (other.extra, other.truncated, bytes(other)) == (
                record.extra,
                record.truncated,
                bytes(record),
            )
            with pytest.raises(dataclasses.FrozenInstanceError):
                other.speed = 1  # type: ignore[misc]


def test_the_plain_decoder_names_the_flags_as_enum_does() -> None:
    """The flags value built for a new combination is enum's in value, name and repr."""
    values = [*range(0, 0x10000, 7), 0, 1, 2, 0x3FFE, 0x3FFF, 0x4000, 0xC000, 0xC001, 0xFFFF]
    for value in values:
        ours, enums = td._new_flags_member(value), TreadmillDataFlags(value)
        assert type(ours) is TreadmillDataFlags
        assert ours == enums
        assert (ours.name, repr(ours), str(ours), list(ours)) == (
            enums.name,
            repr(enums),
            str(enums),
            list(enums),
        )
    for member in TreadmillDataFlags:
        assert td._new_flags_member(int(member)) is member
