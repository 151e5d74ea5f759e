"""retrorun's Treadmill at ATT MTU 23 against the spec-strict simulator: every
Operation Failed a strict machine may answer (a redundant Start, Pause or Stop) is
tolerated, records arrive in parts and are reassembled, and the belt does what
was asked (read from the simulator, never from the client)."""

from __future__ import annotations

import asyncio

import pytest
from bumble.link import LocalLink
from client_support import governed_speed

from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from retrorun.treadmill import CommandLog, Treadmill
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime


@pytest.mark.hazard("HZ-12")
async def test_every_strict_answer_at_mtu_23() -> None:
    profile = match_device_profile(None)
    link = LocalLink()
    log: list[CommandLog] = []
    async with (
        Simulator(profile, local_link=link, strict=True) as sim,
        open_link(local_link=link, mtu=None) as ble,
        Treadmill(profile.name, link=ble, on_command=log.append) as tm,
    ):
        assert sim.server.mtu == 23
        await governed_speed(tm, 300)
        await tm.start()  # already running: Operation Failed, tolerated
        await tm.pause()
        await asyncio.sleep(5)
        assert sim.state()["paused"]
        await tm.pause()  # nothing to pause: Operation Failed, tolerated
        await tm.start()
        assert await tm.wait_for_speed(300)
        assert tm.latest is not None
        assert tm.latest.record.total_distance is not None  # parts merged back
        assert await tm.stop_belt()
        await asyncio.sleep(5)
        assert await tm.stop_belt()  # already stopped: Operation Failed, tolerated
        assert sim.state()["belt_kmh"] == 0.0
    results = [(entry.op, entry.result) for entry in log]
    assert ("start_or_resume", "operation_failed") in results
    assert results.count(("stop_or_pause", "operation_failed")) >= 2
    assert not sim.state()["running"]
