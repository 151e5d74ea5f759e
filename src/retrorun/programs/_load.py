"""Load programs from files or the shipped library, with one line per problem.

A problem reads ``programs/x.toml: steps[3].speed_kmh: <message> (line 14)``: the
file, the field path, the message, and the line when the file is TOML written with
``[[steps]]`` tables (inline tables and JSON give no line).
"""

from __future__ import annotations

import re
from pathlib import Path

import pydantic

from retrorun._paths import data_dir
from retrorun._validation import format_location, load_data
from retrorun.errors import ProgramError
from retrorun.programs._schema import UNION_TAGS, Loc, Program, ProgramProblems

__all__ = ["library", "library_names", "load_program", "problem_lines", "resolve_path"]

_HEADER = re.compile(r"^\s*\[\[\s*(steps(?:\s*\.\s*steps)*)\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")
_SUFFIXES = (".toml", ".json")


def _clean_loc(loc: tuple[int | str, ...]) -> Loc:
    """Drop pydantic's union tags (``steps[2].repeat.steps`` -> ``steps[2].steps``)."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        after_index = i > 0 and isinstance(loc[i - 1], int)
        if isinstance(part, str) and after_index and part in UNION_TAGS:
            continue
        if isinstance(part, str) and ("[" in part or "-" in part):
            continue  # internal names such as "function-after[...]"
        out.append(part)
    return tuple(out)


def find_line(text: str, loc: Loc) -> int | None:
    """1-based line of ``loc`` in TOML ``text``, when ``[[steps]]`` tables make it findable."""
    lines = text.splitlines()
    indices = [p for p in loc if isinstance(p, int)]
    if loc[:1] != ("steps",) and loc[:1] != ("progression",):
        key = loc[0] if loc and isinstance(loc[0], str) else None
        for n, line in enumerate(lines, 1):
            if _ANY_HEADER.match(line):
                return None
            if key and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return n
        return None
    field = loc[-1] if isinstance(loc[-1], str) and len(loc) > 1 else None
    if not indices:  # the whole array: its key, or its first table
        for n, line in enumerate(lines, 1):
            if re.match(rf"^\s*(?:{loc[0]}\s*=|\[\[\s*{loc[0]}\s*\]\])", line):
                return n
        return None
    counters: list[int] = []
    start = None
    if loc[0] == "progression":
        target = [indices[0]] if indices else []
        header = re.compile(r"^\s*\[\[\s*progression\s*\]\]")
        count = -1
        for n, line in enumerate(lines, 1):
            if start is not None and _ANY_HEADER.match(line):
                break
            if header.match(line):
                count += 1
                if target and count == target[0]:
                    start = n
            elif start is not None and field and re.match(rf"^\s*{re.escape(field)}\s*=", line):
                return n
        return start
    for n, line in enumerate(lines, 1):
        if start is not None and _ANY_HEADER.match(line):
            break
        match = _HEADER.match(line)
        if match:
            depth = match.group(1).count("steps")
            counters = counters[:depth] + [-1] * (depth - len(counters[:depth]))
            counters[depth - 1] += 1
            if counters == indices:
                start = n
        elif start is not None and field and re.match(rf"^\s*{re.escape(field)}\s*=", line):
            return n
    return start


def problem_lines(source: str, exc: pydantic.ValidationError, text: str = "") -> list[str]:
    """One ``source: path: message`` line per problem, with ``(line N)`` when known."""
    found: list[tuple[Loc, str]] = []
    for err in exc.errors(include_url=False):
        error = err.get("ctx", {}).get("error")
        if isinstance(error, ProgramProblems):
            found.extend(error.problems)
            continue
        message = str(err["msg"]).removeprefix("Value error, ")
        found.append((_clean_loc(err["loc"]), message))
    lines = []
    for loc, message in found:
        line = find_line(text, loc) if text and loc else None
        where = f" (line {line})" if line else ""
        lines.append(f"{source}: {format_location(loc)}: {message}{where}")
    return lines


def _load_file(path: Path) -> Program:
    data = load_data(path, ProgramError)
    try:
        return Program.model_validate(data)
    except pydantic.ValidationError as exc:
        # Only a file that does not validate is read again, for its line numbers.
        text = path.read_text(encoding="utf-8") if path.suffix.lower() == ".toml" else ""
        raise ProgramError("\n".join(problem_lines(str(path), exc, text))) from None


def library_names() -> list[str]:
    """Names of the shipped programs (their file names without ``.toml``)."""
    return sorted(p.stem for p in data_dir("programs").glob("*.toml"))


def resolve_path(name_or_path: str | Path) -> Path:
    """The file for a library name or a path; ``ProgramError`` when there is neither."""
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    as_path = Path(text)
    if as_path.suffix.lower() in _SUFFIXES or "/" in text:
        return as_path
    shipped = data_dir("programs") / f"{text}.toml"
    if shipped.is_file():
        return shipped
    if as_path.is_file():
        return as_path
    raise ProgramError(
        f"{text}: no such program in the library ({', '.join(library_names())}) and no such file"
    )


def load_program(name_or_path: str | Path) -> Program:
    """A library program by name (``"demo"``, ``"retro-intro"``), or a ``.toml``/``.json`` file.

    Raises ``ProgramError`` with one line per problem when it does not validate.
    """
    return _load_file(resolve_path(name_or_path))


def library() -> list[tuple[str, Program]]:
    """Every shipped program, as ``(name, program)`` sorted by name."""
    folder = data_dir("programs")
    return [(name, _load_file(folder / f"{name}.toml")) for name in library_names()]
