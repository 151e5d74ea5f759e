"""The program file schema: steps, repeat blocks, progression, and the rules that protect people.

Files are written in people's units (km/h, min/km, %, "1m30s"); the plan converts to
raw FTMS integers. Structural problems are reported by pydantic with their field
path; the rules that need the whole program (the profile's backward ceiling, the
four-hour limit, progression targets) are collected by ``Program`` into one
``ProgramProblems`` so that every problem is reported with its own path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from retrorun.limits import (
    BACKWARD_INCLINE_MAX,
    BACKWARD_INCLINE_STEEP_MAX,
    DEFAULT_PROFILE,
    PROFILE_LIMITS,
    RunnerProfile,
    kmh,
    to_kmh,
)

__all__ = [
    "MAX_TOTAL_S",
    "Kind",
    "Loc",
    "Program",
    "ProgramProblems",
    "Progression",
    "Repeat",
    "Step",
    "StepOrRepeat",
    "iter_steps",
    "pace_to_kmh",
    "parse_duration",
]

MAX_TOTAL_S = 4 * 3600.0  # a program lasts at most four hours
MAX_SPEED_KMH = 25.0  # faster than any consumer treadmill
INCLINE_STEP_MAX_PCT = 2.5  # incline progression: at most +2.5 points a week (Quad Builder)

Kind = Literal["warmup", "work", "recovery", "cooldown"]
Loc = tuple[int | str, ...]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:min|m))?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?$"
)
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>[0-5]\d(?:\.\d+)?)$")
_PACE = re.compile(r"^(?P<m>\d{1,2}):(?P<s>[0-5]\d)$")


def parse_duration(value: Any) -> Any:
    """Seconds from ``90``, ``"90s"``, ``"1m30s"``, ``"2min"``, ``"1h"`` or ``"1:30"``.

    Anything that is not a number or such a string is returned unchanged, for
    pydantic to reject with its own message.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    text = value.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    match = _DURATION.match(text) or _CLOCK.match(text)
    if not text or match is None:
        raise ValueError(
            f"{value!r} is not a duration (write seconds, or '90s', '1m30s', '2min', '1:30')"
        )
    parts = match.groupdict()
    return sum(float(parts[k] or 0) * f for k, f in (("h", 3600), ("m", 60), ("s", 1)))


def pace_to_kmh(pace: str) -> float:
    """``"6:30"`` (min/km) -> km/h."""
    match = _PACE.match(pace.strip())
    if match is None:
        raise ValueError(f"{pace!r} is not a pace (write min:sec per km, like '6:30')")
    seconds = int(match["m"]) * 60 + int(match["s"])
    if seconds == 0:
        raise ValueError("a pace of 0:00 is not a speed")
    return 3600 / seconds


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_TOTAL_S)]


class Step(BaseModel):
    """One step: a direction, a length (time or distance), a speed and an incline.

    ``stop_belt = true`` makes a rest with the belt stopped (no speed): the runner
    stands, and the plan asks for a confirmation before the belt starts again.
    """

    model_config = _FROZEN

    direction: Literal["forward", "backward"]
    duration: Duration | None = None
    distance_m: float | None = Field(default=None, gt=0, le=50_000)
    speed_kmh: float | None = Field(default=None, gt=0, le=MAX_SPEED_KMH)
    pace: str | None = None
    reference_pct: float | None = Field(default=None, gt=0, le=150)
    stop_belt: bool = False
    allow_steep: bool = False
    incline_pct: float = Field(default=0.0, ge=-10, le=30)
    kind: Kind = "work"
    label: str = Field(default="", max_length=80)
    cue: str | None = Field(default=None, max_length=200)

    @field_validator("pace")
    @classmethod
    def _pace(cls, value: str | None) -> str | None:
        if value is not None and pace_to_kmh(value) > MAX_SPEED_KMH:
            raise ValueError(f"pace {value} is faster than {MAX_SPEED_KMH:g} km/h")
        return value

    @field_validator("incline_pct")
    @classmethod
    def _incline(cls, value: float, info: ValidationInfo) -> float:
        if info.data.get("direction") != "backward":
            return value
        steep = info.data.get("allow_steep", False)
        limit = BACKWARD_INCLINE_STEEP_MAX if steep else BACKWARD_INCLINE_MAX
        if round(value * 10) > limit:
            extra = "" if steep else " (up to 15 % needs allow_steep = true)"
            raise ValueError(f"backward incline {value:g} % is above {limit / 10:g} %{extra}")
        return value

    @model_validator(mode="after")
    def _one_length_one_speed(self) -> Self:
        lengths = [n for n in ("duration", "distance_m") if getattr(self, n) is not None]
        if len(lengths) != 1:
            raise ValueError("give exactly one length: duration or distance_m")
        speeds = [n for n in ("speed_kmh", "pace", "reference_pct") if getattr(self, n) is not None]
        if self.stop_belt:
            if speeds or self.distance_m is not None:
                raise ValueError("a stop_belt rest has a duration and no speed or distance")
            if self.kind != "recovery":
                raise ValueError("a stop_belt rest must be kind = 'recovery'")
        elif len(speeds) != 1:
            raise ValueError("give exactly one speed: speed_kmh, pace or reference_pct")
        return self

    @property
    def absolute_kmh(self) -> float | None:
        """The speed in km/h when the file gives one (not for ``reference_pct``)."""
        if self.speed_kmh is not None:
            return self.speed_kmh
        if self.pace is not None:
            return pace_to_kmh(self.pace)
        return None

    @property
    def speed_field(self) -> str:
        """The name of the field that sets this step's speed."""
        for name in ("speed_kmh", "pace", "reference_pct"):
            if getattr(self, name) is not None:
                return name
        return "stop_belt"


def _step_or_repeat(value: Any) -> str:
    if isinstance(value, dict) and "repeat" in value:
        return "repeat"
    if isinstance(value, Repeat):
        return "repeat"
    return "step"


class Repeat(BaseModel):
    """``repeat = N`` times its ``steps`` (which may hold repeat blocks)."""

    model_config = _FROZEN

    repeat: int = Field(ge=1, le=100)
    label: str = Field(default="", max_length=80)
    steps: tuple[StepOrRepeat, ...]

    @field_validator("steps")
    @classmethod
    def _not_empty(cls, steps: tuple[Step | Repeat, ...]) -> tuple[Step | Repeat, ...]:
        return _at_least_one(steps)


def _at_least_one(steps: tuple[Step | Repeat, ...]) -> tuple[Step | Repeat, ...]:
    # A field validator rather than min_length: pydantic reports min_length as a
    # second, confusing error whenever one of the items is invalid.
    if not steps:
        raise ValueError("give at least one step")
    return steps


StepOrRepeat = Annotated[
    Annotated[Step, Tag("step")] | Annotated[Repeat, Tag("repeat")],
    Discriminator(_step_or_repeat),
]
Repeat.model_rebuild()

#: pydantic's tags for the step union: not part of a field path.
UNION_TAGS = frozenset({"step", "repeat"})


class Progression(BaseModel):
    """One weekly progression rule; rules apply in order, each until its ``up_to``.

    ``target`` is ``duration`` (seconds added to each matching step), ``reps`` (added
    to each repeat block holding a matching step), ``speed`` (km/h) or ``incline``
    (% points). Whatever the rule says, a week never adds more than 10 % to the
    session's length (duration, reps) or to a step's speed, nor more than 2.5 points
    of incline, and the plan never goes past the backward ceiling.
    """

    model_config = _FROZEN

    target: Literal["duration", "reps", "speed", "incline"]
    by: float = Field(gt=0)
    up_to: float | None = Field(default=None, gt=0)
    kinds: tuple[Kind, ...] = Field(default=("work",), min_length=1)
    note: str = ""

    @field_validator("by", "up_to", mode="before")
    @classmethod
    def _durations(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("target") == "duration":
            return parse_duration(value)
        return value

    @field_validator("by", "up_to")
    @classmethod
    def _whole_reps(cls, value: float | None, info: ValidationInfo) -> float | None:
        if info.data.get("target") == "reps" and value is not None and value != int(value):
            raise ValueError(f"reps are whole numbers, not {value:g}")
        return value


class ProgramProblems(ValueError):
    """Problems found across a whole program, each with its own field path."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{_path(loc)}: {msg}" for loc, msg in problems))
        self.problems = problems


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def iter_steps(
    steps: tuple[Step | Repeat, ...], loc: Loc = ("steps",)
) -> Iterator[tuple[Loc, Step | Repeat]]:
    """Every step and repeat block with its path (``("steps", 2, "steps", 0)``), depth first."""
    for i, item in enumerate(steps):
        here = (*loc, i)
        yield here, item
        if isinstance(item, Repeat):
            yield from iter_steps(item.steps, (*here, "steps"))


def _length_s(steps: tuple[Step | Repeat, ...]) -> float:
    """Known length in seconds (distance steps at an absolute speed; others skipped)."""
    total = 0.0
    for item in steps:
        if isinstance(item, Repeat):
            total += item.repeat * _length_s(item.steps)
        elif item.duration is not None:
            total += item.duration
        elif item.distance_m is not None and item.absolute_kmh:
            total += item.distance_m / (item.absolute_kmh / 3.6)
    return total


class Program(BaseModel):
    """A backward-interval program as written in ``programs/*.toml``."""

    model_config = _FROZEN

    name: str = Field(min_length=1, max_length=60)
    description: str = ""
    profile: RunnerProfile = DEFAULT_PROFILE
    weeks: int | None = Field(default=None, ge=1, le=52)
    sources: tuple[str, ...] = ()
    progression: tuple[Progression, ...] = ()
    steps: tuple[StepOrRepeat, ...]

    @field_validator("steps")
    @classmethod
    def _not_empty(cls, steps: tuple[Step | Repeat, ...]) -> tuple[Step | Repeat, ...]:
        return _at_least_one(steps)

    @model_validator(mode="after")
    def _protects_people(self) -> Self:
        problems = self.problems()
        if problems:
            raise ProgramProblems(problems)
        return self

    def problems(self) -> list[tuple[Loc, str]]:
        """What breaks the rules that need the whole program (empty when none)."""
        limits = PROFILE_LIMITS[self.profile]
        ceiling = limits.backward_ceiling
        problems: list[tuple[Loc, str]] = []
        for loc, item in iter_steps(self.steps):
            if isinstance(item, Repeat) or item.direction != "backward":
                continue
            speed = item.absolute_kmh
            if speed is not None and kmh(speed) > ceiling:
                shown = f"{speed:g} km/h"
                if item.pace is not None:
                    shown = f"pace {item.pace} is {speed:.2f} km/h, which"
                message = (
                    f"{shown} exceeds the {self.profile} backward ceiling of "
                    f"{to_kmh(ceiling):.1f} km/h"
                )
                problems.append(((*loc, item.speed_field), message))
            if item.allow_steep and limits.walking_only:
                message = (
                    f"the {self.profile} profile keeps backward incline at or below "
                    f"{BACKWARD_INCLINE_MAX / 10:g} %"
                )
                problems.append(((*loc, "allow_steep"), message))
        total = _length_s(self.steps)
        if total > MAX_TOTAL_S:
            problems.append((("steps",), f"the program lasts {total / 3600:.1f} h; at most 4 h"))
        problems.extend(self._progression_problems())
        return problems

    def _progression_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        ceiling = PROFILE_LIMITS[self.profile].backward_ceiling
        for i, rule in enumerate(self.progression):
            loc: Loc = ("progression", i)
            if rule.up_to is None and i < len(self.progression) - 1:
                problems.append(((*loc, "up_to"), "only the last rule may go on without an up_to"))
            matching = [
                s
                for _, s in iter_steps(self.steps)
                if isinstance(s, Step) and s.kind in rule.kinds and not s.stop_belt
            ]
            if rule.target == "reps":
                found = any(
                    isinstance(r, Repeat)
                    and any(isinstance(s, Step) and s.kind in rule.kinds for s in r.steps)
                    for _, r in iter_steps(self.steps)
                )
            elif rule.target == "duration":
                found = any(s.duration is not None for s in matching)
            else:
                found = bool(matching)
            if not found:
                kinds = " or ".join(rule.kinds)
                message = {
                    "reps": f"no repeat block holds a {kinds} step for this rule to change",
                    "duration": f"no {kinds} step with a duration for this rule to change",
                }.get(rule.target, f"no {kinds} step for this rule to change")
                problems.append(((*loc, "target"), message))
            backward = any(s.direction == "backward" for s in matching)
            up_to = rule.up_to
            if rule.target == "speed" and backward and up_to is not None and kmh(up_to) > ceiling:
                message = (
                    f"{up_to:g} km/h exceeds the {self.profile} backward ceiling "
                    f"of {to_kmh(ceiling):.1f} km/h"
                )
                problems.append(((*loc, "up_to"), message))
            if rule.target == "incline" and backward and rule.up_to is not None:
                steep = all(s.allow_steep for s in matching if s.direction == "backward")
                limit = BACKWARD_INCLINE_STEEP_MAX if steep else BACKWARD_INCLINE_MAX
                if round(rule.up_to * 10) > limit:
                    problems.append(
                        (
                            (*loc, "up_to"),
                            f"backward incline {rule.up_to:g} % is above {limit / 10:g} %",
                        )
                    )
        return problems

    @property
    def needs_reference(self) -> bool:
        """Whether a step's speed is a percentage of the runner's reference speed."""
        return any(
            isinstance(s, Step) and s.reference_pct is not None for _, s in iter_steps(self.steps)
        )
