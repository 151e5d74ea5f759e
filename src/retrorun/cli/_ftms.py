"""``retrorun ftms decode CHARACTERISTIC HEX``: one FTMS value as JSON, for debugging.

What a treadmill sends can be pasted from a sniffer or a bug report (``0000f401``,
``00 00 F4 01``, ``00:00:f4:01``, nRF Connect's ``00-00-F4-01``, ``0x00 0x00 0xF4
0x01``) and read with the same codec the controller uses. The characteristic is
named as here (``treadmill-data``) or by its UUID as logs write it (``2acd``,
``0x2ACD``, or the 128-bit form). ``--partial`` reads a Treadmill Data frame cut
short of what its flags announce (as some machines send them) as far as it goes.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from retrorun.errors import UsageError
from retrorun.ftms import (
    RESPONSE_CODE,
    ControlRequest,
    ControlResponse,
    FitnessMachineFeature,
    InclinationRange,
    MachineStatus,
    ServiceData,
    Short,
    SpeedRange,
    TrainingStatus,
    TreadmillData,
    to_json_dict,
    uuid16,
)

__all__ = ["DECODERS", "EXAMPLES", "characteristic_name", "parse_hex", "register"]

DECODERS: Mapping[str, Callable[[bytes], Any]] = {
    "treadmill-data": TreadmillData.from_bytes,
    "feature": FitnessMachineFeature.from_bytes,
    "speed-range": SpeedRange.from_bytes,
    "incline-range": InclinationRange.from_bytes,
    "control-point": ControlRequest.from_bytes,
    "control-response": ControlResponse.from_bytes,
    "status": MachineStatus.from_bytes,
    "training-status": TrainingStatus.from_bytes,
    "service-data": ServiceData.from_bytes,
}

# Every example the help shows; a test decodes each one.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("treadmill-data", "0000f401"),  # speed only: 5.00 km/h
    ("treadmill-data", "00 00 F4 01"),
    ("2acd", "00:00:f4:01"),
    ("0x2ACD", "0x04 0x04 0xf4 0x01 0x10 0x00 0x00 0x3c 0x00"),  # 16 m, 1:00
    ("speed-range", "3200 4006 0a00"),
    ("control-response", "80 02 01"),
    ("status", "02 01"),
    # Cut at 20 bytes while flags 0x1F9E announce 32: speed 6.5 km/h up to elevation.
    ("treadmill-data --partial", "9e1f8a028a02c800000a000000000000000c00a4"),
)

_BY_NUMBER: Mapping[int, str] = {
    Short.TREADMILL_DATA: "treadmill-data",
    Short.FITNESS_MACHINE_FEATURE: "feature",
    Short.SUPPORTED_SPEED_RANGE: "speed-range",
    Short.SUPPORTED_INCLINATION_RANGE: "incline-range",
    Short.FITNESS_MACHINE_CONTROL_POINT: "control-point",
    Short.FITNESS_MACHINE_STATUS: "status",
    Short.TRAINING_STATUS: "training-status",
    Short.FITNESS_MACHINE_SERVICE: "service-data",
}
_HEX_NUMBER = re.compile(r"(?:0x)?([0-9a-f]{4})")


def characteristic_name(text: str) -> str:
    """A characteristic as this command names it, from a name or a UUID
    (``2acd``, ``0x2ACD``, ``00002acd-0000-1000-8000-00805f9b34fb``)."""
    wanted = text.strip().lower()
    if wanted in DECODERS:
        return wanted
    match = _HEX_NUMBER.fullmatch(wanted)
    number = int(match.group(1), 16) if match else None
    if number is None:
        number = next((n for n in _BY_NUMBER if uuid16(n) == wanted), None)
    if number is None or number not in _BY_NUMBER:
        raise UsageError(
            f"CHARACTERISTIC: {text.strip()!r} is not one of {', '.join(DECODERS)} "
            "or the UUID of one"
        )
    return _BY_NUMBER[number]


_SEPARATORS = re.compile(r"[\s:,-]+|0[xX](?=[0-9a-fA-F])")
_NOT_HEX = re.compile(r"[^0-9a-fA-F]")


def parse_hex(text: str) -> bytes:
    """Bytes from hex written whole, or with spaces, colons or dashes between bytes."""
    digits = _SEPARATORS.sub("", text)
    bad = _NOT_HEX.search(digits)
    if bad is not None:
        raise UsageError(f"HEX: {bad.group()!r} is not a hex digit (in {text.strip()!r})")
    if not digits:
        raise UsageError("HEX: no bytes given")
    if len(digits) % 2:
        raise UsageError(f"HEX: odd number of hex digits ({len(digits)}) in {text.strip()!r}")
    return bytes.fromhex(digits)


def _decode(args: argparse.Namespace) -> int:
    name = characteristic_name(args.characteristic)
    data = parse_hex(" ".join(args.hex))
    if name == "control-point" and data[:1] == bytes([RESPONSE_CODE]):
        name = "control-response"  # the same UUID carries the machine's indications
    if args.partial and name == "treadmill-data":
        value: Any = TreadmillData.from_bytes(data, partial=True)
    else:
        value = DECODERS[name](data)
    print(json.dumps(to_json_dict(value), ensure_ascii=False))
    return 0


def register(subparsers: Any) -> None:
    """Add ``ftms`` and its ``decode`` action to the ``retrorun`` command."""
    ftms = subparsers.add_parser(
        "ftms",
        help="read FTMS values by hand (debugging a treadmill)",
        description="Tools for the Fitness Machine Service protocol.",
    )
    actions = ftms.add_subparsers(dest="ftms_action", metavar="ACTION", parser_class=type(ftms))
    actions.required = True
    decode = actions.add_parser(
        "decode",
        help="decode one characteristic value and print it as JSON",
        description=(
            "Decode one FTMS value and print it as one JSON object. Fields the value "
            "does not carry are left out; a field sent as 'not available' is null."
        ),
        epilog="examples:\n"
        + "\n".join(f"  retrorun ftms decode {name} {value!r}" for name, value in EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    decode.add_argument(
        "characteristic",
        metavar="CHARACTERISTIC",
        help=f"one of: {', '.join(DECODERS)}; or its UUID (2acd, 0x2ACD, 128-bit)",
    )
    decode.add_argument(
        "hex",
        metavar="HEX",
        nargs="+",
        help="the value as hex: 0000f401, '00 00 F4 01', 00:00:f4:01 or '0x00 0x00 0xf4 0x01'",
    )
    decode.add_argument(
        "--partial",
        action="store_true",
        help="treadmill data cut short of what its flags announce: decode the complete "
        'fields and say which were cut off ("partial": true)',
    )
    decode.set_defaults(handler=_decode)
