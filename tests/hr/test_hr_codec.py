"""The Heart Rate Measurement codec: a table of frames, round trips, garbage.

The two readings a popular client gets wrong are pinned here: contact supported
but not detected is *no* contact, and RR intervals are in 1/1024 s.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.hr import HeartRateDecodeError, HeartRateFlags, HeartRateMeasurement

# (hex, bpm, contact, energy kJ, RR in seconds)
FRAMES = [
    ("00-48", 72, None, None, ()),
    ("01-48-00", 72, None, None, ()),  # uint16 format for a small value
    ("01-2c-01", 300, None, None, ()),
    ("06-5a", 90, True, None, ()),  # contact supported and detected
    ("04-5a", 90, False, None, ()),  # supported, not detected: off the skin
    ("02-5a", 90, None, None, ()),  # 0b01: the sensor cannot tell
    ("08-50-34-12", 80, None, 0x1234, ()),
    ("10-3c-00-04", 60, None, None, (1.0,)),  # 1024/1024 s
    ("16-78-00-02-00-02", 120, True, None, (0.5, 0.5)),  # 512 is 0.5 s, not 512
    ("1e-8c-10-00-9a-01", 140, True, 16, (410 / 1024,)),
    ("10-3c-00-04-ff", 60, None, None, (1.0,)),  # an odd trailing byte is kept
    ("e0-3c", 60, None, None, ()),  # reserved bits kept
]


@pytest.mark.parametrize(("hexed", "bpm", "contact", "energy", "rr"), FRAMES)
def test_frames_decode_to_their_fields(
    hexed: str, bpm: int, contact: bool | None, energy: int | None, rr: tuple[float, ...]
) -> None:
    frame = bytes.fromhex(hexed.replace("-", ""))
    value = HeartRateMeasurement.from_bytes(frame)
    assert value.bpm == bpm
    assert value.contact is contact
    assert value.energy_kj == energy
    assert value.rr_s == pytest.approx(rr)
    assert bytes(value) == frame


@pytest.mark.parametrize(
    ("hexed", "offset", "field"),
    [
        ("", 0, "flags"),
        ("00", 1, "heart rate needs 1"),
        ("01-48", 1, "heart rate needs 2"),
        ("08-50-34", 2, "energy expended"),
    ],
)
def test_short_frames_are_one_typed_error(hexed: str, offset: int, field: str) -> None:
    with pytest.raises(HeartRateDecodeError) as caught:
        HeartRateMeasurement.from_bytes(bytes.fromhex(hexed.replace("-", "")))
    assert caught.value.offset == offset
    assert field in str(caught.value)
    assert "\n" not in str(caught.value)


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        HeartRateMeasurement(0, 256)
    with pytest.raises(ValueError, match="disagree"):
        HeartRateMeasurement(0, 60, energy_kj=5)
    with pytest.raises(ValueError, match="not flagged"):
        HeartRateMeasurement(0, 60, rr=(512,))


measurements = st.builds(
    HeartRateMeasurement.of,
    st.integers(0, 0xFFFF),
    contact=st.none() | st.booleans(),
    energy_kj=st.none() | st.integers(0, 0xFFFF),
    rr=st.lists(st.integers(0, 0xFFFF), max_size=9).map(tuple),
)


@given(value=measurements)
@settings(max_examples=200)
def test_decode_of_encode_is_identity(value: HeartRateMeasurement) -> None:
    assert HeartRateMeasurement.from_bytes(bytes(value)) == value
    assert HeartRateMeasurement.from_bytes(bytearray(bytes(value))) == value


@given(frame=st.binary(max_size=24))
@settings(max_examples=400)
def test_any_bytes_decode_to_a_value_or_a_decode_error(frame: bytes) -> None:
    """Every accepted byte is kept, so a frame that decodes encodes back to itself."""
    error: HeartRateDecodeError | None = None
    try:
        value = HeartRateMeasurement.from_bytes(frame)
    except HeartRateDecodeError as exc:
        error = exc
    if error is not None:
        assert "byte offset" in str(error)
        return
    assert bytes(value) == frame
    supported = bool(value.flags & HeartRateFlags.CONTACT_SUPPORTED)
    assert (value.contact is None) is not supported
    if value.contact is not None:
        assert value.contact is bool(value.flags & HeartRateFlags.CONTACT_DETECTED)


@given(bpm=st.integers(0, 255), rr=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=9))
def test_rr_intervals_are_read_in_1024ths_of_a_second(bpm: int, rr: list[int]) -> None:
    value = HeartRateMeasurement.from_bytes(bytes(HeartRateMeasurement.of(bpm, rr=tuple(rr))))
    assert value.rr_s == tuple(x / 1024 for x in rr)
    assert all(s < 64 for s in value.rr_s)  # never the raw count
