"""The safety governor: the one choke point every speed and incline command passes.

``SafetyGovernor`` is pure (no clock, no I/O): the session passes loop time in,
and gets back ``SafeCommand`` values, the only thing ``Treadmill.set_speed`` and
``set_incline`` accept. Rules (``DOMAIN.md``, "Safety rules"), all in integer
FTMS units so that no float rounding can cross a ceiling:

1. While the runner does not face forward, no speed command exceeds the ceiling
   ``min(profile, user, device max)``.
2. While not forward, speed rises by at most 0.5 km/h per command, 2 s apart;
   decreases are immediate and whole.
3. Direction changes only at turn-around speed (<= 2 km/h, or a stopped belt).
4. Backward incline at most 10 % (15 % with ``allow_steep``).
5. A telemetry record more than 0.3 km/h over the ceiling while backward is
   answered on that record with a command back to the ceiling; still over two
   records later, the belt stops.
6. Heart rate above the runner's maximum slows the belt; far above, or for long,
   it stops.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal

from retrorun.errors import SafetyStop
from retrorun.events import Direction
from retrorun.limits import (
    BACKWARD_INCLINE_MAX,
    BACKWARD_INCLINE_STEEP_MAX,
    OVER_CEILING_TOLERANCE,
    PROFILE_LIMITS,
    RAMP_INTERVAL_S,
    RAMP_STEP,
    SETTLE_TOLERANCE,
    TURNAROUND_SPEED,
    RunnerProfile,
)

__all__ = ["Reaction", "ReactionKind", "SafeCommand", "SafetyGovernor"]

_TOKEN: Final = object()
_HR_STOP_MARGIN: Final = 10  # bpm over the maximum: stop at once
_HR_SLOW_RECORDS: Final = 30  # records over the maximum before a stop
_VIOLATION_RECORDS: Final = 2  # "still over two records later"


class ReactionKind(enum.Enum):
    NONE = "none"
    CORRECT = "correct"  # command the belt back to the ceiling
    SLOW = "slow"  # heart rate: slow down
    STOP = "stop"  # stop the belt and end the session


@dataclass(frozen=True, slots=True)
class SafeCommand:
    """A speed (0.01 km/h) or incline (0.1 %) the governor allows. Only the governor
    can make one: constructing it elsewhere raises ``TypeError``."""

    kind: Literal["speed", "incline"]
    value: int
    requested: int
    clamped: bool
    _token: object = None

    def __post_init__(self) -> None:
        if self._token is not _TOKEN:
            raise TypeError("only the SafetyGovernor makes SafeCommands")


@dataclass(frozen=True, slots=True)
class Reaction:
    """What the monitor must do about one telemetry record."""

    kind: ReactionKind
    command: SafeCommand | None = None
    reason: str = ""


_NONE: Final = Reaction(ReactionKind.NONE)


def _speed(value: int, requested: int) -> SafeCommand:
    return SafeCommand("speed", value, requested, value < requested, _TOKEN)


class SafetyGovernor:
    """See the module docstring. ``ceiling`` is the effective backward ceiling the
    caller computed; the governor applies ``min(ceiling, device max)`` again."""

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
    ) -> None:
        low, high, step = speed_range
        if ceiling <= 0:
            raise ValueError(f"a backward ceiling must be above 0, not {ceiling}")
        if high > 0:
            ceiling = min(ceiling, high)
        self._profile = profile
        self._ceiling = ceiling
        self._low, self._high, self._step = max(low, 0), high, max(step, 1)
        self._incline_range = incline_range
        self._incline_max = BACKWARD_INCLINE_STEEP_MAX if allow_steep else BACKWARD_INCLINE_MAX
        self._max_hr = max_heart_rate
        self._direction = direction
        self._commanded = 0
        self._last_raise = float("-inf")
        self._over = 0
        self._hr_over = 0

    @property
    def direction(self) -> Direction:
        return self._direction

    @property
    def ceiling(self) -> int:
        return self._ceiling

    @property
    def commanded(self) -> int:
        """The last speed commanded (0.01 km/h); 0 at start and after a stop."""
        return self._commanded

    def _limited(self) -> bool:
        return self._direction is not Direction.FORWARD

    def clamp_target(self, desired: int) -> int:
        """Where a request for ``desired`` ends up once every ramp step is taken."""
        if desired <= 0:
            return 0
        value = desired
        if self._high > 0:
            value = min(value, self._high)
        if self._limited():
            value = min(value, self._ceiling)
        if self._step > 1:
            value -= (value - self._low) % self._step if value > self._low else 0
        value = max(value, self._low) if value > 0 else 0
        if self._limited() and value > self._ceiling:
            # A device minimum above the ceiling: nothing safe to send but a stop.
            return 0
        return value

    def next_ramp_time(self) -> float:
        """When :meth:`request_speed` may next raise the speed while not forward."""
        return self._last_raise + RAMP_INTERVAL_S

    def request_speed(self, desired: int, now: float) -> SafeCommand | None:
        """The next command toward ``desired``, or None (nothing to send yet)."""
        target = self.clamp_target(desired)
        if target == self._commanded:
            return None
        if target < self._commanded:
            self._commanded = target
            return _speed(target, desired)
        value = target
        if self._limited():
            if now < self.next_ramp_time():
                return None
            value = min(target, self._commanded + RAMP_STEP)
            if value > self._low and self._step > 1:
                value -= (value - self._low) % self._step
            value = max(value, self._low)
            if value <= self._commanded:
                return None
        self._last_raise = now
        self._commanded = value
        return _speed(value, desired)

    def request_incline(self, desired: int, now: float) -> SafeCommand:
        """An incline command within the device range and the backward limit."""
        low, high, _step = self._incline_range
        value = desired
        if high > low:
            value = min(max(value, low), high)
        if self._limited():
            value = min(value, self._incline_max)
        return SafeCommand("incline", value, desired, value < desired, _TOKEN)

    def turnaround_command(self, now: float) -> SafeCommand:
        """Slow to turn-around speed, or stop for profiles that stop to turn."""
        if PROFILE_LIMITS[self._profile].stop_at_turnaround:
            value = 0
        else:
            value = min(self._commanded, TURNAROUND_SPEED)
        self._commanded = value
        return _speed(value, value)

    def set_direction(self, direction: Direction, now: float, *, belt_speed: int) -> None:
        """Change which way the runner faces; only at turn-around speed."""
        if direction is self._direction:
            return
        if belt_speed > TURNAROUND_SPEED + SETTLE_TOLERANCE:
            raise SafetyStop(
                "turnaround",
                f"cannot turn around at {belt_speed / 100:.2f} km/h "
                f"(at most {TURNAROUND_SPEED / 100:.1f} km/h)",
            )
        self._direction = direction
        self._over = 0
        if self._limited():
            self._commanded = min(self._commanded, self._ceiling)
            self._last_raise = now

    def observe(self, speed: int, now: float, heart_rate: int | None) -> Reaction:
        """React to one telemetry record (belt speed in 0.01 km/h)."""
        if self._limited() and speed > self._ceiling + OVER_CEILING_TOLERANCE:
            self._over += 1
            if self._over > _VIOLATION_RECORDS:
                return Reaction(
                    ReactionKind.STOP,
                    None,
                    f"belt at {speed / 100:.2f} km/h stayed over the "
                    f"{self._ceiling / 100:.1f} km/h ceiling",
                )
            self._commanded = min(self._commanded, self._ceiling)
            if self._commanded == 0:
                self._commanded = self.clamp_target(self._ceiling)
            command = _speed(self._commanded, speed)
            return Reaction(
                ReactionKind.CORRECT,
                command,
                f"belt at {speed / 100:.2f} km/h, over the {self._ceiling / 100:.1f} km/h ceiling",
            )
        self._over = 0
        if self._max_hr is not None and heart_rate is not None and heart_rate > self._max_hr:
            self._hr_over += 1
            if heart_rate > self._max_hr + _HR_STOP_MARGIN or self._hr_over > _HR_SLOW_RECORDS:
                return Reaction(
                    ReactionKind.STOP, None, f"heart rate {heart_rate} bpm over {self._max_hr}"
                )
            lower = self.clamp_target(max(self._commanded - RAMP_STEP, self._low))
            if lower < self._commanded:
                self._commanded = lower
                return Reaction(
                    ReactionKind.SLOW,
                    _speed(lower, lower),
                    f"heart rate {heart_rate} bpm over {self._max_hr}: slowing down",
                )
            return _NONE
        self._hr_over = 0
        return _NONE

    def reset_after_stop(self) -> None:
        """The belt was stopped outside :meth:`request_speed` (stop, console, link)."""
        self._commanded = 0
        self._over = 0
