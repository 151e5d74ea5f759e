"""The ``retrorun`` command.

Each area of the product registers its own subcommands from a private module
(``_ftms.py``, ``_programs.py``, ...) through ``register(subparsers)``; a handler takes
the parsed arguments and returns the exit code. This module owns what every
command shares: one clear line for bad input (exit 2), never a traceback for a
``RetrorunError``, and 130 for Ctrl-C. Output never fails on its own account:
a character the terminal's encoding lacks is written as an escape, control
characters in an error are shown escaped, and a reader that goes away
(``retrorun plan x | head``) ends the command quietly with 141, as SIGPIPE would.

Building the parser is cheap on purpose: every command registers its options, so
``retrorun --help`` and ``retrorun ftms decode`` would otherwise load what the
heaviest command needs (pydantic, asyncio, the device profiles) before doing
anything. A ``_*.py`` module imports at its top only what ``register`` needs
(argparse, ``retrorun.errors``, ``retrorun.cli._flags``, the runner profiles of
``retrorun.limits``, the codec) and its handlers import the rest when they run;
``tests/test_startup.py`` holds each command to that.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from retrorun import __version__
from retrorun.errors import RetrorunError
from retrorun.logs import configure_logging

__all__ = ["ArgumentParser", "Handler", "main"]

Handler = Callable[[argparse.Namespace], int]


class ArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, _printable(f"{self.prog}: error: {message} (see --help)") + "\n")


def _printable(text: str) -> str:
    """``retrorun.programs.printable``, loaded only when something goes wrong.

    The program library brings pydantic with it; a command that succeeds never
    needs it here.
    """
    from retrorun.programs import printable

    return printable(text)


def _build_parser() -> ArgumentParser:
    from retrorun.cli import _device, _doctor, _export, _ftms, _history, _programs, _run, _watch

    parser = ArgumentParser(
        prog="retrorun",
        description="Guided backward-running interval sessions on Bluetooth FTMS treadmills.",
    )
    parser.add_argument("--version", action="version", version=f"retrorun {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for module in (_run, _programs, _device, _ftms, _export, _history, _doctor, _watch):
        module.register(sub)
    return parser


#: The exit code of a command whose reader went away (128 + SIGPIPE, as a shell shows it).
EXIT_BROKEN_PIPE = 141


def _robust_streams() -> None:
    """Write what the terminal's encoding cannot show as escapes, never fail on it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # one that cannot be
                reconfigure(errors="backslashreplace")


def _reader_gone() -> int:
    """The pipe's reader left: send the rest of the output nowhere, exit quietly.

    Python flushes standard output again at exit; pointing it at ``os.devnull``
    keeps that flush from failing a second time.
    """
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):  # no descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``retrorun`` command; returns the process exit code."""
    _robust_streams()
    configure_logging("retrorun")
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        handler: Handler = args.handler
        code = handler(args)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
    except RetrorunError as exc:
        for line in str(exc).split("\n") if str(exc) else [type(exc).__name__]:
            print(f"retrorun: {_printable(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    return code


if __name__ == "__main__":
    sys.exit(main())
