"""Where the shipped data files (device profiles, program library) live.

In a wheel they are inside the package (``retrorun/data/...``, see pyproject's
force-include); in a source checkout or an editable install they are the top-level
``devices/`` and ``programs/`` folders.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder of shipped ``name`` files (``"devices"`` or ``"programs"``)."""
    packaged = _PACKAGE / "data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parents[1] / name
