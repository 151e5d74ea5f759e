"""A plan as a picture a coach can hand out: speed over time, each step named.

Backward time is shaded, turn-arounds drawn at least wide enough to see (a 12 s
turn in a 40 min session would otherwise be a hairline), the limit drawn only
where one applies (facing backward the ceiling, turning the turn's own speed,
forward none: the same rule as a session report's chart), incline on a second
axis. The legend names only what the picture shows, and the title says the week
and the runner profile the plan was made for.

matplotlib is imported here only when a picture is asked for, and used through its
object API with the Agg canvas (no pyplot, no global backend switch). The picture
is deterministic: matplotlib's defaults and its own DejaVu Sans whatever the
user's ``matplotlibrc`` says, a fixed size and DPI, and no "Software" line in the
PNG, so the same plan gives the same file on every machine (the snapshot test
compares it with an approved one).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from retrorun.events import Direction
from retrorun.guidance import format_clock
from retrorun.limits import to_kmh
from retrorun.programs._plan import Plan, PlanStep
from retrorun.programs._text import printable

__all__ = ["drawn_spans", "limit_kmh", "render_png", "step_caption"]

_BACKWARD = "#cfe3f7"
_TURN = "#f6c667"
_TURN_EDGE = "#b07d12"
_SPEED = "#1f4e79"
_INCLINE = "#4f8a3c"
_CEILING = "#b22222"
_CAPTION = "#333333"

_DPI = 150
_SIZE_IN = (10.0, 5.2)
#: A turn-around is drawn at least this share of the time axis wide (about 20 px).
_TURN_MIN_SHARE = 0.015
#: A step narrower than this share of the time axis gets no caption (a 7 pt
#: caption turned upright needs about 18 px).
_CAPTION_MIN_SHARE = 0.012
_CAPTION_CHARS = 34


def limit_kmh(step: PlanStep, ceiling: int) -> float | None:
    """The speed limit while ``step`` runs, where one applies: facing backward the
    ceiling, turning the turn's own speed (0 when the belt stops), forward none.

    A session's record keeps the same figure for each turn (its plan step's speed),
    so a plan's picture and a report's chart draw the same line.
    """
    if step.turnaround:
        return to_kmh(step.speed)
    if step.direction is Direction.BACKWARD:
        return to_kmh(ceiling)
    return None


def drawn_spans(plan: Plan) -> list[tuple[float, float]]:
    """Each step's ``(start, end)`` on the chart, in minutes.

    The real times, except that a turn-around narrower than ``_TURN_MIN_SHARE``
    of the session is widened around its middle (within the session), and the
    steps beside it give it the room: a coach should see every turn at a glance,
    and each caption sits in the part of its step one can see. Only the shading
    and the captions use this; the speed, incline and limit lines keep the real
    times.
    """
    total = plan.total_s / 60
    wanted = _TURN_MIN_SHARE * total
    spans: list[tuple[float, float]] = []
    start = 0.0
    for step in plan.steps:
        end = start + step.duration_s / 60
        low, high = start, end
        if step.turnaround and high - low < wanted:
            middle = (low + high) / 2
            low = min(max(0.0, middle - wanted / 2), max(0.0, total - wanted))
            high = low + wanted
        spans.append((low, high))
        start = end
    for i, step in enumerate(plan.steps):
        low, high = spans[i]
        if i > 0 and plan.steps[i - 1].turnaround and not step.turnaround:
            low = max(low, spans[i - 1][1])
        if i + 1 < len(spans) and plan.steps[i + 1].turnaround and not step.turnaround:
            high = min(high, spans[i + 1][0])
        spans[i] = (low, max(low, high))
    return spans


def step_caption(step: PlanStep) -> str:
    """``3. Backward walk``: the number the ``retrorun plan`` table gives the step
    (so the picture and the printed plan point at each other), then its label,
    cut to fit an upright caption; a turn-around says which way it turns to."""
    if step.turnaround and step.to_direction is not None:
        return f"{step.index + 1}. turn → {step.to_direction}"
    text = f"{step.index + 1}. {printable(step.label)}"
    if len(text) > _CAPTION_CHARS:
        text = text[: _CAPTION_CHARS - 1].rstrip() + "…"
    return text


def _title(plan: Plan, subtitle: str) -> str:
    week = f"{printable(subtitle)}, " if subtitle else ""
    return f"{printable(plan.program)} — {week}runner profile {plan.profile}"


def _footer(plan: Plan) -> str:
    return (
        f"total {format_clock(plan.total_s)}, {plan.distance_m / 1000:.2f} km · "
        f"backward {format_clock(plan.backward_s)}, {plan.backward_m / 1000:.2f} km · "
        f"backward ceiling {to_kmh(plan.ceiling):.1f} km/h"
    )


def _limit_label(plan: Plan) -> str:
    ceiling = f"{to_kmh(plan.ceiling):.1f} km/h"
    if any(step.turnaround for step in plan.steps):
        return f"limit: {ceiling} ceiling backward, the turn's speed turning"
    return f"limit: {ceiling} ceiling backward"


def _figure(plan: Plan, subtitle: str) -> Any:
    """The picture as a matplotlib ``Figure`` on an Agg canvas (drawn, not saved)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=_SIZE_IN, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = [0.0]
    for step in plan.steps:
        edges.append(edges[-1] + step.duration_s / 60)
    speeds = [to_kmh(s.speed) for s in plan.steps]
    inclines = [s.incline / 10 for s in plan.steps]
    spans = drawn_spans(plan)
    total = edges[-1] or 1.0
    # Room above the lines for the captions, which hang from the top.
    top = max([*speeds, to_kmh(plan.ceiling), 1.0]) * 1.6 + 0.5

    handles: list[Any] = []
    for step, (start, end) in zip(plan.steps, spans, strict=True):
        if step.turnaround:
            ax.axvspan(start, end, color=_TURN, alpha=0.9, lw=0, zorder=1)
            ax.axvline(start, color=_TURN_EDGE, lw=0.8, zorder=1)
            ax.axvline(end, color=_TURN_EDGE, lw=0.8, zorder=1)
        elif step.direction is Direction.BACKWARD:
            ax.axvspan(start, end, color=_BACKWARD, lw=0, zorder=0)
    handles.append(
        ax.stairs(speeds, edges, color=_SPEED, lw=2.2, baseline=None, label="speed", zorder=3)
    )
    limits = [limit_kmh(step, plan.ceiling) for step in plan.steps]
    if any(limit is not None for limit in limits):
        values = [math.nan if limit is None else limit for limit in limits]
        (limit_line,) = ax.plot(
            edges,
            [*values, values[-1]],
            drawstyle="steps-post",
            color=_CEILING,
            ls="--",
            lw=1.2,
            label=_limit_label(plan),
            zorder=2,
        )
        handles.append(limit_line)
    if any(s.direction is Direction.BACKWARD and not s.turnaround for s in plan.steps):
        handles.append(Patch(color=_BACKWARD, label="facing backward"))
    if any(step.turnaround for step in plan.steps):
        handles.append(Patch(color=_TURN, label="turn around (hold the rails)"))

    for step, (start, end) in zip(plan.steps, spans, strict=True):
        if end - start < _CAPTION_MIN_SHARE * total:
            continue
        ax.text(
            (start + end) / 2,
            0.985,
            step_caption(step),
            transform=ax.get_xaxis_transform(),  # x in minutes, y from the top down
            rotation=90,
            ha="center",
            va="top",
            fontsize=7,
            color=_CAPTION,
            bbox={"boxstyle": "square,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0},
            clip_on=True,
            parse_math=False,  # a label's "$" is a dollar, not mathematics
            zorder=4,
        )

    ax.set_ylim(0, top)
    ax.set_xlim(0, total)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("belt speed (km/h)", color=_SPEED)
    ax.grid(axis="y", alpha=0.3)
    if any(inclines):
        inc_ax = ax.twinx()
        handles.append(
            inc_ax.stairs(
                inclines, edges, color=_INCLINE, lw=1.5, ls="-.", baseline=None, label="incline"
            )
        )
        inc_ax.set_ylabel("incline (%)", color=_INCLINE)
        inc_ax.set_ylim(min(0.0, *inclines), max(inclines) * 2 + 1)
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, ncols=5, frameon=False)
    fig.suptitle(_title(plan, subtitle), x=0.01, ha="left", fontsize=12, parse_math=False)
    ax.set_title(_footer(plan), loc="left", fontsize=8, color="#444444")
    return fig


def render_png(plan: Plan, path: str | Path, *, subtitle: str = "") -> Path:
    """Draw ``plan`` into a PNG at ``path`` (a handout-sized picture) and return the path.

    ``subtitle`` names the week (``"week 2"``) for a program that has weeks.
    """
    from matplotlib import rc_context, style

    out = Path(path)
    # Everything that shapes the pixels, fixed whatever the user's matplotlibrc says.
    with (
        style.context("default"),
        rc_context(
            {
                "font.family": "sans-serif",
                "font.sans-serif": ["DejaVu Sans"],  # shipped inside matplotlib
                "font.size": 10.0,
                "text.hinting": "force_autohint",
                "figure.facecolor": "white",
                "savefig.facecolor": "white",
            }
        ),
    ):
        fig = _figure(plan, subtitle)
        fig.savefig(out, dpi=_DPI, metadata={"Software": None})
    return out
