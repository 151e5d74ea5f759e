"""retrorun.Treadmill against the simulator: what the belt really does is read
from the simulator's own state, never from the client's belief."""

from __future__ import annotations

import asyncio

import pytest
from client_support import rig

from retrorun.devices import DeviceProfile, match_device_profile
from retrorun.errors import CommandIgnored, CommandRejected, DeviceNotFoundError
from retrorun.limits import RunnerProfile
from retrorun.safety import SafetyGovernor
from retrorun.treadmill import TreadmillEventKind, scan_treadmills

pytestmark = pytest.mark.looptime


def governor(limits: tuple[int, int, int], incline: tuple[int, int, int]) -> SafetyGovernor:
    return SafetyGovernor(
        profile=RunnerProfile.NOVICE, ceiling=500, speed_range=limits, incline_range=incline
    )


def quirky(*quirks: str) -> DeviceProfile:
    data = match_device_profile(None).model_dump()
    data["name"] = "Quirky Mill"
    data["quirks"] = {q: {"source": "test", "note": "test"} for q in quirks}
    return DeviceProfile.model_validate(data)


async def test_scan_lists_the_simulated_treadmill() -> None:
    async with rig() as r:
        found = await scan_treadmills(1.0, scanner_kwargs=r.link.scanner_kwargs)
    assert [f.name for f in found] == [r.profile.name]
    assert found[0].profile.name == r.profile.name
    assert "treadmill" in found[0].machine_types


async def test_a_missing_treadmill_is_one_clear_error_listing_what_was_found() -> None:
    async with rig() as r:
        with pytest.raises(DeviceNotFoundError, match="no FTMS treadmill named 'Nope'") as caught:
            async with r.treadmill().__class__(
                "Nope", scanner_kwargs=r.link.scanner_kwargs, scan_timeout=1.0
            ):
                pass
    assert f"found: {r.profile.name} (" in str(caught.value)


async def test_a_unique_prefix_of_the_name_finds_the_treadmill() -> None:
    async with rig() as r:
        prefix = r.profile.name[:4].lower()
        async with r.treadmill().__class__(
            prefix,
            scanner_kwargs=r.link.scanner_kwargs,
            client_kwargs=r.link.client_kwargs,
            scan_timeout=1.0,
        ) as tm:
            assert tm.name == r.profile.name


@pytest.mark.hazard("HZ-08")
async def test_connect_reads_ranges_takes_control_and_exit_stops_the_belt() -> None:
    async with rig() as r:
        async with r.treadmill() as tm:
            assert tm.controlled
            assert tm.speed_limits == r.profile.speed.raw
            g = governor(tm.speed_limits, tm.incline_limits)
            command = g.request_speed(300, 0.0)
            assert command is not None
            await tm.set_speed(command)
            assert await tm.wait_for_speed(300)
            assert r.sim.state()["belt_kmh"] == 3.0
        state = r.sim.state()
        assert not state["running"]
        assert state["target_kmh"] == 0.0


@pytest.mark.hazard("HZ-08")
async def test_leaving_by_exception_or_cancellation_stops_the_belt() -> None:
    async with rig() as r:

        async def fails() -> None:
            async with r.treadmill() as tm:
                g = governor(tm.speed_limits, tm.incline_limits)
                await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
                await tm.wait_for_speed(300)
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await fails()
        assert not r.sim.state()["running"]

        async def runs_forever() -> None:
            async with r.treadmill() as tm:
                g = governor(tm.speed_limits, tm.incline_limits)
                await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
                await asyncio.sleep(3600)

        task = asyncio.create_task(runs_forever())
        await asyncio.sleep(10)
        assert r.sim.state()["running"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not r.sim.state()["running"]


async def test_a_closed_treadmill_does_not_reopen() -> None:
    async with rig() as r:
        tm = r.treadmill()
        async with tm:
            pass
        with pytest.raises(RuntimeError, match="closed"):
            async with tm:
                pass


async def test_telemetry_is_reassembled_at_mtu_23() -> None:
    async with rig(quirky("split_records", "step_count_bit13")) as r, r.treadmill() as tm:
        records = []
        async for sample in tm.telemetry():
            records.append(sample.record)
            if len(records) == 3:
                break
    assert all(rec.step_count is not None and rec.speed is not None for rec in records)


@pytest.mark.hazard("HZ-12")
async def test_ignored_speed_commands_raise_command_ignored() -> None:
    async with rig(faults=["ignore-speed"]) as r, r.treadmill() as tm:
        g = governor(tm.speed_limits, tm.incline_limits)
        await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
        with pytest.raises(CommandIgnored):
            await tm.wait_for_speed(300, timeout=10)


@pytest.mark.hazard("HZ-12")
async def test_rejected_control_is_a_typed_error() -> None:
    async with rig(faults=["reject-control"]) as r, r.treadmill() as tm:
        assert not tm.controlled
        g = governor(tm.speed_limits, tm.incline_limits)
        with pytest.raises(CommandRejected) as err:
            await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
        assert err.value.result == 0x05


@pytest.mark.hazard("HZ-13")
async def test_quirks_skip_control_send_start_and_speak_mph() -> None:
    profile = quirky("rejects_request_control", "needs_start_before_speed", "speed_in_mph")
    async with rig(profile) as r, r.treadmill(profile=profile) as tm:
        g = governor(tm.speed_limits, tm.incline_limits)
        await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
        await asyncio.sleep(5)
        assert r.sim.state()["target_kmh"] == pytest.approx(3.0, abs=0.02)


@pytest.mark.hazard("HZ-13")
async def test_mph_is_rounded_down_never_over_the_approved_speed() -> None:
    profile = quirky("speed_in_mph")
    async with rig(profile) as r, r.treadmill(profile=profile) as tm:
        g = governor(tm.speed_limits, tm.incline_limits)
        await tm.set_speed(g.request_speed(500, 0.0))  # type: ignore[arg-type]
        await asyncio.sleep(1)
        # 5.00 km/h is 3.107 mph: 3.11 would be 5.005 km/h, over what was approved.
        assert r.sim.state()["target_kmh"] <= 5.0


async def test_zero_ranges_fall_back_to_the_profile() -> None:
    async with rig(faults=["zero-ranges"]) as r, r.treadmill() as tm:
        assert tm.speed_limits == r.profile.speed.raw
        assert any("all-zero" in note for note in tm.notes)


@pytest.mark.parametrize("fault", ["drop-link@5", "stall@5:6", "reboot@5"])
@pytest.mark.hazard("HZ-11")
async def test_link_loss_reconnects_and_stops_first(fault: str) -> None:
    async with rig(faults=[fault]) as r, r.treadmill() as tm:
        g = governor(tm.speed_limits, tm.incline_limits)
        await tm.set_speed(g.request_speed(300, 0.0))  # type: ignore[arg-type]
        kinds = []
        async for event in tm.events():
            kinds.append(event.kind)
            if event.kind in {TreadmillEventKind.LINK_RESTORED, TreadmillEventKind.LINK_FAILED}:
                break
        assert TreadmillEventKind.LINK_LOST in kinds
        assert kinds[-1] is TreadmillEventKind.LINK_RESTORED
        await asyncio.sleep(5)
        state = r.sim.state()
        assert state["connected"]
        assert not state["running"]
        assert state["belt_kmh"] == 0.0


@pytest.mark.hazard("HZ-09")
async def test_console_and_safety_key_arrive_as_events() -> None:
    async with rig(faults=["console-speedup@3:4", "safety-key@6"]) as r, r.treadmill() as tm:
        kinds = []
        async for event in tm.events():
            kinds.append(event.kind)
            if event.kind is TreadmillEventKind.SAFETY_KEY:
                break
        assert TreadmillEventKind.TARGET_SPEED_CHANGED in kinds
        assert r.sim.state()["belt_kmh"] == 0.0
