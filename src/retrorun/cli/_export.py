"""``retrorun export RECORD --fit FILE --tcx FILE``: a session for the apps runners use.

The session (the record's last, or ``--session ID``) is read back from its record
alone and written as a FIT activity, a TCX activity, or both; laps are the plan's
steps, and the backward ones say so. A record cut short is exported as far as it
goes and the command says it is partial; a file that is not a record is one line
and exit 2. Output paths are checked before the record is read, and each file
is written whole or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrorun.errors import UsageError

# The session's words and the program library load in the handler: registering
# this command must stay cheap for every other command.
if TYPE_CHECKING:
    from retrorun.export import Activity

__all__ = ["register"]


def _describe(activity: Activity) -> str:
    """``Demo: 6 laps (2 backward), 2:13, 90 m``."""
    from retrorun.guidance import format_clock

    backward = len(activity.backward_laps)
    laps = len(activity.laps)
    return (
        f"{activity.program}: {laps} lap{'s' if laps != 1 else ''} ({backward} backward), "
        f"{format_clock(activity.duration_s)}, {activity.distance_m:.0f} m"
    )


def _export(args: argparse.Namespace) -> int:
    # The encoders (Garmin's FIT profile, lxml) load only for this command.
    from retrorun.export import check_output, fit_activity, read_activity, tcx_activity, write_file
    from retrorun.programs import printable

    outputs: list[tuple[str, Path]] = [
        (flag, path) for flag, path in (("--fit", args.fit), ("--tcx", args.tcx)) if path
    ]
    if not outputs:
        raise UsageError("export: give --fit FILE, --tcx FILE or both")
    for flag, path in outputs:
        check_output(flag, path, f".{flag.removeprefix('--')}")
    activity = read_activity(args.record, session_id=args.session)
    for flag, path in outputs:
        data = fit_activity(activity) if flag == "--fit" else tcx_activity(activity)
        write_file(path, data, flag=flag)
        print(printable(f"wrote {path} ({_describe(activity)})"))
    if activity.partial:
        print(
            printable(
                f"{args.record}: partial record, exported what it holds: "
                + "; ".join(activity.problems)
            )
        )
    return 0


def register(subparsers: Any) -> None:
    """Add ``export`` to the ``retrorun`` command."""
    parser = subparsers.add_parser(
        "export",
        help="write a recorded session as a FIT and/or TCX activity",
        description=(
            "Write a session from its record as a FIT activity (Garmin Connect, Strava, "
            "intervals.icu, TrainingPeaks) and/or a TCX activity: one lap per program "
            "step, backward laps named as such, no position (a treadmill has no map)."
        ),
    )
    parser.add_argument("record", type=Path, metavar="RECORD", help="a session record (.jsonl)")
    parser.add_argument("--fit", type=Path, metavar="FILE", help="write a FIT activity (.fit)")
    parser.add_argument("--tcx", type=Path, metavar="FILE", help="write a TCX activity (.tcx)")
    parser.add_argument(
        "--session",
        metavar="ID",
        help="the session to export when the record holds several (default: the last)",
    )
    parser.set_defaults(handler=_export)
