"""Misbehaviour on request: ``--fault NAME[@WHEN][:ARG]``, repeatable.

Each fault is something real treadmills do (``FTMS.md`` lists the reports): a
person at the console, a safety key, a dying link, firmware that ignores or
invents speeds. Standing faults (no ``@``) change the treadmill's behaviour for
the whole run; every other fault is an event, and ``WHEN`` says when it happens::

    SPEC  = NAME [ "@" WHEN ] [ ":" ARG ]
    WHEN  = T                          once, T seconds after power-on
          | T "/" EVERY [ "x" COUNT ]  at T, T+EVERY, T+2*EVERY, ... COUNT times
                                       (no COUNT: until the run ends)
          | T "," T { "," T }          at each time listed (in any order)
          | EVENT [ N ] [ "+" DELAY ]  at the Nth EVENT (N = 1 when left out), or
                                       DELAY seconds after it
    EVENT = "write"    the control point receives a write: every write counts,
                       Request Control and refused ones included. The fault
                       fires before the write is answered; one that takes the
                       link down (drop-link, reboot) loses the write: it is
                       neither performed nor answered.
          | "paused"   the belt's paused state becomes true (a control-point
                       Pause or the console's pause button)
          | "stopped"  the belt's run ends: it ran, and is now neither running
                       nor paused (stop, safety key, reset, reboot)

For example ``console-speedup@30:9``, ``spurious-speed@48/3x10:8`` (ten times,
3 s apart, from 48 s), ``spurious-speed@48,51,60:8``, ``drop-link@write5`` (the
fifth write is never answered), ``console-speedup@paused:5.5``,
``spurious-speed@paused+2:5.3``, ``console-start@stopped2+1``. Times are on the
simulator's clock, to the physics tick: an event's DELAY counts from the tick
before it. Bounds: T and DELAY at most a week, EVERY at least 0.1 s, COUNT, N
and the number of listed times at most 100000; a repetition with a COUNT must
end within the week, one without stops there.

Pure: no clock, no I/O. ``str(fault)`` writes the spec back, and
:func:`parse_fault` reads it to the same :class:`Fault`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Final, Literal, get_args

from retrorun.errors import UsageError

__all__ = [
    "EVENTS",
    "FAULTS",
    "Event",
    "Fault",
    "FaultKind",
    "FaultPlan",
    "parse_fault",
    "parse_injection",
]


@dataclass(frozen=True, slots=True)
class FaultKind:
    """What a fault name takes: a time or not, an argument (its metavar) or not."""

    timed: bool  # an event (at a time or on a trigger); False: standing, no @
    arg: str | None  # the metavar of the argument, e.g. "KMH"; None: takes none
    help: str


FAULTS: dict[str, FaultKind] = {
    "console-speedup": FaultKind(
        timed=True, arg="KMH", help="a person sets the belt to KMH at the console"
    ),
    "console-incline": FaultKind(
        timed=True, arg="PCT", help="a person sets the incline to PCT at the console"
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
    # The simulated heart-rate strap (``--hr`` / ``--sim-hr``): each lasts to the end.
    "hr-contact-lost": FaultKind(
        timed=True, arg=None, help="the strap loses skin contact (it says so, value 0)"
    ),
    "hr-dropout": FaultKind(timed=True, arg=None, help="the strap stops notifying"),
    "hr-stuck": FaultKind(timed=True, arg=None, help="the strap repeats its last value forever"),
    "hr-spike": FaultKind(timed=True, arg="BPM", help="the strap reads BPM for 3 s"),
    "hr-drift": FaultKind(
        timed=True, arg="BPM_PER_MIN", help="the strap's error grows by BPM_PER_MIN (+ or -)"
    ),
}

Event = Literal["write", "paused", "stopped"]
#: The events a fault can wait for (``NAME@EVENT[N][+DELAY]``).
EVENTS: Final[tuple[Event, ...]] = get_args(Event)

_MAX_TIME_S = 7 * 24 * 3600.0
_MAX_KMH = 40.0
_MIN_PCT, _MAX_PCT = -30.0, 40.0  # the device-profile schema's incline bounds
_MIN_BPM, _MAX_BPM = 20.0, 300.0  # a spike a strap could send
_MAX_DRIFT = 60.0  # bpm per minute, either way
_MIN_EVERY_S = 0.1
_MAX_COUNT = 100_000
_TRIGGER = re.compile(r"(?P<event>[a-z]+)(?P<nth>[0-9]*)(?:(?P<plus>\+)(?P<delay>.*))?")
_WHEN_HELP = "T, T/EVERY[xCOUNT], T,T,... or EVENT[N][+DELAY] (events: write, paused, stopped)"


def _fmt(value: float) -> str:
    """A number as short as it reads back exactly (``30``, ``12.5``, ``0.1``)."""
    text = f"{value:.15g}"
    return text if float(text) == value else repr(value)


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault (see the module docstring for the grammar).

    A standing fault has neither ``at`` nor ``on``; nor has an event fault parsed by
    :func:`parse_injection`, fired at once. A timed one fires at ``at``
    seconds after power-on, then at each of ``also``, or every ``every`` seconds
    (``count`` times in all; None: until the run ends). A triggered one fires
    ``delay`` seconds after the ``nth`` ``on`` event.
    """

    name: str
    at: float | None = None
    arg: float | None = None
    every: float | None = None
    count: int | None = None
    also: tuple[float, ...] = ()
    on: Event | None = None
    nth: int = 1
    delay: float = 0.0

    @property
    def standing(self) -> bool:
        """Whether it is a behaviour for the whole run (``reject-control``, ...)
        rather than an event."""
        kind = FAULTS.get(self.name)
        return kind is not None and not kind.timed

    def times(self) -> Iterator[float]:
        """The times a timed fault fires at, in order (none for other faults)."""
        if self.at is None:
            return
        if self.every is None:
            yield from sorted((self.at, *self.also))
            return
        k = 0
        while self.count is None or k < self.count:
            t = self.at + k * self.every
            if t > _MAX_TIME_S:
                return
            yield t
            k += 1

    def __str__(self) -> str:
        text = self.name
        if self.at is not None:
            text += "@" + ",".join(_fmt(t) for t in (self.at, *self.also))
            if self.every is not None:
                text += f"/{_fmt(self.every)}"
                if self.count is not None:
                    text += f"x{self.count}"
        elif self.on is not None:
            text += f"@{self.on}"
            if self.nth != 1 or self.on == "write":
                text += str(self.nth)
            if self.delay:
                text += f"+{_fmt(self.delay)}"
        if self.arg is not None:
            text += f":{_fmt(self.arg)}"
        return text


def _number(spec: str, what: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"fault {spec!r}: {what} must be a number, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"fault {spec!r}: {what} must be a number >= 0, not {text!r}")
    return value


def _time(spec: str, what: str, text: str) -> float:
    value = _number(spec, what, text)
    if value > _MAX_TIME_S:
        raise UsageError(f"fault {spec!r}: {what} must be at most {_MAX_TIME_S:g}")
    return value


def _count(spec: str, what: str, text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise UsageError(f"fault {spec!r}: {what} must be a whole number, not {text!r}")
    value = int(text)
    if not 1 <= value <= _MAX_COUNT:
        raise UsageError(f"fault {spec!r}: {what} must be from 1 to {_MAX_COUNT}, not {value}")
    return value


def _trigger(spec: str, name: str, when: str) -> Fault:
    match = _TRIGGER.fullmatch(when)
    if match is None or match["event"] not in EVENTS:
        raise UsageError(f"fault {spec!r}: after @ comes {_WHEN_HELP}, not {when!r}")
    event: Event = match["event"]
    nth = _count(spec, "N", match["nth"]) if match["nth"] else 1
    delay = _time(spec, "DELAY", match["delay"]) if match["plus"] else 0.0
    return Fault(name, on=event, nth=nth, delay=delay)


def _schedule(spec: str, name: str, when: str) -> Fault:
    if "," in when:
        parts = when.split(",")
        if len(parts) > _MAX_COUNT:
            raise UsageError(f"fault {spec!r}: at most {_MAX_COUNT} times")
        if any("/" in part for part in parts):
            raise UsageError(f"fault {spec!r}: a list of times cannot repeat (no /EVERY)")
        times = sorted(_time(spec, "SECONDS", part) for part in parts)
        return Fault(name, times[0], also=tuple(times[1:]))
    start, slash, repeat = when.partition("/")
    if "x" in start and not slash:
        raise UsageError(f"fault {spec!r}: xCOUNT follows /EVERY, as in T/EVERYxCOUNT")
    at = _time(spec, "SECONDS", start)
    if not slash:
        return Fault(name, at)
    every_text, x, count_text = repeat.partition("x")
    every = _time(spec, "EVERY", every_text)
    if every < _MIN_EVERY_S:
        raise UsageError(f"fault {spec!r}: EVERY must be at least {_MIN_EVERY_S:g}")
    count = _count(spec, "COUNT", count_text) if x else None
    if count is not None and at + (count - 1) * every > _MAX_TIME_S:
        raise UsageError(f"fault {spec!r}: the last time must be at most {_MAX_TIME_S:g}")
    return Fault(name, at, every=every, count=count)


def _when(spec: str, name: str, when: str) -> Fault:
    """The part after ``@``: a trigger or a schedule."""
    if when.startswith(EVENTS):
        return _trigger(spec, name, when)
    if not when:
        raise UsageError(f"fault {spec!r}: after @ comes {_WHEN_HELP}")
    first = re.split(r"[,/]", when, maxsplit=1)[0]
    if first[:1].isalpha() and not _is_float(first):
        raise UsageError(
            f"fault {spec!r}: SECONDS must be a number, not {when!r}; after @ comes {_WHEN_HELP}"
        )
    return _schedule(spec, name, when)


def _known() -> str:
    """The fault names for a message, the strap's as one group (the line stays short)."""
    strap = [n.removeprefix("hr-") for n in FAULTS if n.startswith("hr-")]
    names = [n for n in FAULTS if not n.startswith("hr-")]
    return ", ".join([*names, "hr-" + "/".join(strap)] if strap else names)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _arg(spec: str, metavar: str, text: str) -> float:
    if metavar == "PCT":
        value = float(text) if _is_float(text) else math.nan
        if not _MIN_PCT <= value <= _MAX_PCT:
            raise UsageError(
                f"fault {spec!r}: PCT must be a number from {_MIN_PCT:g} to {_MAX_PCT:g}, "
                f"not {text!r}"
            )
        return value
    if metavar == "BPM_PER_MIN":
        value = float(text) if _is_float(text) else math.nan
        if not -_MAX_DRIFT <= value <= _MAX_DRIFT:
            raise UsageError(
                f"fault {spec!r}: BPM_PER_MIN must be a number from {-_MAX_DRIFT:g} to"
                f" {_MAX_DRIFT:g}, not {text!r}"
            )
        return value
    value = _number(spec, metavar, text)
    if metavar == "BPM" and not _MIN_BPM <= value <= _MAX_BPM:
        raise UsageError(f"fault {spec!r}: BPM must be from {_MIN_BPM:g} to {_MAX_BPM:g}")
    if metavar == "KMH_PER_S" and not 0 < value <= 20:
        raise UsageError(f"fault {spec!r}: KMH_PER_S must be above 0 and at most 20")
    if metavar == "KMH" and value > _MAX_KMH:
        raise UsageError(f"fault {spec!r}: KMH must be at most {_MAX_KMH:g}")
    return value


def _parse(given: str, *, now: bool) -> Fault:
    text = given.strip()
    spec = given if len(given) <= 80 else given[:60] + "..."  # as messages name it
    head, colon, arg_text = text.partition(":")
    name, at_sign, when = head.partition("@")
    kind = FAULTS.get(name)
    if kind is None:
        raise UsageError(f"unknown fault {name!r} in {spec!r}; known: {_known()}")
    usage = name + ("@SECONDS" if kind.timed and not now else "")
    usage += f":{kind.arg}" if kind.arg else ""
    fault = Fault(name)
    if now:
        if not kind.timed:
            raise UsageError(f"fault {spec!r}: {name} lasts the whole run; it cannot fire now")
        if at_sign:
            raise UsageError(f"fault {spec!r}: fires now, takes no @; use {usage}")
    elif at_sign:
        if not kind.timed:
            raise UsageError(f"fault {spec!r}: {name} lasts the whole run, takes no @; use {usage}")
        fault = _when(spec, name, when)
    elif kind.timed:
        raise UsageError(f"fault {spec!r}: needs a time; use {usage}, e.g. {name}@30")
    if kind.arg is None:
        if colon:
            raise UsageError(f"fault {spec!r}: {name} takes no argument; use {usage}")
        return fault
    if not colon or not arg_text:
        raise UsageError(f"fault {spec!r}: needs :{kind.arg}; use {usage}")
    return replace(fault, arg=_arg(spec, kind.arg, arg_text))


def parse_fault(spec: str) -> Fault:
    """Parse ``NAME[@WHEN][:ARG]``; a wrong spec raises a one-line ``UsageError``."""
    return _parse(spec, now=False)


def parse_injection(spec: str) -> Fault:
    """Parse ``NAME[:ARG]``: an event fault to fire now, with no ``@``
    (:meth:`treadsim.server.FtmsServer.inject`). ``UsageError`` as :func:`parse_fault`."""
    return _parse(spec, now=True)


@dataclass(slots=True)
class FaultPlan:
    """The faults of one run: standing behaviours, a timeline, and faults waiting
    for an event (see :meth:`trigger`)."""

    faults: list[Fault] = field(default_factory=list)
    _times: dict[int, Iterator[float]] = field(default_factory=dict)
    _next: dict[int, float | None] = field(default_factory=dict)  # index -> next time
    _triggered: set[int] = field(default_factory=set)
    _armed: dict[int, float] = field(default_factory=dict)  # index -> time to fire

    @classmethod
    def parse(cls, specs: Iterable[str]) -> FaultPlan:
        """A plan from ``--fault`` values (``UsageError`` on the first bad one)."""
        return cls([parse_fault(spec) for spec in specs])

    def has(self, name: str) -> bool:
        """Whether a standing fault (``reject-control``, ``ignore-speed``, ...) is on."""
        return any(f.name == name and f.standing for f in self.faults)

    def arg(self, name: str) -> float | None:
        """The argument of a standing fault, or None when it is off."""
        for fault in self.faults:
            if fault.name == name and fault.standing:
                return fault.arg
        return None

    def _peek(self, index: int, fault: Fault) -> float | None:
        """The next time of a timed fault, None when it has no more."""
        if index not in self._next:
            self._times[index] = fault.times()
            self._next[index] = next(self._times[index], None)
        return self._next[index]

    def due(self, now: float) -> list[Fault]:
        """Faults whose time has come (each time of a repeated one, and the delayed
        triggered ones), not fired before, in time order; marks them fired."""
        due: list[tuple[float, int, Fault]] = []
        for index, fault in enumerate(self.faults):
            if fault.at is not None:
                while (t := self._peek(index, fault)) is not None and t <= now:
                    due.append((t, index, fault))
                    self._next[index] = next(self._times[index], None)
            armed = self._armed.get(index)
            if armed is not None and armed <= now:
                due.append((armed, index, fault))
                del self._armed[index]
        due.sort(key=lambda item: (item[0], item[1]))
        return [fault for _, _, fault in due]

    def trigger(self, event: Event, nth: int, now: float) -> list[Fault]:
        """The ``nth`` ``event`` (1-based) happened at ``now``: the faults waiting for
        it with no delay, in plan order, to fire at once. Those with a delay are
        armed, and :meth:`due` hands them out when their time comes."""
        fire: list[Fault] = []
        for index, fault in enumerate(self.faults):
            if fault.on != event or fault.nth != nth or index in self._triggered:
                continue
            self._triggered.add(index)
            if fault.delay > 0:
                self._armed[index] = now + fault.delay
            else:
                fire.append(fault)
        return fire

    def pending(self) -> list[Fault]:
        """Event faults with something still to fire: a time to come, an event not
        seen yet, or a delay running."""
        waiting = []
        for index, fault in enumerate(self.faults):
            if fault.at is not None:
                if self._peek(index, fault) is not None:
                    waiting.append(fault)
            elif fault.on is not None and (index not in self._triggered or index in self._armed):
                waiting.append(fault)
        return waiting
