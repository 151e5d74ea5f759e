"""Load programs from files or the shipped library, with one line per problem.

A problem reads ``programs/x.toml: steps[3].speed_kmh: <message> (line 14)``: the
file, the field path, the message, and the line when the file is TOML written with
``[[steps]]`` tables (inline tables and JSON give no line).

A file is read only when it is a regular file of at most ``MAX_FILE_BYTES`` (a FIFO,
a device or a folder is refused, never waited on), and parsed only when its
tables and arrays nest at most ``MAX_DEPTH`` deep; at most ``MAX_PROBLEMS`` problems
are reported. Every line is printable: control characters in a path, a key or a
value are shown escaped, never passed to the terminal.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

import pydantic

from retrorun._paths import data_dir
from retrorun._validation import format_location
from retrorun.errors import ProgramError
from retrorun.programs._schema import MAX_DEPTH, UNION_TAGS, Loc, Program, ProgramProblems
from retrorun.programs._text import printable

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PROBLEMS",
    "library",
    "library_names",
    "load_program",
    "parse_program",
    "problem_lines",
    "read_program_text",
    "resolve_path",
]

MAX_FILE_BYTES = 1 << 20  # 1 MiB: a program is a few kilobytes; this parses in 0.2 s
MAX_PROBLEMS = 20  # problems reported for one file; the rest are counted

_HEADER = re.compile(r"^\s*\[\[\s*(steps(?:\s*\.\s*steps)*)\s*\]\]")
_ANY_HEADER = re.compile(r"^\s*\[")
_SUFFIXES = (".toml", ".json")
_INTERNAL = re.compile(r"[a-z][a-z-]*\[.*\]\Z", re.DOTALL)  # pydantic's own names in a path


def _clean_loc(loc: tuple[int | str, ...]) -> Loc:
    """Drop pydantic's union tags (``steps[2].repeat.steps`` -> ``steps[2].steps``)."""
    out: list[int | str] = []
    for i, part in enumerate(loc):
        after_index = i > 0 and isinstance(loc[i - 1], int)
        if isinstance(part, str) and after_index and part in UNION_TAGS:
            continue
        if isinstance(part, str) and _INTERNAL.match(part):
            continue  # internal names such as "function-after[...]"
        out.append(part)
    return tuple(out)


def find_line(text: str | list[str], loc: Loc) -> int | None:
    """1-based line of ``loc`` in TOML ``text``, when ``[[steps]]`` tables make it findable."""
    lines = text.splitlines() if isinstance(text, str) else text
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
    """One ``source: path: message`` line per problem, with ``(line N)`` when known.

    At most ``MAX_PROBLEMS`` lines, then one that counts the others.
    """
    found: list[tuple[Loc, str]] = []
    for err in exc.errors(include_url=False):
        error = err.get("ctx", {}).get("error")
        if isinstance(error, ProgramProblems):
            found.extend(error.problems)
            continue
        message = str(err["msg"]).removeprefix("Value error, ")
        found.append((_clean_loc(err["loc"]), message))
    text_lines = text.splitlines() if text else []
    lines = []
    for loc, message in found[:MAX_PROBLEMS]:
        line = find_line(text_lines, loc) if text_lines and loc else None
        where = f" (line {line})" if line else ""
        lines.append(printable(f"{source}: {format_location(loc)}: {message}{where}"))
    if len(found) > MAX_PROBLEMS:
        lines.append(printable(f"{source}: and {len(found) - MAX_PROBLEMS} more problems"))
    return lines


def read_program_text(path: Path) -> str:
    """The text of a program file: a regular file of at most ``MAX_FILE_BYTES``, in UTF-8.

    A FIFO, a device or a folder is refused without being waited on: the file is
    opened non-blocking and checked again once open.
    """
    shown = printable(str(path))
    try:
        before = path.stat()
        _check_regular(shown, before)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ProgramError(f"{shown}: no such file") from None
    except OSError as exc:
        raise ProgramError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    try:
        _check_regular(shown, os.fstat(fd))
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ProgramError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ProgramError(f"{shown}: larger than {MAX_FILE_BYTES // 1024} KiB; not a program file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProgramError(f"{shown}: not UTF-8 text (byte {exc.start})") from None


def _check_regular(shown: str, info: os.stat_result) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ProgramError(f"{shown}: a folder, not a program file")
    if not stat.S_ISREG(info.st_mode):
        raise ProgramError(f"{shown}: not a regular file (a pipe or a device); give a program file")
    if info.st_size > MAX_FILE_BYTES:
        raise ProgramError(f"{shown}: larger than {MAX_FILE_BYTES // 1024} KiB; not a program file")


# Tokens that matter for nesting: strings and comments (skipped whole; one that is
# not closed runs to the end of its line, or of the file for a multi-line string,
# so the scan stays linear) and brackets.
_TOML_TOKENS = re.compile(
    r"""
      \"\"\"(?:[^\\]|\\.)*?(?:\"\"\"|\Z)   # multi-line basic string
    | '''.*?(?:'''|\Z)                     # multi-line literal string
    | "(?:[^"\\\n]|\\.)*(?:"|$)            # basic string
    | '[^'\n]*(?:'|$)                      # literal string
    | \#[^\n]*                             # comment
    | [\[\]{}]
    """,
    re.DOTALL | re.MULTILINE | re.VERBOSE,
)
_JSON_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*(?:"|$)|[\[\]{}]', re.MULTILINE)


def too_deep_line(text: str, *, toml: bool) -> int | None:
    """The line where ``text``'s arrays and tables first nest deeper than ``MAX_DEPTH``."""
    depth = 0
    for match in (_TOML_TOKENS if toml else _JSON_TOKENS).finditer(text):
        found = match.group()
        if found in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, match.start()) + 1
        elif found in ("]", "}"):
            depth = max(0, depth - 1)
    return None


def parse_program(text: str, source: str, *, toml: bool = True) -> Program:
    """A program from the text of a TOML (or JSON) file; ``ProgramError`` names ``source``."""
    shown = printable(source)
    kind = "TOML" if toml else "JSON"
    line = too_deep_line(text, toml=toml)
    if line is not None:
        raise ProgramError(
            f"{shown}: tables and arrays nest more than {MAX_DEPTH} deep (line {line})"
        )
    data: Any
    try:
        data = tomllib.loads(text) if toml else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProgramError(printable(f"{shown}: not valid TOML: {exc}")) from None
    except json.JSONDecodeError as exc:
        message = f"{shown}: not valid JSON: {exc.msg} at line {exc.lineno}"
        raise ProgramError(printable(message)) from None
    except ValueError:  # an integer of thousands of digits
        raise ProgramError(f"{shown}: not valid {kind}: a number has too many digits") from None
    except RecursionError:  # the nesting scan missed a form of nesting
        raise ProgramError(f"{shown}: not valid {kind}: nested too deep") from None
    if not isinstance(data, dict):
        raise ProgramError(f"{shown}: expected a table of fields at the top level")
    try:
        return Program.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ProgramError("\n".join(problem_lines(source, exc, text if toml else ""))) from None
    except RecursionError:
        raise ProgramError(f"{shown}: nested too deep") from None


def _load_file(path: Path) -> Program:
    text = read_program_text(path)
    return parse_program(text, str(path), toml=path.suffix.lower() != ".json")


def library_names() -> list[str]:
    """Names of the shipped programs (their file names without ``.toml``)."""
    return sorted(p.stem for p in data_dir("programs").glob("*.toml"))


def resolve_path(name_or_path: str | Path) -> Path:
    """The file for a library name or a path; ``ProgramError`` when there is neither."""
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    shown = printable(text)
    as_path = Path(text)
    if as_path.suffix.lower() in _SUFFIXES or "/" in text:
        return as_path
    shipped = data_dir("programs") / f"{text}.toml"
    if shipped.is_file():
        return shipped
    if as_path.is_file():
        return as_path
    raise ProgramError(
        f"{shown}: no such program in the library ({', '.join(library_names())}) and no such file"
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
