"""The simulated strap and the strap client, over bumble's virtual link with a real
``BleakClient`` underneath, on looptime's fake clock: the physiology, each strap
fault as the client sees it, a reconnect after the strap drops the link, and the
sensor listed beside treadmills."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from bumble.link import LocalLink

from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from retrorun.errors import DeviceNotFoundError
from retrorun.hr import HeartRateSample, HeartRateStrap, find_strap, scan_straps
from retrorun.treadmill import scan_treadmills
from treadsim.runtime import Simulator, read_state_log
from treadsim.strap import STRAP_NAME, HeartModel

pytestmark = pytest.mark.looptime


def test_the_heart_follows_the_pace_with_a_lag_and_backward_costs_more() -> None:
    forward, backward = HeartModel(resting=60, maximum=180), HeartModel(resting=60, maximum=180)
    assert backward.demand(4.0, 0, backward=True) > forward.demand(4.0, 0, backward=False) + 5
    for _ in range(10):
        forward.step(1.0, 4.0, 0, backward=False)
    assert 60 < forward.bpm < forward.demand(4.0, 0, backward=False) - 5  # still catching up
    for _ in range(300):
        forward.step(1.0, 4.0, 0, backward=False)
    assert forward.bpm == pytest.approx(forward.demand(4.0, 0, backward=False), abs=0.5)
    for _ in range(300):
        forward.step(1.0, 0.0, 0, backward=False)
    assert forward.bpm == pytest.approx(60, abs=0.5)  # recovered at rest
    assert HeartModel(resting=60, maximum=150).demand(20, 15, backward=True) == 150
    with pytest.raises(ValueError, match="resting"):
        HeartModel(resting=190, maximum=180)


async def _strap_session(
    faults: tuple[str, ...] = (), speed: float = 0.0
) -> AsyncIterator[tuple[Simulator, HeartRateStrap, list[HeartRateSample], io.StringIO]]:
    link = LocalLink()
    log = io.StringIO()
    seen: list[HeartRateSample] = []
    async with (
        Simulator(
            match_device_profile(None),
            faults=faults,
            local_link=link,
            state_log=log,
            initial_speed_kmh=speed,
            hr=True,
            hr_resting=60,
            hr_max=170,
        ) as sim,
        open_link(local_link=link) as ble,
        HeartRateStrap(STRAP_NAME, link=ble, on_sample=seen.append) as strap,
    ):
        yield sim, strap, seen, log


async def test_readings_arrive_once_a_second_and_rise_with_the_belt() -> None:
    async for sim, strap, seen, log in _strap_session(speed=4.0):
        await asyncio.sleep(60)
        assert strap.connected
        assert strap.dropped == 0
        assert 55 <= len(seen) <= 62
        assert all(s.contact is True for s in seen)
        assert seen[-1].bpm > seen[0].bpm + 10
        assert seen[-1].rr_s
        assert 0.3 < seen[-1].rr_s[0] < 1.2
        truth = read_state_log(log.getvalue())[-1]
        assert abs(truth["hr_reported_bpm"] - truth["hr_true_bpm"]) <= 2
        assert sim.strap is not None


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("hr-contact-lost@5", "contact"),
        ("hr-dropout@5", "silent"),
        ("hr-stuck@5", "stuck"),
        ("hr-spike@5:200", "spike"),
        ("hr-drift@5:30", "drift"),
    ],
)
async def test_each_strap_fault_reaches_the_client(fault: str, check: str) -> None:
    async for _sim, strap, seen, log in _strap_session((fault,), speed=3.0):
        await asyncio.sleep(30)
        after = [s for s in seen if s.t - seen[0].t >= 6]
        truth = read_state_log(log.getvalue())
        if check == "contact":
            assert after
            assert all(s.contact is False for s in after)
        elif check == "silent":
            assert not after
            assert strap.latest is not None
            assert strap.latest.t < seen[0].t + 6
        elif check == "stuck":
            assert len({s.bpm for s in after}) == 1
            assert len({round(s["hr_true_bpm"]) for s in truth[-200:]}) > 1  # the heart moved
        elif check == "spike":
            assert [s.bpm for s in seen].count(200) in {2, 3, 4}
            assert all(s["hr_true_bpm"] < 150 for s in truth)
        else:
            last = truth[-1]
            # 30 bpm a minute since 5 s: the strap reads that much over the truth.
            drift = 30 * (last["t"] - 5) / 60
            assert abs(last["hr_reported_bpm"] - last["hr_true_bpm"] - drift) <= 3


async def test_the_client_reconnects_when_the_strap_drops_the_link() -> None:
    async for sim, strap, seen, _log in _strap_session():
        await asyncio.sleep(3)
        assert sim.strap_peripheral is not None
        connection = sim.strap_peripheral._connection
        assert connection is not None
        await connection.disconnect()
        await asyncio.sleep(15)
        assert strap.reconnects >= 1
        assert strap.connected
        assert seen[-1].t > asyncio.get_running_loop().time() - 2


async def test_scan_lists_the_strap_beside_the_treadmill_and_a_wrong_name_is_one_line() -> None:
    link = LocalLink()
    async with (
        Simulator(match_device_profile(None), local_link=link, hr=True),
        open_link(local_link=link) as ble,
    ):
        straps = await scan_straps(1.0, scanner_kwargs=ble.scanner_kwargs)
        treadmills = await scan_treadmills(1.0, scanner_kwargs=ble.scanner_kwargs)
        assert [s.name for s in straps] == [STRAP_NAME]
        assert len(treadmills) == 1
        _device, name = await find_strap("treadsim", 2.0, scanner_kwargs=ble.scanner_kwargs)
        assert name == STRAP_NAME  # a unique prefix
        with pytest.raises(DeviceNotFoundError, match="found: treadsim HR") as caught:
            await find_strap("Polar H10", 1.0, scanner_kwargs=ble.scanner_kwargs)
        assert "\n" not in str(caught.value)
