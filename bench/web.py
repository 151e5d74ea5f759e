"""The live page's figures (``retrorun run --web``), with Debian's chromium on this machine.

1. Latency of one telemetry record to the page's DOM: from the moment a
   ``SessionState`` is published on the session's ``EventBus`` to the moment the
   page's speed text shows it (a ``MutationObserver`` on ``#speed``), p50/p99, at
   10 records a second. The real ``WebSink`` on a loop of its own (a thread, as the
   session's loop would be), one headless chromium page at phone size driven by
   Playwright. Both ends read the same wall clock (``time.time()`` here,
   ``performance.timeOrigin + performance.now()`` in the page).
2. The cost of each connected page on the session's loop: CPU time of the sink's
   loop thread per published record with 0, 1, 4 and 8 pages connected (8 is the
   sink's limit; aiohttp WebSocket clients on another thread, so their own work is
   not counted), at 50 records a second; the slope is the cost of one more page.

Run:

    .venv/bin/python bench/web.py            # about 40 seconds
    .venv/bin/python bench/web.py --quick    # about 15 seconds

Exits 0 whether or not a target is met; 2 (one line) when chromium is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from typing import Final

import aiohttp
from playwright.sync_api import sync_playwright

from figures import pct, verdict
from retrorun.bus import EventBus
from retrorun.events import Direction, RemoteCommand, SessionState, Status
from retrorun.guidance import format_speed
from retrorun.sinks.web import WebAddress, WebSink, listen

CHROMIUM: Final = Path("/usr/bin/chromium")
LATENCY_P99_MS: Final = 50.0  # a glance: well under a telemetry interval
PAGES: Final = (0, 1, 4, 8)  # 8: the sink's own limit


def _state(speed_kmh: float, t: float) -> SessionState:
    return SessionState(
        t=t,
        speed_kmh=speed_kmh,
        incline_pct=0.0,
        distance_m=t,
        elapsed_s=t,
        heart_rate_bpm=110,
        direction=Direction.BACKWARD,
        step=2,
        step_label="Backward walk",
        step_remaining_s=30 - t % 30,
        program="Bench",
        status=Status.RUNNING,
        ceiling_kmh=5.0,
        target_kmh=2.5,
        steps_total=6,
    )


class SinkThread:
    """The real ``WebSink`` on its own loop; ``feed`` publishes from that loop."""

    def __init__(self) -> None:
        self.listener = listen(WebAddress("127.0.0.1", 0))
        self.loop = asyncio.new_event_loop()
        self.bus = EventBus()
        self.sink = WebSink(self.bus.subscribe("web", maxsize=512), self, self.listener)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        return False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._task = self.loop.create_task(self.sink.run())
        self.loop.run_forever()

    def feed(self, speeds: list[float], rate_hz: float) -> tuple[list[float], float]:
        """Publish one state per speed at ``rate_hz``; (publish times, loop CPU s)."""

        async def publish() -> tuple[list[float], float]:
            sent = []
            cpu = time.thread_time()
            start = time.monotonic()
            for i, speed in enumerate(speeds):
                await asyncio.sleep(max(0.0, start + i / rate_hz - time.monotonic()))
                sent.append(time.time() * 1000)
                self.bus.publish(_state(speed, i / rate_hz))
            await asyncio.sleep(0.2)  # the last frames leave
            return sent, time.thread_time() - cpu

        return asyncio.run_coroutine_threadsafe(publish(), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.bus.close)
        asyncio.run_coroutine_threadsafe(asyncio.wait({self._task}), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.listener.close()


def _speeds(n: int, offset: int) -> list[float]:
    """Distinct speeds, one after another (1.01, 1.02, ...)."""
    return [round(1 + (offset + i) % 2000 / 100 + 0.01, 2) for i in range(n)]


def measure_latency(sink: SinkThread, n: int) -> list[float]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.add_init_script(
            "window.shown = {};"
            "addEventListener('DOMContentLoaded', () => {"
            "  const el = document.getElementById('speed');"
            "  new MutationObserver(() => {"
            "    window.shown[el.textContent] = performance.timeOrigin + performance.now();"
            "  }).observe(el, {childList: true, characterData: true, subtree: true});"
            "});"
        )
        page.goto(sink.listener.url)
        page.wait_for_function("document.body.className === ''")
        speeds = _speeds(n, 0)
        sent, _ = sink.feed(speeds, 10.0)
        shown: dict[str, float] = page.evaluate("window.shown")
        browser.close()
    texts = [format_speed(s) for s in speeds]  # as the page writes them
    return [shown[x] - t for x, t in zip(texts, sent, strict=True) if x in shown]


async def _clients(url: str, count: int, ready: threading.Event, stop: threading.Event) -> int:
    frames = 0
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url) for _ in range(count)]

        async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal frames
            async for _ in ws:
                frames += 1

        readers = [asyncio.create_task(read(ws)) for ws in sockets]
        ready.set()
        while not stop.is_set():  # noqa: ASYNC110 - the other thread says when
            await asyncio.sleep(0.05)
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers)
    return frames


def _client_thread(
    url: str, count: int, ready: threading.Event, stop: threading.Event, result: list[int]
) -> None:
    result.append(asyncio.run(_clients(url, count, ready, stop)))


def measure_cost(sink: SinkThread, n: int) -> list[tuple[int, float, int]]:
    """(pages, loop CPU µs per record, frames the pages received) per page count."""
    rows = []
    url = sink.listener.url.replace("/?", "/ws?")
    for count in PAGES:
        ready, stop = threading.Event(), threading.Event()
        result: list[int] = []

        thread = threading.Thread(target=_client_thread, args=(url, count, ready, stop, result))
        thread.start()
        ready.wait(30)
        _, cpu = sink.feed(_speeds(n, 1000), 50.0)
        stop.set()
        thread.join(30)
        rows.append((count, cpu / n * 1e6, result[0] if result else 0))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer records (a smoke run)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"bench/web.py: needs {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    n_latency, n_cost = (100, 150) if args.quick else (300, 500)
    sink = SinkThread()
    try:
        latencies = measure_latency(sink, n_latency)
        rows = measure_cost(sink, n_cost)
    finally:
        sink.close()
    p50, p99 = pct(latencies, 0.5), pct(latencies, 0.99)
    print(f"web page: {os.cpu_count()} cores, {n_latency} records at 10 Hz, one chromium page")
    print(
        f"  record -> DOM: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms "
        f"({len(latencies)}/{n_latency} shown) "
        f"[p99 < {LATENCY_P99_MS:g} ms: {verdict(p99 < LATENCY_P99_MS)}]"
    )
    print(f"  session loop CPU per record, {n_cost} records at 50 Hz:")
    for count, micros, frames in rows:
        print(f"    {count:>2} pages: {micros:6.1f} µs/record ({frames} frames received)")
    base = rows[0][1]
    slope = (rows[-1][1] - base) / rows[-1][0]
    print(f"  each connected page: about {slope:.1f} µs of the session loop per record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
