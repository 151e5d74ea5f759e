"""What a session was, told afterwards: the report of one record, and the history.

``report_lines`` is the summary at the end of ``retrorun run`` and the text of
``retrorun report`` (one code path: both read the same fold of the record's
lines, the live one as the session wrote them); ``report_dict`` the same as
JSON; ``render_report_png`` its chart. ``build_history`` reads a records folder
for ``retrorun history`` (``history_lines``, ``history_dict``).
"""

from __future__ import annotations

from retrorun.report._chart import render_report_png
from retrorun.report._history import (
    History,
    HistoryEntry,
    Progress,
    WeekMatch,
    WeekTotal,
    build_history,
    history_dict,
    history_lines,
    week_of,
)
from retrorun.report._json import report_dict
from retrorun.report._text import report_lines

__all__ = [
    "History",
    "HistoryEntry",
    "Progress",
    "WeekMatch",
    "WeekTotal",
    "build_history",
    "history_dict",
    "history_lines",
    "render_report_png",
    "report_dict",
    "report_lines",
    "week_of",
]
