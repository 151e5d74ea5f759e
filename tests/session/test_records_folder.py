"""What a session leaves in the records folder: nothing when it never reached the
treadmill, and a time that counts from the first step, not from the pre-flight."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from run_support import run_session

from retrorun import app
from retrorun.app import RunOptions, prepare
from retrorun.errors import DeviceNotFoundError
from retrorun.programs import library, plan
from retrorun.session import Session
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime


def _unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The treadmill is not found (what a wrong --device or a switched-off machine
    gives after its scan)."""

    async def connect(*_: object) -> None:
        raise DeviceNotFoundError("no FTMS treadmill named 'Nope' found in 10 s")

    monkeypatch.setattr(app, "_connect", connect)


async def test_a_treadmill_never_reached_leaves_no_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    record = tmp_path / "sessions" / "morning.jsonl"
    options = RunOptions(program="demo", yes=True, plain=True, voice="off", record=record)
    with pytest.raises(DeviceNotFoundError):
        await app.run_prepared(prepare(options), stdout=io.StringIO())
    assert not _exists(record), "a 0-second 'error' record was left behind"


async def test_an_existing_record_is_never_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unreachable(monkeypatch)
    record = tmp_path / "all.jsonl"
    record.write_text('{"type":"start","t":0,"session":"a"}\n')
    options = RunOptions(program="demo", yes=True, plain=True, voice="off", record=record)
    with pytest.raises(DeviceNotFoundError):
        await app.run_prepared(prepare(options), stdout=io.StringIO())
    assert _text(record) == '{"type":"start","t":0,"session":"a"}\n'


async def test_time_counts_from_the_first_step_not_the_pre_flight(tmp_path: Path) -> None:
    async def drive(session: Session, sim: Simulator) -> None:
        del sim
        await asyncio.sleep(45)  # the runner takes 45 s to clip on the key
        session.confirm(source="test")
        while True:  # and confirms every turn-around at once
            await asyncio.sleep(1)
            if session.status.value == "stopped":
                return
            session.confirm(source="test")

    run = await run_session(tmp_path, driver=drive, yes=False)
    planned = sum(s.duration_s for s in plan(dict(library())["demo"], reference_kmh=8.0).steps)
    end = run.end()
    assert end["reason"] == "completed", run.printed
    first_step = next(e["t"] for e in run.events("step_started"))
    assert first_step >= 45
    # The turn-arounds wait for the belt and a fresh record, so a few seconds over plan.
    assert planned <= end["duration_s"] <= planned + 15, (planned, end["duration_s"])
    assert end["duration_s"] == pytest.approx(end["t"] - first_step, abs=0.01)


def _exists(path: Path) -> bool:
    return path.exists()


def _text(path: Path) -> str:
    return path.read_text()
