"""What real machines do that our simulator by default does not: a Device
Information Service that names the model, and telemetry cut at 20 bytes."""

from __future__ import annotations

import pytest
from client_support import governed_speed, profile_named, rig

from retrorun.devices import DeviceProfile, builtin_device_profiles, match_device_profile

pytestmark = pytest.mark.looptime


def renamed(profile: DeviceProfile, name: str) -> DeviceProfile:
    """The same machine advertising another name (an owner or a bridge renamed it)."""
    return DeviceProfile.model_validate({**profile.model_dump(), "name": name, "match": []})


async def test_the_device_information_names_the_model_whatever_the_advertised_name() -> None:
    matrix = profile_named("mx-tm")
    sim_profile = renamed(matrix, "Gym Mill 7")
    assert match_device_profile("Gym Mill 7").name == "Generic FTMS"  # the name alone fails
    async with rig(sim_profile) as r, r.treadmill() as tm:
        assert tm.device_info is not None
        assert tm.device_info.manufacturer == "CTM"
        assert tm.device_info.model == "Gym Mill 7"
        assert tm.profile == matrix  # chosen by the DIS manufacturer
        assert tm.profile.has("truncated_records")
        await tm.next_record(5)
        assert tm.latest is not None
        assert tm.latest.record.partial


async def test_a_profile_given_by_the_user_is_never_replaced() -> None:
    generic = match_device_profile(None)
    async with rig(profile_named("mx-tm")) as r, r.treadmill(profile=generic) as tm:
        assert tm.device_info is not None
        assert tm.profile == generic


async def test_the_simulator_names_itself_when_its_profile_names_no_maker() -> None:
    async with rig() as r, r.treadmill() as tm:
        assert tm.device_info is not None
        assert (tm.device_info.manufacturer, tm.device_info.model) == ("treadsim", "Generic FTMS")


async def test_truncated_telemetry_is_detected_on_the_first_frames_and_the_belt_is_seen() -> None:
    """A Matrix-like console the profile does not know: the first 20-byte frame that
    holds its speed turns on partial reading, so the session sees the belt."""
    unknown = renamed(profile_named("mx-tm"), "Unknown Mill")
    unknown = DeviceProfile.model_validate(
        {**unknown.model_dump(), "match_info": [], "device_information": {}}
    )
    async with rig(unknown) as r, r.treadmill(profiles=builtin_device_profiles()) as tm:
        assert not tm.profile.has("truncated_records")
        assert tm.truncating
        assert any("cuts Treadmill Data at 20 bytes" in note for note in tm.notes)
        await governed_speed(tm, 300)
        assert r.sim.state()["belt_kmh"] == 3.0
        seen = []
        async for sample in tm.telemetry():
            seen.append(sample.record)
            if len(seen) == 3:
                break
        assert all(rec.partial and rec.speed is not None for rec in seen)
