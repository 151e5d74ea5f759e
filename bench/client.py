"""Treadmill client figures through the full bleak + bumble stack, in one run.

Control-point round trip (write -> 0x80 indication) p50/p99 for Set Target Speed,
and the client's CPU cost per telemetry record (bleak callback -> reassembly ->
decode -> queue) next to the codec's decode alone. Run:

    .venv/bin/python bench/client.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
import timeit

from bleak.backends.characteristic import BleakGATTCharacteristic
from bumble.link import LocalLink

from figures import pct
from retrorun import clock
from retrorun.ble import open_link
from retrorun.devices import match_device_profile
from retrorun.ftms import TreadmillData
from retrorun.limits import RunnerProfile
from retrorun.safety import SafetyGovernor
from retrorun.treadmill import Treadmill
from treadsim.runtime import Simulator

ROUND_TRIPS = 400


async def round_trips() -> list[float]:
    link = LocalLink()
    profile = match_device_profile(None)
    async with (
        Simulator(profile, local_link=link),
        open_link(local_link=link) as ble,
        Treadmill(
            profile.name, client_kwargs=ble.client_kwargs, scanner_kwargs=ble.scanner_kwargs
        ) as tm,
    ):
        governor = SafetyGovernor(
            profile=RunnerProfile.NOVICE,
            ceiling=500,
            speed_range=tm.speed_limits,
            incline_range=tm.incline_limits,
        )
        times = []
        loop = asyncio.get_running_loop()
        for i in range(ROUND_TRIPS):
            command = governor.request_speed(300 + (i % 2) * 10, loop.time() + i * 10)
            if command is None:
                continue
            start = time.perf_counter()
            await tm.set_speed(command)
            times.append(time.perf_counter() - start)
        return times


def per_record_cost() -> tuple[float, float]:
    record = TreadmillData(
        speed=512,
        total_distance=1234,
        inclination=20,
        total_energy=55,
        heart_rate=120,
        elapsed_time=600,
    )
    payload = bytearray(bytes(record))
    tm = Treadmill("bench")
    char: BleakGATTCharacteristic = None  # type: ignore[assignment]

    async def measure() -> float:
        n = 20000
        start = time.process_time()
        for _ in range(n):
            tm._on_data(char, payload)
            tm._telemetry.items.clear()
        return (time.process_time() - start) / n

    client = asyncio.run(measure())
    decode = (
        min(timeit.repeat(lambda: TreadmillData.from_bytes(payload), number=20000, repeat=5))
        / 20000
    )
    return client, decode


def main() -> None:
    times = clock.run(round_trips())
    print(f"control-point round trip (Set Target Speed -> indication), n={len(times)}, 1x:")
    print(
        f"  p50 {pct(times, 0.5) * 1000:.2f} ms   p99 {pct(times, 0.99) * 1000:.2f} ms"
        f"   mean {statistics.mean(times) * 1000:.2f} ms"
    )
    client, decode = per_record_cost()
    print("CPU per telemetry record:")
    print(f"  client callback (reassemble + decode + queue) {client * 1e6:.1f} us")
    print(f"  codec decode alone                            {decode * 1e6:.1f} us")
    print(f"  ratio                                         {client / decode:.1f}x")


if __name__ == "__main__":
    main()
