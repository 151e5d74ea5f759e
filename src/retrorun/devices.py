"""Device profiles: what a treadmill model can do and how it departs from the spec.

One schema, read by the controller (to adapt its procedures) and by the simulator
(to reproduce the model). Profiles live in ``devices/*.toml``; every quirk cites where
it was reported. Speeds and inclines are written in people's units in the files and
exposed as raw FTMS integers (0.01 km/h, 0.1 %) for comparisons.

A profile is found by the advertised name (``match``, before connecting) and, once
connected, by what the Device Information Service says (``match_info``, globs on
"manufacturer model"): the DIS wins, since owners, bridges and firmware updates
change advertised names. ``[device_information]`` is what the model's DIS reports,
served by the simulator.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retrorun._paths import data_dir
from retrorun._validation import load_model
from retrorun.errors import ProfileError
from retrorun.ftms import KMH_PER_MPH

__all__ = [
    "QUIRKS",
    "DeviceInfoStrings",
    "DeviceProfile",
    "InclineRange",
    "Quirk",
    "QuirkNote",
    "SpeedCommand",
    "SpeedRange",
    "builtin_device_profiles",
    "load_device_profile",
    "match_device_profile",
]

Quirk = Literal[
    "rejects_request_control",  # Request Control fails: skip it
    "needs_start_before_speed",  # Set Target Speed is refused until Start or Resume
    "speed_in_mph",  # Set Target Speed is read as 0.01 mph
    "zero_ranges",  # Supported Speed/Inclination Range read as all zeros
    "ignores_speed_commands",  # answers success to Set Target Speed, belt does not follow
    "step_count_bit13",  # vendor step count in Treadmill Data flag bit 13
    "split_records",  # always splits Treadmill Data with More Data, whatever the MTU
    "truncated_records",  # cuts Treadmill Data at 20 bytes while its flags announce more
]
QUIRKS: tuple[str, ...] = Quirk.__args__  # type: ignore[attr-defined]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class QuirkNote(BaseModel):
    """Where a quirk was reported, and anything a user should know about it."""

    model_config = _FROZEN
    source: str = Field(min_length=1)
    note: str = ""


class SpeedRange(BaseModel):
    """Supported speed range as the model really supports it (km/h).

    ``command_step`` is the increment of the model's control point in its own unit
    (mph for a ``speed_in_mph`` model, e.g. 0.1 for a console that moves in tenths
    of a mile an hour); unset, it is ``step_kmh`` on a km/h control point and
    0.01 mph, the finest the FTMS field carries, on a mph one.
    """

    model_config = _FROZEN
    min_kmh: float = Field(ge=0, le=40)
    max_kmh: float = Field(gt=0, le=40)
    step_kmh: float = Field(gt=0, le=5)
    command_step: float | None = Field(default=None, gt=0, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_kmh <= self.min_kmh:
            raise ValueError("max_kmh must be above min_kmh")
        return self

    @property
    def raw(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.01 km/h."""
        return (round(self.min_kmh * 100), round(self.max_kmh * 100), round(self.step_kmh * 100))


class InclineRange(BaseModel):
    """Supported inclination range (%); a model without incline has min = max = 0."""

    model_config = _FROZEN
    min_pct: float = Field(default=0, ge=-30, le=40)
    max_pct: float = Field(default=0, ge=-30, le=40)
    step_pct: float = Field(default=0.5, gt=0, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_pct < self.min_pct:
            raise ValueError("max_pct must not be below min_pct")
        return self

    @property
    def raw(self) -> tuple[int, int, int]:
        """(min, max, step) in 0.1 %."""
        return (round(self.min_pct * 10), round(self.max_pct * 10), round(self.step_pct * 10))


class DeviceInfoStrings(BaseModel):
    """The Device Information Service strings a model reports (empty: not reported)."""

    model_config = _FROZEN
    manufacturer: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=64)
    firmware: str = Field(default="", max_length=64)
    source: str = ""  # where these strings were reported, for a real model


class DeviceProfile(BaseModel):
    """One treadmill model: limits, belt dynamics, and quirks."""

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=29)  # the advertised local name
    match: tuple[str, ...] = Field(default=(), description="glob patterns on advertised names")
    match_info: tuple[str, ...] = Field(
        default=(), description="glob patterns on the DIS 'manufacturer model'"
    )
    device_information: DeviceInfoStrings = DeviceInfoStrings()
    description: str = ""
    speed: SpeedRange
    incline: InclineRange = InclineRange()
    accel_kmh_per_s: float = Field(default=1.0, gt=0, le=20)
    decel_kmh_per_s: float = Field(default=1.5, gt=0, le=20)
    incline_pct_per_s: float = Field(default=0.5, gt=0, le=20)
    notify_period_s: float = Field(default=1.0, ge=0.05, le=5)
    settle_time_s: float = Field(default=30.0, gt=0, le=120)
    quirks: dict[Quirk, QuirkNote] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _command_unit(self) -> Self:
        if self.speed.command_step is not None and not self.has("speed_in_mph"):
            raise ValueError(
                "speed.command_step is for a speed_in_mph model; a km/h model's"
                " increment is speed.step_kmh"
            )
        SpeedCommand.of(self, self.speed.raw)  # a mph range must hold a mph speed
        return self

    def has(self, quirk: Quirk) -> bool:
        """Whether this model shows ``quirk``."""
        return quirk in self.quirks

    def matches(self, advertised_name: str | None) -> bool:
        """Whether an advertised name belongs to this model (case-insensitive globs)."""
        if not advertised_name:
            return False
        name = advertised_name.casefold()
        patterns = self.match or (self.name,)
        return any(fnmatch.fnmatchcase(name, p.casefold()) for p in patterns)

    def matches_info(self, described: str | None) -> bool:
        """Whether the DIS "manufacturer model" belongs to this model (``match_info``)."""
        if not described or not self.match_info:
            return False
        text = described.casefold()
        return any(fnmatch.fnmatchcase(text, p.casefold()) for p in self.match_info)


# 0.01 mph in 0.01 km/h, exactly (an international mile is 1609.344 m).
_MPH: Final = Fraction(str(KMH_PER_MPH))


@dataclass(frozen=True, slots=True)
class SpeedCommand:
    """How an approved speed (0.01 km/h) becomes what a model's Set Target Speed takes.

    FTMS says 0.01 km/h; a ``speed_in_mph`` model reads 0.01 mph, on a grid of its
    own (``minimum`` + k x ``step``, in its unit). The speeds such a model can run
    are its mph grid, so the lowest speed the governor may approve is the model's
    minimum *in mph*, converted and rounded up to 0.01 km/h: 0.5 mph is 0.8047
    km/h, approved as 0.81. The km/h figure rounded down (0.80) would go out as
    0.49 mph, under the model's range, and be refused. ``limits`` is that range
    in 0.01 km/h, the one the governor works in, so its ceiling clamp applies to
    the rounded-up minimum too (a ceiling under it leaves no backward speed).
    Above the minimum ``to_wire`` rounds *down* onto the model's grid: what is
    sent never exceeds what the governor approved, hence never the ceiling.
    A km/h model's grid is its range itself, and its ``limits`` are unchanged.
    """

    unit: Literal["km/h", "mph"]
    minimum: int  # in the control point's unit: 0.01 km/h or 0.01 mph
    maximum: int  # the top of the grid
    step: int
    limits: tuple[int, int, int]  # (min, max, step) in 0.01 km/h: what may be approved

    @classmethod
    def of(cls, profile: DeviceProfile, kmh_range: tuple[int, int, int]) -> SpeedCommand:
        """The control point of ``profile`` over the speed range ``kmh_range`` (the
        machine's Supported Speed Range, or the profile's), ``ValueError`` when the
        range holds no speed the control point can send."""
        low, high, step = kmh_range
        if not profile.has("speed_in_mph") or step <= 0 or high < low:
            # A range no session can use is passed on as it is: the governor
            # refuses it, with the session, before the belt moves.
            top = low + (high - low) // step * step if step > 0 and high >= low else high
            return cls("km/h", low, top, step, kmh_range)
        wire_step = (
            1 if profile.speed.command_step is None else _hundredths(profile.speed.command_step)
        )
        lowest = math.ceil(Fraction(low) / _MPH)  # at or over the minimum, in mph
        highest = math.floor(Fraction(high) / _MPH)  # at or under the maximum
        if highest < lowest:
            raise ValueError(f"speed range {kmh_range} holds no 0.01 mph value")
        top = lowest + (highest - lowest) // wire_step * wire_step
        limits = (
            math.ceil(lowest * _MPH),
            math.floor(top * _MPH),
            math.ceil(wire_step * _MPH),
        )
        return cls("mph", lowest, top, wire_step, limits)

    def to_wire(self, value: int) -> int:
        """The Set Target Speed integer for an approved ``value`` (0.01 km/h): the
        highest point of the model's grid at or under it. ``ValueError`` for a value
        under ``limits[0]``: only a higher speed, which nobody approved, could be sent."""
        if value < self.limits[0] or self.step <= 0:
            raise ValueError(
                f"{value / 100:.2f} km/h is under the lowest speed this treadmill takes,"
                f" {self.minimum / 100:.2f} {self.unit} ({self.limits[0] / 100:.2f} km/h)"
            )
        in_unit = Fraction(value) if self.unit == "km/h" else Fraction(value) / _MPH
        steps = math.floor((in_unit - self.minimum) / self.step)
        return min(self.minimum + steps * self.step, self.maximum)

    def to_kmh(self, wire: int) -> int:
        """A Set Target Speed integer (or a Target Speed Changed status) in 0.01
        km/h, to the nearest."""
        if self.unit == "km/h":
            return wire
        return math.floor(wire * _MPH + Fraction(1, 2))


def _hundredths(value: float) -> int:
    """A figure of a profile (mph, km/h) in hundredths, through its decimal form."""
    return max(1, round(Fraction(str(value)) * 100))


def load_device_profile(path: str | Path) -> DeviceProfile:
    """Load and validate one device profile file, or raise ``ProfileError``."""
    return load_model(Path(path), DeviceProfile, ProfileError)


def builtin_device_profiles() -> list[DeviceProfile]:
    """Every profile shipped in ``devices/``, the generic one last."""
    profiles = [load_device_profile(p) for p in sorted(data_dir("devices").glob("*.toml"))]
    profiles.sort(key=lambda p: p.name == GENERIC_NAME)
    return profiles


GENERIC_NAME = "Generic FTMS"


def match_device_profile(
    advertised_name: str | None,
    profiles: Iterable[DeviceProfile] | None = None,
    *,
    info: str | None = None,
) -> DeviceProfile:
    """The first profile whose ``match_info`` matches the DIS "manufacturer model"
    (``info``), else the first whose name patterns match, else the generic profile."""
    candidates = list(builtin_device_profiles() if profiles is None else profiles)
    generic = None
    for profile in candidates:
        if profile.name != GENERIC_NAME and profile.matches_info(info):
            return profile
    for profile in candidates:
        if profile.name == GENERIC_NAME:
            generic = profile
            continue
        if profile.matches(advertised_name):
            return profile
    if generic is None:
        generic = load_device_profile(data_dir("devices") / "generic-ftms.toml")
    return generic
