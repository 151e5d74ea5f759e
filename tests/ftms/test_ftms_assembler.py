"""A record split over notifications (spec 4.19) and put back together."""

from __future__ import annotations

from typing import Any

import pytest
from ftms_strategies import treadmill_data
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.ftms import (
    FtmsDecodeError,
    FtmsValueError,
    RecordAssembler,
    TreadmillData,
    TreadmillDataFlags,
    split_record,
)

FULL = TreadmillData(
    speed=820,
    average_speed=700,
    total_distance=123456,
    inclination=-25,
    elevation_gain=10,
    elevation_loss=5,
    pace=50,
    average_pace=48,
    energy_per_hour=300,
    heart_rate=130,
    metabolic_equivalent=80,
    elapsed_time=600,
    remaining_time=1200,
    power_output=150,
    step_count=70000,
    flags=TreadmillDataFlags.EXPENDED_ENERGY,
)

# ATT MTU 23 is the default; 247 is common after an exchange.
MTUS = [23, 27, 40, 247]


def _reassemble(payloads: list[bytes]) -> list[TreadmillData]:
    assembler = RecordAssembler()
    out = [assembler.feed_bytes(p) for p in payloads]
    assert assembler.waiting == 0
    return [r for r in out if r is not None]


def test_full_record_at_default_mtu() -> None:
    assert len(bytes(FULL)) == 37
    payloads = split_record(FULL, 20)
    assert len(payloads) == 3
    parts = [TreadmillData.from_bytes(p) for p in payloads]
    assert [p.more_data for p in parts] == [True, True, False]
    assert all(len(p) <= 20 for p in payloads)
    assert parts[-1].speed == 820
    assert all(p.speed is None for p in parts[:-1])
    assert _reassemble(payloads) == [FULL]


@pytest.mark.parametrize("mtu", MTUS)
@given(record=treadmill_data(with_speed=True))
@settings(max_examples=60)
def test_split_then_reassemble_is_identity(mtu: int, record: TreadmillData) -> None:
    max_size = mtu - 3
    try:
        payloads = split_record(record, max_size)
    except FtmsValueError:
        # Only vendor bytes too long for one part can make a record unsplittable.
        assert len(record.extra) + 4 > max_size
        return
    assert all(len(p) <= max_size for p in payloads)
    parts = [TreadmillData.from_bytes(p) for p in payloads]
    assert all(p.more_data for p in parts[:-1])
    assert not parts[-1].more_data
    assert _reassemble(payloads) == [record]


def test_record_that_fits_is_sent_whole() -> None:
    record = TreadmillData(speed=500, total_distance=42)
    assert split_record(record, 20) == [bytes(record)]


def test_split_refuses_what_cannot_be_split() -> None:
    with pytest.raises(FtmsValueError, match="with a speed"):
        split_record(TreadmillData(total_distance=1, elapsed_time=3, remaining_time=4), 4)
    with pytest.raises(FtmsValueError, match="too small"):
        split_record(FULL, 6)


def test_single_part_passes_through_unchanged() -> None:
    assembler = RecordAssembler()
    record = TreadmillData(speed=100)
    assert assembler.feed(record) is record


def test_duplicate_field_takes_the_later_part() -> None:
    assembler = RecordAssembler()
    assert assembler.feed(TreadmillData(total_distance=10, elapsed_time=5)) is None
    assert assembler.feed(TreadmillData(total_distance=11)) is None
    record = assembler.feed(TreadmillData(speed=300, heart_rate=99))
    assert record == TreadmillData(speed=300, total_distance=11, elapsed_time=5, heart_rate=99)


def test_not_available_in_a_later_part_overrides() -> None:
    assembler = RecordAssembler()
    assembler.feed(TreadmillData(inclination=15, ramp_angle=3))
    record = assembler.feed(
        TreadmillData(speed=300, flags=TreadmillDataFlags.INCLINATION)  # both not available
    )
    assert record is not None
    assert record.flags & TreadmillDataFlags.INCLINATION
    assert record.inclination is None
    assert record.ramp_angle is None


def test_reset_drops_an_interrupted_record() -> None:
    first = split_record(FULL, 20)
    second_record = TreadmillData(speed=900, total_distance=5)
    assembler = RecordAssembler()
    for payload in first[:-1]:  # the link drops before the last part
        assert assembler.feed_bytes(payload) is None
    assert assembler.waiting == 2
    assert assembler.reset() == 2
    assert assembler.waiting == 0
    assert assembler.discarded == 2
    assert assembler.feed(second_record) == second_record


def test_interrupted_without_reset_merges_and_later_parts_win() -> None:
    """Documented behaviour: leftover parts merge into the next record, newer values win."""
    payloads = split_record(FULL, 20)
    newer = TreadmillData(speed=1000, total_distance=123999, heart_rate=140)
    assembler = RecordAssembler()
    for payload in payloads[:-1]:
        assembler.feed_bytes(payload)
    record = assembler.feed(newer)
    assert record is not None
    assert record.speed == 1000
    assert record.total_distance == 123999
    assert record.heart_rate == 140
    # A group only the interrupted record carried is still there (stale).
    assert record.step_count == FULL.step_count
    # The same full sequence after the interruption replaces every leftover value.
    later = TreadmillData(**{**_values(FULL), "speed": 1100, "elapsed_time": 700})
    for payload in payloads[:-1]:
        assembler.feed_bytes(payload)
    emitted = _reassemble_with(assembler, split_record(later, 20))
    assert emitted == [later]


def _values(record: TreadmillData) -> dict[str, Any]:
    return {f.name: v for f, v in record.present_fields()} | {"flags": record.flags}


def _reassemble_with(assembler: RecordAssembler, payloads: list[bytes]) -> list[TreadmillData]:
    out = [assembler.feed_bytes(p) for p in payloads]
    return [r for r in out if r is not None]


def test_parts_without_an_end_are_bounded() -> None:
    assembler = RecordAssembler(max_parts=8)
    for i in range(10):
        assert assembler.feed(TreadmillData(elapsed_time=i)) is None
    assert assembler.waiting == 2
    assert assembler.discarded == 8
    record = assembler.feed(TreadmillData(speed=1))
    assert record == TreadmillData(speed=1, elapsed_time=9)
    with pytest.raises(FtmsValueError):
        RecordAssembler(max_parts=0)


def test_vendor_bits_and_extra_travel_in_the_last_part() -> None:
    record = TreadmillData(
        speed=820, total_distance=1, elapsed_time=2, step_count=3, flags=1 << 15, extra=b"\xaa"
    )
    payloads = split_record(record, 9)
    parts = [TreadmillData.from_bytes(p) for p in payloads]
    assert parts[-1].flags & (1 << 15)
    assert parts[-1].extra == b"\xaa"
    assert not any(p.flags & (1 << 15) for p in parts[:-1])
    assert _reassemble(payloads) == [record]


@given(st.lists(st.binary(max_size=30), max_size=6))
def test_feed_bytes_gives_records_or_decode_errors(frames: list[bytes]) -> None:
    assembler = RecordAssembler()
    for frame in frames:
        try:
            record = assembler.feed_bytes(frame)
        except FtmsDecodeError:
            continue
        assert record is None or (type(record) is TreadmillData and not record.more_data)
