"""Plans: a program flattened for one runner, one week, one ceiling, with turn-arounds.

``plan`` is a pure function. It applies the week's progression, flattens repeat
blocks, resolves pace and reference speeds to 0.01 km/h, clamps backward steps to
the effective ceiling (the governor enforces it too), and inserts a turn-around at
every direction change: slow to at most 2 km/h (stop the belt for ``older-adult``
and ``rehab``), hold, and wait for the runner's confirmation.

Nothing is expanded before its size is known: the number of steps and the length
of the week's session are measured on the program's tree (repeat counts multiply),
so a plan of more than ``MAX_STEPS`` steps or four hours is refused in time
proportional to the file, not to what it would expand to.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from retrorun.errors import ProgramError, UsageError
from retrorun.events import Direction
from retrorun.guidance import turn_words
from retrorun.limits import (
    PROFILE_LIMITS,
    TURNAROUND_HOLD_S,
    TURNAROUND_SPEED,
    RunnerProfile,
    backward_incline_limit,
    effective_backward_ceiling,
    kmh,
    to_kmh,
)
from retrorun.programs._schema import (
    INCLINE_STEP_MAX_PCT,
    MAX_SPEED_KMH,
    MAX_STEPS,
    MAX_TOTAL_S,
    MAX_WEEKS,
    Program,
    Progression,
    Repeat,
    Step,
    iter_steps,
)

__all__ = ["WEEKLY_GROWTH_MAX", "HeartRateTarget", "Plan", "PlanStep", "plan"]

WEEKLY_GROWTH_MAX = 0.10  # progression never adds more than 10 % in a week


@dataclass(frozen=True, slots=True)
class HeartRateTarget:
    """A step's heart-rate zone as the program wrote it; ``retrorun.hr`` turns it into
    bpm with the runner's maximum (and resting rate, for ``reserve``)."""

    basis: Literal["bpm", "max", "reserve"]  # hr_zone, hr_pct, hr_reserve_pct
    low: float
    high: float

    @property
    def field(self) -> str:
        """The program file's name for it."""
        return {"bpm": "hr_zone", "max": "hr_pct", "reserve": "hr_reserve_pct"}[self.basis]

    @classmethod
    def of(cls, step: Step) -> HeartRateTarget | None:
        """The zone ``step`` sets, if any."""
        if step.hr_zone is not None:
            return cls("bpm", step.hr_zone[0], step.hr_zone[1])
        if step.hr_pct is not None:
            return cls("max", step.hr_pct[0], step.hr_pct[1])
        if step.hr_reserve_pct is not None:
            return cls("reserve", step.hr_reserve_pct[0], step.hr_reserve_pct[1])
        return None


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One step of a plan, in raw units (speed 0.01 km/h, incline 0.1 %).

    A heart-rate step has a ``heart_rate`` zone and a ``speed_range`` (its bounds,
    already under the ceiling and the device maximum); ``speed`` is where it starts.
    """

    index: int
    kind: str  # warmup | work | recovery | cooldown | turnaround
    direction: Direction  # TURNING for a turn-around step
    to_direction: Direction | None  # turn-around only: the direction after it
    speed: int  # 0.01 km/h (turn-around: the slow speed, 0 when stop_belt)
    incline: int  # 0.1 %
    duration_s: float
    label: str
    cue: str | None  # what the voice says
    turnaround: bool
    stop_belt: bool
    needs_confirm: bool
    heart_rate: HeartRateTarget | None = None
    speed_range: tuple[int, int] | None = None  # 0.01 km/h, a heart-rate step's bounds

    @property
    def distance_m(self) -> float:
        """Metres of belt under the runner during this step."""
        return self.speed / 360 * self.duration_s


@dataclass(frozen=True, slots=True)
class Plan:
    """A program expanded for one runner: every step, and the totals."""

    program: str
    profile: RunnerProfile
    ceiling: int  # effective backward ceiling, 0.01 km/h
    steps: tuple[PlanStep, ...]
    total_s: float
    distance_m: float
    backward_s: float
    backward_m: float


@dataclass(frozen=True, slots=True)
class _Context:
    profile: RunnerProfile
    ceiling: int
    device_max: int | None
    reference_kmh: float | None
    source: str


def _base_kmh(step: Step, ctx: _Context) -> float:
    """The step's speed in km/h before progression (0 for a stopped-belt rest)."""
    if step.stop_belt:
        return 0.0
    absolute = step.absolute_kmh
    if absolute is not None:
        return absolute
    if step.reference_pct is None:  # the schema guarantees one speed
        raise RuntimeError("internal error: a step with neither a speed nor reference_pct")
    if ctx.reference_kmh is None:
        raise ProgramError(
            f"{ctx.source}: reference_pct steps need the runner's reference speed "
            "(--reference-kmh KMH)"
        )
    return ctx.reference_kmh * step.reference_pct / 100


def _matches(rule: Progression, step: Step) -> bool:
    # A heart-rate step's speed follows the heart: no speed rule changes it.
    if rule.target == "speed" and step.heart_rate_field is not None:
        return False
    return step.kind in rule.kinds and not step.stop_belt


def _holds(rule: Progression, block: Repeat) -> bool:
    return any(isinstance(s, Step) and _matches(rule, s) for s in block.steps)


@dataclass(frozen=True, slots=True)
class _Raw:
    step: Step
    direction: Direction
    speed: int
    incline: int
    duration_s: float
    speed_range: tuple[int, int] | None = None


def _bounds(step: Step, ctx: _Context) -> tuple[int, int] | None:
    """A heart-rate step's speed bounds, under the ceiling (backward) or the device max."""
    if step.speed_range_kmh is None:
        return None
    low, high = kmh(step.speed_range_kmh[0]), kmh(step.speed_range_kmh[1])
    if step.direction == "backward":
        high = min(high, ctx.ceiling)
    elif ctx.device_max:
        high = min(high, ctx.device_max)
    return min(low, high), high


def _resolve(
    step: Step, rules: Sequence[Progression], amounts: Sequence[float], ctx: _Context
) -> _Raw:
    extra_s = extra_kmh = extra_pct = 0.0
    for rule, amount in zip(rules, amounts, strict=True):
        if amount and _matches(rule, step):
            if rule.target == "duration" and step.duration is not None:
                extra_s += amount
            elif rule.target == "speed":
                extra_kmh += amount
            elif rule.target == "incline":
                extra_pct += amount
    backward = step.direction == "backward"
    speed = 0
    bounds = _bounds(step, ctx)
    if bounds is not None:
        has_speed = step.speed_field != "speed_range_kmh"
        start = max(1, kmh(_base_kmh(step, ctx))) if has_speed else bounds[0]
        speed = min(max(start, bounds[0]), bounds[1])
    elif not step.stop_belt:
        speed = max(1, kmh(_base_kmh(step, ctx) + extra_kmh))
        if backward:
            speed = min(speed, ctx.ceiling)
        elif ctx.device_max:
            speed = min(speed, ctx.device_max)
    incline = round((step.incline_pct + extra_pct) * 10)
    if backward:
        incline = min(incline, backward_incline_limit(ctx.profile, allow_steep=step.allow_steep))
    if step.duration is not None:
        duration = step.duration + extra_s
    else:
        if step.distance_m is None:  # the schema guarantees one length
            raise RuntimeError("internal error: a step with neither a duration nor distance_m")
        duration = step.distance_m / (speed / 360)
    return _Raw(step, Direction(step.direction), speed, incline, duration, bounds)


def _flatten(
    items: Sequence[Step | Repeat],
    rules: Sequence[Progression],
    amounts: Sequence[float],
    ctx: _Context,
) -> Iterator[_Raw]:
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.repeat + _extra_reps(item, rules, amounts)):
                yield from _flatten(item.steps, rules, amounts, ctx)
        else:
            yield _resolve(item, rules, amounts, ctx)


def _extra_reps(block: Repeat, rules: Sequence[Progression], amounts: Sequence[float]) -> int:
    return sum(
        round(a)
        for r, a in zip(rules, amounts, strict=True)
        if r.target == "reps" and _holds(r, block)
    )


def _measure(
    items: Sequence[Step | Repeat],
    rules: Sequence[Progression],
    amounts: Sequence[float],
    ctx: _Context,
) -> tuple[int, float]:
    """``(steps, seconds)`` that ``_flatten`` would yield, without expanding anything."""
    count, seconds = 0, 0.0
    for item in items:
        if isinstance(item, Repeat):
            times = item.repeat + _extra_reps(item, rules, amounts)
            inner_count, inner_s = _measure(item.steps, rules, amounts, ctx)
            count += times * inner_count
            seconds += times * inner_s
        else:
            count += 1
            seconds += _step_s(item, rules, amounts, ctx)
    return count, seconds


def _step_s(
    step: Step, rules: Sequence[Progression], amounts: Sequence[float], ctx: _Context
) -> float:
    """``_resolve(step, ...).duration_s``, computed without the speed when it is not needed."""
    if step.duration is None:
        return _resolve(step, rules, amounts, ctx).duration_s
    extra_s = 0.0
    for rule, amount in zip(rules, amounts, strict=True):
        if amount and rule.target == "duration" and _matches(rule, step):
            extra_s += amount
    return step.duration + extra_s


def _session_s(program: Program, amounts: Sequence[float], ctx: _Context) -> float:
    return _measure(program.steps, program.progression, amounts, ctx)[1]


def _room(program: Program, index: int, amounts: Sequence[float], ctx: _Context) -> float:
    """How much more rule ``index`` may add before its ``up_to`` (or the ceiling)."""
    rule = program.progression[index]
    amount = amounts[index]
    steps = [s for _, s in iter_steps(program.steps) if isinstance(s, Step) and _matches(rule, s)]
    room = math.inf
    if rule.target == "duration":
        current = max((s.duration for s in steps if s.duration is not None), default=0.0)
    elif rule.target == "reps":
        blocks = [b for _, b in iter_steps(program.steps) if isinstance(b, Repeat)]
        current = float(max((b.repeat for b in blocks if _holds(rule, b)), default=0))
    elif rule.target == "speed":
        current = max((_base_kmh(s, ctx) for s in steps), default=0.0)
        back = [_base_kmh(s, ctx) for s in steps if s.direction == "backward"]
        if back:
            room = to_kmh(ctx.ceiling) - max(back) - amount
        else:
            room = MAX_SPEED_KMH - current - amount
    else:
        current = max((s.incline_pct for s in steps), default=0.0)
        facing_back = [s for s in steps if s.direction == "backward"]
        if facing_back:
            steep = all(s.allow_steep for s in facing_back)
            limit = backward_incline_limit(ctx.profile, allow_steep=steep) / 10
            room = limit - max(s.incline_pct for s in facing_back) - amount
    if rule.up_to is not None:
        room = min(room, rule.up_to - current - amount)
    return room


def _capped(program: Program, index: int, inc: float, amounts: list[float], ctx: _Context) -> float:
    """``inc`` cut so that the week adds at most 10 % (2.5 points of incline)."""
    rule = program.progression[index]
    if rule.target == "incline":
        return math.floor(min(inc, INCLINE_STEP_MAX_PCT) * 10 + 1e-9) / 10
    if rule.target == "speed":
        steps = [
            s for _, s in iter_steps(program.steps) if isinstance(s, Step) and _matches(rule, s)
        ]
        slowest = min(_base_kmh(s, ctx) for s in steps) + amounts[index]
        return math.floor(min(inc, slowest * WEEKLY_GROWTH_MAX) * 100 + 1e-9) / 100
    before = _session_s(program, amounts, ctx)
    allowed = before * (1 + WEEKLY_GROWTH_MAX)

    def total_with(extra: float) -> float:
        trial = list(amounts)
        trial[index] += extra
        return _session_s(program, trial, ctx)

    if rule.target == "reps":
        # The most whole reps that keep the week within 10 %; the session only
        # grows with reps, so a bisection finds it in a few measures.
        low, high = 0, math.floor(inc)
        while low < high:
            middle = (low + high + 1) // 2
            if total_with(middle) > allowed + 1e-9:
                high = middle - 1
            else:
                low = middle
        return float(low)
    slope = total_with(1.0) - before  # seconds added per second of progression
    if slope > 0:
        inc = min(inc, (allowed - before) / slope)
    return float(math.floor(inc + 1e-9))


def _progression_amounts(program: Program, week: int, ctx: _Context) -> list[float]:
    """What each progression rule adds by ``week`` (week 1 adds nothing)."""
    amounts = [0.0] * len(program.progression)
    # A rule's room is what it may add in all, less what it has added so far.
    headroom = [_room(program, i, amounts, ctx) for i in range(len(program.progression))]
    for _ in range(week - 1):
        added = 0.0
        for index, rule in enumerate(program.progression):
            room = headroom[index] - amounts[index]
            if room <= 1e-9:
                continue
            added = _capped(program, index, min(rule.by, room), amounts, ctx)
            amounts[index] += added
            break
        if not added:
            break  # nothing changed this week, so nothing changes in any later week
    return amounts


def _turnaround(index: int, before: PlanStep, after: _Raw, ctx: _Context) -> PlanStep:
    stop = (
        PROFILE_LIMITS[ctx.profile].stop_at_turnaround or before.stop_belt or after.step.stop_belt
    )
    speed = 0 if stop else min(TURNAROUND_SPEED, before.speed, after.speed, ctx.ceiling)
    # The words every sink uses for this turn (``retrorun.guidance``), so the label,
    # the cue, the display and the console never name it differently.
    turn = turn_words(after.direction)
    how = "The belt is stopping." if stop else "Slowing down."
    cue = f"{how} Hold the rails and {turn[0].lower()}{turn[1:]}."
    return PlanStep(
        index=index,
        kind="turnaround",
        direction=Direction.TURNING,
        to_direction=after.direction,
        speed=speed,
        incline=0,
        duration_s=TURNAROUND_HOLD_S,
        label=turn,
        cue=cue + " Confirm when you are ready.",
        turnaround=True,
        stop_belt=stop,
        needs_confirm=True,
    )


def plan(
    program: Program,
    *,
    profile: RunnerProfile | None = None,
    ceiling: int | None = None,
    reference_kmh: float | None = None,
    week: int = 1,
    device_max: int | None = None,
    unlock_fast: bool = False,
) -> Plan:
    """Expand ``program`` for a runner: week ``week``, turn-arounds inserted, totals.

    ``profile`` defaults to the program's. ``ceiling`` is a user ceiling in 0.01 km/h
    (it may only lower the profile's, or the unlocked one with ``unlock_fast``;
    ``UsageError`` otherwise) and ``device_max``
    the treadmill's maximum; backward steps above their minimum are clamped to it.
    ``reference_kmh`` resolves ``reference_pct`` speeds (``ProgramError`` when
    needed and missing).
    """
    runner = profile or program.profile
    if week < 1:
        raise UsageError(f"--week {week}: weeks start at 1")
    if program.weeks is None and not program.progression and week > 1:
        # Neither weeks nor progression: a week asked of it would print or run
        # week 1 under another name.
        raise UsageError(
            f"--week {week}: {program.name} has no weeks "
            "(no progression: every session is the same)"
        )
    if program.weeks is not None and week > program.weeks:
        raise UsageError(f"--week {week}: {program.name} runs for {program.weeks} weeks")
    if week > MAX_WEEKS:
        raise UsageError(f"--week {week}: a program runs for at most {MAX_WEEKS} weeks")
    if reference_kmh is not None and not 0 < reference_kmh <= MAX_SPEED_KMH:
        raise UsageError(f"--reference-kmh {reference_kmh:g}: give a speed from 0 to 25 km/h")
    effective = effective_backward_ceiling(
        runner, user_ceiling=ceiling, device_max=device_max, unlock_fast=unlock_fast
    )
    ctx = _Context(
        runner,
        effective,
        device_max if device_max and device_max > 0 else None,
        reference_kmh,
        program.name,
    )
    amounts = _progression_amounts(program, week, ctx)
    count, seconds = _measure(program.steps, program.progression, amounts, ctx)
    if count > MAX_STEPS:
        raise ProgramError(
            f"{program.name}: this plan expands to {count:,} steps; at most {MAX_STEPS:,}"
        )
    if seconds > MAX_TOTAL_S:
        raise ProgramError(f"{program.name}: this plan lasts {seconds / 3600:.1f} h; at most 4 h")

    steps: list[PlanStep] = []
    for raw in _flatten(program.steps, program.progression, amounts, ctx):
        if steps and raw.direction != steps[-1].direction:
            steps.append(_turnaround(len(steps), steps[-1], raw, ctx))
        step = raw.step
        steps.append(
            PlanStep(
                index=len(steps),
                kind=step.kind,
                direction=raw.direction,
                to_direction=None,
                speed=raw.speed,
                incline=raw.incline,
                duration_s=raw.duration_s,
                label=step.label or f"{step.kind.capitalize()} {step.direction}",
                cue=step.cue,
                turnaround=False,
                stop_belt=step.stop_belt,
                needs_confirm=step.stop_belt,
                heart_rate=HeartRateTarget.of(step),
                speed_range=raw.speed_range,
            )
        )
    return _totals(program, runner, effective, steps)


def _totals(program: Program, runner: RunnerProfile, ceiling: int, steps: list[PlanStep]) -> Plan:
    total = sum(s.duration_s for s in steps)
    if total > MAX_TOTAL_S:
        raise ProgramError(f"{program.name}: this plan lasts {total / 3600:.1f} h; at most 4 h")
    backward = [s for s in steps if s.direction is Direction.BACKWARD and not s.stop_belt]
    return Plan(
        program=program.name,
        profile=runner,
        ceiling=ceiling,
        steps=tuple(steps),
        total_s=total,
        distance_m=sum(s.distance_m for s in steps),
        backward_s=sum(s.duration_s for s in backward),
        backward_m=sum(s.distance_m for s in backward),
    )
