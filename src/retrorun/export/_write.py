"""Writing export files: beside a record (``retrorun run --export``) or where asked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from retrorun.errors import UsageError
from retrorun.export._activity import Activity, read_activity
from retrorun.export._fit import fit_activity
from retrorun.export._tcx import tcx_activity
from retrorun.programs import printable

__all__ = ["ENCODERS", "FORMATS", "check_output", "write_exports", "write_file"]

ENCODERS: dict[str, Callable[[Activity], bytes]] = {"fit": fit_activity, "tcx": tcx_activity}
FORMATS = frozenset(ENCODERS)


def check_output(flag: str, path: Path, suffix: str) -> None:
    """Refuse (``UsageError``, exit 2) an output path that cannot be written, before
    anything is read: a folder, a missing folder, a name without its suffix."""
    shown = printable(str(path))
    if path.suffix.lower() != suffix:
        raise UsageError(f"{flag} {shown}: the file name must end in {suffix}")
    if path.is_dir():
        raise UsageError(f"{flag} {shown}: a folder, not a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {shown}: no folder {printable(str(path.parent))} to write it in")


def write_file(path: Path, data: bytes, *, flag: str = "") -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed over it),
    so that an app never picks up half a file; ``UsageError`` when it cannot."""
    prefix = f"{flag} " if flag else ""
    shown = printable(str(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"{prefix}{shown}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # as open() would make it, not 0600
        Path(temp).replace(path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UsageError(f"{prefix}{shown}: cannot write: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _formats(formats: Iterable[str]) -> list[str]:
    wanted = {"fit", "tcx"} if "both" in formats else set(formats)
    unknown = wanted - FORMATS
    if unknown:
        raise UsageError(f"--export {', '.join(sorted(unknown))}: give fit, tcx or both")
    return sorted(wanted)


def write_exports(
    record_path: Path, formats: set[str], *, session_id: str | None = None
) -> list[Path]:
    """Write ``<record stem>.fit`` / ``.tcx`` beside the record for one session (default:
    the record's last) and return their paths.

    ``formats`` holds ``fit``, ``tcx`` or ``both``. A session cut short is exported as
    far as it goes. ``RecordError`` for a file that is not a record or a session
    without telemetry, ``UsageError`` for a file that cannot be written (both exit 2).
    """
    wanted = _formats(formats)
    if not wanted:
        return []
    activity = read_activity(record_path, session_id=session_id)
    written: list[Path] = []
    for kind in wanted:
        target = record_path.with_suffix(f".{kind}")
        write_file(target, ENCODERS[kind](activity))
        written.append(target)
    return written
