"""What the FIT activity and the FIT workout share: text as FIT holds it, serial
numbers, retrorun's version, and a workout step."""

from __future__ import annotations

import zlib
from typing import Any

from garmin_fit_sdk import Profile

from retrorun import __version__
from retrorun.events import StepInfo
from retrorun.export._activity import step_name

__all__ = [
    "MESG",
    "SPEED_BAND_KMH",
    "fit_text",
    "serial_number",
    "software_version",
    "speed_target",
    "workout_step",
]

MESG: dict[str, int] = Profile["mesg_num"]
SPEED_BAND_KMH = 0.3  # a speed target's width below the step's speed
_MAX_TEXT_BYTES = 200  # a FIT field holds at most 255 bytes; names stay well under it


def fit_text(text: str, limit: int = _MAX_TEXT_BYTES) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes without splitting a character; FIT strings
    end at a NUL, so none may be inside."""
    clean = text.replace("\0", " ").strip()
    return clean.encode("utf-8")[:limit].decode("utf-8", errors="ignore").strip() or "-"


def serial_number(seed: str) -> int:
    """A 32-bit serial number from ``seed`` (never 0, FIT's invalid value for uint32z)."""
    return zlib.crc32(seed.encode("utf-8")) or 1


def software_version() -> float:
    """retrorun's version as FIT's ``software_version`` (major + minor / 100)."""
    parts = [*__version__.split("."), "0", "0"]
    try:
        return int(parts[0]) + int(parts[1]) / 100
    except ValueError:
        return 0.0


def speed_target(speed_kmh: float) -> tuple[int, int]:
    """``(low, high)`` in m/s x 1000 for a step at ``speed_kmh``: from a little under
    the step's speed up to the speed itself, so a watch never urges a runner past
    what the plan (and so the backward ceiling) allows."""
    high = round(speed_kmh / 3.6 * 1000)
    low = round(max(speed_kmh - SPEED_BAND_KMH, 0.1) / 3.6 * 1000)
    return min(low, high), high


def workout_step(
    index: int,
    step: StepInfo,
    *,
    intensity: str,
    notes: str | None = None,
) -> dict[str, Any]:
    """One ``workout_step``: a time duration (milliseconds, as FIT counts them) and, on a
    moving belt, a speed target in m/s x 1000; a stopped belt's step is ``open``."""
    mesg: dict[str, Any] = {
        "mesg_num": MESG["WORKOUT_STEP"],
        "message_index": index,
        "wkt_step_name": fit_text(step_name(step), 50),
        "duration_type": "time",
        "duration_value": round(step.duration_s * 1000),
        "intensity": intensity,
    }
    if step.speed_kmh > 0:
        low, high = speed_target(step.speed_kmh)
        mesg["target_type"] = "speed"
        mesg["target_value"] = 0  # a custom range, not a zone
        mesg["custom_target_value_low"] = low
        mesg["custom_target_value_high"] = high
    else:
        mesg["target_type"] = "open"
    if notes:
        mesg["notes"] = fit_text(notes)
    return mesg
