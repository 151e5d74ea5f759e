"""Belt physics: pure, stepped by the caller."""

from __future__ import annotations

import pytest

from retrorun.energy import kcal_per_min
from treadsim.physics import HR_REST, Belt, Physics


def belt() -> Belt:
    return Belt(accel_kmh_per_s=1.0, decel_kmh_per_s=2.0, incline_pct_per_s=0.5, start_speed=50)


def run(b: Belt, seconds: float, dt: float = 0.1) -> None:
    for _ in range(round(seconds / dt)):
        b.step(dt)


def test_stopped_at_power_on_and_still_without_start() -> None:
    b = belt()
    b.target = 500
    run(b, 5)
    assert not b.running
    assert b.speed == 0
    assert b.distance_m == b.elapsed_s == b.energy_kcal == b.steps == 0


def test_speed_ramps_at_accel_and_decel() -> None:
    b = belt()
    b.set_target(500)
    run(b, 2)
    assert b.speed_raw == 200  # 1 km/h per second
    run(b, 4)
    assert b.speed_raw == 500  # and no overshoot
    b.set_target(300)
    run(b, 0.5)
    assert b.speed_raw == 400  # 2 km/h per second down


def test_incline_moves_at_its_own_rate() -> None:
    b = belt()
    b.target_incline = 50
    run(b, 4)
    assert b.incline_raw == 20  # 0.5 % per second
    run(b, 10)
    assert b.incline_raw == 50


def test_start_from_rest_uses_the_minimum_speed() -> None:
    b = belt()
    b.start()
    assert b.target == 50
    run(b, 1)
    assert b.speed_raw == 50


def test_pause_keeps_the_target_and_stop_clears_it() -> None:
    b = belt()
    b.set_target(400)
    run(b, 5)
    b.pause()
    run(b, 3)
    assert b.speed == 0
    assert b.paused
    elapsed = b.elapsed_s
    run(b, 2)
    assert b.elapsed_s == elapsed  # the clock stops with the belt
    b.start()
    assert b.target == 400
    b.stop()
    assert b.target == 0
    assert not b.paused


def test_halt_is_immediate() -> None:
    b = belt()
    b.set_target(800)
    run(b, 10)
    b.halt()
    assert b.speed == 0
    assert not b.running


def test_distance_time_energy_steps() -> None:
    b = belt()
    b.speed = 360.0
    b.set_target(360)
    run(b, 60)
    assert b.distance_m == pytest.approx(60.0)  # 3.6 km/h = 1 m/s
    assert b.elapsed_s == pytest.approx(60.0)
    assert b.energy_kcal == pytest.approx(kcal_per_min(3.6, 0, 70, backward=False))
    assert b.steps == pytest.approx(100 + 8 * 3.6)  # one minute of cadence
    assert b.average_speed_raw == 360


def test_energy_follows_incline() -> None:
    flat, hill = belt(), belt()
    for b in (flat, hill):
        b.speed = 500.0
        b.set_target(500)
    hill.incline = hill.target_incline = 100  # 10 %
    run(flat, 60)
    run(hill, 60)
    assert hill.energy_kcal > flat.energy_kcal * 1.5


def test_heart_rate_follows_effort_with_a_lag() -> None:
    b = belt()
    assert b.heart_rate == HR_REST
    b.speed = 800.0
    b.set_target(800)
    run(b, 10)
    early = b.heart_rate
    run(b, 170)
    assert HR_REST < early < b.heart_rate
    assert b.heart_rate == pytest.approx(HR_REST + 72, abs=1)
    b.halt()
    run(b, 180)
    assert b.heart_rate == pytest.approx(HR_REST, abs=1)


def test_zero_or_negative_dt_changes_nothing() -> None:
    b = belt()
    b.set_target(500)
    b.step(0)
    b.step(-1)
    assert b.speed == 0


def test_physics_is_the_belt() -> None:
    assert Physics is Belt


def test_average_speed_of_a_belt_coasting_after_a_reset_stays_in_its_field() -> None:
    """Elapsed time runs while the belt is driven, distance while it moves: a belt
    coasting to rest just after a Reset covers metres in almost no elapsed time. The
    quotient once overflowed the uint16 field and killed the simulator's ticker."""
    belt = Belt(accel_kmh_per_s=1.0, decel_kmh_per_s=1.5, incline_pct_per_s=0.5)
    belt.set_target(1490)
    belt.start()
    belt.step(0.01)  # driven for a moment: some elapsed time
    belt.speed = 1490.0  # a firmware jump to 14.9 km/h
    belt.stop()
    for _ in range(20):
        belt.step(0.1)  # coasting: metres, no more elapsed time
    assert belt.distance_m > 4
    assert belt.elapsed_s <= 0.01
    assert belt.average_speed_raw == 0xFFFF
