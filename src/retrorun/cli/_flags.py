"""Flag values checked where they are parsed: one line and exit 2, before anything runs.

Every number a flag takes has a range: finite, and what the product can honour
(``--speedup`` what the paced clock accepts, ``--weight-kg`` a human body mass,
``--week`` a year of weeks). ``number`` builds the ``type=`` callable for argparse.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

__all__ = [
    "AGE_YEARS",
    "HEART_RATE_BPM",
    "HR_RESERVE_PCT",
    "RESTING_HR_BPM",
    "SPEEDUP",
    "SPEED_KMH",
    "TIMEOUT_S",
    "WEEK",
    "WEIGHT_KG",
    "number",
]

N = TypeVar("N", int, float)

SPEED_KMH = (0.0, 25.0)  # above 0: a ceiling, a reference speed, a device maximum
SPEEDUP = (1.0, 10_000.0)  # the paced clock takes N >= 1; the stack tops out near 1,000x
WEIGHT_KG = (20.0, 350.0)  # a plausible human body mass, for the energy estimate
WEEK = (1, 52)  # a program runs for at most a year of weeks
HEART_RATE_BPM = (60, 240)  # a clinician's absolute heart-rate maximum
AGE_YEARS = (10, 110)
RESTING_HR_BPM = (30, 120)  # a resting heart rate anyone on a treadmill has
HR_RESERVE_PCT = (20.0, 100.0)  # the heart-rate limit as a percentage of the reserve
TIMEOUT_S = (0.0, 600.0)  # above 0: a Bluetooth scan

_SHOWN_CHARS = 20  # of a bad value, in its message


def number(
    kind: type[N],
    bounds: tuple[N, N],
    *,
    unit: str = "",
    above_low: bool = False,
) -> Callable[[str], N]:
    """A ``type=``: a finite ``kind`` from ``bounds[0]`` to ``bounds[1]``.

    ``above_low`` excludes the low bound (a speed above 0). argparse names the flag
    in front of the error (``argument --week: must be from 1 to 52, not '0'``).
    """
    low, high = bounds
    unit_text = f" {unit}" if unit else ""
    span = f"above {low:g} and at most {high:g}" if above_low else f"from {low:g} to {high:g}"
    what = "a whole number" if kind is int else "a number"

    def parse(text: str) -> N:
        shown = repr(text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "...")
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {what}, not {shown}") from None
        in_range = (value > low if above_low else value >= low) and value <= high
        if not (math.isfinite(value) and in_range):
            raise argparse.ArgumentTypeError(f"must be {span}{unit_text}, not {shown}")
        return value

    return parse
