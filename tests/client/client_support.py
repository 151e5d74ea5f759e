"""A treadmill client on the in-process simulator, on looptime's fake clock.

The rig is built inside each test (not in an async fixture): under looptime, fake
time starts at 0 while fixtures run in real time, so timers armed in a fixture
would fire thousands of fake seconds late.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from bumble.link import LocalLink

from retrorun.ble import Link, open_link
from retrorun.devices import DeviceProfile, builtin_device_profiles, match_device_profile
from retrorun.limits import RunnerProfile
from retrorun.safety import SafetyGovernor
from retrorun.treadmill import Treadmill
from treadsim.runtime import Simulator


@dataclass
class Rig:
    sim: Simulator
    link: Link
    profile: DeviceProfile

    def treadmill(self, **kwargs: object) -> Treadmill:
        return Treadmill(
            self.profile.name,
            client_kwargs=self.link.client_kwargs,
            scanner_kwargs=self.link.scanner_kwargs,
            **kwargs,  # type: ignore[arg-type]
        )


def profile_named(stem: str) -> DeviceProfile:
    for profile in builtin_device_profiles():
        if profile.name.lower().replace(" ", "-") == stem or stem in profile.name.lower():
            return profile
    raise LookupError(stem)


@contextlib.asynccontextmanager
async def rig(
    profile: DeviceProfile | None = None, faults: Sequence[str] = ()
) -> AsyncIterator[Rig]:
    link = LocalLink()
    chosen = profile or match_device_profile(None)
    async with (
        Simulator(chosen, faults=faults, local_link=link) as sim,
        open_link(local_link=link) as ble,
    ):
        yield Rig(sim, ble, chosen)


async def governed_speed(tm: Treadmill, raw: int) -> None:
    """From rest, ``raw`` 0.01 km/h as a novice's governor (ceiling 5.0 km/h) approves
    it, sent to ``tm``; returns once the treadmill reports the belt at that speed."""
    governor = SafetyGovernor(
        profile=RunnerProfile.NOVICE,
        ceiling=500,
        speed_range=tm.speed_limits,
        incline_range=tm.incline_limits,
    )
    command = governor.request_speed(raw, 0.0)
    assert command is not None
    await tm.set_speed(command)
    assert await tm.wait_for_speed(raw)
