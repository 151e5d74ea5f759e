"""Speed of the FTMS codec against hand-written ``struct`` code, measured side by side.

Run: ``.venv/bin/python bench/codec.py``

The reference is the fastest thing Python can do for one fixed layout: a single
``struct.Struct.unpack_from`` (decode) or ``pack`` (encode) of the full-flags
Treadmill Data frame, without building any object. The codec is measured on the same
frame in the same run; the ratio is codec time / reference time. Target: decoding
within 6x of the reference.
"""

from __future__ import annotations

import platform
import struct
import timeit
from collections.abc import Callable

from retrorun.ftms import RecordAssembler, TreadmillData, split_record

# The full-flags frame (bits 1-13 set, speed present): 37 bytes.
FRAME = bytes.fromhex(
    "fe3f"  # flags
    "3403bc02"  # speed, average speed
    "40e201"  # total distance (u24)
    "e7ffff7f"  # inclination, ramp angle (not available)
    "0a000500"  # elevation gain, loss
    "3230"  # pace, average pace
    "ffff2c01ff"  # energy total (n/a), per hour, per minute (n/a)
    "8250"  # heart rate, MET
    "5802b004"  # elapsed, remaining time
    "ff7f9600"  # force (n/a), power
    "701101"  # step count (u24)
)
# The same fixed layout written by hand, u24 fields as u16 + u8:
# flags, speed, avg speed, distance, incline, ramp, elevation +/-, paces, energies,
# heart rate, MET, elapsed, remaining, force, power, steps.
FIXED = struct.Struct("<HHHHBhhHHBBHHBBBHHhhHB")
REPEATS = 7
TARGET_RATIO = 6.0


def best_ns(function: Callable[[], object], number: int) -> float:
    """Best time of one call, in nanoseconds, over REPEATS runs of ``number`` calls."""
    runs = timeit.repeat(function, number=number, repeat=REPEATS)
    return min(runs) / number * 1e9


def best_pair(
    reference: Callable[[], object], subject: Callable[[], object], number: int
) -> tuple[float, float]:
    """Both best times, the runs interleaved so that both see the same machine load."""
    ref_runs, subject_runs = [], []
    for _ in range(REPEATS):
        ref_runs.append(timeit.timeit(reference, number=number))
        subject_runs.append(timeit.timeit(subject, number=number))
    return min(ref_runs) / number * 1e9, min(subject_runs) / number * 1e9


def row(label: str, ns: float, reference_ns: float | None = None) -> str:
    ratio = "" if reference_ns is None else f"{ns / reference_ns:5.1f}x"
    return f"  {label:<46}{1e9 / ns:>12,.0f}{ns:>10.0f}  {ratio}".rstrip()


def main() -> None:
    record = TreadmillData.from_bytes(FRAME)
    values = FIXED.unpack_from(FRAME)
    if bytes(record) != FRAME or FIXED.pack(*values) != FRAME or FIXED.size != len(FRAME):
        raise SystemExit("bench/codec.py: the reference layout does not match the frame")

    unpack_from, pack, from_bytes = FIXED.unpack_from, FIXED.pack, TreadmillData.from_bytes
    number = 100_000
    ref_decode, decode = best_pair(lambda: unpack_from(FRAME), lambda: from_bytes(FRAME), number)
    ref_encode, encode = best_pair(lambda: pack(*values), lambda: bytes(record), number)

    payloads = split_record(record, 20)  # ATT MTU 23
    assembler = RecordAssembler()

    def reassemble() -> object:
        out = None
        for payload in payloads:
            out = assembler.feed_bytes(payload)
        return out

    split = best_ns(lambda: split_record(record, 20), number // 10)
    merge = best_ns(reassemble, number // 10)
    if reassemble() != record:
        raise SystemExit("bench/codec.py: reassembly does not give the record back")

    print(f"FTMS codec, {platform.python_implementation()} {platform.python_version()}")
    print(f"full-flags Treadmill Data frame: {len(FRAME)} bytes, flags 0x{record.flags:04X}")
    print()
    print(f"  {'':<46}{'ops/s':>12}{'ns/op':>10}  ratio")
    print(row("decode  struct.unpack_from (reference)", ref_decode))
    print(row("decode  TreadmillData.from_bytes", decode, ref_decode))
    print(row("encode  struct.pack (reference)", ref_encode))
    print(row("encode  bytes(TreadmillData)", encode, ref_encode))
    print(row(f"split   split_record at MTU 23 ({len(payloads)} parts)", split))
    print(row(f"merge   RecordAssembler.feed_bytes x {len(payloads)} parts", merge))
    print()
    verdict = "met" if decode / ref_decode <= TARGET_RATIO else "NOT met"
    print(f"decode target (within {TARGET_RATIO:g}x of struct.unpack_from): {verdict}")


if __name__ == "__main__":
    main()
