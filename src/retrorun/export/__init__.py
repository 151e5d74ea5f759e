"""Activity and workout files for the apps runners already use (FIT, TCX).

``read_activity`` reads one session of a record back as an ``Activity`` (one lap
per plan step, the samples, the totals, and what is missing when the record was
cut short); ``fit_activity`` and ``tcx_activity`` encode it; ``fit_workout``
writes a plan as a FIT workout for a watch. ``write_exports`` writes a record's
files beside it (``retrorun run --export``). Nothing here touches a treadmill:
the record is the only input.
"""

from __future__ import annotations

from retrorun.export._activity import Activity, Lap, RecordError, Sample, read_activity, step_name
from retrorun.export._fit import DEVELOPER_FIELDS, fit_activity
from retrorun.export._tcx import ACTIVITY_EXTENSION, TCX, tcx_activity
from retrorun.export._workout import fit_workout, repeats, workout_steps
from retrorun.export._write import FORMATS, check_output, write_exports, write_file

__all__ = [
    "ACTIVITY_EXTENSION",
    "DEVELOPER_FIELDS",
    "FORMATS",
    "TCX",
    "Activity",
    "Lap",
    "RecordError",
    "Sample",
    "check_output",
    "fit_activity",
    "fit_workout",
    "read_activity",
    "repeats",
    "step_name",
    "tcx_activity",
    "workout_steps",
    "write_exports",
    "write_file",
]
