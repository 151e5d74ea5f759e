"""Runner profiles and the safety figures every other module asks for.

This is the one place that holds the numbers from ``DOMAIN.md``. Speeds are integer
0.01 km/h and inclines integer 0.1 %, the FTMS raw units, so that a comparison
against a ceiling can never be off by a float rounding.

The *rules* that use these numbers live in ``retrorun.safety`` (the governor);
program validation and planning read the same table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from retrorun.errors import UsageError
from retrorun.ftms import speed_to_raw

__all__ = [
    "BACKWARD_INCLINE_MAX",
    "BACKWARD_INCLINE_STEEP_MAX",
    "INCLINE_TOLERANCE",
    "PROFILE_LIMITS",
    "RAMP_INTERVAL_S",
    "RAMP_STEP",
    "SETTLE_TOLERANCE",
    "TRAINED_UNLOCKED_CEILING",
    "TURNAROUND_HOLD_S",
    "TURNAROUND_SPEED",
    "WALK_RUN_TRANSITION",
    "WATCHDOG_S",
    "ProfileLimits",
    "RunnerProfile",
    "backward_incline_limit",
    "effective_backward_ceiling",
    "kmh",
    "to_kmh",
]


def kmh(value: float) -> int:
    """km/h as a float -> integer 0.01 km/h (8.2 -> 820), never rounded up: the codec's
    one conversion, so a ceiling and the speed sent under it agree to the unit."""
    return speed_to_raw(value)


def to_kmh(raw: int) -> float:
    """Integer 0.01 km/h -> km/h for people."""
    return raw / 100


class RunnerProfile(enum.StrEnum):
    """Who is on the belt. Chooses the backward ceiling and the turn-around style."""

    OLDER_ADULT = "older-adult"
    REHAB = "rehab"
    NOVICE = "novice"
    RECREATIONAL = "recreational"
    TRAINED = "trained"


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """Figures for one runner profile (speeds in 0.01 km/h, inclines in 0.1 %)."""

    backward_start_min: int
    backward_start_max: int
    backward_ceiling: int
    stop_at_turnaround: bool
    walking_only: bool
    backward_incline_max: int
    basis: str


# DOMAIN.md, "Speed ceilings and starting speeds by profile".
PROFILE_LIMITS: dict[RunnerProfile, ProfileLimits] = {
    RunnerProfile.OLDER_ADULT: ProfileLimits(
        100,
        150,
        250,
        stop_at_turnaround=True,
        walking_only=True,
        backward_incline_max=100,
        basis="elderly fallers walked backward slower than 2.2 km/h (Fritz 2013, Gait Posture)",
    ),
    RunnerProfile.REHAB: ProfileLimits(
        150,
        250,
        400,
        stop_at_turnaround=True,
        walking_only=True,
        backward_incline_max=100,
        basis=(
            "4.0 km/h at 0/5/10 % (Cipriani 1995, JOSPT); Alghadir 2019 (BMC Musculoskelet Disord)"
        ),
    ),
    RunnerProfile.NOVICE: ProfileLimits(
        200,
        300,
        500,
        stop_at_turnaround=False,
        walking_only=False,
        backward_incline_max=100,
        basis="backward walk-to-run transition at 5.9 km/h (Hreljac 2005, J Sports Sci Med)",
    ),
    RunnerProfile.RECREATIONAL: ProfileLimits(
        350,
        600,
        750,
        stop_at_turnaround=False,
        walking_only=False,
        backward_incline_max=100,
        basis="backward walking at 6.4 km/h is about 60 % VO2peak (Flynn 1994, MSSE)",
    ),
    RunnerProfile.TRAINED: ProfileLimits(
        600,
        800,
        1000,
        stop_at_turnaround=False,
        walking_only=False,
        backward_incline_max=100,
        basis="Sterzing 2016 (Gait Posture); data to 12.6 km/h (Wright & Weyand 2001, J Exp Biol)",
    ),
}

DEFAULT_PROFILE = RunnerProfile.NOVICE
TRAINED_UNLOCKED_CEILING = 1260  # trained runners, with an explicit unlock flag only
TURNAROUND_SPEED = 200  # slow to at most 2 km/h to turn around
TURNAROUND_HOLD_S = 12.0  # hold 10-15 s at a turn-around
RAMP_STEP = 50  # backward: at most 0.5 km/h per speed change ...
RAMP_INTERVAL_S = 2.0  # ... and at least 2 s between changes
SETTLE_TOLERANCE = 20  # the belt has settled within 0.2 km/h of target
INCLINE_TOLERANCE = 5  # 0.1 %: a deck within 0.5 % of its target is there
WATCHDOG_S = 3.0  # no telemetry for this long: alarm and reconnect
BACKWARD_INCLINE_MAX = 100  # 10 % ...
BACKWARD_INCLINE_STEEP_MAX = 150  # ... 15 % with an explicit flag
WALK_RUN_TRANSITION = 590  # below 5.9 km/h a backward step is walking unless it says jog


def backward_incline_limit(profile: RunnerProfile, *, allow_steep: bool = False) -> int:
    """The backward incline limit in 0.1 %: the profile's (10 %), or 15 % with an
    explicit ``allow_steep``, which the walking-only profiles never get."""
    limits = PROFILE_LIMITS[profile]
    if allow_steep and not limits.walking_only:
        return BACKWARD_INCLINE_STEEP_MAX
    return limits.backward_incline_max


def effective_backward_ceiling(
    profile: RunnerProfile,
    *,
    user_ceiling: int | None = None,
    device_max: int | None = None,
    unlock_fast: bool = False,
) -> int:
    """``min(profile ceiling, user ceiling, device maximum)`` in 0.01 km/h.

    A user ceiling may only lower the profile's ceiling. Only the ``trained`` profile
    can be unlocked, and only up to 12.6 km/h. A device maximum of 0 or less is
    treated as unknown (real machines report all-zero ranges) and ignored here; the
    caller falls back to the device profile's range.
    """
    limits = PROFILE_LIMITS[profile]
    ceiling = limits.backward_ceiling
    if unlock_fast:
        if profile is not RunnerProfile.TRAINED:
            raise UsageError(f"--unlock-fast applies to the trained profile only, not {profile}")
        ceiling = TRAINED_UNLOCKED_CEILING
    if user_ceiling is not None:
        if user_ceiling <= 0:
            raise UsageError("--ceiling must be above 0 km/h")
        if user_ceiling > ceiling:
            extra = (
                " (above 10 km/h also needs --unlock-fast)"
                if profile is RunnerProfile.TRAINED and not unlock_fast
                else ""
            )
            raise UsageError(
                f"--ceiling {to_kmh(user_ceiling):.2f} km/h is above the {profile} backward "
                f"ceiling of {to_kmh(ceiling):.1f} km/h; a ceiling can only be lowered{extra}"
            )
        ceiling = user_ceiling
    if device_max is not None and device_max > 0:
        ceiling = min(ceiling, device_max)
    return ceiling
