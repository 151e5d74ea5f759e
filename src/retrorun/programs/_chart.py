"""A plan as a picture: speed over time, backward time shaded, incline on a second axis.

matplotlib is imported here only when a picture is asked for, and used through its
object API with the Agg canvas (no pyplot, no global backend switch).
"""

from __future__ import annotations

from pathlib import Path

from retrorun.events import Direction
from retrorun.guidance import format_clock
from retrorun.limits import to_kmh
from retrorun.programs._plan import Plan

__all__ = ["render_png"]

_BACKWARD = "#cfe3f7"
_TURN = "#f6c667"
_SPEED = "#1f4e79"
_INCLINE = "#4f8a3c"
_CEILING = "#b22222"


def render_png(plan: Plan, path: str | Path, *, subtitle: str = "") -> Path:
    """Draw ``plan`` into a PNG at ``path`` (a handout-sized picture) and return the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    out = Path(path)
    fig = Figure(figsize=(10, 4.8), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = [0.0]
    for step in plan.steps:
        edges.append(edges[-1] + step.duration_s / 60)
    speeds = [to_kmh(s.speed) for s in plan.steps]
    inclines = [s.incline / 10 for s in plan.steps]

    for step, start, end in zip(plan.steps, edges, edges[1:], strict=False):
        if step.turnaround:
            ax.axvspan(start, end, color=_TURN, alpha=0.8, lw=0)
        elif step.direction is Direction.BACKWARD:
            ax.axvspan(start, end, color=_BACKWARD, lw=0)
    speed_line = ax.stairs(speeds, edges, color=_SPEED, lw=2.2, baseline=None, label="speed")
    ceiling_line = ax.axhline(
        to_kmh(plan.ceiling),
        color=_CEILING,
        ls="--",
        lw=1,
        label=f"backward ceiling {to_kmh(plan.ceiling):.1f} km/h",
    )
    ax.set_ylim(0, max([*speeds, to_kmh(plan.ceiling)]) * 1.45 + 0.3)  # room for the legend
    ax.set_xlim(0, edges[-1] or 1)
    ax.set_xlabel("time (min)")
    ax.set_ylabel("belt speed (km/h)", color=_SPEED)
    ax.grid(axis="y", alpha=0.3)
    handles = [
        speed_line,
        ceiling_line,
        Patch(color=_BACKWARD, label="facing backward"),
        Patch(color=_TURN, label="turn around (hold the rails)"),
    ]
    if any(inclines):
        inc_ax = ax.twinx()
        handles.append(
            inc_ax.stairs(
                inclines, edges, color=_INCLINE, lw=1.5, ls="-.", baseline=None, label="incline"
            )
        )
        inc_ax.set_ylabel("incline (%)", color=_INCLINE)
        inc_ax.set_ylim(min(0.0, *inclines), max(inclines) * 2 + 1)
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)

    title = f"{plan.program} — {plan.profile}"
    ax.set_title(f"{title}{f', {subtitle}' if subtitle else ''}", loc="left", fontsize=12)
    fig.text(
        0.01,
        0.01,
        f"total {format_clock(plan.total_s)}, {plan.distance_m / 1000:.2f} km · "
        f"backward {format_clock(plan.backward_s)}, {plan.backward_m / 1000:.2f} km",
        fontsize=8,
        color="#444444",
    )
    fig.savefig(out)
    return out
