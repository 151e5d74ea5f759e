"""A session as a picture a coach can hand to a runner.

Speed over time with the backward parts shaded, the limit drawn only where one
applies (facing backward: the ceiling; turning: the turn's own speed), each
step's target, turn-arounds and safety events marked, heart rate on its own
axis. Drawn as the plan's picture is: matplotlib imported only when asked for,
its object API on the Agg canvas (no pyplot, no global backend switch).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from retrorun.guidance import format_clock
from retrorun.programs import printable
from retrorun.record import SessionSummary
from retrorun.report._figures import (
    ending,
    event_groups,
    heart_rate_source,
    limits_in_force,
    local_start,
)

__all__ = ["render_report_png"]

_BACKWARD = "#cfe3f7"
_TURN = "#f6c667"
_SPEED = "#1f4e79"
_TARGET = "#7f7f7f"
_CEILING = "#b22222"
_HEART = "#8e44ad"
_EVENT = "#d62728"
_MAX_LABELS = 8  # safety events named on the chart; more are only marked


def _runs(summary: SessionSummary) -> list[tuple[str, float, float]]:
    """``(direction, start, end)`` for each run of records facing one way."""
    runs: list[tuple[str, float, float]] = []
    samples = summary.samples
    for here, after in itertools.pairwise(samples):
        if runs and runs[-1][0] == here.direction and runs[-1][2] == here.t:
            runs[-1] = (here.direction, runs[-1][1], after.t)
        else:
            runs.append((here.direction, here.t, after.t))
    return runs


def _tick_step(seconds: float) -> float:
    """A round m:ss step giving at most a dozen ticks."""
    for step in (10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if seconds / step <= 12:
            return step
    return 3600


def _title(summary: SessionSummary) -> str:
    started = local_start(summary)
    when = f", {started:%Y-%m-%d %H:%M}" if started is not None else ""
    profile = f" — {summary.profile}" if summary.profile else ""
    return printable(f"{summary.program or 'session'}{profile}{when}")


def _footer(summary: SessionSummary) -> str:
    parts = [
        f"time {format_clock(summary.duration_s)}, {summary.distance_m:.0f} m",
        f"backward {format_clock(summary.backward_s)}, {summary.backward_m:.0f} m",
        f"top backward {summary.max_backward_kmh:.1f} km/h (ceiling {summary.ceiling_kmh:.1f})",
    ]
    if summary.heart_rate_mean is not None:
        source = heart_rate_source(summary)
        where = f" ({source})" if source else ""
        parts.append(
            f"heart rate {summary.heart_rate_mean:.0f} avg, {summary.heart_rate_max} max{where}"
        )
    parts.append(f"ended: {ending(summary)}")
    return " · ".join(parts)


def render_report_png(summary: SessionSummary, path: str | Path) -> Path:
    """Draw the session into a PNG at ``path`` and return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    out = Path(path)
    fig = Figure(figsize=(10, 5.2), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    samples = summary.samples
    times = [s.t for s in samples]
    speeds = [s.speed_kmh for s in samples]
    end = max([summary.duration_s, *times, 1.0])

    for direction, start, stop in _runs(summary):
        if direction == "backward":
            ax.axvspan(start, stop, color=_BACKWARD, lw=0)
        elif direction == "turning":
            ax.axvspan(start, stop, color=_TURN, alpha=0.8, lw=0)
    handles: list[object] = []
    for step in summary.steps:
        if step.turnaround:
            continue
        ax.hlines(step.target_kmh, step.started_t, step.ended_t or end, color=_TARGET, lw=1, ls=":")
    handles.append(Line2D([], [], color=_TARGET, lw=1, ls=":", label="step target"))
    (speed_line,) = ax.plot(
        times, speeds, drawstyle="steps-post", color=_SPEED, lw=1.8, label="belt speed"
    )
    handles.insert(0, speed_line)
    (limit_line,) = ax.plot(
        times,
        [math.nan if x is None else x for x in limits_in_force(summary)],
        drawstyle="steps-post",
        color=_CEILING,
        ls="--",
        lw=1.2,
        label=f"limit: {summary.ceiling_kmh:.1f} km/h ceiling backward, the turn's speed turning",
    )
    handles.append(limit_line)
    handles += [
        Patch(color=_BACKWARD, label="facing backward"),
        Patch(color=_TURN, label="turning around"),
    ]
    for turn in summary.turnarounds:
        ax.axvline(turn.started_t, color="#b07d12", lw=0.8)
    if summary.turnarounds:
        handles.append(Line2D([], [], color="#b07d12", lw=0.8, label="turn-around starts"))

    top = max([*speeds, summary.ceiling_kmh, *(s.target_kmh for s in summary.steps), 1.0])
    ax.set_ylim(0, top * 1.3 + 0.3)  # room for the event marks
    groups = event_groups(summary.safety_events)
    for group in groups:
        ax.plot(group.times, [top * 1.12] * group.count, ls="", marker="v", color=_EVENT, ms=7)
    kinds: dict[str, list[float]] = {}
    for group in groups:
        kinds.setdefault(group.kind, []).extend(group.times)
    if len(kinds) <= _MAX_LABELS:
        for number, (kind, times) in enumerate(kinds.items()):
            ax.annotate(
                kind + (f" ({len(times)})" if len(times) > 1 else ""),
                (min(times), top * 1.12),
                xytext=(5, -3 + 8 * (number % 3)),
                textcoords="offset points",
                fontsize=7,
                color=_EVENT,
            )
    if groups:
        handles.append(Line2D([], [], ls="", marker="v", color=_EVENT, label="safety event"))

    heart = [(s.t, s.heart_rate_bpm) for s in samples if s.heart_rate_bpm]
    if heart:
        hr_ax = ax.twinx()
        (hr_line,) = hr_ax.plot(
            [t for t, _ in heart],
            [bpm for _, bpm in heart],
            color=_HEART,
            lw=1,
            alpha=0.8,
            label=_heart_label(summary),
        )
        hr_ax.set_ylabel("heart rate (bpm)", color=_HEART)
        low = min(bpm for _, bpm in heart if bpm is not None)
        high = max(bpm for _, bpm in heart if bpm is not None)
        hr_ax.set_ylim(max(low - 40, 0), high + (high - low) * 0.8 + 20)
        handles.append(hr_line)
    if not samples:
        ax.text(0.5, 0.5, "no telemetry in this record", ha="center", transform=ax.transAxes)

    ax.set_xlim(0, end)
    ax.xaxis.set_major_locator(MultipleLocator(_tick_step(end)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: format_clock(value)))
    ax.set_xlabel("time (m:ss)")
    ax.set_ylabel("belt speed (km/h)", color=_SPEED)
    ax.grid(axis="y", alpha=0.3)
    fig.legend(handles=handles, loc="outside lower center", fontsize=7, ncols=5, frameon=False)
    fig.suptitle(_title(summary), x=0.01, ha="left", fontsize=12)
    ax.set_title(_footer(summary), loc="left", fontsize=8, color="#444444")
    fig.savefig(out)
    return out


def _heart_label(summary: SessionSummary) -> str:
    """The heart-rate line's legend, naming its source (a strap, the treadmill)."""
    source = heart_rate_source(summary)
    return f"heart rate ({source})" if source else "heart rate"
