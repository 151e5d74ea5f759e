"""Words and numbers for people: how every guidance sink writes steps, speeds, times.

Shared by the plain console, the display, the voice, the command line and the
program charts; it reads the typed events and states of ``retrorun.events`` and
imports nothing of the sinks.
"""

from __future__ import annotations

from retrorun.events import Direction, SessionState, Status, StepInfo

__all__ = [
    "facing_words",
    "format_clock",
    "format_distance",
    "format_speed",
    "format_state",
    "format_step",
    "turn_words",
]


def format_clock(seconds: float) -> str:
    """``83`` -> ``1:23``; ``3725`` -> ``1:02:05``. Negative values count as zero."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_speed(kmh: float) -> str:
    """One decimal, or two when the speed needs them: ``2.5``, ``4.0``, ``2.25``."""
    hundredths = round(kmh * 100)
    return f"{hundredths / 100:.2f}" if hundredths % 10 else f"{hundredths / 100:.1f}"


def format_distance(metres: float) -> str:
    """``850 m`` below a kilometre, ``1.23 km`` from there."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.2f} km"


def format_step(step: StepInfo, total: int = 0, *, to: Direction | None = None) -> str:
    """``step 3/14 BACKWARD 2.5 km/h for 1:00 · work`` (1-based for people).

    A turn-around step carries no direction of its own (it is ``turning``): ``to``
    is the way the runner faces after it, when the caller knows (the next step).
    Without it the step's label says it: the plan writes that label with
    :func:`turn_words`, so a turn is named in the same words everywhere.
    """
    number = f"step {step.index + 1}/{total}" if total else f"step {step.index + 1}"
    if step.turnaround:
        what = "TURN AROUND" + (f" to face {facing_words(to)}" if to is not None else "")
        text = f"{number} {what} for {format_clock(step.duration_s)}"
        return f"{text} · {step.label}" if step.label and to is None else text
    what = f"{step.direction.upper()} {format_speed(step.speed_kmh)} km/h"
    if step.incline_pct:
        what += f" at {step.incline_pct:g} %"
    text = f"{number} {what} for {format_clock(step.duration_s)}"
    return f"{text} · {step.label}" if step.label else text


def facing_words(direction: Direction) -> str:
    """Which way the runner faces, as the turn-around cues say it.

    The one place these words live: the plan's turn-around labels and cues, the
    display and the console all name a turn through here.
    """
    return "the console" if direction is Direction.FORWARD else "the rear"


def turn_words(to: Direction) -> str:
    """``Turn around to face the console``: a turn-around named by where it ends."""
    return f"Turn around to face {facing_words(to)}"


def format_state(state: SessionState) -> str:
    """One telemetry line: direction, speed and target, the step, distance, HR."""
    hr = f"{state.heart_rate_bpm} bpm" if state.heart_rate_bpm is not None else "-- bpm"
    step = f"step {state.step + 1}"
    if state.steps_total:
        step += f"/{state.steps_total}"
    if state.step_label:
        step += f" {state.step_label}"
    speed = f"{state.direction.upper()} {format_speed(state.speed_kmh)} km/h"
    parts = [
        f"{speed} (target {format_speed(state.target_kmh)})",
        f"{step} {format_clock(state.step_remaining_s)} left",
        format_distance(state.distance_m),
        f"HR {hr}",
    ]
    if state.status is not Status.RUNNING:
        parts.append(state.status.upper())
    return " · ".join(parts)
