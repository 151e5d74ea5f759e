"""The safety governor: the one path to a speed or incline command.

Every rule of ``DOMAIN.md`` ("Safety rules the controller enforces") that concerns a
*value* lives here: the backward ceiling, the backward ramp, turn-arounds, the
backward incline limit, the reaction to a belt that runs over the ceiling, and the
heart-rate ceiling. The session engine asks; the governor answers with a
:class:`SafeCommand` (the only kind of value the treadmill client will send) or a
:class:`Reaction` to one telemetry record.

The governor is pure: no asyncio, no clock of its own, no I/O. Times are the event
loop's clock, passed in by the caller, so tests drive it with plain numbers.

Units: speeds integer 0.01 km/h, inclines integer 0.1 %, heart rate bpm.

The belt is watched in every phase (rules 9-11): running backward it must stay
under the ceiling (beyond one speed increment it is corrected, a third record over
stops the session, and so does a second excursion within ``EXCURSION_WINDOW_S``);
during a turn-around it must stay at or under the turn-around speed; while paused
it must run down to rest. A belt that moves where the phase wants it still is
*halted* (``ReactionKind.HALT``: stop it, the session pauses for the runner); one
that will not stop after that ends the session.

Judgements of ours where ``DOMAIN.md`` gives no figure (rule 8 says only "above the
user's maximum, slow to the recovery speed; persisting, stop"):

* ``HR_FAR_OVER_BPM``: more than 10 bpm over the maximum stops the belt at once;
* ``HR_PERSIST_S``: over the maximum for 30 s, despite slowing, stops the belt;
* slowing is ``RAMP_STEP`` per ``RAMP_INTERVAL_S`` down to the device minimum (the
  recovery speed), and no speed increase is allowed while heart rate is high;
* rule 14's *unknown* heart rate, while a limit is in force and once a source is
  known (a strap connected, or a first value seen): no value for ``HR_STALE_S``
  (5 s), a strap that says it lost skin contact, or a value unchanged for
  ``HR_STUCK_S`` (60 s). It is treated as high, never as fine: slowed to the
  recovery speed, no increase, the runner told why; it never stops the belt by
  itself (a runner slowed to the device minimum is safe with or without a value);
* ``MIN_RESOLUTION``, ``MAX_TOLERANCE``: the speed tolerance is one device
  increment but never under 0.1 km/h, the resolution of every treadmill's speed
  display (a belt at the ceiling reads a few hundredths either side of it), and
  never over 0.3 km/h (the old fixed margin), however coarse the device;
* ``RUNDOWN_MARGIN_S``: a stopping belt gets its run-down time at the device's
  deceleration plus 2 s before it counts as still moving; ``RUNDOWN_GRACE_S``: after
  half a second (a machine's latency to a Stop) it must be losing speed at half the
  device's deceleration at least, so a belt that holds its speed a record after the
  Stop (a firmware jump back to it, say) is caught at that record;
* ``START_FROM_REST_MAX``: from rest, the first backward command may go to the
  device minimum only when that is at most 1.0 km/h (consoles start at 0.5-1.0).
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from retrorun.errors import SafetyStop
from retrorun.events import Direction
from retrorun.limits import (
    PROFILE_LIMITS,
    RAMP_INTERVAL_S,
    RAMP_STEP,
    SETTLE_TOLERANCE,
    TURNAROUND_SPEED,
    RunnerProfile,
    backward_incline_limit,
)

__all__ = [
    "EXCURSION_WINDOW_S",
    "HR_FAR_OVER_BPM",
    "HR_PERSIST_S",
    "HR_STALE_S",
    "HR_STUCK_S",
    "MAX_TOLERANCE",
    "MIN_RESOLUTION",
    "RUNDOWN_GRACE_S",
    "RUNDOWN_MARGIN_S",
    "START_FROM_REST_MAX",
    "STOP_AFTER_OVER_RECORDS",
    "Reaction",
    "ReactionKind",
    "SafeCommand",
    "SafetyGovernor",
]

HR_FAR_OVER_BPM = 10  # judgement: this far over the maximum stops the belt at once
HR_PERSIST_S = 30.0  # judgement: over the maximum this long, despite slowing, stops the belt
HR_STALE_S = 5.0  # rule 14: no heart-rate value this long is an unknown heart rate
HR_STUCK_S = 60.0  # rule 14: the same value this long is a stuck sensor, not a heart
# A record over the ceiling is corrected; if the belt is still over two records later
# (the third consecutive over-ceiling record), the belt is stopped.
STOP_AFTER_OVER_RECORDS = 3
EXCURSION_WINDOW_S = 60.0  # rule 11: a second over-ceiling episode this soon stops the belt
MIN_RESOLUTION = 10  # 0.01 km/h: the tolerance is one device increment, never under 0.1 km/h
MAX_TOLERANCE = 30  # ... and never over 0.3 km/h, however coarse the device
RUNDOWN_MARGIN_S = 2.0  # judgement: a stopping belt's run-down time plus this margin
RUNDOWN_GRACE_S = 0.5  # judgement: then it must slow at half the device's deceleration at least
_MOVING = 50  # 0.01 km/h: over this a running-down belt reading the same twice is held
_MIN_SPAN_S = 0.9  # the least time between two records judged for a loss of speed
START_FROM_REST_MAX = 100  # judgement: from rest, backward may start at a device minimum <= 1.0


class _Mint(threading.local):
    depth: int = 0


_mint = _Mint()


@contextmanager
def _minting() -> Iterator[None]:
    _mint.depth += 1
    try:
        yield
    finally:
        _mint.depth -= 1


class ReactionKind(enum.Enum):
    """What the monitor must do about one telemetry record."""

    NONE = "none"
    CORRECT = "correct"  # send the command: the belt is over the ceiling
    SLOW = "slow"  # send the command: heart rate is over the maximum, or unknown
    HALT = "halt"  # stop the belt; the session pauses and waits for the runner
    STOP = "stop"  # stop the belt and end the session


@dataclass(frozen=True, slots=True)
class SafeCommand:
    """A speed or incline value the governor has approved.

    Only the governor can make one: construction anywhere else (including
    ``dataclasses.replace``) raises ``TypeError``, so a value that reaches the
    treadmill client as a ``SafeCommand`` has passed every rule.
    """

    kind: Literal["speed", "incline"]
    value: int  # what to send: 0.01 km/h or 0.1 %
    requested: int  # what was asked for
    clamped: bool  # value was lowered by a ceiling or a limit

    def __post_init__(self) -> None:
        if _mint.depth <= 0:
            raise TypeError("only the SafetyGovernor makes SafeCommand values")


@dataclass(frozen=True, slots=True)
class Reaction:
    """The governor's answer to one telemetry record (``command`` is what to send)."""

    kind: ReactionKind
    command: SafeCommand | None
    reason: str


_NO_REACTION = Reaction(ReactionKind.NONE, None, "")


@dataclass(slots=True)
class _Rundown:
    """A belt that must come to rest: the lowest speed seen, and when it must be still."""

    ref: int | None = None  # None until the first record after the stop
    deadline: float = math.inf
    halted: bool = False  # a halt was already sent: the next violation ends the session
    start: int = 0  # the speed the run-down started from ...
    since: float = 0.0  # ... and when
    last: tuple[float, int] | None = None  # the previous record judged: (time, speed)
    seen: float | None = None  # when the previous record came (any record)


def _check_range(name: str, rng: tuple[int, int, int], *, nonnegative: bool) -> None:
    lo, hi, step = rng
    if step <= 0 or hi < lo or (nonnegative and lo < 0):
        raise ValueError(f"{name} {rng} is not a usable (min, max, step) range")


class SafetyGovernor:
    """Applies the safety rules to every speed and incline command of one session.

    ``ceiling`` is the effective backward ceiling, ``min(profile, user, device max)``
    from :func:`retrorun.limits.effective_backward_ceiling`; the governor applies
    ``min(ceiling, device max)`` again, so a caller that forgot the device cannot
    raise it. ``speed_range`` and ``incline_range`` are the device's
    ``(min, max, step)`` (FTMS 0x2AD4 / 0x2AD5, or the device profile's fallback).
    """

    def __init__(
        self,
        *,
        profile: RunnerProfile,
        ceiling: int,
        speed_range: tuple[int, int, int],
        incline_range: tuple[int, int, int],
        allow_steep: bool = False,
        max_heart_rate: int | None = None,
        direction: Direction = Direction.FORWARD,
        decel_kmh_per_s: float = 1.5,
    ) -> None:
        _check_range("speed range", speed_range, nonnegative=True)
        _check_range("incline range", incline_range, nonnegative=False)
        limits = PROFILE_LIMITS[profile]
        if ceiling <= 0:
            raise ValueError(f"backward ceiling must be above 0, got {ceiling}")
        if not decel_kmh_per_s > 0:
            raise ValueError(f"deceleration must be above 0, got {decel_kmh_per_s}")
        if max_heart_rate is not None and max_heart_rate <= 0:
            raise ValueError(f"maximum heart rate must be above 0, got {max_heart_rate}")
        # Rehab and older adults: incline <= 10 % backward whatever the flag says.
        backward_incline = backward_incline_limit(profile, allow_steep=allow_steep)
        if incline_range[0] > backward_incline:
            raise ValueError(
                f"incline range {incline_range} starts above the backward maximum"
                f" {backward_incline}"
            )
        self._profile = profile
        self._stop_at_turnaround = limits.stop_at_turnaround
        self._ceiling = min(ceiling, speed_range[1])
        self._speed_range = speed_range
        self._incline_range = incline_range
        self._backward_incline_max = backward_incline
        self._max_hr = max_heart_rate
        self._direction = direction
        self._commanded = 0
        self._resend = False
        self._incline: int | None = None
        self._last_increase = -math.inf
        self._over_records = 0
        self._last_over_t: float | None = None  # the last record over the ceiling
        self._in_episode = False
        self._episode_speed = 0  # the belt on the first record over the ceiling
        self._tolerance = min(max(speed_range[2], MIN_RESOLUTION), MAX_TOLERANCE)
        self._decel = decel_kmh_per_s
        self._turn_limit = 0  # while turning: the speed the turn-around commanded
        self._turn_pending = False  # from the turn-around's command to its new direction
        self._turn_reached = False  # slowing for a turn: the belt was seen at its speed
        self._fine_readings = False  # a reading off the speed grid: readings are not rounded
        self._turn_since = 0.0  # ... from the turn-around's command (its time) ...
        self._turn_last: int | None = None  # ... and the record before, while slowing
        self._rundown: _Rundown | None = None  # paused or halted: the belt must come to rest
        self._start_watch = False  # after a Start facing backward, until it took: started()
        self._last_reading: int | None = None  # the belt on the newest record observed
        self._last_halt_t: float | None = None
        self._paused = False
        self._hr_over_since: float | None = None
        self._last_slow = -math.inf
        self._hr_expected_since: float | None = None  # a source is known from then
        self._hr_last_at: float | None = None  # when the newest value was measured
        self._hr_value: int | None = None
        self._hr_value_since = 0.0  # when the value last changed
        self._hr_unknown: str | None = None

    # -- state -----------------------------------------------------------------

    @property
    def direction(self) -> Direction:
        """Which way the runner faces now (``turning`` counts as backward)."""
        return self._direction

    @property
    def ceiling(self) -> int:
        """The effective backward ceiling, ``min(ceiling, device max)``."""
        return self._ceiling

    @property
    def commanded(self) -> int:
        """The last speed command the governor issued (0 at start and after a stop)."""
        return self._commanded

    @property
    def commanded_incline(self) -> int | None:
        """The last incline command the governor issued (None before the first)."""
        return self._incline

    @property
    def tolerance(self) -> int:
        """How far over a limit a reading may be before it counts (one device increment)."""
        return self._tolerance

    @property
    def turn_limit(self) -> int:
        """While turning: the most the belt may run (0: it must be at rest)."""
        return self._turn_limit

    @property
    def paused(self) -> bool:
        """The session is paused: the belt must come to rest and stay there."""
        return self._paused

    @property
    def heart_rate_high(self) -> bool:
        """Heart rate is over the maximum: speed increases are held."""
        return self._hr_over_since is not None

    @property
    def heart_rate_unknown(self) -> str | None:
        """Why heart rate is unknown while a limit is in force (stale, off the skin,
        stuck), or None: speed increases are held as while it is high."""
        return self._hr_unknown

    @property
    def max_heart_rate(self) -> int | None:
        """The heart-rate maximum in force (None: no heart-rate rule applies)."""
        return self._max_hr

    def expect_heart_rate(self, now: float) -> None:
        """A heart-rate source is connected at ``now`` (a strap): from now on a
        missing value is *unknown*, never fine."""
        if self._hr_expected_since is None:
            self._hr_expected_since = now

    @property
    def holds_for_heart_rate(self) -> bool:
        """Heart rate is over the maximum or unknown: no speed increase now (ask
        again after a telemetry record, not sooner)."""
        return self._hr_over_since is not None or self._hr_unknown is not None

    def _holds_speed(self) -> bool:
        return self.holds_for_heart_rate

    # -- speed -----------------------------------------------------------------

    def _speed_grid(self, value: int) -> int:
        """Quantise ``value`` (>= device min) down to the device's step."""
        lo, _, step = self._speed_range
        return lo + (value - lo) // step * step

    def _speed_upper(self) -> int:
        return self._speed_range[1] if self._direction is Direction.FORWARD else self._ceiling

    def clamp_target(self, desired: int) -> int:
        """Where a request for ``desired`` ends up (0, or below, is 0).

        Otherwise within the device's min..max, quantised down to its step, and at or
        under the ceiling while not facing forward. When the ceiling is below the
        device minimum, no backward speed is safe: the answer is 0.
        """
        if desired <= 0:  # a -0.1 km/h nudge at a stopped belt stays stopped
            return 0
        lo = self._speed_range[0]
        upper = self._speed_upper()
        if upper < lo:
            return 0
        return self._speed_grid(min(max(desired, lo), upper))

    def would_clamp(self, desired: int) -> bool:
        """A request for ``desired`` would be lowered by the ceiling or the device max
        (the question a speed nudge asks before it is queued)."""
        return self._was_clamped(desired, self.clamp_target(desired))

    def _was_clamped(self, desired: int, target: int) -> bool:
        """True when a ceiling or the device max, not the step grid, lowered ``desired``."""
        if desired <= 0:
            return False
        return target < self._speed_grid(max(desired, self._speed_range[0]))

    def _speed_command(self, value: int, requested: int, *, clamped: bool) -> SafeCommand:
        with _minting():
            command = SafeCommand("speed", value, requested, clamped)
        self._commanded = value
        self._resend = False
        return command

    def request_speed(self, desired: int, now: float) -> SafeCommand | None:
        """The next command toward ``clamp_target(desired)``, or None.

        Decreases go at once, all the way. Increases facing forward go at once too;
        while not facing forward, each is at most ``RAMP_STEP`` above the commanded
        speed and at least ``RAMP_INTERVAL_S`` after the previous increase (None until
        then: ask again at :meth:`next_ramp_time`). One deliberate exception: from a
        stopped belt the first step may go to the device minimum when that is at most
        ``START_FROM_REST_MAX``. A speed that cannot be reached in such steps (a
        device whose increment is coarser than ``RAMP_STEP``) is refused: see
        :meth:`reachable`. No increase is allowed while heart rate is over the maximum.
        """
        target = self.clamp_target(desired)
        clamped = self._was_clamped(desired, target)
        current = self._commanded
        if target < current or (target == current and self._resend):
            return self._speed_command(target, desired, clamped=clamped)
        if target == current or self._holds_speed():
            return None
        if self._direction is not Direction.FORWARD:
            reachable = self.reachable(desired)
            if reachable <= current:
                return None  # a coarse device: the next step up is more than RAMP_STEP
            if now < self._last_increase + RAMP_INTERVAL_S:
                return None
            lo = self._speed_range[0]
            candidate = lo if current < lo else self._speed_grid(current + RAMP_STEP)
            if candidate < target:
                target, clamped = candidate, False
        self._last_increase = now
        return self._speed_command(target, desired, clamped=clamped)

    def reachable(self, desired: int) -> int:
        """Where the ramp toward ``desired`` can get from the commanded speed.

        ``clamp_target(desired)``, except while not facing forward on a device whose
        increment is coarser than ``RAMP_STEP``: backward speed never rises by more
        than that in one command, so such a device stays where it is (or, from
        rest, at its minimum when that is at most ``START_FROM_REST_MAX``).
        """
        target = self.clamp_target(desired)
        current = self._commanded
        if self._direction is Direction.FORWARD or target <= current:
            return target
        lo, _, step = self._speed_range
        if current < lo:
            if lo > START_FROM_REST_MAX:
                return current
            if step <= RAMP_STEP:
                return target
            return lo
        return target if step <= RAMP_STEP else current

    def next_ramp_time(self) -> float:
        """When :meth:`request_speed` may next raise speed (``-inf``: any time)."""
        return self._last_increase + RAMP_INTERVAL_S

    def turnaround_command(self, now: float, *, stop_belt: bool = False) -> SafeCommand:
        """Slow for a turn-around: to ``min(commanded, TURNAROUND_SPEED, ceiling)``, or stop.

        Profiles that stop at turn-arounds (``older-adult``, ``rehab``) get 0, and so
        does a turn-around the plan marks ``stop_belt``. The value is also the
        turn-around's limit: while turning, a belt over it is halted.
        """
        turn_speed = min(TURNAROUND_SPEED, self._ceiling)
        requested = 0 if self._stop_at_turnaround or stop_belt else turn_speed
        before = self._commanded
        value = min(before, requested)
        if value > 0:
            lo = self._speed_range[0]
            value = 0 if value < lo else self._speed_grid(value)
        self._turn_limit = value
        self._turn_pending = True
        # A belt already at the turn's speed, and told no more (not climbing to an
        # older, higher command), has reached it now: from the next record a belt back
        # up is halted, not first once the runner is told to turn (seed 92 case 751:
        # a step at 1.5 km/h, a jump to 2.0 just after the turn's command).
        last = self._last_reading
        self._turn_reached = (
            value > 0
            and last is not None
            and last <= value + self._tolerance
            and before <= value + self._tolerance
        )
        self._turn_since = now
        self._turn_last = last if self._turn_reached else None
        if value == 0 and self._rundown is None:
            # A turn on a stopped belt: from this command the belt must run down and
            # stay at rest, as while paused (its watch starts at the next record).
            self._rundown = _Rundown()
        return self._speed_command(value, requested, clamped=False)

    def set_direction(self, direction: Direction, now: float, *, belt_speed: int) -> None:
        """Record a direction change; the belt must be at turn-around speed for it.

        Any change of direction (into ``turning``, out of it, or straight across) with
        the belt above ``TURNAROUND_SPEED + SETTLE_TOLERANCE`` raises
        :class:`SafetyStop` and changes nothing. Leaving ``forward`` clamps the
        commanded speed to the ceiling (the next :meth:`request_speed` re-sends it
        if that lowered it) and later increases ramp from there.
        """
        if direction is self._direction:
            return
        if belt_speed > TURNAROUND_SPEED + SETTLE_TOLERANCE:
            raise SafetyStop(
                "turnaround_too_fast",
                f"cannot change direction from {self._direction} to {direction} with the belt"
                f" at {belt_speed / 100:.2f} km/h (at most"
                f" {(TURNAROUND_SPEED + SETTLE_TOLERANCE) / 100:.2f} km/h)",
            )
        self._direction = direction
        watch = self._rundown
        if direction is Direction.TURNING and watch is not None and watch.ref is None:
            self._arm(watch, belt_speed, now)  # the turn begins on a belt seen this slow
        if direction is not Direction.TURNING and self._turn_pending:
            self._turn_pending = False  # the turn-around is over
            if not self._paused:
                self._rundown = None
        if direction is Direction.FORWARD:
            self._over_records = 0  # turning -> backward keeps counting: both are limited
        if direction is not Direction.FORWARD and self._commanded > 0:
            clamped = self.clamp_target(self._commanded)
            if clamped < self._commanded:
                self._commanded = clamped
                self._resend = True

    def started(self, now: float) -> None:
        """The engine sent Start at ``now``: a stopped machine runs to *its* target, the
        one it last had, which is the speed just approved only if it took that command.

        Facing backward, until the engine says the belt settled at the speed it ramped
        to (:meth:`start_settled`) or the console announces a target of its own, a
        reading more than one ramp step (and one increment) over what was asked
        (``START_FROM_REST_MAX`` at least) is a belt running to a speed of its own: a
        target left by the console or a firmware jump before a pause, on a machine
        that ignored the speed sent before the Start (seed 63 case 1132: 0 to 10.2
        km/h backward after a turn). ``HALT`` on that record, long before it nears
        the ceiling.
        """
        self._start_watch = self._direction is Direction.BACKWARD

    def start_settled(self) -> None:
        """The belt settled at the speed the engine ramped it to: the Start took."""
        self._start_watch = False

    def _watch_start(self, speed: int, now: float) -> Reaction:
        if self._direction is not Direction.BACKWARD or speed > self._ceiling + self._tolerance:
            self._start_watch = False  # over the ceiling: the ceiling's rules answer it
            return _NO_REACTION
        asked = max(self._commanded, START_FROM_REST_MAX)
        if speed <= asked + RAMP_STEP + self._tolerance:
            return _NO_REACTION
        self._start_watch = False
        return self._halt(
            speed,
            now,
            f"belt at {speed / 100:.2f} km/h after Start, past the"
            f" {self._commanded / 100:.2f} km/h asked for: the treadmill runs to a"
            " speed of its own",
        )

    def reset_after_stop(self) -> None:
        """The belt was stopped outside :meth:`request_speed`: the commanded speed is 0."""
        self._commanded = 0
        self._resend = False

    def pause(self, now: float, belt_speed: int | None, *, rearm: bool = False) -> None:
        """The session pauses at ``now`` with the belt at ``belt_speed`` (None: unknown).

        From now until :meth:`resume` the belt must run down to rest and stay
        there, within its run-down time from ``belt_speed`` (from the next record
        when unknown). A belt already halted stays halted (its next violation ends
        the session) unless ``rearm``: after a reconnect a fresh Stop went out and
        the speed is unknown again, so its run-down starts over.
        """
        self._paused = True
        self._start_watch = False
        if rearm or self._rundown is None or not self._rundown.halted:
            watch = _Rundown()
            if belt_speed is not None:
                self._arm(watch, belt_speed, now)
            self._rundown = watch
        self.reset_after_stop()

    def resume(self) -> None:
        """The session resumes: the running rules apply again (from a stopped belt)."""
        self._paused = False
        self._rundown = None
        self._over_records = 0
        self._in_episode = False

    # -- incline ---------------------------------------------------------------

    def _incline_upper(self) -> int:
        hi = self._incline_range[1]
        if self._direction is Direction.FORWARD:
            return hi
        return min(hi, self._backward_incline_max)

    def request_incline(self, desired: int, now: float) -> SafeCommand:
        """An incline command within the device range and, backward, at most 10 %.

        15 % with ``allow_steep``, except for the walking-only profiles (``rehab``,
        ``older-adult``), which stay at 10 %. Quantised down to the device step.
        """
        del now  # part of the interface: every command is issued at a time
        lo, _, step = self._incline_range
        upper = self._incline_upper()
        value = lo + (min(max(desired, lo), upper) - lo) // step * step
        on_grid = lo + (max(desired, lo) - lo) // step * step
        with _minting():
            command = SafeCommand("incline", value, desired, value < on_grid)
        self._incline = value
        return command

    def incline_correction(self, now: float) -> SafeCommand | None:
        """A command lowering the incline when the last one is over today's limit.

        After a change to backward, the incline set while facing forward may be too
        steep; the engine asks this after every :meth:`set_direction`.
        """
        if self._incline is None or self._incline <= self._incline_upper():
            return None
        return self.request_incline(self._incline, now)

    # -- telemetry -------------------------------------------------------------

    def observe(
        self,
        speed: int,
        now: float,
        heart_rate: int | None,
        *,
        heart_rate_at: float | None = None,
        contact: bool | None = None,
    ) -> Reaction:
        """React to one telemetry record (belt ``speed``, ``heart_rate`` when known:
        measured at ``heart_rate_at``, ``now`` when not given; ``contact`` False when
        the strap says it is off the skin).

        * Paused, or after a halt: the belt must slow to rest within its run-down
          time and never speed up again (``HALT``, then ``STOP``).
        * Turning: more than one increment over the turn-around's speed: ``HALT``; so
          too while slowing for a turn, once the belt has been seen at that speed.
        * Backward: more than one increment over the ceiling: ``CORRECT`` with a
          command no higher than what the step wants (a stop if it wants none) on
          this very record; ``STOP`` when the belt has not slowed at all a record
          later (the correction was not taken), when it is still over two records
          later, or when this is a second excursion within ``EXCURSION_WINDOW_S``.
        * Heart rate over the maximum: ``SLOW`` (a command ``RAMP_STEP`` lower, at
          most one per ``RAMP_INTERVAL_S``, down to the device minimum); more than
          ``HR_FAR_OVER_BPM`` over, or over for ``HR_PERSIST_S``: ``STOP``.
        * Heart rate unknown (stale, no contact, stuck) while a limit is in force:
          ``SLOW`` as when it is over, with the reason; never a stop by itself.
        """
        heart_rate = self._judge_heart_rate(heart_rate, heart_rate_at, contact, now)
        self._last_reading = speed
        if speed % self._speed_range[2]:
            self._fine_readings = True
        if self._rundown is not None:
            if self._direction is Direction.BACKWARD and speed > self._ceiling + self._tolerance:
                # Over the ceiling facing backward while the belt should stop is an
                # excursion too: the next one within the window stops the session.
                self._last_over_t = now
                if self._rundown.ref is None and not self._rundown.halted:
                    # The first record since the Stop (a stopped-belt turn's, a
                    # pause's) shows the belt over the ceiling: halted and said, never
                    # only watched (seed 22 case 392: a jump to 5.0 km/h under an
                    # older adult as the turn began, absent from the record).
                    return self._halt(
                        speed,
                        now,
                        f"belt at {speed / 100:.2f} km/h is over the"
                        f" {self._ceiling / 100:.2f} km/h ceiling while it should stop",
                    )
            else:
                # A record under the ceiling ends an excursion here too: the next one
                # over is a second excursion (within the window: a stop), never the
                # same one going on (a stopped-belt turn between two jumps).
                self._in_episode = False
                self._over_records = 0
            return self._watch_rundown(self._rundown, speed, now)
        if self._turn_pending and self._direction is not Direction.TURNING:
            # Slowing for a turn: once the belt has come down to the turn's speed it
            # must stay there; the runner is about to turn on it. A belt that goes
            # back up (a firmware jump, a console change under the ceiling) is
            # halted at this record, never first seen once the runner was told to turn.
            before, self._turn_last = self._turn_last, speed
            if speed <= self._turn_limit + self._tolerance:
                # Seen there once the machine had time to act on the command, and no
                # longer rising (a belt still climbing to an older, higher command
                # passes through the turn's speed on its way up).
                settled = now >= self._turn_since + RUNDOWN_GRACE_S
                if settled and (before is None or speed <= before):
                    self._turn_reached = True
            elif self._turn_reached:
                return self._halt(
                    speed,
                    now,
                    f"belt back up to {speed / 100:.2f} km/h while slowing for the"
                    f" turn-around (at most {self._turn_limit / 100:.2f} km/h)",
                )
        if self._start_watch:
            reaction = self._watch_start(speed, now)
            if reaction.kind is not ReactionKind.NONE:
                return reaction
        if self._direction is Direction.TURNING and speed > self._turn_limit + self._tolerance:
            return self._halt(
                speed,
                now,
                f"belt at {speed / 100:.2f} km/h during the turn-around (at most"
                f" {self._turn_limit / 100:.2f} km/h)",
            )
        over = self._direction is not Direction.FORWARD and speed > self._ceiling + self._tolerance
        if over:
            self._over_records += 1
            if not self._in_episode:
                self._in_episode = True
                self._episode_speed = speed
                last = self._last_over_t
                if last is not None and now - last <= EXCURSION_WINDOW_S:
                    self._last_over_t = now
                    return self._stop(
                        f"belt at {speed / 100:.2f} km/h: a second excursion over the"
                        f" {self._ceiling / 100:.2f} km/h ceiling within"
                        f" {EXCURSION_WINDOW_S:.0f} s"
                    )
            elif speed > self._episode_speed - self._tolerance // 2:
                # The first record over was corrected; a belt that has not slowed at all
                # a record later did not take the correction (a machine that answers
                # Success and ignores it): only a stop is left.
                self._last_over_t = now
                return self._stop(
                    f"belt still at {speed / 100:.2f} km/h a record after its correction to"
                    f" the {self._ceiling / 100:.2f} km/h ceiling: the treadmill did not slow"
                )
            self._last_over_t = now
        else:
            self._over_records = 0
            self._in_episode = False
        if over and self._over_records >= STOP_AFTER_OVER_RECORDS:
            return self._stop(
                f"belt at {speed / 100:.2f} km/h, still over the {self._ceiling / 100:.2f}"
                " km/h ceiling after correction"
            )
        hr_stop = self._heart_rate_stop(heart_rate, now)
        if hr_stop is not None:
            return self._stop(hr_stop)
        slow_to = self._slow_target(now)
        if over:
            value = self._correction()
            reason = (
                f"belt at {speed / 100:.2f} km/h is over the {self._ceiling / 100:.2f} km/h ceiling"
            )
            if slow_to is not None and slow_to < value:
                value = slow_to
                self._last_slow = now
                reason += f"; heart rate {heart_rate} bpm over {self._max_hr} bpm"
            command = self._speed_command(value, value, clamped=False)
            return Reaction(ReactionKind.CORRECT, command, reason)
        if slow_to is not None:
            self._last_slow = now
            command = self._speed_command(slow_to, slow_to, clamped=False)
            reason = f"heart rate {heart_rate} bpm over the {self._max_hr} bpm maximum"
            if self._hr_over_since is None and self._hr_unknown is not None:
                reason = f"heart rate unknown ({self._hr_unknown})"
            return Reaction(ReactionKind.SLOW, command, reason)
        return _NO_REACTION

    def observe_target(self, target: int, now: float, *, belt_bound: int | None = None) -> Reaction:
        """React to a target speed the treadmill announced (a console change).

        A target over the phase's limit (the ceiling; the turn-around speed while
        turning, and while slowing for a turn once the belt got there) is answered
        at once, before telemetry shows the belt there: ``CORRECT`` while running,
        ``HALT`` while turning or paused. ``belt_bound``, the fastest the belt can be
        now (its last reading and its acceleration since): the halt's run-down is
        watched from there, not from the target the belt is far from (seed 91 case
        1980: a belt at 2.0 km/h, a console target of 10.9, then a jump to 9.1 that
        the watch took for a belt running down from 10.9).
        """
        self._start_watch = False  # a target of the console's: judged as such from now on
        turn = self._direction is Direction.TURNING or (self._turn_pending and self._turn_reached)
        if self._direction is Direction.FORWARD and not self._paused and not turn:
            return _NO_REACTION
        limit = self._turn_limit if turn else self._ceiling
        if target <= limit + self._tolerance:
            return _NO_REACTION
        reason = (
            f"the treadmill set its target to {target / 100:.2f} km/h, over the"
            f" {limit / 100:.2f} km/h limit"
        )
        if self._paused or turn:
            if self._rundown is not None and self._rundown.halted:
                return _NO_REACTION  # already halted: telemetry decides what follows
            start = target if belt_bound is None else min(target, belt_bound)
            return self._halt(start, now, reason)
        if self._in_episode:
            # Over the ceiling again while an excursion is being corrected: the
            # correction was overridden at the console (seed 22 case 610, a machine that
            # ignored the correction): only a stop is left.
            return self._stop(reason + " while an excursion was being corrected")
        value = self._correction()
        return Reaction(
            ReactionKind.CORRECT, self._speed_command(value, value, clamped=False), reason
        )

    def _correction(self) -> int:
        """Never more than the phase wants: ``min(commanded, ceiling)``; 0 is a stop."""
        return min(self._commanded, self.clamp_target(self._ceiling))

    def _rundown_s(self, speed: int) -> float:
        return speed / 100 / self._decel + RUNDOWN_MARGIN_S

    def _arm(self, watch: _Rundown, speed: int, now: float) -> None:
        watch.ref = watch.start = speed
        watch.since = now
        watch.deadline = now + self._rundown_s(speed)

    def _envelope(self, watch: _Rundown, now: float) -> float:
        """The most a running-down belt may read at ``now``: after half a second's grace it
        must lose speed at half the device's deceleration at least (0.01 km/h)."""
        slowing = max(now - watch.since - RUNDOWN_GRACE_S, 0.0) * self._decel * 100 / 2
        return max(watch.start - slowing, 0.0)

    def rundown_bound(self, now: float) -> int | None:
        """While a run-down watch is armed (paused, halted, ending): the fastest the
        belt may be at ``now`` by its envelope, in 0.01 km/h; None otherwise.

        A link lost again while the belt runs down hands this to the watch its
        reconnect re-arms: the belt has been stopping all along, so the new watch
        goes on from where this one is, not from the speed of the last record.
        """
        watch = self._rundown
        if watch is None or watch.ref is None:
            return None
        return math.ceil(self._envelope(watch, now))

    def observe_start(self, now: float) -> Reaction:
        """Start pressed at the console: the belt is about to move. While paused, or
        turning on a stopped belt, that is answered at once (``HALT``), before
        telemetry shows the belt moving."""
        turning = self._direction is Direction.TURNING or self._turn_pending
        if not (self._paused or (turning and self._turn_limit == 0)):
            return _NO_REACTION
        return self._halt(0, now, "the belt was started at the console while it must stand still")

    def _halt(self, speed: int, now: float, reason: str) -> Reaction:
        """Stop the belt and watch it come to rest; the session pauses. A second halt
        within ``EXCURSION_WINDOW_S`` of the first stops the session instead."""
        last, self._last_halt_t = self._last_halt_t, now
        if last is not None and now - last <= EXCURSION_WINDOW_S:
            return self._stop(f"{reason}, a second time within {EXCURSION_WINDOW_S:.0f} s")
        watch = _Rundown(halted=True)
        self._arm(watch, speed, now)
        self._rundown = watch
        self._turn_limit = 0
        command = self._speed_command(0, 0, clamped=False)
        return Reaction(ReactionKind.HALT, command, reason)

    def _watch_rundown(self, watch: _Rundown, speed: int, now: float) -> Reaction:
        if watch.ref is None:
            self._arm(watch, speed, now)
            watch.last = (now, speed)
            watch.seen = now
            return _NO_REACTION
        if watch.halted and now < watch.since + RUNDOWN_GRACE_S:
            # Just halted: the machine has not acted on the Stop yet, and a belt that was
            # rising may rise on a moment (a machine notifying four times a second shows
            # it): the run-down is judged from the highest of these readings.
            if speed > watch.start:
                watch.ref = watch.start = speed
                watch.deadline = watch.since + self._rundown_s(speed)
            watch.last = (now, speed)
            watch.seen = now
            return _NO_REACTION
        reason = ""
        last = watch.last
        if self._tolerance < speed <= self._hold_floor:
            # Under the hold rule's floor (a machine may hold its minimum a moment): at
            # rest within this speed's own run-down, counted from the record before (it
            # may have been here since then), not from the speed the run-down began at:
            # a jump down to a crawl that holds is no belt stopping (seed 51 case 1574).
            # A record more than a second before says nothing of when the belt got here
            # (a late notification is no belt that stopped slowing).
            before = max(watch.since if watch.seen is None else watch.seen, now - 1.0)
            watch.deadline = min(watch.deadline, before + self._rundown_s(speed))
        watch.seen = now
        if last is None or now - last[0] >= _MIN_SPAN_S:
            # The reference moves on only a span at a time: a machine notifying four
            # times a second is judged over a second too, not over a quarter.
            watch.last = (now, speed)
        # A belt that should stop never reads faster than it did: the allowance is the
        # reading's resolution, not the device's control grid (a coarse machine's
        # readings round onto its grid, and rounding never makes a slowing belt rise).
        if speed > watch.ref + MIN_RESOLUTION:
            reason = f"belt speeding up to {speed / 100:.2f} km/h while it should stop"
        elif last is not None and self._not_slowing(watch, last, speed, now):
            reason = f"belt holding {speed / 100:.2f} km/h while it should stop"
        elif now >= watch.deadline and speed > self._tolerance:
            reason = f"belt still at {speed / 100:.2f} km/h after its run-down time"
        elif speed > self._envelope(watch, now) + self._tolerance:
            reason = f"belt at {speed / 100:.2f} km/h is not slowing down while it should stop"
        watch.ref = min(watch.ref, speed)
        if not reason:
            return _NO_REACTION
        if watch.halted:
            return self._stop(reason + " (after a stop command)")
        return self._halt(speed, now, reason)

    @property
    def _hold_floor(self) -> int:
        """The hold rule judges only over this: the device's lowest speed plus a
        tolerance, 0.5 km/h at least (a machine may hold its minimum a moment)."""
        return max(_MOVING, self._speed_range[0] + self._tolerance)

    def _not_slowing(
        self, watch: _Rundown, last: tuple[float, int], speed: int, now: float
    ) -> bool:
        """Two records a second apart, both past the grace, with no loss of speed at
        all: a belt that jumped down under the envelope and holds there (the envelope,
        anchored at the speed the run-down began from, would allow it for seconds).

        Judged only where the least loss a running-down belt shows over that time
        (half the device's deceleration) is more than one step of its speed grid, so
        a coarse machine's rounded readings cannot hide an honest loss (a machine whose
        readings were seen off its grid does not round them: its grid is then the
        reading's resolution; seed 42 case 1158), and only over :attr:`_hold_floor`
        (under it a belt gets its own speed's run-down: :meth:`_watch_rundown`).
        """
        then, before = last
        dt = now - then
        if then < watch.since + RUNDOWN_GRACE_S or dt < _MIN_SPAN_S or speed <= self._hold_floor:
            return False
        grid = MIN_RESOLUTION if self._fine_readings else self._speed_range[2]
        if self._decel * 100 / 2 * dt <= grid:
            return False  # a loss within one step of the grid may round to none
        return speed > before - MIN_RESOLUTION

    def stop_now(self, reason: str) -> Reaction:
        """A ``STOP`` the engine asks for itself (e.g. a correction a machine cannot make)."""
        return self._stop(reason)

    def _stop(self, reason: str) -> Reaction:
        command = self._speed_command(0, 0, clamped=False)
        return Reaction(ReactionKind.STOP, command, reason)

    def _heart_rate_stop(self, heart_rate: int | None, now: float) -> str | None:
        """Update the heart-rate state; a reason when it calls for a stop."""
        if heart_rate is None or self._max_hr is None:
            return None  # unknown: keep the state as it was
        if heart_rate <= self._max_hr:
            self._hr_over_since = None
            return None
        if heart_rate > self._max_hr + HR_FAR_OVER_BPM:
            return f"heart rate {heart_rate} bpm far over the {self._max_hr} bpm maximum"
        if self._hr_over_since is None:
            self._hr_over_since = now
        elif now - self._hr_over_since >= HR_PERSIST_S:
            return (
                f"heart rate over the {self._max_hr} bpm maximum for"
                f" {now - self._hr_over_since:.0f} s"
            )
        return None

    def _judge_heart_rate(
        self, heart_rate: int | None, at: float | None, contact: bool | None, now: float
    ) -> int | None:
        """Rule 14: the value to judge against the maximum, or None when it is not
        to be trusted; updates :attr:`heart_rate_unknown` (only while a limit is in
        force and a source is known: a session with neither has no heart-rate rule)."""
        if heart_rate is not None:
            at = now if at is None else at
            if self._hr_expected_since is None:
                self._hr_expected_since = at
            if self._hr_last_at is None or at > self._hr_last_at:
                if heart_rate != self._hr_value:
                    self._hr_value, self._hr_value_since = heart_rate, at
                self._hr_last_at = at
        self._hr_unknown = None
        if self._max_hr is None or self._hr_expected_since is None:
            return heart_rate
        since = self._hr_last_at if self._hr_last_at is not None else self._hr_expected_since
        if contact is False:
            self._hr_unknown = "the strap has lost skin contact"
        elif now - since > HR_STALE_S:
            self._hr_unknown = f"no heart-rate value for {now - since:.0f} s"
        elif heart_rate is not None and now - self._hr_value_since >= HR_STUCK_S:
            self._hr_unknown = (
                f"heart rate stuck at {heart_rate} bpm for {now - self._hr_value_since:.0f} s"
            )
        if self._hr_unknown is not None:
            return None  # an untrusted value is judged neither over nor under the maximum
        return heart_rate

    def _slow_target(self, now: float) -> int | None:
        """The next heart-rate slow-down step, when one is due and possible."""
        if not self._holds_speed() or now < self._last_slow + RAMP_INTERVAL_S:
            return None
        lo = self._speed_range[0]
        current = self._commanded
        if current <= lo:
            return None  # at the recovery speed (or stopped): nothing lower to send
        lower = current - RAMP_STEP
        return lo if lower <= lo else self._speed_grid(lower)
