"""Shared pieces for the guidance tests: session items to publish and a controls double."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App

from retrorun.events import (
    Direction,
    EventKind,
    RemoteCommand,
    SessionEvent,
    SessionState,
    Status,
    event_from_json,
)

WORK: dict[str, Any] = {
    "direction": "backward",
    "speed_kmh": 2.5,
    "incline_pct": 0,
    "duration_s": 150,
    "label": "work",
    "cue": "Short steps. Stay tall.",
    "turnaround": False,
}
RECOVER: dict[str, Any] = {
    "direction": "backward",
    "speed_kmh": 1.5,
    "incline_pct": 0,
    "duration_s": 60,
    "label": "recover",
    "cue": "",
    "turnaround": False,
}
PLAN: list[dict[str, Any]] = [
    {"direction": "forward", "speed_kmh": 4.0, "duration_s": 120, "label": "warm-up"},
    {"direction": "backward", "speed_kmh": 1.0, "duration_s": 15, "turnaround": True},
    {**WORK, "cue": ""},
    RECOVER,
    {"direction": "forward", "speed_kmh": 1.0, "duration_s": 15, "turnaround": True},
    {"direction": "forward", "speed_kmh": 3.5, "duration_s": 90, "label": "cool-down"},
]


def state(t: float, **changes: Any) -> SessionState:
    """A running backward state in the work step (index 2 of ``PLAN``)."""
    base = SessionState(
        t=t,
        speed_kmh=2.5,
        incline_pct=0.0,
        distance_m=412.0,
        elapsed_s=t,
        heart_rate_bpm=118,
        direction=Direction.BACKWARD,
        step=2,
        step_label="work",
        step_remaining_s=42.0,
        program="Retro Intro",
        status=Status.RUNNING,
        ceiling_kmh=5.0,
        target_kmh=2.5,
        steps_total=len(PLAN),
    )
    return replace(base, **changes)


def event(t: float, kind: EventKind, message: str = "", **data: Any) -> SessionEvent:
    """The typed event of ``kind`` with ``data`` read as the record would hold it."""
    return event_from_json({"t": t, "kind": str(kind), "message": message or str(kind), **data})


def step_started(
    t: float, index: int, step: dict[str, Any], upcoming: dict[str, Any] | None
) -> SessionEvent:
    data = {**step, "index": index, "total": len(PLAN)}
    data["next"] = {**upcoming, "index": index + 1} if upcoming is not None else None
    return event(t, EventKind.STEP_STARTED, **data)


@dataclass
class RecordingControls:
    """A ``LocalControls`` that records every call and answers as told."""

    answer: bool = True
    speed_answer: bool = True
    confirm_answer: bool = True
    calls: list[tuple[str, Any, str]] = field(default_factory=list)

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        self.calls.append(("request", command, source))
        return self.answer

    def adjust_speed(self, delta: int, *, source: str) -> bool:
        self.calls.append(("adjust_speed", delta, source))
        return self.speed_answer

    def confirm(self, *, source: str) -> bool:
        self.calls.append(("confirm", None, source))
        return self.confirm_answer


def screen_text(app: App[Any]) -> str:
    """The current screen as plain text, the way ``export_screenshot`` sees it."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True
    )
    update = app.screen._compositor.render_update(full=True)
    console.print(update)
    return console.export_text()


class ActivityLog:
    """Collects a voice sink's activity; lets a test await one without sleeping."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed: asyncio.Event | None = None

    def __call__(self, activity: Any) -> None:
        self.items.append(activity)
        if self._changed is not None:
            self._changed.set()

    def find(self, what: str, text: str) -> Any | None:
        return next((a for a in self.items if a.what == what and text in a.cue.text), None)

    async def wait_for(self, what: str, text: str) -> Any:
        self._changed = asyncio.Event()
        while (found := self.find(what, text)) is None:
            self._changed.clear()
            await self._changed.wait()
        return found

    def texts(self, what: str) -> list[str]:
        return [a.cue.text for a in self.items if a.what == what]


def read_index(cue_dir: Path) -> list[dict[str, Any]]:
    lines = (cue_dir / "index.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def rms_amplitude(path: Path) -> float:
    """``sox FILE -n stat``'s RMS amplitude (sox prints its statistics on stderr)."""
    result = subprocess.run(
        ["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True
    )
    match = re.search(r"RMS\s+amplitude:\s+([0-9.]+)", result.stderr)
    assert match is not None, result.stderr
    return float(match.group(1))


SPEECH_RMS_FLOOR = 0.02  # espeak-ng speech measures about 0.09, silence 0.0
TONE_RMS_FLOOR = 0.1


def assert_cues_audible(cue_dir: Path, index: list[dict[str, Any]]) -> None:
    """Every cue file of ``index`` has sound: speech and tones each over their floor."""
    for entry in index:
        floor = SPEECH_RMS_FLOOR if entry["kind"] == "speech" else TONE_RMS_FLOOR
        assert rms_amplitude(cue_dir / entry["file"]) > floor, entry


class SessionClock:
    """Publishes items at session times under fake loop time (looptime)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()

    @property
    def now(self) -> float:
        return self.loop.time() - self.t0

    async def at(self, t: float, item_or_factory: Any) -> None:
        """Wait (in fake time) until session time ``t``, then publish."""
        await asyncio.sleep(max(0.0, t - self.now))
        item = item_or_factory(t) if callable(item_or_factory) else item_or_factory
        self.bus.publish(item)


SNAPSHOTS = Path(__file__).parent / "snapshots"


def check_snapshot(svg: str, name: str, tmp_path: Path, detail: str = "") -> None:
    """Compare a screenshot with ``snapshots/NAME.svg``; RETRORUN_UPDATE_SNAPSHOTS=1 accepts it."""
    golden = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("RETRORUN_UPDATE_SNAPSHOTS"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(svg, encoding="utf-8")
    if not golden.exists():
        pytest.fail(f"no golden snapshot {golden}: run with RETRORUN_UPDATE_SNAPSHOTS=1")
    if svg != golden.read_text(encoding="utf-8"):
        actual = tmp_path / f"{name}.actual.svg"
        actual.write_text(svg, encoding="utf-8")
        pytest.fail(
            f"main screen differs from {golden.name}; see {actual} "
            f"({detail + '; ' if detail else ''}RETRORUN_UPDATE_SNAPSHOTS=1 accepts it)"
        )
