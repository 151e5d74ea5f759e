"""``retrorun history`` and ``retrorun report RECORD``: past sessions, from their records.

``history`` lists every session in the records folder (``--records DIR``, by
default where ``retrorun run`` writes them), newest first, with weekly backward
time and where the runner stands in each program. ``report`` prints one
record's report, the same text the end of ``retrorun run`` printed, as JSON with
``--json``, and draws it with ``--png``. A bad file is one line and exit 2;
damaged records are shown as damaged, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrorun.cli._flags import WEEK, number
from retrorun.cli._programs import _check_png as check_png
from retrorun.errors import UsageError

if TYPE_CHECKING:
    from retrorun.record import RecordFile

# The record's fold and the program library load in the handlers: registering
# these commands must stay cheap for every other command.

__all__ = ["register"]


def _records_dir(args: argparse.Namespace) -> Path:
    from retrorun.programs import printable
    from retrorun.record import default_records_dir

    folder: Path | None = args.records
    if folder is None:
        return default_records_dir("--records DIR")
    if not folder.is_dir():
        shown = printable(str(folder))
        raise UsageError(
            f"--records {shown}: {'not a folder' if folder.exists() else 'no such folder'}"
        )
    return folder


def _history(args: argparse.Namespace) -> int:
    from retrorun.report import build_history, history_dict, history_lines

    history = build_history(_records_dir(args), weeks=args.weeks)
    if args.json:
        print(json.dumps(history_dict(history), indent=2, ensure_ascii=False))
    else:
        print("\n".join(history_lines(history)))
    return 0


def _read(path: Path) -> RecordFile:
    """The record file, folded; ``UsageError`` when it holds no session."""
    from retrorun.programs import printable
    from retrorun.record import load_record

    shown = printable(str(path))
    if path.is_dir():
        raise UsageError(f"{shown}: a folder, not a session record")
    read = load_record(path)
    if read.error is not None:
        raise UsageError(f"{shown}: cannot read it: {read.error}")
    if not read.sessions:
        raise UsageError(f"{shown}: not a session record (no record lines in it)")
    return read


def _notes(read: RecordFile) -> list[str]:
    """What the reader should know about the file besides the report of its last session."""
    notes = []
    if len(read.sessions) > 1:
        notes.append(f"{len(read.sessions)} sessions in this file: the last one")
    if read.bad_lines:
        notes.append(
            f"{read.bad_lines} unreadable line{'s' if read.bad_lines != 1 else ''} skipped"
        )
    if not read.sessions[-1].started:
        notes.append("no start line: the record's beginning is missing")
    return notes


def _report(args: argparse.Namespace) -> int:
    from retrorun.programs import printable
    from retrorun.report import render_report_png, report_dict, report_lines

    if args.png is not None:
        check_png(args.png)
    read = _read(args.record)
    summary, notes = read.sessions[-1], _notes(read)
    if args.json:
        body: dict[str, Any] = report_dict(summary)
        body["notes"] = notes
        print(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print("\n".join(report_lines(summary)))
        for note in notes:
            print(printable(f"  note: {note}"))
    if args.png is not None:
        try:
            render_report_png(summary, args.png)
        except OSError as exc:
            shown = printable(str(args.png))
            raise UsageError(f"--png {shown}: cannot write: {exc.strerror or exc}") from None
        # With --json, standard output holds the JSON alone.
        print(f"wrote {printable(str(args.png))}", file=sys.stderr if args.json else sys.stdout)
    return 0


def register(subparsers: Any) -> None:
    """Add ``history`` and ``report`` to the ``retrorun`` command."""
    history = subparsers.add_parser(
        "history",
        help="every past session, weekly backward time, and readiness for the next week",
        description=(
            "Every session in the records folder, newest first: program, profile, time, "
            "backward time and distance, top backward speed against the ceiling, safety "
            "events, how it ended; backward time by week; and for each program whether "
            "the runner is ready for its next week."
        ),
    )
    history.add_argument(
        "--weeks",
        type=number(int, WEEK),
        metavar="N",
        help="only the last N calendar weeks, this one included (1-52)",
    )
    history.add_argument("--json", action="store_true", help="print JSON instead of text")
    history.add_argument(
        "--records",
        type=Path,
        metavar="DIR",
        help="the records folder (default: where retrorun run writes them)",
    )
    history.set_defaults(handler=_history)

    report = subparsers.add_parser(
        "report",
        help="one session's report from its record (text, JSON, a chart)",
        description=(
            "The report of a session record: totals, each step's target against what "
            "the belt did, turn-arounds, heart rate, pace, energy, every safety event."
        ),
    )
    report.add_argument("record", type=Path, metavar="RECORD", help="a session record (.jsonl)")
    report.add_argument("--json", action="store_true", help="print JSON instead of text")
    report.add_argument(
        "--png", type=Path, metavar="FILE", help="also draw the session: speed, limits, heart rate"
    )
    report.set_defaults(handler=_report)
