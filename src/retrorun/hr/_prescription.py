"""The runner's heart-rate prescription: the maximum, the limit the governor holds,
and every heart-rate step's zone in bpm, all settled before the belt moves.

The maximum, in order of precedence:

1. ``--max-hr``: a clinician's absolute figure. It wins: no formula holds for
   people on beta-blockers, whose heart rate stays far below any predicted maximum.
2. ``max_hr`` in the runner settings (``runner.toml``): a maximum measured in an
   exercise test, which beats any prediction for this runner.
3. ``--age``: Tanaka's 208 - 0.7 x age. Not 220 - age: that one was never fitted
   to data, errs by 10-12 bpm either way, and underestimates the maximum of older
   adults more the older they are (Tanaka 2001; docs/sources.md).

The *limit* is what the governor holds (rule 8): the maximum itself, or with a
resting heart rate known, ``resting + pct x (maximum - resting)`` (Karvonen's
heart-rate reserve) at ``--hr-reserve-pct`` (the ``rehab`` and ``older-adult``
profiles default to 80 %, the top of the reserve range rehab programs prescribe:
a judgement of ours).

Zones: ``hr_zone`` is bpm as written; ``hr_pct`` is always a percentage of the
*maximum*, whether or not a resting rate is known (a file means one zone whoever
runs it); ``hr_reserve_pct`` is a percentage of the reserve and needs a resting
rate. A zone must lie at or under the limit and be at least ``HR_ZONE_MIN_BPM``
wide once in bpm. Heart-rate steps need a strap (the treadmill's own field comes
from hand grips or a receiver nobody can check) and a maximum (without one, rule
14, which slows the belt when the data goes bad, has nothing to apply).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from retrorun.errors import UsageError
from retrorun.limits import RunnerProfile
from retrorun.programs import HR_ZONE_MIN_BPM, HeartRateTarget, PlanStep

__all__ = [
    "PROFILE_RESERVE_PCT",
    "RESTING_HR_BPM",
    "RUNNER_FILE",
    "HeartRatePrescription",
    "RunnerSettings",
    "Zone",
    "heart_rate_limit",
    "load_runner_settings",
    "maximum_heart_rate",
    "prescribe",
    "runner_settings_path",
    "tanaka",
]

RUNNER_FILE = "runner.toml"  # in $XDG_CONFIG_HOME/retrorun (~/.config/retrorun)
RESTING_HR_BPM = (30, 120)  # a resting heart rate anyone on a treadmill has
MAX_HR_BPM = (60, 240)  # as --max-hr
#: Judgement: the heart-rate limit as a percentage of the reserve, by profile, when
#: a resting rate is known and ``--hr-reserve-pct`` is not given (the top of the
#: 40-80 % range rehab prescribes); other profiles are held at the maximum itself.
PROFILE_RESERVE_PCT: Mapping[RunnerProfile, float] = {
    RunnerProfile.REHAB: 80.0,
    RunnerProfile.OLDER_ADULT: 80.0,
}
_SETTINGS_KEYS = {"max_hr": MAX_HR_BPM, "resting_hr": RESTING_HR_BPM}
_MAX_SETTINGS_BYTES = 64 * 1024


def tanaka(age: int) -> int:
    """Tanaka's predicted maximum, 208 - 0.7 x age, in whole bpm."""
    return round(208 - 0.7 * age)


def maximum_heart_rate(
    absolute: int | None, measured: int | None = None, age: int | None = None
) -> int | None:
    """The runner's maximum: ``--max-hr``, else a measured one, else Tanaka from age."""
    if absolute is not None:
        return absolute
    if measured is not None:
        return measured
    if age is not None:
        return tanaka(age)
    return None


def heart_rate_limit(maximum: int, resting: int | None, reserve_pct: float | None) -> int:
    """The limit the governor holds: ``maximum``, or Karvonen's ``resting + pct x
    (maximum - resting)`` (rounded down: the safer side) when both are given."""
    if resting is None or reserve_pct is None:
        return maximum
    return resting + int(reserve_pct / 100 * (maximum - resting))


@dataclass(frozen=True, slots=True)
class Zone:
    """A heart-rate zone in bpm, ``low`` < ``high``."""

    low: int
    high: int

    def __str__(self) -> str:
        return f"{self.low}-{self.high} bpm"


@dataclass(frozen=True, slots=True)
class HeartRatePrescription:
    """What a session holds: the maximum, the limit (None: no heart-rate rule), the
    resting rate, and the zone of every heart-rate step by plan index."""

    maximum: int | None
    limit: int | None
    resting: int | None
    zones: Mapping[int, Zone]


def _zone(target: HeartRateTarget, maximum: int, resting: int | None) -> Zone:
    if target.basis == "bpm":
        return Zone(round(target.low), round(target.high))
    if target.basis == "max":
        return Zone(round(maximum * target.low / 100), round(maximum * target.high / 100))
    if resting is None:  # prescribe checks it first; a caller that did not gets this
        raise UsageError("hr_reserve_pct needs a resting heart rate (--resting-hr BPM)")
    reserve = maximum - resting
    return Zone(
        round(resting + reserve * target.low / 100), round(resting + reserve * target.high / 100)
    )


def prescribe(
    steps: Iterable[PlanStep],
    *,
    profile: RunnerProfile,
    max_hr: int | None,
    measured_max_hr: int | None = None,
    age: int | None = None,
    resting_hr: int | None = None,
    reserve_pct: float | None = None,
    has_strap: bool = False,
    program: str = "the program",
) -> HeartRatePrescription:
    """The session's heart-rate prescription; ``UsageError`` (one line, exit 2) when a
    heart-rate step cannot be held safely or the figures contradict each other."""
    maximum = maximum_heart_rate(max_hr, measured_max_hr, age)
    if reserve_pct is not None and resting_hr is None:
        raise UsageError("--hr-reserve-pct needs a resting heart rate: --resting-hr BPM")
    if reserve_pct is not None and maximum is None:
        raise UsageError("--hr-reserve-pct needs a maximum: --max-hr BPM or --age YEARS")
    if resting_hr is not None and maximum is not None and resting_hr >= maximum:
        raise UsageError(
            f"a resting heart rate of {resting_hr} bpm is not under the {maximum} bpm maximum"
        )
    if reserve_pct is None and resting_hr is not None:
        reserve_pct = PROFILE_RESERVE_PCT.get(profile)
    limit = heart_rate_limit(maximum, resting_hr, reserve_pct) if maximum is not None else None
    guided = [s for s in steps if s.heart_rate is not None]
    if not guided:
        return HeartRatePrescription(maximum, limit, resting_hr, {})
    first = guided[0].heart_rate
    if first is None:  # the filter above keeps only heart-rate steps
        raise RuntimeError("internal error: a heart-rate step without its zone")
    if not has_strap:
        raise UsageError(
            f"{program}: heart-rate steps need a heart-rate strap (--hr NAME_OR_ADDRESS, or"
            " --sim-hr on the simulator); the treadmill's own reading is not trusted to set speed"
        )
    if maximum is None or limit is None:
        raise UsageError(
            f"{program}: heart-rate steps need a maximum heart rate (--max-hr BPM, max_hr in"
            f" {RUNNER_FILE}, or --age YEARS): without one nothing slows the belt when the"
            " strap's data goes bad"
        )
    if resting_hr is None and any(
        s.heart_rate is not None and s.heart_rate.basis == "reserve" for s in guided
    ):
        raise UsageError(
            f"{program}: hr_reserve_pct steps need a resting heart rate (--resting-hr BPM, or"
            f" resting_hr in {RUNNER_FILE})"
        )
    zones: dict[int, Zone] = {}
    for step in guided:
        if step.heart_rate is None:
            continue
        zone = _zone(step.heart_rate, maximum, resting_hr)
        where = (
            f"{program}: step {step.index + 1} ({step.label}): {step.heart_rate.field} is {zone}"
        )
        if zone.high > limit:
            raise UsageError(f"{where}, over the {limit} bpm limit in force")
        if zone.high - zone.low < HR_ZONE_MIN_BPM:
            raise UsageError(f"{where}, narrower than {HR_ZONE_MIN_BPM} bpm")
        zones[step.index] = zone
    return HeartRatePrescription(maximum, limit, resting_hr, zones)


# ------------------------------------------------------------ runner settings


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """The runner's own figures (``runner.toml``): a measured maximum, a resting rate."""

    max_hr: int | None = None
    resting_hr: int | None = None


def runner_settings_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_CONFIG_HOME/retrorun/runner.toml`` (``~/.config`` without it); None when
    there is neither (no home: no settings)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME")
    if base:
        return Path(base) / "retrorun" / RUNNER_FILE
    home = env.get("HOME")
    return Path(home) / ".config" / "retrorun" / RUNNER_FILE if home else None


def load_runner_settings(path: Path | None) -> RunnerSettings:
    """Read ``path`` (a missing file is no settings); ``UsageError`` naming the file
    and the key for anything else: a typo must not pass for "no maximum"."""
    if path is None or not path.exists():
        return RunnerSettings()
    try:
        raw = path.read_bytes()[: _MAX_SETTINGS_BYTES + 1]
        if len(raw) > _MAX_SETTINGS_BYTES:
            raise UsageError(f"{path}: larger than {_MAX_SETTINGS_BYTES // 1024} KiB")
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: not a TOML file ({exc})") from exc
    values: dict[str, int] = {}
    for key, value in data.items():
        bounds = _SETTINGS_KEYS.get(key)
        if bounds is None:
            known = ", ".join(sorted(_SETTINGS_KEYS))
            raise UsageError(f"{path}: unknown key {key[:40]!r} (known: {known})")
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{path}: {key} must be a whole number of bpm")
        if not bounds[0] <= value <= bounds[1]:
            raise UsageError(
                f"{path}: {key} must be from {bounds[0]} to {bounds[1]} bpm, not {value}"
            )
        values[key] = value
    settings = RunnerSettings(**values)
    if (
        settings.max_hr is not None
        and settings.resting_hr is not None
        and settings.resting_hr >= settings.max_hr
    ):
        raise UsageError(f"{path}: resting_hr {settings.resting_hr} is not under max_hr")
    return settings
