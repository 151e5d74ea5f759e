"""Belt physics: what the treadmill really does, stepped by the loop clock.

Pure: no clock, no I/O; the caller passes ``dt``. Speeds are in 0.01 km/h and
inclines in 0.1 % (the FTMS units), kept fractional between steps so that slow
ramps at 10 Hz do not round away. The belt moves toward its target at the
profile's acceleration and deceleration (a real motor cannot jump), the deck
toward its target incline at its own rate; distance, time, energy (the ACSM
formulas of ``DOMAIN.md``) and steps accumulate while it runs. Heart rate follows
effort as a first-order response with a half-minute time constant.

The belt is stopped at power-on (unless the server powers it on running: see
``FtmsServer``'s ``initial_speed``). ``start`` runs it (from standstill at the
model's minimum speed, as consoles do), ``pause`` brings it to rest but keeps the
target so that ``start`` resumes at it, ``stop`` ends the run and clears the target.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrorun.devices import DeviceProfile
from retrorun.energy import kcal_per_min

__all__ = ["HR_REST", "Belt", "Physics"]

HR_REST = 70.0
HR_TAU_S = 30.0
HR_MAX = 200.0


@dataclass(slots=True)
class Belt:
    """The moving parts of one treadmill. Rates in km/h per second and % per second."""

    accel_kmh_per_s: float
    decel_kmh_per_s: float
    incline_pct_per_s: float
    start_speed: int = 0  # 0.01 km/h: where ``start`` from standstill sets the target
    weight_kg: float = 70.0
    speed: float = 0.0  # 0.01 km/h
    target: int = 0  # 0.01 km/h
    incline: float = 0.0  # 0.1 %
    target_incline: int = 0  # 0.1 %
    running: bool = False
    paused: bool = False
    distance_m: float = 0.0
    elapsed_s: float = 0.0
    energy_kcal: float = 0.0
    steps: float = 0.0
    heart_rate: float = HR_REST

    @classmethod
    def for_profile(cls, profile: DeviceProfile, *, accel: float | None = None) -> Belt:
        """A stopped belt with the model's rates (``accel`` overrides both ramps)."""
        return cls(
            accel_kmh_per_s=accel if accel is not None else profile.accel_kmh_per_s,
            decel_kmh_per_s=accel if accel is not None else profile.decel_kmh_per_s,
            incline_pct_per_s=profile.incline_pct_per_s,
            start_speed=profile.speed.raw[0],
        )

    # -- what FTMS reports -------------------------------------------------------------

    @property
    def speed_raw(self) -> int:
        """Instantaneous speed (0.01 km/h)."""
        return round(self.speed)

    @property
    def incline_raw(self) -> int:
        """Inclination (0.1 %)."""
        return round(self.incline)

    @property
    def average_speed_raw(self) -> int:
        """Average speed over the elapsed time (0.01 km/h), within the field's range.

        Elapsed time runs only while the belt is driven, distance while it moves: a
        belt coasting to rest just after a Reset or a reboot covers metres in a
        fraction of a second's elapsed time, and the quotient must not overflow the
        uint16 field (the ticker died on it, and the machine went silent).
        """
        if self.elapsed_s <= 0:
            return 0
        return min(round(self.distance_m / self.elapsed_s * 360), 0xFFFF)

    @property
    def moving(self) -> bool:
        return self.speed > 0

    # -- commands ----------------------------------------------------------------------

    def start(self) -> None:
        """Start or resume: run toward the target (the minimum speed if there is none)."""
        self.running = True
        self.paused = False
        if self.target <= 0:
            self.target = self.start_speed

    def pause(self) -> None:
        """Bring the belt to rest, keeping the target for ``start``."""
        self.running = False
        self.paused = True

    def stop(self) -> None:
        """End the run: the belt decelerates to rest and the target is cleared."""
        self.running = False
        self.paused = False
        self.target = 0

    def halt(self) -> None:
        """The motor is cut (safety key, power loss): the belt is at rest at once."""
        self.stop()
        self.speed = 0.0

    def set_target(self, raw: int) -> None:
        """A new target speed (0.01 km/h); a stopped belt starts toward it."""
        self.target = raw
        self.start()

    # -- time --------------------------------------------------------------------------

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
        if self.running:
            self.elapsed_s += dt
        if kmh > 0:
            self.distance_m += kmh / 3.6 * dt
            # A treadmill cannot know its runner faces backward: forward figures.
            per_min = kcal_per_min(kmh, self.incline / 10, self.weight_kg, backward=False)
            self.energy_kcal += per_min * dt / 60
            cadence_per_min = 100 + 8 * kmh
            self.steps += cadence_per_min * dt / 60
        climb = 1.5 * max(self.incline, 0.0) / 10 if kmh > 0 else 0.0
        effort = min(HR_REST + 9.0 * kmh + climb, HR_MAX)
        self.heart_rate += (effort - self.heart_rate) * min(dt / HR_TAU_S, 1.0)


Physics = Belt
"""The same class under the name the design notes use."""
