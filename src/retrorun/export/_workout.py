"""A plan as a FIT workout file, for a runner who follows it on a watch.

Every plan step becomes a ``workout_step`` with a time duration (milliseconds, as
FIT counts them) and, when the belt moves, a speed target: ``custom_target_value_low``
and ``_high`` in m/s x 1000, from 0.3 km/h under the step's speed up to the step's
speed itself, so a watch never urges a runner past what the plan (and so the
backward ceiling) allows. A stopped belt has no target (``open``).

Runs of steps that repeat are written once and followed by a repeat step
(``repeat_until_steps_cmplt``: ``duration_value`` is the index of the block's first
step, ``target_value`` how many times the block is done in all), the way watches
show "3 x". The plan is already flat (repeat blocks expanded, turn-arounds
inserted, the week's progression applied), so repeats are found on it: what the
watch shows is exactly what ``retrorun plan`` prints.

FIT has no direction: backward steps say it in their name (and the turn-arounds'
labels already name the way to face).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from garmin_fit_sdk import Encoder

from retrorun.events import Direction, StepInfo
from retrorun.export._common import MESG, fit_text, serial_number, workout_step
from retrorun.limits import to_kmh
from retrorun.programs import Plan, PlanStep

__all__ = ["MAX_BLOCK", "fit_workout", "repeats", "workout_steps"]

MAX_BLOCK = 20  # steps in one repeated block: what a watch shows, and a bound on the search
_INTENSITY = {
    "warmup": "warmup",
    "work": "active",
    "recovery": "recovery",
    "cooldown": "cooldown",
    "turnaround": "rest",
}


def _key(step: PlanStep) -> tuple[object, ...]:
    """What makes two plan steps the same step on a watch (everything but the index)."""
    return (
        step.kind,
        step.direction,
        step.to_direction,
        step.speed,
        step.incline,
        round(step.duration_s, 3),
        step.label,
        step.cue,
        step.stop_belt,
    )


def repeats(keys: Sequence[object]) -> Iterator[tuple[int, int, int]]:
    """Cover ``keys`` with ``(start, length, times)`` blocks, left to right.

    At each position the block (of at most ``MAX_BLOCK`` steps) that covers the most
    steps by repeating wins, the shorter one on a tie; a step that repeats nothing
    is a block of one, once.
    """
    i, n = 0, len(keys)
    while i < n:
        best = (1, 1)
        for length in range(1, min(MAX_BLOCK, (n - i) // 2) + 1):
            times = 1
            block = keys[i : i + length]
            while keys[i + times * length : i + (times + 1) * length] == block:
                times += 1
            if times > 1 and length * times > best[0] * best[1]:
                best = (length, times)
        yield i, best[0], best[1]
        i += best[0] * best[1]


def _info(step: PlanStep) -> StepInfo:
    return StepInfo(
        index=step.index,
        direction=step.direction,
        speed_kmh=to_kmh(step.speed),
        duration_s=step.duration_s,
        label=step.label,
        cue=step.cue or "",
        turnaround=step.turnaround,
    )


def workout_steps(result: Plan) -> list[dict[str, Any]]:
    """The plan's ``workout_step`` messages, with its repeats folded."""
    steps = list(result.steps)
    out: list[dict[str, Any]] = []
    for start, length, times in repeats([_key(s) for s in steps]):
        first = len(out)
        for step in steps[start : start + length]:
            out.append(
                workout_step(
                    len(out),
                    _info(step),
                    intensity=_INTENSITY.get(step.kind, "active"),
                    notes=step.cue,
                )
            )
        if times > 1:
            out.append(
                {
                    "mesg_num": MESG["WORKOUT_STEP"],
                    "message_index": len(out),
                    "duration_type": "repeat_until_steps_cmplt",
                    "duration_value": first,
                    "target_value": times,
                }
            )
    return out


def fit_workout(result: Plan, *, name: str | None = None, now: dt.datetime | None = None) -> bytes:
    """The plan as a FIT workout file (``file_id`` type workout, running on a treadmill)."""
    created = now or dt.datetime.now(dt.UTC)
    steps = workout_steps(result)
    enc = Encoder()
    title = name or result.program
    enc.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": "workout",
            "manufacturer": "development",
            "product": 0,
            "product_name": "retrorun",
            "serial_number": serial_number(f"{title}/{created.isoformat()}"),
            "time_created": created,
        }
    )
    backward = sum(s.duration_s for s in result.steps if s.direction is Direction.BACKWARD)
    enc.write_mesg(
        {
            "mesg_num": MESG["WORKOUT"],
            "wkt_name": fit_text(title, 50),
            "sport": "running",
            "sub_sport": "treadmill",
            "num_valid_steps": len(steps),
            "wkt_description": fit_text(
                f"Backward running with retrorun: {round(backward / 60)} min facing back"
            ),
        }
    )
    for mesg in steps:
        enc.write_mesg(mesg)
    return bytes(enc.close())
