"""The ceiling arithmetic every other module relies on."""

import pytest

from retrorun.errors import UsageError
from retrorun.limits import (
    PROFILE_LIMITS,
    TRAINED_UNLOCKED_CEILING,
    RunnerProfile,
    effective_backward_ceiling,
    kmh,
)


@pytest.mark.parametrize(
    ("value", "raw"), [(8.2, 820), (0.29, 29), (1.005, 100), (12.6, 1260), (4.95, 495)]
)
def test_kmh_rounds_to_nearest(value: float, raw: int) -> None:
    assert kmh(value) == raw


@pytest.mark.parametrize(
    ("profile", "ceiling"),
    [
        (RunnerProfile.OLDER_ADULT, 250),
        (RunnerProfile.REHAB, 400),
        (RunnerProfile.NOVICE, 500),
        (RunnerProfile.RECREATIONAL, 750),
        (RunnerProfile.TRAINED, 1000),
    ],
)
@pytest.mark.hazard("HZ-01")
def test_profile_ceilings_match_domain(profile: RunnerProfile, ceiling: int) -> None:
    assert effective_backward_ceiling(profile) == ceiling


@pytest.mark.hazard("HZ-01")
def test_user_ceiling_only_lowers() -> None:
    assert effective_backward_ceiling(RunnerProfile.NOVICE, user_ceiling=420) == 420
    with pytest.raises(UsageError, match="can only be lowered"):
        effective_backward_ceiling(RunnerProfile.NOVICE, user_ceiling=510)


@pytest.mark.hazard("HZ-01")
def test_trained_unlock() -> None:
    with pytest.raises(UsageError, match="--unlock-fast"):
        effective_backward_ceiling(RunnerProfile.TRAINED, user_ceiling=1100)
    assert (
        effective_backward_ceiling(RunnerProfile.TRAINED, user_ceiling=1100, unlock_fast=True)
        == 1100
    )
    assert (
        effective_backward_ceiling(RunnerProfile.TRAINED, unlock_fast=True)
        == TRAINED_UNLOCKED_CEILING
    )
    with pytest.raises(UsageError, match="trained profile only"):
        effective_backward_ceiling(RunnerProfile.NOVICE, unlock_fast=True)


@pytest.mark.hazard("HZ-01")
def test_device_max_lowers_and_zero_is_unknown() -> None:
    assert effective_backward_ceiling(RunnerProfile.RECREATIONAL, device_max=600) == 600
    assert effective_backward_ceiling(RunnerProfile.RECREATIONAL, device_max=0) == 750


@pytest.mark.hazard("HZ-01")
def test_nonpositive_user_ceiling_refused() -> None:
    with pytest.raises(UsageError):
        effective_backward_ceiling(RunnerProfile.NOVICE, user_ceiling=0)


@pytest.mark.hazard("HZ-01")
def test_start_speeds_sit_below_ceilings() -> None:
    for limits in PROFILE_LIMITS.values():
        assert limits.backward_start_min <= limits.backward_start_max <= limits.backward_ceiling
