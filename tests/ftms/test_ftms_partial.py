"""Truncated Treadmill Data (Matrix consoles cut every frame at 20 bytes), and the
corpus of frames real machines sent (``real_frames.json``, each with its source)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ftms_strategies import treadmill_data
from hypothesis import assume, given
from hypothesis import strategies as st

from retrorun.ftms import (
    FtmsDecodeError,
    RecordAssembler,
    TreadmillData,
    TreadmillDataFlags,
    to_json_dict,
)

CORPUS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "real_frames.json").read_text(encoding="utf-8")
)["frames"]

# A Matrix frame: flags 0x1F9E announce 32 bytes, 20 arrive (TrackMyIndoorWorkout's test).
MATRIX = bytes.fromhex("9e1fc60394023e01005a00ff7f3200ffff2500f4")


@pytest.mark.parametrize("frame", CORPUS, ids=lambda f: f["hex"][:12])
def test_every_real_frame_reads_as_published(frame: dict[str, Any]) -> None:
    data = bytes.fromhex(frame["hex"])
    assert frame["source"].startswith("https://")
    if frame["partial"]:
        with pytest.raises(FtmsDecodeError, match="too short for flags"):
            TreadmillData.from_bytes(data)
    record = TreadmillData.from_bytes(data, partial=True)
    assert record.partial is frame["partial"]
    view = to_json_dict(record)
    assert {key: view.get(key, "absent") for key in frame["expect"]} == frame["expect"]
    assert bytes(record) == data  # the wire truth survives decoding


def test_a_matrix_frame_keeps_its_complete_groups_and_names_the_rest() -> None:
    record = TreadmillData.from_bytes(MATRIX, partial=True)
    assert (record.speed, record.average_speed, record.total_distance) == (966, 660, 318)
    assert record.inclination == 90
    assert record.elevation_gain == 50
    assert record.elevation_loss is None  # sent as 0xFFFF: not available
    # Expended energy (5 bytes) starts at byte 17 and is cut after 3: dropped whole,
    # its bytes kept; every group after it is cut off too.
    assert record.total_energy is None
    assert record.extra == bytes.fromhex("2500f4")
    f = TreadmillDataFlags
    assert record.truncated == (
        f.EXPENDED_ENERGY
        | f.HEART_RATE
        | f.METABOLIC_EQUIVALENT
        | f.ELAPSED_TIME
        | f.REMAINING_TIME
        | f.FORCE_AND_POWER
    )
    assert int(record.flags) == 0x001E
    assert "truncated=0x1F80" in repr(record)
    assert to_json_dict(record)["truncated"] == [
        "elapsed_time",
        "expended_energy",
        "force_and_power",
        "heart_rate",
        "metabolic_equivalent",
        "remaining_time",
    ]


def test_a_frame_too_short_for_its_speed_is_refused_even_partially() -> None:
    with pytest.raises(FtmsDecodeError, match="speed needs 2 bytes"):
        TreadmillData.from_bytes(MATRIX[:3], partial=True)


def test_a_whole_frame_is_never_partial() -> None:
    whole = TreadmillData.from_bytes(bytes.fromhex(CORPUS[5]["hex"]), partial=True)
    assert not whole.partial
    assert "partial" not in to_json_dict(whole)


def test_the_assembler_reads_truncated_frames_only_when_asked() -> None:
    assembler = RecordAssembler()
    with pytest.raises(FtmsDecodeError):
        assembler.feed_bytes(MATRIX)
    record = assembler.feed_bytes(MATRIX, partial=True)
    assert record is not None
    assert record.speed == 966
    assert record.partial


@given(record=treadmill_data(with_speed=True), cut=st.integers(min_value=4, max_value=60))
def test_any_cut_keeps_every_complete_group_and_encodes_back(
    record: TreadmillData, cut: int
) -> None:
    whole = bytes(record)
    assume(cut < len(whole))
    data = whole[:cut]
    part = TreadmillData.from_bytes(data, partial=True)
    assert bytes(part) == data
    assert part.speed == record.speed
    assert int(part.flags) | int(part.truncated) == int(record.flags)
    for spec, value in part.present_fields():
        assert value == getattr(record, spec.name)
