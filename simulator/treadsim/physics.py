"""Belt physics: what the treadmill really does, stepped by the loop clock.

Pure and integer where FTMS is integer: speed in 0.01 km/h, incline in 0.1 %.
The belt moves toward its target at the profile's acceleration and deceleration
(a real motor cannot jump), incline at its own rate; distance, time, energy and
steps accumulate while it runs. Heart rate follows effort with a lag of about
half a minute, as a first-order response does.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrorun.energy import kcal_per_min

__all__ = ["Belt"]

_HR_REST = 70.0
_HR_TAU_S = 30.0


@dataclass(slots=True)
class Belt:
    """The moving parts. ``accel``/``decel`` in km/h per second, ``incline_rate``
    in % per second; the belt is stopped at power-on."""

    accel_kmh_per_s: float
    decel_kmh_per_s: float
    incline_pct_per_s: float
    weight_kg: float = 70.0
    speed: float = 0.0  # 0.01 km/h, kept fractional between ticks
    target: int = 0
    incline: float = 0.0  # 0.1 %
    target_incline: int = 0
    running: bool = False
    distance_m: float = 0.0
    elapsed_s: float = 0.0
    energy_kcal: float = 0.0
    steps: float = 0.0
    heart_rate: float = _HR_REST

    @property
    def speed_raw(self) -> int:
        """Speed as FTMS reports it (0.01 km/h)."""
        return round(self.speed)

    @property
    def incline_raw(self) -> int:
        return round(self.incline)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        """Stop (the belt decelerates to 0 at its own rate)."""
        self.running = False
        self.target = 0

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds."""
        if dt <= 0:
            return
        goal = float(self.target) if self.running else 0.0
        if self.speed < goal:
            self.speed = min(goal, self.speed + self.accel_kmh_per_s * 100 * dt)
        elif self.speed > goal:
            self.speed = max(goal, self.speed - self.decel_kmh_per_s * 100 * dt)
        goal_incline = float(self.target_incline)
        rate = self.incline_pct_per_s * 10 * dt
        if self.incline < goal_incline:
            self.incline = min(goal_incline, self.incline + rate)
        elif self.incline > goal_incline:
            self.incline = max(goal_incline, self.incline - rate)
        kmh = self.speed / 100
        if self.running or kmh > 0:
            self.elapsed_s += dt
        self.distance_m += kmh / 3.6 * dt
        if kmh > 0:
            # The treadmill cannot know the runner faces backward: forward figures.
            self.energy_kcal += (
                kcal_per_min(kmh, self.incline / 10, self.weight_kg, backward=False) * dt / 60
            )
            cadence_per_min = 100 + 8 * kmh
            self.steps += cadence_per_min * dt / 60
        effort_hr = _HR_REST + 9.0 * kmh + 1.5 * self.incline / 10
        self.heart_rate += (effort_hr - self.heart_rate) * min(dt / _HR_TAU_S, 1.0)
