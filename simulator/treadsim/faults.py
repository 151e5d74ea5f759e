"""Misbehaviour on request: ``--fault NAME[@SECONDS][:ARG]``, repeatable.

Each fault is something real treadmills do (``FTMS.md`` lists the reports): a
person at the console, a safety key, a dying link, firmware that ignores or
invents speeds. Timed faults (``NAME@SECONDS``) fire once, that many seconds of
loop time after power-on; standing faults (no ``@``) change the treadmill's
behaviour for the whole run. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from retrorun.errors import UsageError

__all__ = ["FAULTS", "Fault", "FaultKind", "FaultPlan", "parse_fault"]


@dataclass(frozen=True, slots=True)
class FaultKind:
    """What a fault name takes: a time or not, an argument (its metavar) or not."""

    timed: bool
    arg: str | None  # the metavar of the argument, e.g. "KMH"; None: takes none
    help: str


FAULTS: dict[str, FaultKind] = {
    "console-speedup": FaultKind(
        timed=True, arg="KMH", help="a person sets the belt to KMH at the console"
    ),
    "console-stop": FaultKind(timed=True, arg=None, help="a person presses stop at the console"),
    "console-pause": FaultKind(timed=True, arg=None, help="a person presses pause at the console"),
    "console-start": FaultKind(
        timed=True, arg=None, help="a person presses start (or resume) at the console"
    ),
    "safety-key": FaultKind(
        timed=True, arg=None, help="the safety key is pulled: the belt stops at once"
    ),
    "drop-link": FaultKind(timed=True, arg=None, help="the link dies; the belt keeps running"),
    "stall": FaultKind(timed=True, arg="SECONDS", help="no notifications for SECONDS"),
    "reject-control": FaultKind(timed=False, arg=None, help="Request Control is refused (0x05)"),
    "ignore-speed": FaultKind(timed=False, arg=None, help="speed commands succeed and are ignored"),
    "slow-ramp": FaultKind(
        timed=False, arg="KMH_PER_S", help="the belt changes speed at KMH_PER_S only"
    ),
    "spurious-speed": FaultKind(
        timed=True, arg="KMH", help="the firmware changes speed to KMH by itself"
    ),
    "reboot": FaultKind(
        timed=True, arg=None, help="the treadmill restarts: link lost, belt stopped, reset"
    ),
    "garbage": FaultKind(timed=True, arg=None, help="one malformed Treadmill Data notification"),
    "zero-ranges": FaultKind(timed=False, arg=None, help="the supported ranges read as all zeros"),
}

_MAX_TIME_S = 7 * 24 * 3600.0
_MAX_KMH = 40.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault: ``at`` in seconds after power-on (None: standing)."""

    name: str
    at: float | None = None
    arg: float | None = None

    def __str__(self) -> str:
        text = self.name
        if self.at is not None:
            text += f"@{self.at:g}"
        if self.arg is not None:
            text += f":{self.arg:g}"
        return text


def _number(spec: str, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"fault {spec!r}: {what} must be a number, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"fault {spec!r}: {what} must be a number >= 0, not {text!r}")
    return value


def parse_fault(spec: str) -> Fault:
    """Parse ``NAME[@SECONDS][:ARG]``; a wrong spec raises a one-line ``UsageError``."""
    text = spec.strip()
    head, colon, arg_text = text.partition(":")
    name, at_sign, at_text = head.partition("@")
    kind = FAULTS.get(name)
    if kind is None:
        raise UsageError(f"unknown fault {name!r} in {spec!r}; known: {', '.join(FAULTS)}")
    usage = name + ("@SECONDS" if kind.timed else "") + (f":{kind.arg}" if kind.arg else "")
    at: float | None = None
    if at_sign:
        if not kind.timed:
            raise UsageError(f"fault {spec!r}: {name} lasts the whole run, takes no @; use {usage}")
        at = _number(spec, "SECONDS", at_text)
        if at > _MAX_TIME_S:
            raise UsageError(f"fault {spec!r}: SECONDS must be at most {_MAX_TIME_S:g}")
    elif kind.timed:
        raise UsageError(f"fault {spec!r}: needs a time; use {usage}, e.g. {name}@30")
    arg: float | None = None
    if kind.arg is None:
        if colon:
            raise UsageError(f"fault {spec!r}: {name} takes no argument; use {usage}")
    else:
        if not colon or not arg_text:
            raise UsageError(f"fault {spec!r}: needs :{kind.arg}; use {usage}")
        arg = _number(spec, kind.arg, arg_text)
        if kind.arg == "KMH_PER_S" and not 0 < arg <= 20:
            raise UsageError(f"fault {spec!r}: KMH_PER_S must be above 0 and at most 20")
        if kind.arg == "KMH" and arg > _MAX_KMH:
            raise UsageError(f"fault {spec!r}: KMH must be at most {_MAX_KMH:g}")
    return Fault(name, at, arg)


@dataclass(slots=True)
class FaultPlan:
    """The faults of one run: standing behaviours and a timeline of one-off events."""

    faults: list[Fault] = field(default_factory=list)
    _fired: set[int] = field(default_factory=set)

    @classmethod
    def parse(cls, specs: Iterable[str]) -> FaultPlan:
        """A plan from ``--fault`` values (``UsageError`` on the first bad one)."""
        return cls([parse_fault(spec) for spec in specs])

    def has(self, name: str) -> bool:
        """Whether a standing fault (``reject-control``, ``ignore-speed``, ...) is on."""
        return any(f.name == name and f.at is None for f in self.faults)

    def arg(self, name: str) -> float | None:
        """The argument of a standing fault, or None when it is off."""
        for fault in self.faults:
            if fault.name == name and fault.at is None:
                return fault.arg
        return None

    def due(self, now: float) -> list[Fault]:
        """Timed faults whose time has come and that have not fired, in time order."""
        due = [
            (fault.at, index, fault)
            for index, fault in enumerate(self.faults)
            if fault.at is not None and fault.at <= now and index not in self._fired
        ]
        due.sort(key=lambda item: (item[0], item[1]))
        self._fired.update(index for _, index, _ in due)
        return [fault for _, _, fault in due]

    def pending(self) -> list[Fault]:
        """Timed faults that have not fired yet."""
        return [f for i, f in enumerate(self.faults) if f.at is not None and i not in self._fired]
