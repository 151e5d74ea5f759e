"""The ``retrorun`` command.

Each area of the product registers its own subcommands from a private module
(``_ftms.py``, ``_programs.py``, ...) through ``register(subparsers)``; a handler takes
the parsed arguments and returns the exit code. This module owns what every
command shares: one clear line for bad input (exit 2), never a traceback for a
``RetrorunError``, and 130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from retrorun import __version__
from retrorun.errors import RetrorunError

__all__ = ["ArgumentParser", "Handler", "main"]

Handler = Callable[[argparse.Namespace], int]


class ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _build_parser() -> ArgumentParser:
    from retrorun.cli import _device, _ftms, _programs, _run

    parser = ArgumentParser(
        prog="retrorun",
        description="Guided backward-running interval sessions on Bluetooth FTMS treadmills.",
    )
    parser.add_argument("--version", action="version", version=f"retrorun {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for module in (_run, _programs, _device, _ftms):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``retrorun`` command; returns the process exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except RetrorunError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"retrorun: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
