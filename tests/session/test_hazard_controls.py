"""Controls of docs/safety-case.md that no other test proved: whole sessions on the
embedded simulator, on looptime's fake clock, judged on the simulator's belt."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_support import backward_speeds, run_session

from retrorun.session import Session
from session_waits import in_step
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime

DEVICES = Path(__file__).resolve().parents[2] / "devices"


@pytest.mark.hazard("HZ-16")
async def test_a_remote_command_other_than_pause_resume_or_stop_is_refused(
    tmp_path: Path,
) -> None:
    """Whatever a sink passes in, a command that is not pause, resume or stop is
    refused and changes nothing the governor commands."""
    seen: dict[str, object] = {}

    async def drive(session: Session, _sim: Simulator) -> None:
        await in_step(session, 2)  # the demo's first backward step
        before = session.governor.commanded
        for name in ("faster", "speed", "ceiling", "start"):
            seen[name] = session.request(name, source="mqtt")  # type: ignore[arg-type]
        seen["resume"] = session.request("resume", source="mqtt")  # not paused: refused
        seen["unchanged"] = session.governor.commanded == before

    run = await run_session(tmp_path, driver=drive)
    assert seen == {
        "faster": False,
        "speed": False,
        "ceiling": False,
        "start": False,
        "resume": False,
        "unchanged": True,
    }
    assert len(run.events("command_refused")) == 5
    assert run.end()["reason"] == "completed"
    assert max(backward_speeds(run.lines)) <= run.lines[0]["ceiling_backward_kmh"]


@pytest.mark.hazard("HZ-13")
async def test_an_mph_treadmill_taken_for_a_kmh_one_is_stopped_before_the_runner_turns(
    tmp_path: Path,
) -> None:
    """A machine that reads Set Target Speed in mph, driven with a profile that says
    km/h: the belt runs 1.609 times what was sent, the turn-around cannot slow it to
    its speed, and the session ends with a safety stop before anyone faces backward."""
    run = await run_session(
        tmp_path,
        sim_profile=DEVICES / "horizon-t202.toml",
        profile_file=DEVICES / "generic-ftms.toml",
    )
    assert run.code == 1, run.printed
    end = run.end()
    assert end["reason"] == "safety_stop"
    assert "turn-around" in end["message"]
    assert end["belt_stopped"] is True
    assert backward_speeds(run.lines) == []  # nobody faced backward on that belt
    assert not any(line.get("phase") == "turn" for line in run.lines)
    assert run.states[-1]["belt_kmh"] == 0.0
