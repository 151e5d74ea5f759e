"""Misbehaviour on request: ``--fault NAME[@SECONDS][:ARG]``.

Each fault is something real treadmills do (``FTMS.md`` lists the reports): a
person at the console, a safety key, a dying link, firmware that ignores or
invents speeds. Timed faults fire once, ``SECONDS`` after power-on; untimed ones
change the treadmill's behaviour for the whole run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from retrorun.errors import UsageError

__all__ = ["FAULTS", "Fault", "FaultPlan", "parse_fault"]

# name -> (needs a time, argument: None | "kmh" | "seconds" | "kmh_per_s", what it does)
FAULTS: dict[str, tuple[bool, str | None, str]] = {
    "console-speedup": (True, "kmh", "a person sets the belt to KMH at the console"),
    "console-stop": (True, None, "the console's stop button"),
    "safety-key": (True, None, "the safety key is pulled: the belt stops"),
    "drop-link": (True, None, "the link dies; the belt keeps running"),
    "stall": (True, "seconds", "no notifications for SECONDS"),
    "reject-control": (False, None, "Request Control is refused"),
    "ignore-speed": (False, None, "speed commands are acknowledged and ignored"),
    "slow-ramp": (False, "kmh_per_s", "the belt accelerates at KMH_PER_S only"),
    "spurious-speed": (True, "kmh", "the firmware jumps to KMH by itself"),
    "reboot": (True, None, "the treadmill restarts: link lost, belt stopped"),
    "garbage": (True, None, "one malformed Treadmill Data notification"),
    "zero-ranges": (False, None, "supported ranges read as all zeros"),
}

_SPEC = re.compile(r"^(?P<name>[a-z-]+)(?:@(?P<at>[^:]+))?(?::(?P<arg>.+))?$")


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault: ``at`` in seconds after power-on (None: from the start)."""

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
        raise UsageError(f"fault {spec!r}: {what} must be 0 or more, not {text}")
    return value


def parse_fault(spec: str) -> Fault:
    """Parse ``NAME[@SECONDS][:ARG]``; ``UsageError`` (one line, exit 2) when wrong."""
    match = _SPEC.match(spec.strip())
    if match is None or match["name"] not in FAULTS:
        known = ", ".join(FAULTS)
        name = match["name"] if match else spec
        raise UsageError(f"unknown fault {name!r} in {spec!r} (known: {known})")
    name = match["name"]
    timed, arg_kind, _ = FAULTS[name]
    at = _number(spec, "the time", match["at"]) if match["at"] is not None else None
    if timed and at is None:
        raise UsageError(f"fault {spec!r}: needs a time, e.g. {name}@30")
    if not timed and at is not None:
        raise UsageError(f"fault {spec!r}: {name} applies for the whole run and takes no @time")
    arg = None
    if arg_kind is None:
        if match["arg"] is not None:
            raise UsageError(f"fault {spec!r}: {name} takes no argument")
    else:
        if match["arg"] is None:
            raise UsageError(f"fault {spec!r}: needs :{arg_kind.upper()}")
        arg = _number(spec, arg_kind.upper(), match["arg"])
        if arg_kind == "kmh_per_s" and arg == 0:
            raise UsageError(f"fault {spec!r}: a belt with no acceleration never moves")
    return Fault(name, at, arg)


@dataclass(slots=True)
class FaultPlan:
    """The faults of one run: standing behaviours and a timeline of one-off events."""

    faults: list[Fault] = field(default_factory=list)
    _fired: set[int] = field(default_factory=set)

    def has(self, name: str) -> bool:
        """A standing fault (``reject-control``, ``ignore-speed``, ...) is on."""
        return any(f.name == name and f.at is None for f in self.faults)

    def arg(self, name: str) -> float | None:
        for fault in self.faults:
            if fault.name == name and fault.at is None:
                return fault.arg
        return None

    def due(self, now: float) -> list[Fault]:
        """Timed faults whose time has come, each once, in time order."""
        out = []
        for index, fault in sorted(enumerate(self.faults), key=lambda p: p[1].at or 0.0):
            if fault.at is not None and fault.at <= now and index not in self._fired:
                self._fired.add(index)
                out.append(fault)
        return out
