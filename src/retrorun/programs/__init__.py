"""Interval programs: the file schema, the shipped library, and plans for one runner.

``load_program`` reads a library program or a file (``ProgramError`` with one line
per problem; ``parse_program`` the same from text), ``plan`` expands it for a
profile, a week and the ceilings in force, with a turn-around at every direction
change. ``render_png`` draws a plan; ``template_text`` is a commented starting file
(``retrorun programs new``).
``printable`` shows program text on a terminal with its control characters escaped.
"""

from __future__ import annotations

from retrorun.programs._chart import render_png
from retrorun.programs._load import (
    MAX_FILE_BYTES,
    library,
    library_names,
    load_program,
    parse_program,
)
from retrorun.programs._plan import WEEKLY_GROWTH_MAX, HeartRateTarget, Plan, PlanStep, plan
from retrorun.programs._schema import (
    HR_ZONE_MIN_BPM,
    MAX_DEPTH,
    MAX_NESTING,
    MAX_STEPS,
    MAX_TOTAL_S,
    MAX_WEEKS,
    Program,
    ProgramProblems,
    Progression,
    Repeat,
    Step,
    pace_to_kmh,
    parse_duration,
)
from retrorun.programs._templates import TEMPLATES, template_text
from retrorun.programs._text import printable

__all__ = [
    "HR_ZONE_MIN_BPM",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_STEPS",
    "MAX_TOTAL_S",
    "MAX_WEEKS",
    "TEMPLATES",
    "WEEKLY_GROWTH_MAX",
    "HeartRateTarget",
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
    "parse_program",
    "plan",
    "printable",
    "render_png",
    "template_text",
]
