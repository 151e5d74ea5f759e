"""Energy expenditure: ACSM walking and running equations with backward factors.

``DOMAIN.md`` ("Energy"): S in m/min, G grade as a fraction, VO2 in ml/kg/min.
Walking VO2 = 3.5 + 0.1 S + 1.8 S G; running VO2 = 3.5 + 0.2 S + 0.9 S G.
Backward multiplies the net part (VO2 - 3.5) by 1.4 walking, 1.35 running
(Wright & Weyand 2001; Rasica 2020; Compendium of Physical Activities).
kcal/min = VO2 x mass (kg) / 1000 x 5. Shared by the simulator and the session summary.
"""

from __future__ import annotations

__all__ = ["RESTING_VO2", "WALK_RUN_KMH", "kcal_per_min", "vo2"]

RESTING_VO2 = 3.5
WALK_RUN_KMH = 5.9
BACKWARD_WALK_FACTOR = 1.4
BACKWARD_RUN_FACTOR = 1.35


def vo2(
    speed_kmh: float, grade_pct: float, *, backward: bool, running: bool | None = None
) -> float:
    """Oxygen uptake in ml/kg/min. ``running`` defaults to speed >= 5.9 km/h."""
    if speed_kmh <= 0:
        return RESTING_VO2
    if running is None:
        running = speed_kmh >= WALK_RUN_KMH
    s = speed_kmh * 1000 / 60
    g = max(grade_pct, 0.0) / 100  # ACSM equations are for level and uphill only
    net = 0.2 * s + 0.9 * s * g if running else 0.1 * s + 1.8 * s * g
    if backward:
        net *= BACKWARD_RUN_FACTOR if running else BACKWARD_WALK_FACTOR
    return RESTING_VO2 + net


def kcal_per_min(
    speed_kmh: float,
    grade_pct: float,
    weight_kg: float,
    *,
    backward: bool,
    running: bool | None = None,
) -> float:
    """Gross energy expenditure in kcal per minute."""
    return vo2(speed_kmh, grade_pct, backward=backward, running=running) * weight_kg / 1000 * 5
