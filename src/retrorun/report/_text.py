"""The report as text: the summary at the end of ``retrorun run`` and ``retrorun report``.

One function, ``report_lines``, for both: the live one gets the summary the
recorder folded while the session wrote its record, the offline one the same
fold of the file. Times read m:ss; text from a record (labels, messages) is
shown through ``printable``, never obeyed by the terminal.
"""

from __future__ import annotations

from retrorun.guidance import format_clock, format_distance, format_speed
from retrorun.programs import printable
from retrorun.record import SessionSummary, TurnRecord
from retrorun.report._figures import (
    StepRow,
    ending,
    event_groups,
    heart_rate_source,
    local_start,
    pace_s_per_km,
    step_rows,
    tenths_clock,
)

__all__ = ["report_lines"]

_LABEL = 24  # characters of a step's label in the table


def report_lines(summary: SessionSummary) -> list[str]:
    """The whole report as lines for a terminal."""
    out = [_headline(summary)]
    if summary.belt_stopped is False and not summary.stop_acknowledged:
        out.append(
            "  The belt could not be confirmed stopped: it may still be moving."
            " Stop it at the treadmill's console or pull the safety key."
        )
    out += _about(summary)
    out += _totals(summary)
    out += _steps(summary)
    out += _turns(summary.turnarounds)
    out += _safety(summary)
    return [printable(line) for line in out]


def _headline(summary: SessionSummary) -> str:
    belt = ""
    if summary.belt_stopped:
        belt = ", belt stopped"
    elif summary.stop_acknowledged:
        belt = ", stop commanded, belt not yet seen stopped"
    elif summary.belt_stopped is not None:
        belt = ", belt NOT confirmed stopped"
    name = summary.program or "(no program: the record has no start line)"
    return f"{name}: {ending(summary)}{belt}"


def _about(summary: SessionSummary) -> list[str]:
    parts = [summary.profile]
    if summary.device:
        parts.append(f"{summary.device}{' (simulated)' if summary.simulated else ''}")
    started = local_start(summary)
    if started is not None:
        parts.append(f"started {started:%Y-%m-%d %H:%M}")
    parts = [p for p in parts if p]
    return [f"  {', '.join(parts)}"] if parts else []


def _pace(seconds: float, metres: float) -> str:
    pace = pace_s_per_km(seconds, metres)
    return "" if pace is None else f", pace {format_clock(pace)} /km"


def _totals(summary: SessionSummary) -> list[str]:
    out = [
        (
            f"  time {format_clock(summary.duration_s)}, "
            f"distance {format_distance(summary.distance_m)}"
            f"{_pace(summary.duration_s, summary.distance_m)}, "
            f"energy ~{summary.energy_kcal:.0f} kcal"
        ),
        (
            f"  backward {format_clock(summary.backward_s)} and "
            f"{format_distance(summary.backward_m)}"
            f"{_pace(summary.backward_s, summary.backward_m)}; top speed "
            f"{summary.max_backward_kmh:.1f} km/h against a ceiling of "
            f"{summary.ceiling_kmh:.1f} km/h"
        ),
    ]
    if summary.over_ceiling_s > 0:
        out.append(f"  over the ceiling for {tenths_clock(summary.over_ceiling_s)}")
    mean = summary.heart_rate_mean
    if mean is not None:
        source = heart_rate_source(summary)
        where = f", from the {source}" if source else ""
        out.append(
            f"  heart rate average {mean:.0f} bpm, maximum {summary.heart_rate_max} bpm{where}"
        )
    return out


def _row(row: StepRow) -> str:
    label = row.label if len(row.label) <= _LABEL else row.label[: _LABEL - 1] + "…"
    target = "stopped" if row.target_kmh == 0 else f"{format_speed(row.target_kmh)} km/h"
    head = (
        f"  {row.index + 1:>3}  {label:<{_LABEL}}  {row.direction:<8}  "
        f"{target:>9}  {format_clock(row.planned_s):>5}"
    )
    record = row.record
    if record is None:
        return f"{head}  not reached"
    mean = record.mean_kmh
    actual = "—" if mean is None else f"{mean:.1f} km/h"
    tail = "  cut short" if not record.done else ""
    return (
        f"{head}  {actual:>9}  {format_clock(record.time_s):>5}"
        f"  {format_clock(record.at_speed_s):>9}{tail}"
    )


def _steps(summary: SessionSummary) -> list[str]:
    rows = step_rows(summary)
    if not rows:
        return []
    done = sum(1 for row in rows if row.state == "done")
    header = (
        f"  {'#':>3}  {'step':<{_LABEL}}  {'facing':<8}  {'target':>9}  {'for':>5}"
        f"  {'mean':>9}  {'time':>5}  {'at target':>9}"
    )
    return [f"  steps: {done} of {len(rows)} done", header, *(_row(row) for row in rows)]


def _turn(turn: TurnRecord) -> str:
    how = (
        "on a stopped belt"
        if turn.stop_belt or turn.limit_kmh == 0
        else (f"at {format_speed(turn.limit_kmh)} km/h")
    )
    face = f"to face {turn.to}" if turn.to else "turn-around"
    took = "not finished" if turn.took_s is None else f"took {format_clock(turn.took_s)}"
    return f"    {format_clock(turn.started_t):>6}  {face} {how}: {took}"


def _turns(turns: list[TurnRecord]) -> list[str]:
    if not turns:
        return []
    return [f"  turn-arounds ({len(turns)}):", *(_turn(turn) for turn in turns)]


def _safety(summary: SessionSummary) -> list[str]:
    groups = event_groups(summary.safety_events)
    if not groups:
        return ["  no safety events"]
    return [
        f"  safety events ({len(summary.safety_events)}):",
        *(f"  {group.text()}" for group in groups),
    ]
