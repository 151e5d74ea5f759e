"""Properties of the codec: round trips both ways, and garbage in gives a typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ftms_strategies import ALL_VALUES, frames, treadmill_data
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.cli._ftms import DECODERS
from retrorun.ftms import FtmsDecodeError, TreadmillData, to_json_dict

NAMES = sorted(DECODERS)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@settings(max_examples=60)
def test_decode_of_encode_is_identity(name: str, data: st.DataObject) -> None:
    value = data.draw(ALL_VALUES[name])
    encoded = bytes(value)
    decoded = DECODERS[name](encoded)
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize("name", NAMES)
@given(frame=frames)
@settings(max_examples=150)
def test_any_bytes_decode_to_a_value_or_a_decode_error(name: str, frame: bytes) -> None:
    """Arbitrary bytes give a value that encodes back to the same bytes, or FtmsDecodeError.

    Every byte the decoders accept is kept (vendor bits, reserved flags, unknown op
    codes, trailing bytes), so ``encode(decode(b)) == b`` holds for *every* b that
    decodes, not only for canonical frames.
    """
    error: FtmsDecodeError | None = None
    try:
        value = DECODERS[name](frame)
    except FtmsDecodeError as exc:
        error = exc
    if error is not None:
        assert error.characteristic
        assert "byte offset" in str(error)
        return
    assert bytes(value) == frame
    json.dumps(to_json_dict(value))


@given(record=treadmill_data())
@settings(max_examples=50)
def test_treadmill_json_keys_follow_the_flags(record: TreadmillData) -> None:
    out = to_json_dict(record)
    assert out["more_data"] == record.more_data
    assert ("speed_kmh" in out) is (record.speed is not None)
    assert ("extra_hex" in out) is bool(record.extra)
    for field, raw in record.present_fields():
        assert (out[field.json_key] is None) is (raw is None)


@given(record=treadmill_data())
@settings(max_examples=40)
def test_bytearray_decodes_like_bytes(record: TreadmillData) -> None:
    encoded = bytes(record)
    assert TreadmillData.from_bytes(bytearray(encoded)) == record
    assert TreadmillData.from_bytes(memoryview(encoded)) == record


@given(st.integers(0, 0xFFFF), st.binary(max_size=40))
def test_treadmill_data_with_any_flags(flags: int, rest: bytes) -> None:
    frame = flags.to_bytes(2, "little") + rest
    try:
        record = TreadmillData.from_bytes(frame)
    except FtmsDecodeError:
        return
    assert record.flags == flags
    assert bytes(record) == frame
    # The checked constructor accepts what the fast decoder produced.
    rebuilt = TreadmillData(
        flags=record.flags,
        extra=record.extra,
        **{field.name: value for field, value in record.present_fields()},
    )
    assert rebuilt == record


def _json_types_only(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_types_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_types_only(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
@settings(max_examples=30)
def test_json_dict_holds_plain_json_types(name: str, data: st.DataObject) -> None:
    assert _json_types_only(to_json_dict(data.draw(ALL_VALUES[name])))
