"""What a heart-rate strap adds to each telemetry record, beside the record's own cost.

Run: ``.venv/bin/python bench/hr.py``

The floor is what the session's monitor does for one telemetry record without a
strap, measured in the same run: the governor judges the record
(``SafetyGovernor.observe`` with no heart rate), the recorder writes and flushes its
``telemetry`` line to a file, and the state goes to the bus with one subscriber (a
sink). With a strap, one notification costs, on top of it: the 0x2A37 decode and
the reading the strap keeps (``HeartRateMeasurement.from_bytes``,
``HeartRateSample``), the governor's heart-rate rules (limit, stale, contact,
stuck: ``observe`` given the reading, its time and its contact), a heart-rate
step's zone controller (``HeartRateGuide.update``), and the two fields the record
and the state carry. A strap notifies about once a second, as often as a treadmill
sends telemetry, so the figure is per record as well.

Both paths run in alternation, ``ROUNDS`` short runs each, and the best of each is
kept (the machine's own speed, not its neighbours'). Target: the added cost under
the floor (a strap at most doubles the monitor's work per record). The parts are
timed alone too: the decode and the kept reading, the governor with a reading
against without, the zone controller.
"""

from __future__ import annotations

import platform
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

from figures import verdict
from retrorun.bus import EventBus
from retrorun.events import Direction, SessionState, Status
from retrorun.hr import HeartRateGuide, HeartRateMeasurement, HeartRateSample, Zone
from retrorun.limits import RunnerProfile
from retrorun.programs import HeartRateTarget, PlanStep
from retrorun.record import Recorder
from retrorun.safety import SafetyGovernor

ROUNDS = 200  # runs of each path, taking turns
NUMBER = 200  # records per run
TARGET_SHARE = 1.0  # the added cost, as a share of the floor
# A Polar-style notification: uint8 value, contact supported and detected, one RR.
FRAME = bytes(HeartRateMeasurement.of(118, contact=True, rr=(520,)))  # RR 520/1024 s
ZONE_STEP = PlanStep(
    index=2,
    kind="work",
    direction=Direction.BACKWARD,
    to_direction=None,
    speed=250,
    incline=0,
    duration_s=600.0,
    label="Zone walk",
    cue=None,
    turnaround=False,
    stop_belt=False,
    needs_confirm=False,
    heart_rate=HeartRateTarget("bpm", 110, 125),
    speed_range=(150, 400),
)


def governor() -> SafetyGovernor:
    return SafetyGovernor(
        profile=RunnerProfile.REHAB,
        ceiling=400,
        speed_range=(50, 1600, 10),
        incline_range=(0, 150, 5),
        max_heart_rate=160,
        direction=Direction.BACKWARD,
    )


def state(t: float, hr: int | None) -> SessionState:
    return SessionState(
        t=t,
        speed_kmh=2.5,
        incline_pct=0.0,
        distance_m=t * 0.7,
        elapsed_s=t,
        heart_rate_bpm=hr,
        direction=Direction.BACKWARD,
        step=2,
        step_label="Zone walk",
        step_remaining_s=600.0 - t % 600,
        program="Heart-Rate Walk",
        status=Status.RUNNING,
        ceiling_kmh=4.0,
        target_kmh=2.5,
        steps_total=5,
    )


class Paths:
    """One record without a strap (the floor), and one with a strap's notification."""

    def __init__(self, folder: Path) -> None:
        self.plain_gov, self.strap_gov = governor(), governor()
        # One record file for both: the file system's cost is the same for each path.
        self.plain_rec = self.strap_rec = Recorder(folder / "session.jsonl")
        self.bus = EventBus()
        self.sink = self.bus.subscribe("sink", maxsize=512)  # a sink that never reads
        self.guide = HeartRateGuide({ZONE_STEP.index: Zone(110, 125)}, increment=10)
        self.guide.begin(ZONE_STEP, 0.0)
        self.t_plain = self.t_strap = 0.0
        self.latest: HeartRateSample | None = None

    def close(self) -> None:
        self.plain_rec.close()

    def floor(self) -> None:
        self.t_plain += 1.0
        t = self.t_plain
        self.plain_gov.observe(250, t, None)
        self.plain_rec.write(
            "telemetry",
            t,
            speed_kmh=2.5,
            incline_pct=0.0,
            distance_m=round(t * 0.7, 1),
            direction="backward",
            step=2,
        )
        self.bus.publish(state(t, None))

    def strap(self) -> None:
        self.t_strap += 1.0
        t = self.t_strap
        # The notification: decoded and kept as the strap keeps it.
        value = HeartRateMeasurement.from_bytes(FRAME)
        self.latest = HeartRateSample(t, value.bpm + int(t) % 3, value.contact, value.rr_s)
        # The telemetry record, with the strap's reading.
        latest = self.latest
        gov = self.strap_gov
        gov.observe(250, t, latest.bpm, heart_rate_at=latest.t, contact=latest.contact)
        shown = latest.bpm if gov.heart_rate_unknown is None else None
        self.guide.update(t, shown, commanded=gov.commanded, held=gov.holds_for_heart_rate)
        self.strap_rec.write(
            "telemetry",
            t,
            speed_kmh=2.5,
            incline_pct=0.0,
            distance_m=round(t * 0.7, 1),
            heart_rate_bpm=shown,
            heart_rate_source="strap",
            direction="backward",
            step=2,
        )
        self.bus.publish(state(t, shown))


def best_pair(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Both best times of one call (ns), over ROUNDS short runs taking turns."""
    a = b = float("inf")
    for _ in range(ROUNDS):
        a = min(a, timeit.timeit(first, number=NUMBER) / NUMBER * 1e9)
        b = min(b, timeit.timeit(second, number=NUMBER) / NUMBER * 1e9)
    return a, b


def decode() -> HeartRateSample:
    value = HeartRateMeasurement.from_bytes(FRAME)
    return HeartRateSample(1.0, value.bpm, value.contact, value.rr_s)


def observe(gov: SafetyGovernor, t: float) -> None:
    gov.observe(250, t, 117 + int(t) % 3, heart_rate_at=t, contact=True)


def follow(guide: HeartRateGuide, t: float) -> None:
    guide.update(t, 117 + int(t) % 3, commanded=250, held=False)


def best_ns(function: Callable[[], object]) -> float:
    return min(timeit.repeat(function, number=10_000, repeat=7)) / 10_000 * 1e9


def main() -> None:
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"heart rate per notification, {python}")
    with tempfile.TemporaryDirectory() as folder:
        paths = Paths(Path(folder))
        try:
            floor_ns, strap_ns = best_pair(paths.floor, paths.strap)
        finally:
            paths.close()
    added = strap_ns - floor_ns
    decode_ns = best_ns(decode)
    plain_gov, strap_gov = governor(), governor()
    ticks = iter(range(1, 10**9))
    gov_plain_ns = best_ns(lambda: plain_gov.observe(250, float(next(ticks)), None))
    gov_hr_ns = best_ns(lambda: observe(strap_gov, float(next(ticks))))
    guide = HeartRateGuide({ZONE_STEP.index: Zone(110, 125)}, increment=10)
    guide.begin(ZONE_STEP, 0.0)
    zone_ns = best_ns(lambda: follow(guide, float(next(ticks))))
    print(f"  floor: one telemetry record, no strap     {floor_ns / 1e3:8.2f} us")
    print(f"  with a strap's notification               {strap_ns / 1e3:8.2f} us")
    print(
        f"  added per notification                    {added / 1e3:8.2f} us"
        f"  ({added / floor_ns:.0%} of the floor; target < {TARGET_SHARE:.0%})"
        f"  {verdict(added < TARGET_SHARE * floor_ns)}"
    )
    print(f"    the 0x2A37 decode and the kept reading  {decode_ns / 1e3:8.2f} us")
    print(f"    the governor's heart-rate rules         {(gov_hr_ns - gov_plain_ns) / 1e3:8.2f} us")
    print(f"    a heart-rate step's zone controller     {zone_ns / 1e3:8.2f} us")


if __name__ == "__main__":
    main()
