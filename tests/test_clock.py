"""The paced virtual clock: exact timers, free CPU work, I/O still wakes it, lag re-anchors.

Wall-clock bounds here are generous on purpose: each one is several times the
expected value, or a lower bound (a selector never waits less than asked).
"""

from __future__ import annotations

import asyncio
import random
import socket
import sys
import threading
import time

import pytest

from retrorun import clock
from retrorun.clock import MAX_LAG_S, PacedEventLoop, loop_factory, run


def test_a_minute_passes_in_a_tenth_of_a_second_at_600x() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, PacedEventLoop)
        assert loop.speedup == 600
        start = loop.time()
        await asyncio.sleep(60)
        return loop.time() - start

    wall = time.monotonic()
    assert run(main(), speedup=600) == 60.0
    elapsed = time.monotonic() - wall
    assert 0.09 <= elapsed < 1.0  # 60 s / 600 = 0.1 s: paced, not flat out


def test_many_timers_fire_exactly_on_their_deadlines() -> None:
    rng = random.Random(7)

    async def main() -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()
        base = loop.time()
        fired: list[tuple[float, float]] = []
        done = loop.create_future()
        deadlines = [base + rng.uniform(0.0, 60.0) for _ in range(300)]
        deadlines += deadlines[:20]  # some timers share a deadline

        def on_time(when: float) -> None:
            fired.append((when, loop.time()))
            if len(fired) == len(deadlines) + 1:
                done.set_result(None)

        for when in deadlines:
            loop.call_at(when, on_time, when)
        loop.call_later(12.5, lambda: loop.call_later(1.25, on_time, base + 13.75))
        await done
        return fired

    fired = run(main(), speedup=600)
    assert all(now == when for when, now in fired)
    assert [when for when, _ in fired] == sorted(when for when, _ in fired)


def test_a_1hz_ticker_stays_on_the_second() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        ticks = []
        for i in range(1, 101):
            await asyncio.sleep(start + i - loop.time())
            ticks.append(loop.time() - start)
        return ticks

    assert run(main(), speedup=1000) == pytest.approx([float(i) for i in range(1, 101)])


def test_cpu_work_and_ready_callbacks_cost_no_loop_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:  # 50 ms of CPU: 50 s at 1000x
            pass
        during = loop.time() - start
        for _ in range(200):  # runnable work always finishes before time moves on
            await asyncio.sleep(0)
        return during, loop.time() - start

    assert run(main(), speedup=1000) == (0.0, 0.0)


def test_in_process_work_finishes_before_a_pending_timeout() -> None:
    async def answer(hops: int) -> str:
        for _ in range(hops):
            deadline = time.monotonic() + 0.002
            while time.monotonic() < deadline:  # 2 ms of CPU per hop: 10 s at 5000x
                pass
            await asyncio.sleep(0)
        return "ok"

    async def main() -> str:
        async with asyncio.timeout(30):  # an ATT-style transaction timeout
            return await answer(50)  # 100 ms of CPU = 500 s of scaled wall time

    assert run(main(), speedup=5000) == "ok"


def test_socket_readiness_from_a_thread_wakes_the_loop() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        a.setblocking(False)
        sender = threading.Timer(0.05, b.send, (b"x",))
        try:
            start, wall = loop.time(), time.monotonic()
            sender.start()
            # Far timers only: at 10x the loop would otherwise sleep for six minutes.
            data = await asyncio.wait_for(loop.sock_recv(a, 1), 3600)
            assert data == b"x"
            return loop.time() - start, time.monotonic() - wall
        finally:
            sender.join()
            a.close()
            b.close()

    loop_elapsed, wall_elapsed = run(main(), speedup=10)
    assert wall_elapsed < 1.0
    assert 0.0 < loop_elapsed < 10.0  # the real wait counts 10 times over


def test_subprocess_output_wakes_the_loop() -> None:
    async def main() -> tuple[bytes, float]:
        wall = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "print('hi')",
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), 600)
        assert await proc.wait() == 0
        return out, time.monotonic() - wall

    out, wall_elapsed = run(main(), speedup=10)
    assert out.strip() == b"hi"
    assert wall_elapsed < 10.0  # not the 60 s of wall time the timeout would take


def test_asyncio_timeout_and_wait_for_fire_on_time() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(3):
                await asyncio.sleep(10)
        after_timeout = loop.time() - start
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 2.5)
        return after_timeout, loop.time() - start

    assert run(main(), speedup=50) == (3.0, 5.5)


@pytest.fixture
def fake_pause(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Shift the clock module's wall clock: ``offset[0] += s`` is an s-second CPU pause."""
    offset = [0.0]
    real = time.monotonic
    monkeypatch.setattr(clock, "_monotonic", lambda: real() + offset[0])
    return offset


def test_a_short_lag_is_won_back(fake_pause: list[float]) -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        fake_pause[0] += 0.8 * MAX_LAG_S  # behind by 10 s of loop time at 50x
        wall = time.monotonic()
        await asyncio.sleep(10)
        return loop.time() - start, time.monotonic() - wall

    loop_elapsed, wall_elapsed = run(main(), speedup=50)
    assert loop_elapsed == 10.0
    assert wall_elapsed < 0.6 * MAX_LAG_S  # ~0: the debt is paid by not waiting


def test_a_long_lag_re_anchors_instead_of_skipping_ahead(fake_pause: list[float]) -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        fake_pause[0] += 4 * MAX_LAG_S  # far behind: 50 s of loop time at 50x
        wall = time.monotonic()
        await asyncio.sleep(10)
        return loop.time() - start, time.monotonic() - wall

    loop_elapsed, wall_elapsed = run(main(), speedup=50)
    assert loop_elapsed == 10.0
    assert wall_elapsed >= 0.15  # 10 s / 50 = 0.2 s, paced from the new anchor


def test_speedup_one_is_the_wall_clock() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        start, wall = loop.time(), time.monotonic()
        deadline = time.monotonic() + 0.03
        while time.monotonic() < deadline:  # CPU work shows, as on any loop
            pass
        await asyncio.sleep(0.05)
        return loop.time() - start, time.monotonic() - wall

    loop_elapsed, wall_elapsed = run(main())
    assert loop_elapsed == pytest.approx(wall_elapsed, abs=0.02)
    assert loop_elapsed >= 0.08


@pytest.mark.parametrize("bad", [0.5, 0, -3, float("nan"), float("inf")])
def test_speedup_below_one_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="speedup"):
        PacedEventLoop(bad)
    with pytest.raises(ValueError, match="speedup"):
        loop_factory(bad)

    async def never() -> None:
        pass

    with pytest.raises(ValueError, match="speedup"):
        run(never(), speedup=bad)


def test_loop_factory_works_with_asyncio_runner() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(asyncio.sleep(s) for s in (1, 2, 3)))
        return loop.time() - start

    with asyncio.Runner(loop_factory=loop_factory(300)) as runner:
        assert runner.run(main()) == 3.0
        assert isinstance(runner.get_loop(), PacedEventLoop)


@pytest.mark.parametrize("speedup", [1.0, 20.0])
def test_wall_seconds_gives_a_real_peer_its_wall_time(speedup: float) -> None:
    async def main() -> tuple[float, float]:
        return clock.current_speedup(), clock.wall_seconds(2.5)

    assert run(main(), speedup=speedup) == (speedup, 2.5 * speedup)


def test_a_loop_without_a_speedup_counts_as_one() -> None:
    async def main() -> float:
        return clock.wall_seconds(3.0)

    assert asyncio.run(main()) == 3.0
