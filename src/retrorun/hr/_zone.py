"""Holding a heart-rate zone by speed: a slow, pure controller the session asks once
per telemetry record.

A heart answers a change of pace with a lag of tens of seconds, so a controller
that moved speed as often as the ramp allows (every 2 s) would overshoot the zone
and swing around it. This one:

* judges a smoothed heart rate (the mean of the trusted readings of the last
  ``SMOOTH_S``), never one beat;
* moves only when that mean has left the zone, and holds anywhere inside it: the
  zone is the hysteresis band, at least ``HR_ZONE_MIN_BPM`` wide, wider than the
  few beats breathing moves a heart;
* moves at most once every ``ZONE_INTERVAL_S`` (a heart's time constant), toward
  the zone's middle by a step proportional to how far from it the heart rate is
  (``GAIN``, 0.05 km/h per bpm), at least one device increment and never more than
  the ramp step, 0.5 km/h;
* does not move when the trend says the heart will come into the zone by itself
  within the next interval (the mean of the last ``SMOOTH_S`` against the one
  before, projected one interval on): the trend only ever holds a move back, it
  never starts one, so a steady heart rate gives targets that only go one way;
* never raises speed on a value that has not moved a beat in ``2 x SMOOTH_S``: a
  living heart wanders by a beat or two, a stuck sensor does not (the governor
  calls it stuck only after a minute, rule 14; lowering is still allowed);
* keeps its target within the step's speed bounds (already under the backward
  ceiling and the device maximum), and every target is only a wish: the session
  hands it to ``SafetyGovernor.request_speed`` like any other.

After a gap in the readings longer than ``SMOOTH_S`` (a pause: the session asks
only while running; the data gone for a while) it waits a whole interval again.
When heart rate is high or unknown (over the limit, stale, off the skin, stuck)
the governor slows the belt step by step (rules 8 and 14) and holds every
increase: the controller then follows the governor's commanded speed down, below
the step's lower bound if that is where the governor takes it, never asks for
more, and waits a whole interval after the data is good again before it judges.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass

from retrorun.hr._prescription import Zone
from retrorun.limits import RAMP_STEP
from retrorun.programs import PlanStep

__all__ = [
    "GAIN",
    "MIN_READINGS",
    "SMOOTH_S",
    "ZONE_INTERVAL_S",
    "HeartRateGuide",
    "ZoneChange",
    "ZoneController",
]

ZONE_INTERVAL_S = 30.0  # judgement: a heart's time constant to a change of pace
SMOOTH_S = 10.0  # the mean of this many seconds of readings is what is judged
MIN_READINGS = 3  # ... and it takes at least this many readings
GAIN = 5.0  # 0.01 km/h of speed per bpm from the zone's middle (10 bpm: 0.5 km/h)


@dataclass(frozen=True, slots=True)
class ZoneChange:
    """A new target speed (0.01 km/h) and why, in the runner's words; ``announce``
    False for following the governor down (its own event already says why)."""

    target: int
    message: str
    announce: bool = True


class ZoneController:
    """The speed that holds one step's zone, within ``bounds`` (0.01 km/h).

    ``increment`` is the device's speed step (a move is a whole number of them).
    Pure: times are the caller's clock, passed in.
    """

    def __init__(
        self,
        zone: Zone,
        bounds: tuple[int, int],
        *,
        start: int,
        increment: int,
        now: float,
    ) -> None:
        low, high = bounds
        if not 0 < low <= high:
            raise ValueError(f"speed bounds {bounds} are not 0 < low <= high")
        if increment <= 0:
            raise ValueError(f"the speed increment must be above 0, got {increment}")
        self.zone = zone
        self.bounds = (low, high)
        self.increment = increment
        self.target = min(max(start, low), high)
        self._times: list[float] = []  # when each kept reading came, oldest first ...
        self._values: list[int] = []  # ... and its bpm (the last 2 x SMOOTH_S)
        # The belt comes up to speed and the heart starts to answer: judge later.
        self._next_move = now + ZONE_INTERVAL_S

    def _step(self, off_bpm: float) -> int:
        """How far to move for a heart rate ``off_bpm`` from the zone's middle."""
        wanted = max(off_bpm * GAIN, 1.0)
        step = math.ceil(wanted / self.increment) * self.increment
        most = max(RAMP_STEP // self.increment * self.increment, self.increment)
        return min(step, most)

    def _judged(self, now: float) -> tuple[float | None, float | None, bool]:
        """The mean of the last ``SMOOTH_S`` and of the ``SMOOTH_S`` before (None with
        too few readings), and whether every kept reading is the same value."""
        values = self._values
        split = bisect_left(self._times, now - SMOOTH_S)
        recent_n, earlier_n = len(values) - split, split
        recent = sum(values[split:]) / recent_n if recent_n >= MIN_READINGS else None
        earlier = sum(values[:split]) / earlier_n if earlier_n >= MIN_READINGS else None
        return recent, earlier, bool(values) and min(values) == max(values)

    def update(
        self, now: float, bpm: int | None, *, commanded: int, held: bool
    ) -> ZoneChange | None:
        """One telemetry record: ``bpm`` is the trusted heart rate (None: none or
        untrusted), ``commanded`` the governor's speed, ``held`` whether it holds
        speed for heart rate. A change of target, or None."""
        if held:
            # The governor is slowing for heart rate: follow it down, never fight it.
            self._times.clear()
            self._values.clear()
            self._next_move = now + ZONE_INTERVAL_S
            if commanded < self.target:
                self.target = commanded
                return ZoneChange(
                    commanded, "Heart rate high or unknown: slowing down.", announce=False
                )
            return None
        if bpm is None:
            return None  # nothing to judge: hold (the governor decides when it is unknown)
        if self._times and now - self._times[-1] > SMOOTH_S:
            # A gap (a pause, the data gone for a while): the belt and the heart start
            # again from where they are now, so judge them a whole interval from now.
            self._times.clear()
            self._values.clear()
            self._next_move = max(self._next_move, now + ZONE_INTERVAL_S)
        self._times.append(now)
        self._values.append(bpm)
        old = bisect_left(self._times, now - 2 * SMOOTH_S)
        if old:
            del self._times[:old], self._values[:old]
        if now < self._next_move:
            return None
        recent, earlier, frozen = self._judged(now)
        if recent is None:
            return None
        slope = 0.0 if earlier is None else (recent - earlier) / SMOOTH_S
        projected = recent + slope * ZONE_INTERVAL_S
        low, high = self.bounds
        middle = (self.zone.low + self.zone.high) / 2
        if recent < self.zone.low and projected < self.zone.low and not frozen:
            wanted = min(self.target + self._step(middle - recent), high)
            verb = "under"
        elif recent > self.zone.high and projected > self.zone.high:
            wanted = max(self.target - self._step(recent - middle), low)
            verb = "over"
        else:
            return None
        if wanted == self.target:
            return None  # at a bound: nothing more to do
        self.target = wanted
        self._next_move = now + ZONE_INTERVAL_S
        return ZoneChange(
            wanted,
            f"Heart rate {recent:.0f} bpm, {verb} the {self.zone} zone: {wanted / 100:.1f} km/h.",
        )


class HeartRateGuide:
    """The session's heart-rate steps: a controller for each, started with the step.

    ``zones`` maps a plan step's index to its zone in bpm
    (``retrorun.hr.prescribe``); ``increment`` is the device's speed step.
    """

    def __init__(self, zones: Mapping[int, Zone], *, increment: int) -> None:
        self.zones = dict(zones)
        self.increment = increment
        self.controller: ZoneController | None = None

    def begin(self, step: PlanStep, now: float) -> None:
        """A step starts: a controller for a heart-rate step, none for the others."""
        zone = self.zones.get(step.index)
        if zone is None or step.speed_range is None:
            self.controller = None
            return
        self.controller = ZoneController(
            zone, step.speed_range, start=step.speed, increment=self.increment, now=now
        )

    def update(
        self, now: float, bpm: int | None, *, commanded: int, held: bool
    ) -> ZoneChange | None:
        """See :meth:`ZoneController.update`; None outside heart-rate steps."""
        if self.controller is None:
            return None
        return self.controller.update(now, bpm, commanded=commanded, held=held)
