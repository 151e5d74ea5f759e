"""ACSM energy equations with the backward factors from DOMAIN.md."""

import pytest

from retrorun.energy import RESTING_VO2, kcal_per_min, vo2


def test_walking_level_matches_acsm() -> None:
    # 4.8 km/h = 80 m/min: VO2 = 3.5 + 0.1 * 80 = 11.5 ml/kg/min
    assert vo2(4.8, 0, backward=False) == pytest.approx(11.5)


def test_running_with_grade_matches_acsm() -> None:
    # 9.6 km/h = 160 m/min at 5 %: 3.5 + 32 + 0.9 * 160 * 0.05 = 42.7
    assert vo2(9.6, 5, backward=False) == pytest.approx(42.7)


def test_backward_multiplies_the_net_part() -> None:
    forward = vo2(4.8, 0, backward=False)
    assert vo2(4.8, 0, backward=True) == pytest.approx(RESTING_VO2 + (forward - RESTING_VO2) * 1.4)
    forward_run = vo2(9.6, 0, backward=False)
    assert vo2(9.6, 0, backward=True) == pytest.approx(
        RESTING_VO2 + (forward_run - RESTING_VO2) * 1.35
    )


def test_gait_can_be_forced() -> None:
    assert vo2(5.0, 0, backward=False, running=True) > vo2(5.0, 0, backward=False)


def test_standing_is_resting() -> None:
    assert vo2(0, 10, backward=True) == RESTING_VO2


def test_kcal_per_minute() -> None:
    # 11.5 ml/kg/min * 70 kg / 1000 * 5 = 4.025 kcal/min
    assert kcal_per_min(4.8, 0, 70, backward=False) == pytest.approx(4.025)
