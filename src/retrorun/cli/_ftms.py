"""``retrorun ftms decode CHARACTERISTIC HEX``: one FTMS value as JSON, for debugging.

What a treadmill sends can be pasted from a sniffer or a bug report (``0c00f403``,
``0C 00 F4 03``, ``0c:00:f4:03``, nRF Connect's ``0C-00-F4-03``) and read with the
same codec the controller uses.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from retrorun.errors import UsageError
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
    to_json_dict,
)

__all__ = ["DECODERS", "parse_hex", "register"]

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

_SEPARATORS = re.compile(r"[\s:-]+")
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
    data = parse_hex(" ".join(args.hex))
    value = DECODERS[args.characteristic](data)
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
    )
    decode.add_argument(
        "characteristic",
        metavar="CHARACTERISTIC",
        choices=list(DECODERS),
        help=f"one of: {', '.join(DECODERS)}",
    )
    decode.add_argument(
        "hex",
        metavar="HEX",
        nargs="+",
        help="the value as hex: 0c00f403, '0C 00 F4 03' or 0c:00:f4:03",
    )
    decode.set_defaults(handler=_decode)
