"""The page's looks, frozen: the real sink serves a fixed moment of the demo (its
first backward step, heart rate known) to Debian's chromium at phone and tablet
sizes, and each screenshot is compared with its approved snapshot in
``snapshots/`` (tolerant of antialiasing; ``RETRORUN_UPDATE_SNAPSHOTS=1`` approves
new ones after a deliberate change, and README's docs/images/web-*.png are copies).

Nothing changes on the page while it is photographed: the session's items are
published once, no telemetry follows, and the page has no clock of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, FloatRect, expect
from web_support import compare_images, launch

from retrorun.bus import EventBus
from retrorun.events import (
    Direction,
    RemoteCommand,
    SessionStarted,
    SessionState,
    Status,
    StepStarted,
)
from retrorun.limits import RunnerProfile, to_kmh
from retrorun.programs import load_program, plan
from retrorun.session import Session
from retrorun.sinks.web import WebAddress, WebSink, listen

pytestmark = pytest.mark.slow

SIZES = {
    "phone": {"width": 390, "height": 844},
    "phone-landscape": {"width": 844, "height": 390},
    "tablet": {"width": 1180, "height": 820},
}


class FrozenSession:
    """The real :class:`WebSink` on a loop of its own (a thread: Playwright's
    synchronous API holds the main one), fed one fixed moment of the demo."""

    def __init__(self) -> None:
        self.listener = listen(WebAddress("127.0.0.1", 0))
        self.requests: list[str] = []
        self._up = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)
        self._thread.start()
        assert self._up.wait(10), "the sink did not start"

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        self.requests.append(f"{command} from {source}")
        return False

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        bus = EventBus()
        sink = WebSink(bus.subscribe("web"), self, self.listener)
        running = asyncio.create_task(sink.run())
        the_plan = plan(load_program("demo"), profile=RunnerProfile("novice"))
        steps = tuple(Session._step_info(step) for step in the_plan.steps)
        ceiling = to_kmh(the_plan.ceiling)
        bus.publish(
            SessionStarted(t=0.0, message="Demo", program="Demo", ceiling_kmh=ceiling, steps=steps)
        )
        bus.publish(StepStarted(t=44.0, message="", step=steps[2], next=steps[3], total=len(steps)))
        bus.publish(
            SessionState(
                t=57.0,
                speed_kmh=2.5,
                incline_pct=0.0,
                distance_m=41.0,
                elapsed_s=57.0,
                heart_rate_bpm=112,
                direction=Direction.BACKWARD,
                step=2,
                step_label=steps[2].label,
                step_remaining_s=17.0,
                program="Demo",
                status=Status.RUNNING,
                ceiling_kmh=ceiling,
                target_kmh=2.5,
                steps_total=len(steps),
            )
        )
        self._up.set()
        await self._done.wait()
        bus.close()
        await running

    def close(self) -> None:
        if self._loop is not None and self._done is not None:
            self._loop.call_soon_threadsafe(self._done.set)
        self._thread.join(timeout=10)
        self.listener.close()


@pytest.fixture(scope="module")
def frozen() -> Iterator[FrozenSession]:
    served = FrozenSession()
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as chromium:
        yield chromium


def _overlap(a: FloatRect | None, b: FloatRect | None) -> bool:
    assert a is not None
    assert b is not None
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


@pytest.mark.parametrize("size", SIZES)
def test_the_page_looks_as_approved(browser: Browser, frozen: FrozenSession, size: str) -> None:
    context = browser.new_context(viewport=SIZES[size], device_scale_factor=1)
    try:
        tab = context.new_page()
        tab.goto(frozen.listener.url)
        expect(tab.locator("#direction")).to_have_text("BACKWARD")
        expect(tab.locator("#hr-value")).to_have_text("112")
        expect(tab.locator("#next-words")).to_contain_text("BACKWARD 2.0 km/h")
        # Legible from two metres: the speed is the biggest thing, and nothing spills.
        speed = tab.locator("#speed").bounding_box()
        assert speed is not None
        assert speed["height"] >= 0.15 * SIZES[size]["height"]
        assert tab.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
        parts = ("#headline", "#speed", "#figures", "#step-words", "#bar", "#buttons")
        boxes = {part: tab.locator(part).bounding_box() for part in parts}
        for i, first in enumerate(parts):
            for second in parts[i + 1 :]:
                assert not _overlap(boxes[first], boxes[second]), f"{first} runs into {second}"
        for button in ("#stop", "#pause"):
            box = tab.locator(button).bounding_box()
            assert box is not None
            assert box["height"] >= 60  # a thumb, blind, from the rails
            assert box["y"] + box["height"] <= SIZES[size]["height"]
        problem = compare_images(tab.screenshot(), f"web-{size}")
        assert problem is None, problem
    finally:
        context.close()
    assert frozen.requests == []  # looking sends nothing
