"""What log records may reach a person's terminal: none, unless asked for.

A runner reads retrorun's own lines (the display, the summary, one clear error);
log records are for whoever debugs. Libraries call ``logging.debug(...)`` at module
level, which would otherwise install Python's default handler and print every
later warning of every library (``WARNING:bumble.controller:...``) into the
runner's terminal. ``RETRORUN_LOG=debug|info|warning`` turns records on, on stderr.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(program: str) -> None:
    """Silence log records on the terminal unless ``RETRORUN_LOG`` names a level."""
    root = logging.getLogger()
    wanted = os.environ.get("RETRORUN_LOG", "").strip().upper()
    level = logging.getLevelName(wanted) if wanted else None
    if isinstance(level, int):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{program}: {_FORMAT}"))
        root.addHandler(handler)
        root.setLevel(level)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())
