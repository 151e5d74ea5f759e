"""The paced virtual clock: exact timers, no cost for CPU work, I/O still wakes it."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from retrorun.clock import PacedEventLoop, loop_factory, run


def test_a_minute_passes_in_a_fraction_of_a_second_at_600x() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(60)
        return loop.time() - start

    wall = time.monotonic()
    assert run(main(), speedup=600) == pytest.approx(60.0, abs=1e-6)
    assert time.monotonic() - wall < 2.0


def test_timers_fire_exactly_on_their_deadlines() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        base = loop.time()
        late: list[float] = []
        done = loop.create_future()
        for i in range(1, 51):
            when = base + i * 0.5

            def fired(when: float = when, last: bool = i == 50) -> None:
                late.append(loop.time() - when)
                if last:
                    done.set_result(None)

            loop.call_at(when, fired)
        await done
        return late

    assert max(abs(x) for x in run(main(), speedup=200)) < 1e-9


def test_cpu_work_costs_no_loop_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:  # busy: 50 ms of wall time
            pass
        return loop.time() - start

    assert run(main(), speedup=1000) == 0.0


def test_socket_readiness_still_wakes_the_loop() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            loop.call_later(5.0, b.send, b"x")
            start = loop.time()
            data = await asyncio.wait_for(loop.sock_recv(a, 1), 100)
            assert data == b"x"
            return loop.time() - start
        finally:
            a.close()
            b.close()

    assert run(main(), speedup=100) == pytest.approx(5.0, abs=0.5)


def test_timeouts_and_speedup_one() -> None:
    async def main() -> bool:
        try:
            async with asyncio.timeout(3):
                await asyncio.sleep(10)
        except TimeoutError:
            return True
        return False

    assert run(main(), speedup=50)
    assert loop_factory(1) is asyncio.new_event_loop


def test_speedup_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="speedup"):
        PacedEventLoop(0.5)
