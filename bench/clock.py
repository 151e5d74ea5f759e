"""How fast the paced virtual clock runs simulated time, and whether timers stay on time.

Run: ``.venv/bin/python bench/clock.py``

Two workloads, each at several speedups N, each for about half a wall second:

* ``1 Hz ticker``: one task that wakes on every whole simulated second, the shape
  of a treadmill's status notifications;
* ``1000 timers/s``: 100 tasks, each waking at 10 Hz on its own phase.

For each, ``sim s / wall s`` is simulated seconds per wall second (N when the machine
keeps up, less when it cannot: pacing re-anchors and the run goes slower) and
``max late`` is the worst ``loop.time() - deadline`` seen in a timer (0 by design).
"""

from __future__ import annotations

import asyncio
import platform
import time

from retrorun.clock import run

SPEEDUPS = (1.0, 10.0, 100.0, 1000.0, 5000.0, 1e6)
WALL_BUDGET_S = 0.5
TASKS = 100
TASK_HZ = 10.0


async def periodic(period_s: float, phase_s: float, count: int, late: list[float]) -> None:
    """Wake ``count`` times, on ``start + phase + k * period``; record lateness."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for k in range(count):
        when = start + phase_s + k * period_s
        await asyncio.sleep(when - loop.time())
        late.append(loop.time() - when)


async def ticker(sim_s: float) -> tuple[float, float, int]:
    """One 1 Hz task: (simulated seconds, worst lateness, ticks)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    late: list[float] = []
    await periodic(1.0, 1.0, round(sim_s), late)
    return loop.time() - start, max(late), len(late)


async def many_timers(sim_s: float) -> tuple[float, float, int]:
    """TASKS tasks at TASK_HZ, phases spread over one period."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    period = 1.0 / TASK_HZ
    late: list[float] = []
    count = round(sim_s * TASK_HZ)
    async with asyncio.TaskGroup() as group:
        for i in range(TASKS):
            group.create_task(periodic(period, period * (i + 1) / TASKS, count, late))
    return loop.time() - start, max(late), len(late)


def measure(workload: str, speedup: float) -> str:
    sim_budget = max(speedup * WALL_BUDGET_S, 2.0)
    sim_budget = min(sim_budget, 5000.0 if workload == "ticker" else 50.0)
    wall = time.perf_counter()
    if workload == "ticker":
        sim_s, worst, fired = run(ticker(sim_budget), speedup=speedup)
    else:
        sim_s, worst, fired = run(many_timers(sim_budget), speedup=speedup)
    wall_s = time.perf_counter() - wall
    return (
        f"  {speedup:>9,.0f}x {sim_s:>9,.0f} {wall_s:>8.3f} {sim_s / wall_s:>12,.1f}"
        f" {fired:>9,} {worst * 1e3:>10.3f}"
    )


def main() -> None:
    print(f"paced virtual clock, {platform.python_implementation()} {platform.python_version()}")
    header = (
        f"  {'speedup':>10} {'sim s':>9} {'wall s':>8} {'sim s/wall s':>12}"
        f" {'timers':>9} {'max late ms':>11}"
    )
    for workload, title in (
        ("ticker", "1 Hz ticker"),
        ("many", f"{TASKS * TASK_HZ:,.0f} timers/s ({TASKS} tasks at {TASK_HZ:g} Hz)"),
    ):
        print()
        print(title)
        print(header)
        for speedup in SPEEDUPS:
            print(measure(workload, speedup))


if __name__ == "__main__":
    main()
