"""pyftms (the client behind Home Assistant's FTMS integration) drives treadsim
through retrorun's bleak backend.

pyftms 0.4 needs Python 3.12 or newer; on an older Python this test is skipped.
The last release for Python 3.11 (0.2.20) cannot be pointed at another bleak
backend (it builds its own ``BleakClientWithServiceCache``) and pins
bleak-retry-connector 3.5.0, older than the bleak 3 retrorun uses, so it is not
used here.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from bleak import BleakScanner
from bumble.link import LocalLink

from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from treadsim.runtime import Simulator

if sys.version_info < (3, 12):
    pytest.skip("pyftms 0.4 requires Python 3.12 or newer", allow_module_level=True)
pyftms: Any = pytest.importorskip("pyftms", reason="pyftms is not installed")

pytestmark = pytest.mark.looptime


async def test_pyftms_reads_the_machine_and_drives_the_belt() -> None:
    link = LocalLink()
    profile = match_device_profile(None)
    async with (
        Simulator(profile, local_link=link, strict=True) as sim,
        open_link(local_link=link, mtu=None) as ble,
    ):
        found = await BleakScanner.discover(5, return_adv=True, **ble.scanner_kwargs)
        [(device, adv)] = [v for v in found.values() if v[1].local_name == profile.name]
        async with pyftms.get_client(device, adv, **ble.client_kwargs) as machine:
            assert machine.device_info.get("manufacturer") == "treadsim"
            assert await machine.start_resume() == pyftms.ResultCode.SUCCESS
            assert await machine.set_target_speed(5.0) == pyftms.ResultCode.SUCCESS
            assert await machine.set_target_speed(50.0) != pyftms.ResultCode.SUCCESS
            await asyncio.sleep(10)
            assert sim.state()["belt_kmh"] == 5.0
            assert await machine.pause() == pyftms.ResultCode.SUCCESS
            await asyncio.sleep(6)
            assert sim.state()["belt_kmh"] == 0.0
            assert await machine.stop() in {
                pyftms.ResultCode.SUCCESS,
                pyftms.ResultCode.FAILED,
            }
