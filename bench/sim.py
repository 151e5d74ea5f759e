"""Simulator figures through the full stack: BleakClient -> bumble backend -> GATT -> treadsim.

Prints, in one run: connect + service discovery wall time (in process, 1x), and for
several --speedup values the simulated seconds per wall second and the share of
Treadmill Data notifications received (one treadmill at 1 Hz). Run:

    .venv/bin/python bench/sim.py
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bleak import BleakClient, BleakScanner
from bumble.link import LocalLink

from retrorun import clock
from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from retrorun.ftms import TREADMILL_DATA_UUID, RecordAssembler
from treadsim.runtime import Simulator

SIM_SECONDS = 120.0


async def connect_once() -> float:
    link = LocalLink()
    profile = match_device_profile(None)
    async with Simulator(profile, local_link=link), open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name(profile.name, 5, **ble.scanner_kwargs)
        assert device is not None
        start = time.perf_counter()
        async with BleakClient(device, timeout=10, **ble.client_kwargs):
            return time.perf_counter() - start


async def stream(seconds: float) -> tuple[int, float, float]:
    link = LocalLink()
    profile = match_device_profile(None)
    loop = asyncio.get_running_loop()
    async with Simulator(profile, local_link=link), open_link(local_link=link) as ble:
        device = await BleakScanner.find_device_by_name(profile.name, 5, **ble.scanner_kwargs)
        assert device is not None
        async with BleakClient(device, timeout=10, **ble.client_kwargs) as client:
            assembler = RecordAssembler()
            received = 0

            def on_data(_c: object, data: bytearray) -> None:
                nonlocal received
                if assembler.feed_bytes(data) is not None:
                    received += 1

            await client.start_notify(TREADMILL_DATA_UUID, on_data)
            wall, sim = time.perf_counter(), loop.time()
            await asyncio.sleep(seconds)
            return received, time.perf_counter() - wall, loop.time() - sim


def main() -> None:
    connects = [clock.run(connect_once()) for _ in range(5)]
    print(
        f"connect + discovery (in process, 1x): median {statistics.median(connects) * 1000:.1f} ms"
        f" (min {min(connects) * 1000:.1f}, max {max(connects) * 1000:.1f}, n=5)"
    )
    print(f"\n{SIM_SECONDS:.0f} simulated s at 1 Hz per speedup:")
    print(
        f"{'speedup':>9} {'wall s':>8} {'sim s/wall s':>13} {'records':>8} {'expected':>9}"
        f" {'notif/wall s':>13}"
    )
    for n in (1, 100, 300, 1000, 3000, 10000):
        seconds = 5.0 if n == 1 else SIM_SECONDS
        received, wall, sim = clock.run(stream(seconds), speedup=n)
        expected = round(sim)
        print(
            f"{n:>9} {wall:>8.2f} {sim / wall:>13.1f} {received:>8} {expected:>9}"
            f" {received / wall:>13.1f}"
        )


if __name__ == "__main__":
    main()
