"""Load a TOML or JSON data file into a frozen pydantic model, with errors for people.

A ``ValidationError`` becomes one line per problem naming the file and the field
path (``programs/x.toml: steps[3].speed_kmh: ...``), raised as the caller's
``InputError`` subclass. Nothing from pydantic or tomllib leaks past this module.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from retrorun.errors import InputError

__all__ = ["format_location", "load_data", "load_model", "validation_lines"]

M = TypeVar("M", bound=pydantic.BaseModel)


def format_location(loc: Sequence[int | str]) -> str:
    """``("steps", 3, "speed_kmh")`` -> ``steps[3].speed_kmh``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_lines(source: str, exc: pydantic.ValidationError) -> list[str]:
    """One ``source: field.path: message`` line per validation error."""
    lines = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's internal tags (union member names, "function-after[...]").
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or "-" in p))]
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"{source}: {format_location(loc)}: {message}")
    return lines


def load_data(path: Path, error: type[InputError]) -> dict[str, Any]:
    """Read a ``.toml`` or ``.json`` file into plain data, or raise ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, Mapping):
        raise error(f"{path}: expected a table of fields at the top level")
    return dict(data)


def load_model(path: Path, model: type[M], error: type[InputError], **context: Any) -> M:
    """Load and validate ``path`` as ``model``; every problem is reported, one per line."""
    data = load_data(path, error)
    try:
        return model.model_validate(data, context=context or None)
    except pydantic.ValidationError as exc:
        raise error("\n".join(validation_lines(str(path), exc))) from None
