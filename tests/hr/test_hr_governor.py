"""Rule 14 in the governor: a heart rate that is stale, off the skin or stuck is
*unknown* while a limit is in force, and unknown is treated as high: slowed to the
recovery speed, no increase, never assumed fine. Pure: plain numbers for time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.events import Direction
from retrorun.limits import RunnerProfile
from retrorun.safety import HR_STALE_S, HR_STUCK_S, ReactionKind, SafetyGovernor

MIN_SPEED = 50  # the device minimum: the recovery speed


def running(max_hr: int | None = 150) -> SafetyGovernor:
    g = SafetyGovernor(
        profile=RunnerProfile.RECREATIONAL,
        ceiling=700,
        speed_range=(MIN_SPEED, 1600, 10),
        incline_range=(0, 150, 5),
        max_heart_rate=max_hr,
        direction=Direction.BACKWARD,
    )
    t = 0.0
    while g.commanded < 500:
        g.request_speed(500, t)
        t += 2.0
    return g


def slow_down(g: SafetyGovernor, start: float, **reading: object) -> list[str]:
    """Feed one record a second for 40 s; the reasons of the SLOW reactions."""
    reasons = []
    for k in range(40):
        now = start + k
        kw = {key: (value(now) if callable(value) else value) for key, value in reading.items()}
        reaction = g.observe(g.commanded, now, **kw)  # type: ignore[arg-type]
        assert reaction.kind in {ReactionKind.NONE, ReactionKind.SLOW}
        if reaction.kind is ReactionKind.SLOW:
            reasons.append(reaction.reason)
    return reasons


@pytest.mark.hazard("HZ-15")
def test_a_strap_that_stops_sending_is_unknown_after_5_s_and_slows_the_belt() -> None:
    g = running()
    g.expect_heart_rate(100.0)
    assert g.observe(500, 101.0, 120, heart_rate_at=101.0).kind is ReactionKind.NONE
    reasons = slow_down(g, 102.0, heart_rate=120, heart_rate_at=101.0)
    assert reasons
    assert "no heart-rate value for" in reasons[0]
    assert g.commanded == MIN_SPEED
    assert g.request_speed(500, 200.0) is None  # no increase while unknown
    # A fresh value makes it known again, and increases go on.
    assert g.observe(MIN_SPEED, 201.0, 118, heart_rate_at=201.0).kind is ReactionKind.NONE
    assert g.heart_rate_unknown is None
    assert g.request_speed(500, 202.0) is not None


@pytest.mark.hazard("HZ-15")
def test_a_strap_connected_but_never_heard_is_unknown() -> None:
    g = running()
    g.expect_heart_rate(10.0)
    assert g.observe(500, 10.0 + HR_STALE_S, None).kind is ReactionKind.NONE
    reaction = g.observe(500, 11.0 + HR_STALE_S, None)
    assert reaction.kind is ReactionKind.SLOW
    assert "heart rate unknown" in reaction.reason


@pytest.mark.hazard("HZ-15")
def test_lost_contact_is_unknown_at_once_and_its_value_is_never_judged() -> None:
    g = running()
    reasons = slow_down(g, 0.0, heart_rate=0, contact=False, heart_rate_at=lambda t: t)
    assert reasons[0] == "heart rate unknown (the strap has lost skin contact)"
    assert g.commanded == MIN_SPEED
    assert not g.heart_rate_high  # 0 bpm from a strap off the skin is no reading


@pytest.mark.hazard("HZ-15")
def test_a_value_that_never_changes_for_a_minute_is_stuck() -> None:
    g = running()
    for k in range(int(HR_STUCK_S)):
        reaction = g.observe(500, float(k), 120, heart_rate_at=float(k))
        assert reaction.kind is ReactionKind.NONE
    reaction = g.observe(500, HR_STUCK_S, 120, heart_rate_at=HR_STUCK_S)
    assert reaction.kind is ReactionKind.SLOW
    assert "stuck at 120 bpm" in reaction.reason
    assert g.observe(450, HR_STUCK_S + 1, 121).kind is ReactionKind.NONE  # it moved


def test_without_a_limit_or_a_source_no_heart_rate_rule_applies() -> None:
    g = running(max_hr=None)
    g.expect_heart_rate(0.0)
    assert slow_down(g, 10.0, heart_rate=None) == []
    g = running()
    assert slow_down(g, 10.0, heart_rate=None) == []  # no strap, no treadmill value: no rule


@given(
    readings=st.lists(
        st.tuples(
            st.none() | st.integers(0, 250),
            st.none() | st.booleans(),
            st.floats(0, 8),  # how old the value is
            st.integers(0, 1600),  # what the belt reads
        ),
        min_size=1,
        max_size=60,
    )
)
@settings(max_examples=150, deadline=None)
@pytest.mark.hazard("HZ-14", "HZ-15")
def test_no_heart_rate_reading_ever_raises_the_speed(
    readings: list[tuple[int | None, bool | None, float, int]],
) -> None:
    """Whatever the strap says, the governor's reaction to it never commands more
    than before, never more than the ceiling, and a stop is only ever for a heart
    rate over the maximum."""
    g = running()
    g.expect_heart_rate(0.0)
    for k, (bpm, contact, age, speed) in enumerate(readings):
        now = float(k)
        before = g.commanded
        reaction = g.observe(speed, now, bpm, heart_rate_at=now - age, contact=contact)
        if reaction.command is not None:
            assert reaction.command.value <= max(before, 0)
            assert reaction.command.value <= g.ceiling
        if reaction.kind is ReactionKind.STOP and "heart rate" in reaction.reason:
            assert bpm is not None
            assert bpm > 150


@pytest.mark.parametrize("unknown", ["stale", "contact"])
def test_unknown_never_stops_the_belt_by_itself(unknown: str) -> None:
    g = running()
    g.expect_heart_rate(0.0)
    for k in range(300):
        now = float(k)
        if unknown == "stale":
            reaction = g.observe(g.commanded, now, None)
        else:
            reaction = g.observe(g.commanded, now, 0, contact=False)
        assert reaction.kind is not ReactionKind.STOP
    assert g.commanded == MIN_SPEED
