"""Helpers for the program tests: write a program file, build a program from data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retrorun.programs import Program


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    """Write ``text`` as ``tmp_path/name`` and return the path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def program(*steps: dict[str, Any], **fields: Any) -> Program:
    """A program from plain step tables (name defaults to "t")."""
    return Program.model_validate({"name": "t", **fields, "steps": list(steps)})


def fwd(seconds: float = 60, kmh: float = 4.0, **extra: Any) -> dict[str, Any]:
    """A forward step table."""
    return {"direction": "forward", "duration": seconds, "speed_kmh": kmh, **extra}


def back(seconds: float = 60, kmh: float = 2.5, **extra: Any) -> dict[str, Any]:
    """A backward step table."""
    return {"direction": "backward", "duration": seconds, "speed_kmh": kmh, **extra}
