"""Hypothesis strategies for every value of the FTMS codec, built from the spec's ranges."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from retrorun.ftms import (
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    InclinationRange,
    MachineStatus,
    ServiceData,
    SpeedRange,
    TrainingStatus,
    TreadmillData,
    TreadmillDataFlags,
)
from retrorun.ftms._control import CONTROL_LAYOUTS, STATUS_LAYOUTS
from retrorun.ftms._treadmill_data import GROUPS
from retrorun.ftms._units import RANGES

VENDOR_BITS = st.sampled_from([0, 1 << 14, 1 << 15, 3 << 14])


def _field_value(field: Any) -> st.SearchStrategy[int | None]:
    values = st.integers(field.low, field.high)
    return values if field.sentinel is None else st.none() | values


@st.composite
def treadmill_data(draw: st.DrawFn, *, with_speed: bool | None = None) -> TreadmillData:
    """Any valid TreadmillData: any groups, values, sentinels, vendor bits, extra bytes."""
    values: dict[str, int | None] = {}
    flags = draw(VENDOR_BITS)
    for group in GROUPS:
        if group.flag is TreadmillDataFlags.MORE_DATA:
            present = draw(st.booleans()) if with_speed is None else with_speed
        else:
            present = draw(st.booleans())
            flags |= group.mask if present else 0
        if present:
            for f in group.fields:
                values[f.name] = draw(_field_value(f))
    extra = draw(st.binary(max_size=6))
    return TreadmillData(flags=flags, extra=extra, **values)


def _layout_values(codes: str) -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(*(st.integers(*RANGES[c]) for c in codes))


@st.composite
def control_request(draw: st.DrawFn) -> ControlRequest:
    op = draw(st.integers(0, 0xFF))
    layout = CONTROL_LAYOUTS.get(op)
    if layout is None:
        return ControlRequest(op, parameter=draw(st.binary(max_size=18)))
    return ControlRequest(op, draw(_layout_values(layout.codes)), extra=draw(st.binary(max_size=4)))


@st.composite
def machine_status(draw: st.DrawFn) -> MachineStatus:
    op = draw(st.integers(0, 0xFF))
    layout = STATUS_LAYOUTS.get(op)
    if layout is None:
        return MachineStatus(op, parameter=draw(st.binary(max_size=18)))
    return MachineStatus(op, draw(_layout_values(layout.codes)), extra=draw(st.binary(max_size=4)))


control_response = st.builds(
    ControlResponse,
    st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    st.binary(max_size=17),
)
feature = st.builds(
    FitnessMachineFeature,
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=4),
)
speed_range = st.builds(
    SpeedRange,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=4),
)
inclination_range = st.builds(
    InclinationRange,
    st.integers(-0x8000, 0x7FFF),
    st.integers(-0x8000, 0x7FFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=4),
)
service_data = st.builds(
    ServiceData, st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.binary(max_size=4)
)


@st.composite
def training_status(draw: st.DrawFn) -> TrainingStatus:
    string = draw(st.none() | st.binary(max_size=20) | st.text(max_size=8).map(str.encode))
    return TrainingStatus(
        status=draw(st.integers(0, 0xFF)),
        string=string,
        extended_string=draw(st.booleans()),
        reserved_flags=draw(st.integers(0, 0x3F)) << 2,
        extra=b"" if string is not None else draw(st.binary(max_size=4)),
    )


ALL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "treadmill-data": treadmill_data(),
    "feature": feature,
    "speed-range": speed_range,
    "incline-range": inclination_range,
    "control-point": control_request(),
    "control-response": control_response,
    "status": machine_status(),
    "training-status": training_status(),
    "service-data": service_data,
}

_OP_CODES = [0x00, 0x80, 0x02, 0x05, 0x08, 0x0D, 0x11, 0xFF]
# Byte strings that reach deep into the decoders: a plausible header and random rest.
frames = st.one_of(
    st.binary(max_size=48),
    st.tuples(
        st.sampled_from([0x00, 0x80, 0x02, 0x05, 0x08, 0x0D, 0xFF]), st.binary(max_size=24)
    ).map(lambda t: bytes([t[0]]) + t[1]),
    st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=48)).map(
        lambda t: t[0].to_bytes(2, "little") + t[1]
    ),
)

__all__ = [
    "ALL_VALUES",
    "control_request",
    "frames",
    "machine_status",
    "treadmill_data",
]
