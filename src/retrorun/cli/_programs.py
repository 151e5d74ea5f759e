"""``retrorun programs list|show|validate|export|new`` and ``retrorun plan``: the program library.

``plan`` prints a program expanded for one runner (profile, ceiling, week) as a
table, and with ``--png`` draws it for a handout. Text from a program file (its
name, description, labels, notes) and paths given on the command line are
printed through ``printable``: shown, never obeyed by the terminal. ``programs
export`` writes the same plan as a FIT workout for a watch. ``programs new``
writes a commented starting file (one of the templates, each a worked example of
``docs/programs.md``) that validates as it is.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrorun.cli._flags import SPEED_KMH, WEEK, number
from retrorun.errors import ProgramError, UsageError
from retrorun.limits import RunnerProfile, kmh, to_kmh

if TYPE_CHECKING:
    from retrorun.programs import Plan, PlanStep, Program

# The program library (pydantic) and the session's words load in the handlers:
# registering these commands must stay cheap for every other command.

__all__ = ["format_plan", "register"]

_PROFILES = [p.value for p in RunnerProfile]


_kmh_arg = number(float, SPEED_KMH, unit="km/h", above_low=True)


def _summary(program: Program) -> str:
    """``20:24, 12:00 backward`` for the program's own profile, week 1."""
    from retrorun.guidance import format_clock
    from retrorun.programs import plan

    if program.needs_reference:
        return "needs a reference speed"
    result = plan(program)
    return f"{format_clock(result.total_s)}, {format_clock(result.backward_s)} backward"


def format_plan(result: Plan, *, week: int = 1) -> str:
    """The plan as a table for a terminal, with its totals.

    Steps are numbered from 1, as the session's display and report count them.
    """
    from retrorun.events import Direction
    from retrorun.guidance import format_clock
    from retrorun.programs import printable

    title = (
        f"{printable(result.program)} — {result.profile}, week {week}, "
        f"backward ceiling {to_kmh(result.ceiling):.1f} km/h"
    )
    header = (
        f"{'#':>3}  {'at':>6}  {'kind':<10}  {'facing':<10}  {'km/h':>5}  {'incl':>5}  "
        f"{'length':>6}  step"
    )
    rows = [title, header]
    at = 0.0
    for step in result.steps:
        facing = step.direction.value
        if step.turnaround and step.to_direction is not None:
            facing = f"→{step.to_direction.value}"
        speed = "stop" if step.stop_belt else f"{to_kmh(step.speed):.1f}"
        note = " (confirm)" if step.needs_confirm else ""
        if step.heart_rate is not None:
            note += f" ({_heart_words(step)})"
        rows.append(
            f"{step.index + 1:>3}  {format_clock(at):>6}  {step.kind:<10}  {facing:<10}  "
            f"{speed:>5}  {step.incline / 10:>4.1f}%  {format_clock(step.duration_s):>6}  "
            f"{printable(step.label)}{note}"
        )
        at += step.duration_s
    turns = sum(1 for s in result.steps if s.direction is Direction.TURNING)
    rows.append(
        f"total {format_clock(result.total_s)}, {result.distance_m / 1000:.2f} km; "
        f"backward {format_clock(result.backward_s)}, {result.backward_m / 1000:.2f} km; "
        f"{turns} turn-around{'s' if turns != 1 else ''}"
    )
    return "\n".join(rows)


def _heart_words(step: PlanStep) -> str:
    """A heart-rate step's zone and speed range, for the plan's table: its km/h column
    is only where the step starts."""
    zone = step.heart_rate
    if zone is None or step.speed_range is None:
        return ""
    of = {"bpm": "bpm", "max": "% of max HR", "reserve": "% of HR reserve"}[zone.basis]
    low, high = step.speed_range
    return (
        f"heart {zone.low:g}-{zone.high:g} {of}, speed by the heart"
        f" {to_kmh(low):.1f}-{to_kmh(high):.1f} km/h"
    )


def _list(args: argparse.Namespace) -> int:
    from retrorun.programs import library, printable

    del args
    entries = library()
    width = max(len(name) for name, _ in entries)
    print(f"{'name':<{width}}  {'profile':<12}  {'weeks':>5}  length")
    for name, program in entries:
        weeks = str(program.weeks) if program.weeks else "-"
        line = f"{name:<{width}}  {program.profile:<12}  {weeks:>5}  {_summary(program)}"
        print(printable(line))
    return 0


def _plan_for(args: argparse.Namespace, program: Program) -> Plan:
    from retrorun.programs import plan

    ceiling = kmh(args.ceiling) if getattr(args, "ceiling", None) else None
    device_max = kmh(args.device_max) if getattr(args, "device_max", None) else None
    return plan(
        program,
        profile=RunnerProfile(args.profile) if args.profile else None,
        ceiling=ceiling,
        reference_kmh=args.reference,
        week=getattr(args, "week", 1),
        device_max=device_max,
    )


def _show(args: argparse.Namespace) -> int:
    from retrorun.programs import load_program, printable

    program = load_program(args.program)
    print(printable(f"{program.name} ({program.profile})"))
    for line in program.description.splitlines():
        print(printable(line.expandtabs(4)))
    for source in program.sources:
        print(printable(f"  source: {source}"))
    for rule in program.progression:
        unit = {"duration": "s", "reps": " rep(s)", "speed": " km/h", "incline": " % points"}
        up_to = f" up to {rule.up_to:g}{unit[rule.target]}" if rule.up_to is not None else ""
        note = f" ({rule.note})" if rule.note else ""
        print(
            printable(
                f"  progression: {rule.target} +{rule.by:g}{unit[rule.target]} a week "
                f"for {', '.join(rule.kinds)} steps{up_to}{note}"
            )
        )
    print()
    print(format_plan(_plan_for(args, program)))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from retrorun.programs import load_program, printable

    problems: list[str] = []
    for name in args.files:
        try:
            program = load_program(name)
            summary = _summary(program)
        except ProgramError as exc:
            problems.extend(str(exc).splitlines())
            continue
        print(printable(f"{name}: ok ({program.name}, {program.profile}, {summary})"))
    if problems:
        raise ProgramError("\n".join(problems))
    return 0


def _check_png(path: Path) -> None:
    """``--png`` names a ``.png`` file in a folder that exists (checked before any output)."""
    from retrorun.programs import printable

    shown = printable(str(path))
    if path.suffix.lower() != ".png":
        raise UsageError(f"--png {shown}: the file name must end in .png")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--png {shown}: no folder {printable(str(folder))} to write it in")
    if path.is_dir():
        raise UsageError(f"--png {shown}: a folder, not a file name")


def _plan(args: argparse.Namespace) -> int:
    from retrorun.programs import load_program, printable, render_png

    if args.png is not None:
        _check_png(args.png)
    program = load_program(args.program)
    result = _plan_for(args, program)
    print(format_plan(result, week=args.week))
    if args.png is not None:
        subtitle = f"week {args.week}" if program.weeks else ""
        try:
            render_png(result, args.png, subtitle=subtitle)
        except OSError as exc:
            shown = printable(str(args.png))
            raise UsageError(f"--png {shown}: cannot write: {exc.strerror or exc}") from None
        print(f"wrote {printable(str(args.png))}")
    return 0


def _export(args: argparse.Namespace) -> int:
    # The FIT encoder (Garmin's profile) loads only for this command.
    from retrorun.export import check_output, fit_workout, workout_steps, write_file
    from retrorun.guidance import format_clock
    from retrorun.programs import load_program, printable

    check_output("--fit", args.fit, ".fit")
    program = load_program(args.program)
    result = _plan_for(args, program)
    write_file(args.fit, fit_workout(result), flag="--fit")
    count = len(workout_steps(result))
    print(
        printable(
            f"wrote {args.fit} ({result.program}, week {args.week}: {len(result.steps)} steps "
            f"as {count} workout steps, {format_clock(result.total_s)})"
        )
    )
    return 0


_TEMPLATE_NAMES = ("first-steps", "intervals", "runner")  # retrorun.programs.TEMPLATES


def _file_for(name: str) -> Path:
    """``Hill Repeats`` -> ``hill-repeats.toml`` in the current folder."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].rstrip("-")
    return Path(f"{slug or 'program'}.toml")


def _new(args: argparse.Namespace) -> int:
    from retrorun.programs import TEMPLATES, parse_program, printable, template_text

    if args.template not in TEMPLATES:
        choices = ", ".join(TEMPLATES)
        raise UsageError(f"--template {printable(args.template)}: choose from {choices}")
    path: Path = args.output if args.output is not None else _file_for(args.name)
    shown = printable(str(path))
    if path.suffix.lower() != ".toml":
        raise UsageError(f"--output {shown}: the file name must end in .toml")
    if printable(args.name) != args.name or not args.name.strip():
        raise UsageError(f"programs new: NAME {printable(repr(args.name))}: give printable text")
    text = template_text(args.template, args.name)
    try:
        parse_program(text, source="NAME")
    except ProgramError as exc:
        # The name is the only thing the coach gave: say what is wrong with it.
        why = str(exc).splitlines()[0].removeprefix("NAME: ")
        raise UsageError(f"programs new: NAME {printable(repr(args.name))}: {why}") from None
    try:
        # Exclusive: an existing program (a coach's work) is never overwritten.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise UsageError(f"{shown}: already exists (give another NAME or --output)") from None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    print(
        printable(
            f"wrote {path} ({args.template} template): edit it, then "
            f"retrorun programs validate {path}"
        )
    )
    return 0


def _runner_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        choices=_PROFILES,
        help="runner profile (default: the program's own)",
    )
    parser.add_argument(
        "--reference",
        "--reference-kmh",  # as ``retrorun run`` spells it
        dest="reference",
        type=_kmh_arg,
        metavar="KMH",
        help="the runner's reference speed, for steps written as reference_pct",
    )


def register(subparsers: Any) -> None:
    """Add ``programs`` (list, show, validate, export) and ``plan`` to the ``retrorun`` command."""
    programs = subparsers.add_parser(
        "programs",
        help="list, show and validate interval programs",
        description="The program library, and checks for programs you write yourself.",
    )
    actions = programs.add_subparsers(
        dest="programs_action", metavar="ACTION", parser_class=type(programs)
    )
    actions.required = True
    listing = actions.add_parser("list", help="the shipped programs with their length")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="a program's description, sources and plan")
    show.add_argument("program", metavar="NAME_OR_FILE", help="library name or .toml/.json file")
    _runner_options(show)
    show.set_defaults(handler=_show)

    validate = actions.add_parser(
        "validate",
        help="check program files (exit 2 and one line per problem)",
        description="Check program files. Prints one line per problem and exits 2 if any.",
    )
    validate.add_argument("files", metavar="FILE", nargs="+", help=".toml or .json program file")
    validate.set_defaults(handler=_validate)

    export = actions.add_parser(
        "export",
        help="write a program as a FIT workout for a watch",
        description=(
            "Write a program's plan (one runner, one week) as a FIT workout file: time "
            "steps with speed targets, repeats folded, backward steps named as such."
        ),
    )
    export.add_argument("program", metavar="NAME_OR_FILE", help="library name or .toml/.json file")
    export.add_argument("--fit", type=Path, required=True, metavar="FILE", help="the .fit file")
    _runner_options(export)
    export.add_argument(
        "--ceiling", type=_kmh_arg, metavar="KMH", help="your own backward ceiling (lowers only)"
    )
    export.add_argument(
        "--week", type=number(int, WEEK), default=1, metavar="N", help="week N (1-52)"
    )
    export.set_defaults(handler=_export)

    new = actions.add_parser(
        "new",
        help="write a commented program file to start from",
        description=(
            "Write a commented, valid program file to edit: first-steps (a backward "
            "walk), intervals (weeks and a progression) or runner (reference speeds, "
            "repeats that grow, a rest on a stopped belt). docs/programs.md explains "
            "every field."
        ),
    )
    new.add_argument("name", metavar="NAME", help="the program's name")
    new.add_argument(
        "--template",
        default="first-steps",
        metavar="T",
        help=f"what to start from: {', '.join(_TEMPLATE_NAMES)} (default: first-steps)",
    )
    new.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="the .toml file (default: NAME in lower case with dashes, in this folder)",
    )
    new.set_defaults(handler=_new)

    plan_parser = subparsers.add_parser(
        "plan",
        help="a program expanded for one runner, as a table (and a picture)",
        description=(
            "Expand a program for a runner: repeats flattened, turn-arounds inserted, "
            "backward steps clamped to the effective ceiling, and the week's progression."
        ),
    )
    plan_parser.add_argument(
        "program", metavar="NAME_OR_FILE", help="library name or .toml/.json file"
    )
    _runner_options(plan_parser)
    plan_parser.add_argument(
        "--ceiling",
        type=_kmh_arg,
        metavar="KMH",
        help="your own backward ceiling (lowers only)",
    )
    plan_parser.add_argument(
        "--device-max",
        type=_kmh_arg,
        metavar="KMH",
        help="the treadmill's maximum speed",
    )
    plan_parser.add_argument(
        "--week", type=number(int, WEEK), default=1, metavar="N", help="week N (1-52)"
    )
    plan_parser.add_argument(
        "--png", type=Path, metavar="FILE", help="also draw speed and incline over time"
    )
    plan_parser.set_defaults(handler=_plan)
