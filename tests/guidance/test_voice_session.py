"""The voice in a whole session on the embedded simulator (looptime's fake clock).

The cue directory's index says what was said and when; the session record says
when each step and each turn-around phase happened. Both run on the session clock,
so a cue "on time" is one whose index time is the record's time for its moment.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
from guidance_support import assert_cues_audible, read_index

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.record import read_record

pytestmark = [
    pytest.mark.looptime,
    pytest.mark.process,
    pytest.mark.skipif(
        shutil.which("espeak-ng") is None or shutil.which("sox") is None,
        reason="needs espeak-ng and sox (scripts/test installs them)",
    ),
]

Demo = tuple[list[dict[str, Any]], Path]


async def run_demo(tmp_path: Path, name: str = "") -> Demo:
    """The record of the demo program run with spoken cues, and its cue directory."""
    options = RunOptions(
        program="demo",
        yes=True,
        plain=True,
        voice="espeak",
        cue_dir=tmp_path / f"{name}cues",
        record=tmp_path / f"{name}session.jsonl",
    )
    code = await run_prepared(prepare(options), stdout=io.StringIO())
    assert code == 0
    return list(read_record(tmp_path / f"{name}session.jsonl")), tmp_path / f"{name}cues"


def _said(index: list[dict[str, Any]], t: float) -> list[tuple[str, str]]:
    return [(e["kind"], e["text"]) for e in index if e["due"] == t]


def _events(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["type"] == "event" and line["kind"] == kind]


@pytest.mark.hazard("HZ-18")
async def test_every_cue_file_has_sound(tmp_path: Path) -> None:
    _lines, cues = await run_demo(tmp_path)
    index = read_index(cues)
    assert [e["n"] for e in index] == list(range(1, len(index) + 1))
    assert {e["kind"] for e in index} == {"speech", "tone"}
    assert_cues_audible(cues, index)


async def test_each_step_is_announced_and_counted_in_on_the_session_clock(
    tmp_path: Path,
) -> None:
    lines, cues = await run_demo(tmp_path)
    index = read_index(cues)
    starts = _events(lines, "step_started")
    timed = [s for s in starts if not s["turnaround"]]
    # Each timed step is announced (before it starts, or as it starts for the
    # first) and its own cue text is said the moment it starts.
    for step in timed:
        words = "Backward." if step["direction"] == "backward" else "Forward."
        said_before = [
            e for e in index if e["kind"] == "speech" and e["due"] <= step["t"] and e["text"]
        ]
        assert any(e["text"].startswith(words) for e in said_before), step["label"]
        assert ("speech", step["cue"]) in _said(index, step["t"])
    # Three, two, one in the last three seconds of every timed step.
    for step, following in itertools.pairwise(starts):
        if step["turnaround"]:
            continue
        end = following["t"]
        ticks = [(round(end - e["due"], 2), e["text"]) for e in index if e["kind"] == "tone"]
        assert {(3.0, "three"), (2.0, "two"), (1.0, "one")} <= set(ticks), step["label"]
    # The last step counts down to the end of the session.
    [ended] = _events(lines, "session_ended")
    assert ("speech", "Session complete. Well done.") in _said(index, ended["t"])


@pytest.mark.hazard("HZ-18")
async def test_each_turnaround_says_its_whole_script_in_order(tmp_path: Path) -> None:
    lines, cues = await run_demo(tmp_path)
    index = read_index(cues)
    turns = _events(lines, "turnaround")
    slowing = [e for e in turns if e["phase"] == "slowing"]
    turning = [e for e in turns if e["phase"] == "turn"]
    assert len(slowing) == len(turning) == 2
    for slow, turn in zip(slowing, turning, strict=True):
        script = [(e["kind"], e["text"]) for e in index if slow["t"] <= e["due"] <= turn["t"]]
        hold = round(turn["hold_s"])
        expected = [
            ("speech", "Slowing down."),
            ("speech", "Hold the rails."),
            ("tone", "turn"),
            ("speech", "Turn around now."),
            ("speech", f"Continuing in {'twelve' if hold == 12 else hold} seconds."),
        ]
        # In this order, nothing said twice; the tone may sit with the first line
        # when the belt was already slow enough and both phases came at once.
        assert [cue for cue in script if cue != ("tone", "turn")] == [
            cue for cue in expected if cue != ("tone", "turn")
        ]
        assert ("tone", "turn") in _said(index, turn["t"])
    confirmed = _events(lines, "turnaround_confirmed")
    for event in confirmed:
        assert ("tone", "confirmed") in _said(index, event["t"])


async def test_no_cue_overlaps_and_each_turnaround_script_ends_before_the_next_step(
    tmp_path: Path,
) -> None:
    """Heard on one channel: each cue after the one before has ended (alerts
    excepted: they cut in), so a turn-around's words are over before the next
    step's first cue and the step's own cue is heard after its announcement."""
    lines, cues = await run_demo(tmp_path)
    index = read_index(cues)
    for before, after in itertools.pairwise(index):
        if not after["alert"]:
            assert before["t"] + before["duration_s"] <= after["t"] + 1e-3, (before, after)
    starts = _events(lines, "step_started")
    for turn, following in itertools.pairwise(starts):
        if not turn["turnaround"]:
            continue
        script = [e for e in index if turn["t"] <= e["due"] < following["t"]]
        first_of_step = min(e["t"] for e in index if e["due"] >= following["t"])
        assert script
        assert max(e["t"] + e["duration_s"] for e in script) <= first_of_step
    ticks = [e for e in index if e["text"] in {"three", "two", "one"}]
    assert [e["t"] for e in ticks] == [e["due"] for e in ticks]  # never behind words


async def test_at_the_demo_speedup_every_spoken_cue_is_still_written(tmp_path: Path) -> None:
    """``scripts/demo`` runs at ``--speedup 20``: the cue directory holds the same
    cues, at the same session times, as a session at normal speed."""
    _lines, normal = await run_demo(tmp_path, "normal-")
    asyncio.get_running_loop().speedup = 20.0  # type: ignore[attr-defined]  # as the paced clock
    _lines, fast = await run_demo(tmp_path, "fast-")
    said = [(e["due"], e["kind"], e["text"]) for e in read_index(fast)]
    assert said == [(e["due"], e["kind"], e["text"]) for e in read_index(normal)]
    assert sum(1 for _, kind, _ in said if kind == "speech") >= 10
