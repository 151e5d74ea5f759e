"""The program file schema: steps, repeat blocks, progression, and the rules that protect people.

Files are written in people's units (km/h, min/km, %, "1m30s"); the plan converts to
raw FTMS integers. Structural problems are reported by pydantic with their field
path; the rules that need the whole program (the profile's backward ceiling, the
four-hour limit, progression targets) are collected by ``Program`` into one
``ProgramProblems`` so that every problem is reported with its own path.

Hostile files cost one line, never a hang: numbers are finite and never booleans,
tables and arrays nest at most ``MAX_DEPTH`` deep and repeat blocks ``MAX_NESTING``
(checked before pydantic recurses), a program expands to at most ``MAX_STEPS``
steps (counted without expanding), and program text holds no control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
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
from retrorun.programs._text import CONTROL

__all__ = [
    "HR_FIELDS",
    "HR_ZONE_MIN_BPM",
    "MAX_DEPTH",
    "MAX_NESTING",
    "MAX_RULES",
    "MAX_STEPS",
    "MAX_TOTAL_S",
    "MAX_WEEKS",
    "Kind",
    "Loc",
    "Program",
    "ProgramProblems",
    "Progression",
    "Repeat",
    "Step",
    "StepOrRepeat",
    "expanded_count",
    "iter_steps",
    "nesting_problem",
    "pace_to_kmh",
    "parse_duration",
]

MAX_TOTAL_S = 4 * 3600.0  # a program lasts at most four hours
MAX_SPEED_KMH = 25.0  # faster than any consumer treadmill
MAX_STEPS = 5_000  # steps once repeats are expanded (a four-hour plan of 3 s steps)
MAX_NESTING = 8  # repeat blocks inside repeat blocks
MAX_DEPTH = 64  # tables and arrays inside each other, anywhere in a file
MAX_RULES = 10  # progression rules
MAX_WEEKS = 52  # a program runs for at most a year of weeks
INCLINE_MAX_PCT = 30.0  # the steepest incline a step may ask for
MAX_REPEAT = 100  # repeats of one block
INCLINE_STEP_MAX_PCT = 2.5  # incline progression: at most +2.5 points a week (Quad Builder)
HR_BPM_RANGE = (40, 240)  # a heart-rate zone in bpm lies within what a heart does
HR_PCT_RANGE = (20.0, 100.0)  # a zone as a percentage of the maximum or of the reserve
HR_ZONE_MIN_BPM = 8  # judgement: a narrower zone than this is crossed by breathing alone
HR_ZONE_MIN_PCT = 5.0  # ... and as a percentage, 5 points (7.5 bpm of a 150 bpm maximum)
HR_FIELDS = ("hr_zone", "hr_pct", "hr_reserve_pct")

Kind = Literal["warmup", "work", "recovery", "cooldown"]
Loc = tuple[int | str, ...]

# Numbers are finite, and strict where they are declared (``true`` is not 1 s,
# ``2.0`` is not 2 repeats, ``1`` is not ``true``); everything else stays lax so
# that TOML and JSON arrays and enum names validate as written.
_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
_DURATION = re.compile(
    r"^(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:min|m))?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)\s*s)?$"
)
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>[0-5]\d(?:\.\d+)?)$")
_PACE = re.compile(r"^(?P<m>\d{1,2}):(?P<s>[0-5]\d)$")
_DURATION_MAX_CHARS = 40  # "1h 59min 59.5s" is 14; longer text is not read as a duration


def _shown(value: str, limit: int = 40) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _no_control(value: str) -> str:
    found = CONTROL.search(value)
    if found is not None:
        raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed")
    return value


def _no_control_but_lines(value: str) -> str:
    for found in CONTROL.finditer(value):
        if found.group() not in "\t\n\r":
            raise ValueError(f"control character U+{ord(found.group()):04X} is not allowed")
    return value


#: One line of program text (a name, a label, a cue): no control characters.
Text = Annotated[str, AfterValidator(_no_control)]


def parse_duration(value: Any) -> Any:
    """Seconds from ``90``, ``"90s"``, ``"1m30s"``, ``"2min"``, ``"1h"`` or ``"1:30"``.

    Anything that is not a number or such a string is returned unchanged, for
    pydantic to reject with its own message.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        return value
    text = value.strip().lower()
    match = None
    if len(text) <= _DURATION_MAX_CHARS:
        try:
            return float(text)
        except ValueError:
            pass
        match = _DURATION.match(text) or _CLOCK.match(text)
    if not text or match is None:
        raise ValueError(
            f"{_shown(value)} is not a duration (write seconds, or '90s', '1m30s', '2min', '1:30')"
        )
    parts = match.groupdict()
    return sum(float(parts[k] or 0) * f for k, f in (("h", 3600), ("m", 60), ("s", 1)))


def pace_to_kmh(pace: str) -> float:
    """``"6:30"`` (min/km) -> km/h."""
    match = _PACE.match(pace.strip())
    if match is None:
        raise ValueError(f"{_shown(pace)} is not a pace (write min:sec per km, like '6:30')")
    seconds = int(match["m"]) * 60 + int(match["s"])
    if seconds == 0:
        raise ValueError("a pace of 0:00 is not a speed")
    return 3600 / seconds


def _pair(value: Any) -> Any:
    """``[low, high]`` as written, or one message that says how to write it."""
    if isinstance(value, list | tuple) and len(value) != 2:
        raise ValueError("write two values, [low, high]")
    return value


def _rising(value: tuple[float, float] | None) -> tuple[float, float] | None:
    if value is not None and not value[0] < value[1]:
        raise ValueError(f"[{value[0]:g}, {value[1]:g}]: the low value must be under the high one")
    return value


_Bpm = Annotated[int, Field(ge=HR_BPM_RANGE[0], le=HR_BPM_RANGE[1], strict=True)]
_Pct = Annotated[float, Field(ge=HR_PCT_RANGE[0], le=HR_PCT_RANGE[1], strict=True)]
_Kmh = Annotated[float, Field(gt=0, le=MAX_SPEED_KMH, strict=True)]
#: ``[low, high]`` bpm of a heart-rate zone.
BpmPair = Annotated[tuple[_Bpm, _Bpm], BeforeValidator(_pair), AfterValidator(_rising)]
#: ``[low, high]`` percent (of the maximum heart rate, or of the heart-rate reserve).
PctPair = Annotated[tuple[_Pct, _Pct], BeforeValidator(_pair), AfterValidator(_rising)]
#: ``[low, high]`` km/h: the speeds a heart-rate step may use.
KmhPair = Annotated[tuple[_Kmh, _Kmh], BeforeValidator(_pair), AfterValidator(_rising)]


Duration = Annotated[
    float, BeforeValidator(parse_duration), Field(gt=0, le=MAX_TOTAL_S, strict=True)
]


class Step(BaseModel):
    """One step: a direction, a length (time or distance), a speed and an incline.

    ``stop_belt = true`` makes a rest with the belt stopped (no speed): the runner
    stands, and the plan asks for a confirmation before the belt starts again.

    A heart-rate step holds a zone instead of a speed: ``hr_zone`` (bpm),
    ``hr_pct`` (percent of the runner's maximum) or ``hr_reserve_pct`` (percent of
    the heart-rate reserve, Karvonen: resting + pct x (maximum - resting)), one of
    them, with ``speed_range_kmh = [low, high]``, the speeds the session may use to
    hold it. Its speed field, when given, is where it starts (the range's low end
    otherwise); its length is a duration (a distance would depend on the heart).
    """

    model_config = _FROZEN

    direction: Literal["forward", "backward"]
    duration: Duration | None = None
    distance_m: float | None = Field(default=None, gt=0, le=50_000, strict=True)
    speed_kmh: float | None = Field(default=None, gt=0, le=MAX_SPEED_KMH, strict=True)
    pace: str | None = Field(default=None, max_length=8)
    reference_pct: float | None = Field(default=None, gt=0, le=150, strict=True)
    stop_belt: bool = Field(default=False, strict=True)
    allow_steep: bool = Field(default=False, strict=True)
    incline_pct: float = Field(default=0.0, ge=-10, le=INCLINE_MAX_PCT, strict=True)
    kind: Kind = "work"
    label: Text = Field(default="", max_length=80)
    cue: Text | None = Field(default=None, max_length=200)
    hr_zone: BpmPair | None = None
    hr_pct: PctPair | None = None
    hr_reserve_pct: PctPair | None = None
    speed_range_kmh: KmhPair | None = None

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
        if self.heart_rate_field is not None or self.speed_range_kmh is not None:
            self._heart_rate_step(speeds)
            return self
        if self.stop_belt:
            if speeds or self.distance_m is not None:
                raise ValueError("a stop_belt rest has a duration and no speed or distance")
            if self.kind != "recovery":
                raise ValueError("a stop_belt rest must be kind = 'recovery'")
        elif len(speeds) != 1:
            raise ValueError("give exactly one speed: speed_kmh, pace or reference_pct")
        return self

    def _heart_rate_step(self, speeds: list[str]) -> None:
        """The rules of a heart-rate step (one zone, speed bounds, a duration)."""
        zones = [n for n in HR_FIELDS if getattr(self, n) is not None]
        if len(zones) > 1:
            raise ValueError(f"give one heart-rate zone, not {' and '.join(zones)}")
        if not zones:
            raise ValueError(
                "speed_range_kmh bounds a heart-rate step: give hr_zone, hr_pct or hr_reserve_pct"
            )
        if self.speed_range_kmh is None:
            raise ValueError(
                f"a {zones[0]} step needs speed_range_kmh = [low, high], the speeds it may use"
            )
        if self.stop_belt:
            raise ValueError("a stop_belt rest has no heart-rate zone")
        if self.duration is None:
            raise ValueError("a heart-rate step has a duration, not a distance")
        if len(speeds) > 1:
            raise ValueError("give at most one starting speed: speed_kmh, pace or reference_pct")
        low, high = self.speed_range_kmh
        start = self.absolute_kmh
        if start is not None and not low <= start <= high:
            raise ValueError(
                f"the starting speed {start:g} km/h is outside speed_range_kmh [{low:g}, {high:g}]"
            )
        if self.hr_zone is not None:
            width: float = self.hr_zone[1] - self.hr_zone[0]
            if width < HR_ZONE_MIN_BPM:
                raise ValueError(
                    f"hr_zone is {width:g} bpm wide; at least {HR_ZONE_MIN_BPM} (breathing alone"
                    " moves heart rate by a few beats)"
                )
        else:
            pair = self.hr_pct or self.hr_reserve_pct
            if pair is not None and pair[1] - pair[0] < HR_ZONE_MIN_PCT:
                raise ValueError(
                    f"{zones[0]} is {pair[1] - pair[0]:g} points wide; at least {HR_ZONE_MIN_PCT:g}"
                )

    @property
    def heart_rate_field(self) -> str | None:
        """The field that sets this step's heart-rate zone (None: a speed step)."""
        for name in HR_FIELDS:
            if getattr(self, name) is not None:
                return name
        return None

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
        if self.speed_range_kmh is not None:
            return "speed_range_kmh"
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

    repeat: int = Field(ge=1, le=MAX_REPEAT, strict=True)
    label: Text = Field(default="", max_length=80)
    steps: tuple[StepOrRepeat, ...] = Field(max_length=MAX_STEPS)

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
    of incline, and the plan never goes past the backward ceiling. ``by`` and
    ``up_to`` are at most what a step may hold (4 h, 100 repeats, 25 km/h, 30 %).
    """

    model_config = _FROZEN

    target: Literal["duration", "reps", "speed", "incline"]
    by: float = Field(gt=0, strict=True)
    up_to: float | None = Field(default=None, gt=0, strict=True)
    kinds: tuple[Kind, ...] = Field(default=("work",), min_length=1, max_length=4)
    note: Text = Field(default="", max_length=200)

    @field_validator("by", "up_to", mode="before")
    @classmethod
    def _durations(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("target") == "duration":
            return parse_duration(value)
        return value

    @field_validator("by", "up_to")
    @classmethod
    def _in_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        target = info.data.get("target")
        if value is None or target not in _RULE_MAX:
            return value
        top, unit = _RULE_MAX[target]
        if value > top:
            raise ValueError(f"a {target} rule goes up to {top:g}{unit} at most, not {value:g}")
        if target == "reps" and value != int(value):
            raise ValueError(f"reps are whole numbers, not {value:g}")
        return value


#: The most a rule's ``by`` or ``up_to`` may be, per target, with its unit.
_RULE_MAX: dict[str, tuple[float, str]] = {
    "duration": (MAX_TOTAL_S, " s"),
    "reps": (MAX_REPEAT, " reps"),
    "speed": (MAX_SPEED_KMH, " km/h"),
    "incline": (INCLINE_MAX_PCT, " %"),
}


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


def expanded_count(steps: tuple[Step | Repeat, ...]) -> int:
    """How many steps ``steps`` makes once every repeat block is expanded (not expanding)."""
    return sum(
        item.repeat * expanded_count(item.steps) if isinstance(item, Repeat) else 1
        for item in steps
    )


def nesting_problem(data: Any) -> tuple[Loc, str] | None:
    """Where ``data`` (a program as plain data) nests too deep, without recursion.

    Tables and arrays nest at most ``MAX_DEPTH`` levels, repeat blocks at most
    ``MAX_NESTING``. Checked before pydantic walks the data, so a hostile file
    costs one line, not a ``RecursionError``.
    """
    stack: list[tuple[Any, Loc, int, int]] = [(data, (), 0, 0)]
    while stack:
        node, loc, depth, repeats = stack.pop()
        if isinstance(node, dict):
            if "repeat" in node:
                repeats += 1
                if repeats > MAX_NESTING:
                    return loc, f"repeat blocks nest more than {MAX_NESTING} deep"
            children: Iterable[tuple[int | str, Any]] = node.items()
        elif isinstance(node, list | tuple):
            children = enumerate(node)
        else:
            continue
        if depth >= MAX_DEPTH:
            return loc[:2], f"tables and arrays nest more than {MAX_DEPTH} deep"
        for key, child in children:
            if isinstance(child, dict | list | tuple):
                part = key if isinstance(key, int) else str(key)
                stack.append((child, (*loc, part), depth + 1, repeats))
    return None


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

    name: Text = Field(min_length=1, max_length=60)
    description: Annotated[str, AfterValidator(_no_control_but_lines)] = ""
    profile: RunnerProfile = DEFAULT_PROFILE
    weeks: int | None = Field(default=None, ge=1, le=MAX_WEEKS, strict=True)
    sources: tuple[Text, ...] = ()
    progression: tuple[Progression, ...] = Field(default=(), max_length=MAX_RULES)
    steps: tuple[StepOrRepeat, ...] = Field(max_length=MAX_STEPS)

    @model_validator(mode="before")
    @classmethod
    def _not_too_deep(cls, data: Any) -> Any:
        problem = nesting_problem(data)
        if problem is not None:
            raise ProgramProblems([problem])
        return data

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
            if item.speed_range_kmh is not None and kmh(item.speed_range_kmh[1]) > ceiling:
                message = (
                    f"{item.speed_range_kmh[1]:g} km/h exceeds the {self.profile} backward"
                    f" ceiling of {to_kmh(ceiling):.1f} km/h"
                )
                problems.append(((*loc, "speed_range_kmh"), message))
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
        count = expanded_count(self.steps)
        if count > MAX_STEPS:
            problems.append(
                (("steps",), f"the program expands to {count:,} steps; at most {MAX_STEPS:,}")
            )
        total = _length_s(self.steps)
        if count <= MAX_STEPS and total > MAX_TOTAL_S:  # one line for one cause
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
                if isinstance(s, Step)
                and s.kind in rule.kinds
                and not s.stop_belt
                # a heart-rate step's speed follows the heart: no speed rule changes it
                and not (rule.target == "speed" and s.heart_rate_field is not None)
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
    def heart_rate_fields(self) -> frozenset[str]:
        """The heart-rate zone fields its steps use (empty: a program of speeds)."""
        return frozenset(
            s.heart_rate_field
            for _, s in iter_steps(self.steps)
            if isinstance(s, Step) and s.heart_rate_field is not None
        )

    @property
    def needs_reference(self) -> bool:
        """Whether a step's speed is a percentage of the runner's reference speed."""
        return any(
            isinstance(s, Step) and s.reference_pct is not None for _, s in iter_steps(self.steps)
        )
