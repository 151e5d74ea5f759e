"""Heart-rate steps in whole sessions on the simulated strap (``--sim-hr``), fake time.

What the belt did and what the heart did are read from the simulator's state log
(``belt_kmh``, ``hr_true_bpm``, ``hr_reported_bpm``): ground truth, never retrorun's
record. The simulated runner (resting 70, maximum 180, VO2max 30) reaches 100-110
bpm walking backward at about 3-4 km/h, inside the step's 2.0-4.5 km/h bounds and
under the novice ceiling of 5.0 km/h.

Stated tolerance: from ``REACH_S`` after the step's start to its end, the true
heart rate stays within the zone widened by ``TOLERANCE_BPM`` either side, and the
smoothed reported one (10 s means) within the zone itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from run_support import Run, run_session

from retrorun.events import Status
from retrorun.session import Session
from treadsim.runtime import Simulator

pytestmark = pytest.mark.looptime

CEILING_KMH = 5.0  # novice
BELT_TOL_KMH = 0.1  # the simulator's default profile: one 0.1 km/h increment
LOW, HIGH = 100, 110
RANGE_KMH = (2.0, 4.5)
REACH_S = 240.0  # the zone is reached within 4 minutes of the step's start ...
TOLERANCE_BPM = 3.0  # ... and held within 3 bpm of it from then on
STEP_S = 600.0

ZONE_PROGRAM = f"""\
name = "Zone test"
profile = "novice"

[[steps]]
kind = "warmup"
direction = "forward"
duration = "1min"
speed_kmh = 3.0

[[steps]]
direction = "backward"
duration = {STEP_S}
hr_zone = [{LOW}, {HIGH}]
speed_range_kmh = [{RANGE_KMH[0]}, {RANGE_KMH[1]}]
label = "Zone walk"
"""


def program(tmp_path: Path) -> str:
    path = tmp_path / "zone.toml"
    path.write_text(ZONE_PROGRAM)
    return str(path)


def step_window(run: Run, index: int = 2) -> tuple[float, float]:
    """Simulator times of the zone step: from its start to the next event after it."""
    started = [e for e in run.events("step_started") if e["index"] == index]
    assert started, run.printed
    # The record's times count from the session's origin; the simulator's from its own
    # start, a fraction of a second earlier: the log's first state pins the offset.
    start = started[0]["t"]
    ends = [line["t"] for line in run.lines if line["type"] == "end"]
    return start, ends[0]


def means(states: list[dict[str, Any]], key: str, width: float = 10.0) -> list[float]:
    """``key``'s means over consecutive ``width``-second windows (None values skipped)."""
    out: list[float] = []
    window: list[float] = []
    edge = states[0]["t"] + width if states else 0.0
    for state in states:
        if state["t"] >= edge:
            if window:
                out.append(sum(window) / len(window))
            window, edge = [], edge + width
        if state.get(key) is not None:
            window.append(float(state[key]))
    return out


@pytest.mark.hazard("HZ-14")
async def test_a_zone_step_reaches_and_holds_its_zone(tmp_path: Path) -> None:
    run = await run_session(tmp_path, program(tmp_path), sim_hr=True, max_hr=150)
    assert run.code == 0, run.printed
    start, end = step_window(run)
    assert end - start >= STEP_S
    # The belt: never over the ceiling, never over the step's upper bound.
    assert all(s["belt_kmh"] <= CEILING_KMH + BELT_TOL_KMH for s in run.states)
    held = [s for s in run.states if start + REACH_S <= s["t"] <= start + STEP_S]
    assert len(held) > 1000
    assert all(s["belt_kmh"] <= RANGE_KMH[1] + BELT_TOL_KMH for s in held)
    # The heart (truth): within the zone and its tolerance once reached.
    truth = [s["hr_true_bpm"] for s in held]
    assert min(truth) >= LOW - TOLERANCE_BPM, min(truth)
    assert max(truth) <= HIGH + TOLERANCE_BPM, max(truth)
    # What the strap reported, smoothed as the controller judges it: inside the zone.
    reported = means(held, "hr_reported_bpm")
    assert reported
    assert all(LOW <= m <= HIGH for m in reported), reported
    # It got there by speeding up from the step's lower bound, and holds without
    # swinging: the target moves only a few times, and in one direction.
    moves = run.events("speed_adjusted")
    assert moves, run.printed
    targets = [m["target_kmh"] for m in moves]
    assert targets == sorted(targets), targets
    assert all(t <= RANGE_KMH[1] for t in targets)
    late = [m for m in moves if m["t"] > start + REACH_S]
    assert len(late) <= 2, late


@pytest.mark.hazard("HZ-15")
async def test_without_a_strap_or_a_maximum_a_zone_program_is_refused(tmp_path: Path) -> None:
    from retrorun.app import RunOptions, prepare
    from retrorun.errors import UsageError

    base = {"program": program(tmp_path), "yes": True, "record": tmp_path / "r.jsonl"}
    with pytest.raises(UsageError, match="need a heart-rate strap"):
        prepare(RunOptions(**base, max_hr=150))
    with pytest.raises(UsageError, match="need a maximum heart rate"):
        prepare(RunOptions(**base, sim_hr=True))
    with pytest.raises(UsageError, match="over the 105 bpm limit"):
        prepare(RunOptions(**base, sim_hr=True, max_hr=105))
    assert not (tmp_path / "r.jsonl").exists()  # refused before a record, before the belt


# Each strap fault 3 min into the zone step (which starts about 80 s in), then the
# rest of it. ``takes_s``: when rule 14 (or the maximum) takes effect after the fault.
FAULT_AT = 260.0
STRAP_FAULTS = [
    (f"hr-contact-lost@{FAULT_AT:g}", 0.0),
    (f"hr-dropout@{FAULT_AT:g}", 5.0),  # unknown after 5 s without a value
    (f"hr-stuck@{FAULT_AT:g}", 60.0),  # unknown after 60 s of one value
    (f"hr-spike@{FAULT_AT:g}:200", 0.0),  # far over the maximum: a stop
    (f"hr-drift@{FAULT_AT:g}:60", 45.0),  # reads 45 bpm high 45 s on: over the zone, the limit
]


@pytest.mark.hazard("HZ-01", "HZ-15")
@pytest.mark.parametrize(("fault", "takes_s"), STRAP_FAULTS)
async def test_under_every_strap_fault_a_zone_step_stays_under_the_ceiling_and_slows(
    tmp_path: Path, fault: str, takes_s: float
) -> None:
    run = await run_session(tmp_path, program(tmp_path), sim_hr=True, max_hr=150, faults=(fault,))
    end = run.end()
    assert end["reason"] in {"completed", "safety_stop"}, run.printed
    assert all(s["belt_kmh"] <= CEILING_KMH + BELT_TOL_KMH for s in run.states), "over the ceiling"
    assert all(s["belt_kmh"] <= RANGE_KMH[1] + BELT_TOL_KMH for s in run.states)
    assert run.events("hr_high") or run.events("safety_stop"), run.printed
    bad_data = fault.startswith(("hr-contact-lost", "hr-dropout", "hr-stuck"))
    if bad_data:  # every slow-down says why: unknown, not high (the voice's words)
        assert all(e["heart_rate_unknown"] for e in run.events("hr_high")), run.printed
    at = FAULT_AT + takes_s
    before = max(s["belt_kmh"] for s in run.states if at - 5 <= s["t"] < at)
    assert before >= RANGE_KMH[0]  # the belt was walking in the zone when the data went bad
    if end["reason"] == "safety_stop":
        assert not run.states[-1]["running"] or run.states[-1]["belt_kmh"] <= BELT_TOL_KMH
        return
    # Slowed step by step (0.5 km/h per 2 s) to the recovery speed, and kept there:
    # the zone's controller never raises it while the data is bad.
    after = [s["belt_kmh"] for s in run.states if at + 8 <= s["t"] <= at + 60]
    assert after
    assert max(after) < before, (before, after)
    later = [s for s in run.states if at + 8 <= s["t"] <= FAULT_AT + 300]
    if bad_data:
        # The data stays bad for the rest of the step: the belt never comes back up.
        peak = max(s["belt_kmh"] for s in later)
        assert peak <= max(after[0], 1.0) + BELT_TOL_KMH, peak


async def test_the_heart_rate_walk_holds_40_to_60_percent_of_the_reserve(tmp_path: Path) -> None:
    # The simulated runner's own resting rate and maximum, as a clinician would give them:
    # a zone of 70 + 0.4 x 110 = 114 to 70 + 0.6 x 110 = 136 bpm, a limit of 80 %, 158 bpm.
    run = await run_session(
        tmp_path, "heart-rate-walk", sim_hr=True, max_hr=180, resting_hr=70, sim_hr_max=180
    )
    assert run.code == 0, run.printed
    start, _ = step_window(run)
    ceiling = 4.0  # rehab
    assert all(s["belt_kmh"] <= ceiling + BELT_TOL_KMH for s in run.states)
    held = [s for s in run.states if start + REACH_S <= s["t"] <= start + 600]
    assert len(held) > 1000
    truth = [s["hr_true_bpm"] for s in held]
    assert min(truth) >= 114 - TOLERANCE_BPM, min(truth)
    assert max(truth) <= 136 + TOLERANCE_BPM, max(truth)
    assert not run.events("hr_high")


@pytest.mark.hazard("HZ-14")
async def test_nudges_on_a_zone_step_never_take_the_belt_over_its_range(tmp_path: Path) -> None:
    """The runner's + keys on a heart-rate step stop at the step's top speed (the
    belt, judged on the state log, never goes over it); a - is always taken."""
    pressed: dict[str, bool] = {}

    async def press(session: Session, sim: Simulator) -> None:
        del sim
        while not (session.status is Status.RUNNING and session.step_index == 2):  # noqa: ASYNC110
            await asyncio.sleep(1.0)
        await asyncio.sleep(30.0)
        pressed["up"] = [session.adjust_speed(+50, source="key") for _ in range(12)][-1]
        await asyncio.sleep(60.0)
        pressed["down"] = session.adjust_speed(-50, source="key")
        await asyncio.sleep(30.0)
        session.request("stop", source="key")

    run = await run_session(tmp_path, program(tmp_path), driver=press, sim_hr=True, max_hr=150)
    assert pressed == {"up": False, "down": True}, run.printed
    start, _end = step_window(run)
    during = [s for s in run.states if s["t"] >= start]
    assert all(s["belt_kmh"] <= RANGE_KMH[1] + BELT_TOL_KMH for s in during)
    refused = [e for e in run.events("ceiling_clamped") if "heart-rate step" in e["message"]]
    assert refused, run.printed
