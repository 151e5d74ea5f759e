"""Interval programs: the file schema, the shipped library, and plans for one runner.

``load_program`` reads a library program or a file (``ProgramError`` with one line
per problem), ``plan`` expands it for a profile, a week and the ceilings in force,
with a turn-around at every direction change. ``render_png`` draws a plan.
"""

from __future__ import annotations

from retrorun.programs._chart import render_png
from retrorun.programs._load import library, library_names, load_program
from retrorun.programs._plan import WEEKLY_GROWTH_MAX, Plan, PlanStep, plan
from retrorun.programs._schema import (
    MAX_TOTAL_S,
    Program,
    ProgramProblems,
    Progression,
    Repeat,
    Step,
    pace_to_kmh,
    parse_duration,
)

__all__ = [
    "MAX_TOTAL_S",
    "WEEKLY_GROWTH_MAX",
    "Plan",
    "PlanStep",
    "Program",
    "ProgramProblems",
    "Progression",
    "Repeat",
    "Step",
    "library",
    "library_names",
    "load_program",
    "pace_to_kmh",
    "parse_duration",
    "plan",
    "render_png",
]
