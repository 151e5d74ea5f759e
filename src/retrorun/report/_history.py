"""Every past session in a records folder, the weekly backward time, and progression.

A record file may hold several sessions; each is one entry. A file that holds no
whole session (cut short, torn, not a record at all, unreadable) is an entry too,
with its problem in words: the list never stops at a bad file.

Progression is the program library's own: a session's week is found by planning
its program for each week (the runner's profile and ceiling from the record) and
comparing with the plan the session announced. Weeks whose plans are the same
(a progression that has reached its limit) are one range. The runner is ready for
the next week when the two newest sessions at the current week both completed
every step with no safety stop.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrorun.errors import ProgramError, UsageError
from retrorun.events import StepInfo
from retrorun.guidance import format_clock, format_distance
from retrorun.limits import RunnerProfile, kmh
from retrorun.programs import Program, library, plan, printable
from retrorun.record import SessionSummary, load_record
from retrorun.report._figures import ending, local_start

__all__ = [
    "History",
    "HistoryEntry",
    "Progress",
    "WeekMatch",
    "WeekTotal",
    "build_history",
    "history_dict",
    "history_lines",
    "week_of",
]

_STOPS = {"safety_stop", "safety_key"}


@dataclass(frozen=True, slots=True)
class WeekMatch:
    """The program weeks whose plan is the session's (``first`` to ``last``)."""

    first: int
    last: int
    of: int | None  # the program's weeks; None: no weekly progression

    def text(self) -> str:
        weeks = (
            f"week {self.first}" if self.first == self.last else (f"weeks {self.first}-{self.last}")
        )
        return f"{weeks} of {self.of}" if self.of else weeks


@dataclass(slots=True)
class HistoryEntry:
    """One session of the folder, or a file with no readable session."""

    path: Path
    when: dt.datetime  # local; the file's time when the record has no start
    summary: SessionSummary | None = None
    problems: list[str] = field(default_factory=list)
    week: WeekMatch | None = None

    @property
    def clean(self) -> bool:
        """Every step completed, no safety stop: a session that counts for progression."""
        summary = self.summary
        if summary is None or summary.reason != "completed" or not summary.ended:
            return False
        return not any(e.get("kind") in _STOPS for e in summary.safety_events)


@dataclass(frozen=True, slots=True)
class WeekTotal:
    """One calendar week (ISO, Monday first): its sessions and backward time."""

    year: int
    week: int
    monday: dt.date
    sessions: int
    backward_s: float
    backward_m: float


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a runner stands in one program, and whether the next week is due."""

    program: str
    week: WeekMatch | None
    why: str
    ready: bool = False
    next_week: int | None = None


@dataclass(slots=True)
class History:
    """What ``retrorun history`` shows."""

    folder: Path
    entries: list[HistoryEntry]
    weeks: list[WeekTotal]
    progress: list[Progress]


def _file_time(path: Path) -> dt.datetime:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        stamp = 0.0
    return dt.datetime.fromtimestamp(stamp).astimezone()


def _entries(folder: Path) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    for path in sorted(folder.glob("*.jsonl")):
        read = load_record(path, samples=False)
        if read.error is not None:
            entries.append(HistoryEntry(path, _file_time(path), problems=[read.error]))
            continue
        if not read.sessions:
            what = "not a session record" if read.bad_lines else "empty"
            entries.append(HistoryEntry(path, _file_time(path), problems=[what]))
            continue
        for number, summary in enumerate(read.sessions):
            problems = []
            if not summary.started:
                problems.append("no start line")
            if number == len(read.sessions) - 1 and read.bad_lines:
                lines = "line" if read.bad_lines == 1 else "lines"
                problems.append(f"{read.bad_lines} unreadable {lines}")
            when = local_start(summary) or _file_time(path)
            entries.append(HistoryEntry(path, when, summary, problems))
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries


@functools.cache
def _library() -> dict[str, Program]:
    return {program.name: program for _, program in library()}


Signature = tuple[tuple[str, bool, int, int, int], ...]


def _signature(steps: tuple[StepInfo, ...], *, speeds: bool) -> Signature:
    return tuple(
        (
            str(s.direction),
            s.turnaround,
            round(s.duration_s),
            round(s.speed_kmh * 100) if speeds else 0,
            round(s.incline_pct * 10),
        )
        for s in steps
    )


@functools.cache
def _planned(
    name: str, profile: RunnerProfile, ceiling: int | None, week: int
) -> tuple[Signature, bool]:
    """The plan of ``name`` at ``week`` for this runner, and whether speeds can be
    compared (not when the program needs a reference speed the record lacks)."""
    program = _library()[name]
    speeds, reference, unlock = True, None, False
    for _ in range(3):
        try:
            result = plan(
                program,
                profile=profile,
                ceiling=ceiling,
                reference_kmh=reference,
                week=week,
                unlock_fast=unlock,
            )
        except ProgramError:
            speeds, reference = False, 5.0  # any reference: only the shape is compared
        except UsageError:
            unlock = True  # a ceiling above the profile's was unlocked for the session
        else:
            steps = tuple(
                StepInfo(
                    index=s.index,
                    direction=s.direction,
                    speed_kmh=s.speed / 100,
                    duration_s=s.duration_s,
                    incline_pct=s.incline / 10,
                    turnaround=s.turnaround,
                )
                for s in result.steps
            )
            return _signature(steps, speeds=speeds), speeds
    return (), False


def week_of(summary: SessionSummary) -> WeekMatch | None:
    """The library program week the session ran: as its record says, or (records
    written before the start line named it) the weeks whose plan is the one the
    session announced."""
    program = _library().get(summary.program)
    if program is None:
        return None
    if summary.week is not None and summary.week >= 1:
        return WeekMatch(summary.week, summary.week, program.weeks)
    if not summary.plan:
        return None
    try:
        profile = RunnerProfile(summary.profile)
    except ValueError:
        return None
    ceiling = kmh(summary.ceiling_kmh) if summary.ceiling_kmh > 0 else None
    exact: list[int] = []
    shaped: list[int] = []
    for week in range(1, (program.weeks or 1) + 1):
        planned, speeds = _planned(program.name, profile, ceiling, week)
        if speeds and planned == _signature(summary.plan, speeds=True):
            exact.append(week)
        if _signature_shape(planned) == _signature(summary.plan, speeds=False):
            shaped.append(week)
    found = exact or shaped  # a device that capped the speeds: the shape still tells
    if not found:
        return None
    return WeekMatch(found[0], found[-1], program.weeks)


def _signature_shape(signature: Signature) -> Signature:
    return tuple((d, turn, s, 0, i) for d, turn, s, _speed, i in signature)


def _week_totals(entries: list[HistoryEntry]) -> list[WeekTotal]:
    totals: dict[tuple[int, int], list[HistoryEntry]] = {}
    for entry in entries:
        if entry.summary is not None and entry.summary.started:
            year, week, _ = entry.when.isocalendar()
            totals.setdefault((year, week), []).append(entry)
    out = []
    for (year, week), members in sorted(totals.items(), reverse=True):
        summaries = [m.summary for m in members if m.summary is not None]
        out.append(
            WeekTotal(
                year,
                week,
                dt.date.fromisocalendar(year, week, 1),
                len(members),
                sum(s.backward_s for s in summaries),
                sum(s.backward_m for s in summaries),
            )
        )
    return out


def _progress(entries: list[HistoryEntry]) -> list[Progress]:
    """One line per program, newest program first, from every session there is."""
    by_program: dict[str, list[HistoryEntry]] = {}
    for entry in entries:  # newest first
        if entry.summary is not None and entry.summary.program:
            by_program.setdefault(entry.summary.program, []).append(entry)
    return [_judge(name, runs) for name, runs in by_program.items()]


def _judge(name: str, runs: list[HistoryEntry]) -> Progress:
    """Where the runner stands in program ``name`` (``runs``: its sessions, newest first)."""
    program = _library().get(name)
    if program is None:
        return Progress(name, None, "not a library program: no weeks to follow")
    week = runs[0].week
    if week is None:
        return Progress(name, None, "the newest session's plan is none of the program's weeks")
    if week.of is None:
        return Progress(name, week, "no weekly progression")
    this_week = [run for run in runs if run.week == week][:2]
    at = f"week {week.last}"
    for run in this_week:
        if not run.clean:
            return Progress(
                name,
                week,
                f"stay at {at}: the session of {run.when:%Y-%m-%d %H:%M} {_fell_short(run)}",
            )
    if len(this_week) < 2:
        return Progress(name, week, f"stay at {at}: one whole session at it so far, two move on")
    if week.last >= week.of:
        return Progress(
            name, week, f"program done: the last two sessions at {at} completed", ready=True
        )
    return Progress(
        name,
        week,
        f"ready for week {week.last + 1}: the last two sessions at {at} completed every step"
        " with no safety stop",
        ready=True,
        next_week=week.last + 1,
    )


def _fell_short(entry: HistoryEntry) -> str:
    """Why a session does not count for progression, in words."""
    summary = entry.summary
    if summary is None:
        return "cannot be read"
    if summary.reason in _STOPS or any(e.get("kind") in _STOPS for e in summary.safety_events):
        return "had a safety stop"
    if not summary.ended:
        return "was cut short (its record has no end)"
    return f"ended early: {ending(summary)}"


def build_history(
    folder: Path, *, weeks: int | None = None, today: dt.date | None = None
) -> History:
    """Read every record in ``folder``; list those of the last ``weeks`` calendar weeks.

    Progression is judged on every session, whatever ``weeks`` shows."""
    entries = _entries(folder) if folder.is_dir() else []
    for entry in entries:
        if entry.summary is not None:
            entry.week = week_of(entry.summary)
    progress = _progress(entries)
    if weeks is not None:
        now = today or dt.datetime.now().astimezone().date()
        since = now - dt.timedelta(days=now.weekday(), weeks=weeks - 1)
        entries = [entry for entry in entries if entry.when.date() >= since]
    return History(folder, entries, _week_totals(entries), progress)


def _row(entry: HistoryEntry, width: int) -> str:
    date = f"{entry.when:%Y-%m-%d %H:%M}"
    summary = entry.summary
    if summary is None or not summary.started:
        what = "; ".join(entry.problems)
        return f"{date}  {printable(entry.path.name)}: {what}"
    name = summary.program if len(summary.program) <= width else summary.program[: width - 1] + "…"
    end = "; ".join([ending(summary), *entry.problems])
    return (
        f"{date}  {printable(name):<{width}}  {printable(summary.profile):<12}  "
        f"{format_clock(summary.duration_s):>7}  {format_clock(summary.backward_s):>7}"
        f"  {format_distance(summary.backward_m):>8}  "
        f"{summary.max_backward_kmh:>4.1f} / {summary.ceiling_kmh:<4.1f}  "
        f"{len(summary.safety_events):>6}  {end}"
    )


def history_lines(history: History) -> list[str]:
    """``retrorun history`` for a terminal."""
    if not history.entries:
        return [f"no sessions in {printable(str(history.folder))}"]
    names = [e.summary.program for e in history.entries if e.summary is not None]
    width = min(max([len(n) for n in names] + [7]), 24)
    header = (
        f"{'date':<16}  {'program':<{width}}  {'profile':<12}  {'time':>7}  {'backward':>7}"
        f"  {'':>8}  {'top / ceiling':<11}  {'safety':>6}  ended"
    )
    out = [header]
    out += [_row(entry, width) for entry in history.entries]
    if history.weeks:
        out += ["", "backward time by week:"]
        out += [
            f"  {w.year}-W{w.week:02d} (from {w.monday:%a %d %b})  "
            f"{w.sessions:>3} session{'s' if w.sessions != 1 else ' '}  "
            f"{format_clock(w.backward_s):>7}  {format_distance(w.backward_m)}"
            for w in history.weeks
        ]
    if history.progress:
        out += ["", "progression:"]
        for p in history.progress:
            at = f" ({p.week.text()})" if p.week is not None and p.week.of else ""
            out.append(printable(f"  {p.program}{at}: {p.why}"))
    return out


def history_dict(history: History) -> dict[str, Any]:
    """``retrorun history --json``: the same as numbers."""

    def week(match: WeekMatch | None) -> dict[str, Any] | None:
        if match is None:
            return None
        return {"first": match.first, "last": match.last, "of": match.of}

    sessions = []
    for entry in history.entries:
        summary = entry.summary
        item: dict[str, Any] = {
            "file": str(entry.path),
            "date": entry.when.isoformat(timespec="seconds"),
            "problems": entry.problems,
        }
        if summary is not None:
            item |= {
                "session": summary.session,
                "program": summary.program,
                "profile": summary.profile,
                "week": week(entry.week),
                "duration_s": round(summary.duration_s, 1),
                "backward_s": round(summary.backward_s, 1),
                "backward_m": round(summary.backward_m, 1),
                "max_backward_kmh": round(summary.max_backward_kmh, 2),
                "ceiling_kmh": round(summary.ceiling_kmh, 2),
                "safety_events": len(summary.safety_events),
                "reason": summary.reason if summary.ended else None,
                "ending": ending(summary),
                "counts_for_progression": entry.clean,
            }
        sessions.append(item)
    return {
        "folder": str(history.folder),
        "sessions": sessions,
        "weeks": [
            {
                "week": f"{w.year}-W{w.week:02d}",
                "from": w.monday.isoformat(),
                "sessions": w.sessions,
                "backward_s": round(w.backward_s, 1),
                "backward_m": round(w.backward_m, 1),
            }
            for w in history.weeks
        ],
        "progression": [
            {
                "program": p.program,
                "week": week(p.week),
                "ready": p.ready,
                "next_week": p.next_week,
                "why": p.why,
            }
            for p in history.progress
        ],
    }
