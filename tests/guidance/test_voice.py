"""The voice: what it says, when, how it sounds, and how it copes without speech or sound.

Timing tests run the sink on fake loop time (looptime) and check ``index.jsonl``
of a cue directory: every cue is written with the session time it was due, and
every file is checked with ``sox FILE -n stat`` for sound. Playback tests use a
real loop and a player double that takes wall time like a sound card does.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sys
import wave
from pathlib import Path
from typing import Any

import pytest
from guidance_support import (
    RECOVER,
    TONE_RMS_FLOOR,
    WORK,
    ActivityLog,
    SessionClock,
    assert_cues_audible,
    event,
    read_index,
    rms_amplitude,
    state,
    step_started,
)

from retrorun.bus import EventBus
from retrorun.events import Direction, EventKind, Status, StepInfo
from retrorun.sinks._voice_audio import TONES, AudioError, synthesize, tone_wav
from retrorun.sinks.voice import (
    SPEECH_MAX_SPEEDUP,
    VoiceSink,
    announce_step,
    default_voice_mode,
    duration_words,
    number_words,
    speed_words,
)

needs_sox = pytest.mark.skipif(
    shutil.which("sox") is None, reason="needs sox (scripts/test installs it)"
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="needs espeak-ng and sox (scripts/test installs them)",
)

# -- words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (45, "forty-five"),
        (100, "one hundred"),
        (120, "one hundred twenty"),
        (999, "nine hundred ninety-nine"),
        (2500, "two thousand five hundred"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


@pytest.mark.parametrize(
    ("kmh", "words"),
    [
        (2.5, "two point five"),
        (4.0, "four"),
        (2.25, "two point two five"),
        (2.05, "two point zero five"),
        (0.5, "zero point five"),
        (12.6, "twelve point six"),
        (1.999, "two"),
    ],
)
def test_speed_words(kmh: float, words: str) -> None:
    assert speed_words(kmh) == words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (60, "one minute"),
        (90, "one minute thirty"),
        (65, "one minute five"),
        (45, "forty-five seconds"),
        (29.6, "thirty seconds"),
        (1, "one second"),
        (120, "two minutes"),
        (150, "two minutes thirty"),
        (3600, "one hour"),
        (5400, "one hour thirty minutes"),
    ],
)
def test_duration_words(seconds: float, words: str) -> None:
    assert duration_words(seconds) == words


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (StepInfo(0, Direction.BACKWARD, 2.5, 60), "Backward. Two point five. One minute."),
        (StepInfo(0, Direction.FORWARD, 4.0, 90), "Forward. Four. One minute thirty."),
        (
            StepInfo(0, Direction.BACKWARD, 3.0, 120, incline_pct=5),
            "Backward. Three. Two minutes. Incline five percent.",
        ),
        (StepInfo(0, Direction.BACKWARD, 0.0, 60), "Rest, belt stopped. One minute."),
        (StepInfo(0, Direction.BACKWARD, 1.0, 12, turnaround=True), "Turn-around coming up."),
    ],
)
def test_step_announcement(step: StepInfo, text: str) -> None:
    assert announce_step(step) == text


# -- sounds ---------------------------------------------------------------------


@needs_espeak
@pytest.mark.parametrize("name", sorted(TONES))
def test_every_tone_is_audible_and_as_long_as_its_pattern(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.wav"
    path.write_bytes(tone_wav(name))
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds == pytest.approx(sum(ms for _, ms in TONES[name]) / 1000, abs=0.01)
    assert rms_amplitude(path) > TONE_RMS_FLOOR


def test_default_voice_mode_picks_speech_only_when_the_engine_is_installed() -> None:
    assert default_voice_mode(espeak="/nonexistent/espeak-ng") == (
        "tones",
        "/nonexistent/espeak-ng not found: countdown tones only (install espeak-ng for speech)",
    )
    if shutil.which("espeak-ng"):
        assert default_voice_mode() == ("espeak", None)


@pytest.mark.process
async def test_a_stuck_speech_engine_is_killed_after_its_wall_clock_limit(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck-espeak"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    with pytest.raises(AudioError, match=r"took more than 0\.3 s"):
        await synthesize(str(stuck), "Halfway.", tmp_path / "out.wav", limit_s=0.3)


# -- timing on the session clock -------------------------------------------------

# Two steps: 2:30 backward at 2.5 km/h, then 1:00 backward at 1.5 km/h, then the end.
# The announcement of the next step is due early enough to be said before the
# countdown: 3 s of ticks + 1 s of margin + 6 words at 0.3 s and 3 sentences at
# 0.55 s = 7.45 s.
EXPECTED_SPOKEN = [
    (0.0, "speech", "Backward. Two point five. Two minutes thirty."),
    (0.0, "speech", "Short steps. Stay tall."),
    (75.0, "speech", "Halfway."),
    (120.0, "speech", "Thirty seconds left."),
    (142.55, "speech", "Backward. One point five. One minute."),
    (147.0, "tone", "three"),
    (148.0, "tone", "two"),
    (149.0, "tone", "one"),
    (150.0, "tone", "go"),
    (203.1, "speech", "Last seconds. The belt will stop."),
    (207.0, "tone", "three"),
    (208.0, "tone", "two"),
    (209.0, "tone", "one"),
    (210.0, "tone", "ok"),
    (210.0, "speech", "Session complete. Well done."),
]


async def _two_step_session(clock: SessionClock) -> None:
    await clock.at(0, step_started(0, 0, WORK, RECOVER))
    for t in range(5, 150, 10):
        await clock.at(t, state(t, step=0, step_remaining_s=150 - t))
    await clock.at(150, step_started(150, 1, RECOVER, None))
    for t in range(155, 210, 10):
        await clock.at(t, state(t, step=1, speed_kmh=1.5, step_remaining_s=210 - t))
    await clock.at(210, event(210, EventKind.SESSION_ENDED, reason="completed"))
    clock.bus.close()


async def _run(sink: VoiceSink, script: Any) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(sink.run())
        await script


async def _write_two_step_session(
    cue_dir: Path, log: ActivityLog
) -> tuple[VoiceSink, list[dict[str, Any]]]:
    """The two-step session's cues written to ``cue_dir`` (not played), each one as
    expected and audible; the sink and the cue directory's index."""
    bus = EventBus()
    sink = VoiceSink(bus.subscribe("voice"), cue_dir=cue_dir, play=False, on_activity=log)
    await _run(sink, _two_step_session(SessionClock(bus)))
    index = read_index(cue_dir)
    assert [(e["due"], e["kind"], e["text"]) for e in index] == EXPECTED_SPOKEN
    assert_cues_audible(cue_dir, index)
    return sink, index


@needs_espeak
@pytest.mark.process
@pytest.mark.looptime
async def test_cue_dir_has_every_cue_at_its_time_and_none_is_silent(tmp_path: Path) -> None:
    log = ActivityLog()
    sink, index = await _write_two_step_session(tmp_path, log)

    assert [e["n"] for e in index] == list(range(1, len(index) + 1))
    assert [e["alert"] for e in index][-2:] == [True, True]
    # Each cue fired exactly when due (well inside 200 ms).
    fired = [(a.t, a.cue.text) for a in log.items if a.what == "fired"]
    assert fired == [(t, text) for t, _, text in EXPECTED_SPOKEN]
    assert sink.notices == []


@needs_espeak
@pytest.mark.process
@pytest.mark.looptime
async def test_at_a_high_speedup_speech_is_not_played_but_still_written(tmp_path: Path) -> None:
    """``--speedup 20`` (the demo's): nobody can listen that fast, but the cue
    directory is files, not playback: it gets every cue, placed as at normal speed."""
    loop = asyncio.get_running_loop()
    loop.speedup = 10 * SPEECH_MAX_SPEEDUP  # type: ignore[attr-defined]  # as the paced clock has
    log = ActivityLog()
    sink, _index = await _write_two_step_session(tmp_path, log)

    skipped = log.texts("skipped")  # not to be heard: not played
    assert "Halfway." in skipped
    assert "Backward. One point five. One minute." in skipped
    assert "Session complete. Well done." not in skipped  # an alert is always heard
    assert sink.notices == []


@needs_espeak
@pytest.mark.process
@pytest.mark.looptime
async def test_the_index_is_one_channel_no_cue_overlaps_and_ticks_are_on_time(
    tmp_path: Path,
) -> None:
    bus = EventBus()
    sink = VoiceSink(bus.subscribe("voice"), cue_dir=tmp_path, play=False)
    await _run(sink, _two_step_session(SessionClock(bus)))

    index = read_index(tmp_path)
    for before, after in itertools.pairwise(index):
        if not after["alert"]:
            assert before["t"] + before["duration_s"] <= after["t"] + 1e-3, (before, after)
        assert after["t"] >= after["due"]
    # Cues due together follow each other; the step's own cue after its announcement.
    first, cue = index[0], index[1]
    assert cue["t"] == round(first["t"] + first["duration_s"], 3)
    # The announcement is over before the countdown, which is heard when it is due.
    ticks = [e for e in index if e["kind"] == "tone" and e["text"] in {"three", "two", "one"}]
    assert [e["t"] for e in ticks] == [e["due"] for e in ticks]
    assert 1.5 < index[0]["duration_s"] < 5  # a real WAV's length, not an estimate


@needs_sox
@pytest.mark.process
@pytest.mark.looptime
@pytest.mark.parametrize("engine", ["/nonexistent/espeak-ng", "false"])
async def test_without_a_working_speech_engine_the_voice_falls_back_to_tones(
    tmp_path: Path, engine: str
) -> None:
    espeak = shutil.which(engine) or engine
    bus = EventBus()
    notices: list[str] = []
    sink = VoiceSink(
        bus.subscribe("voice"),
        cue_dir=tmp_path,
        espeak=espeak,
        play=False,
        on_notice=notices.append,
    )
    clock = SessionClock(bus)

    await _run(sink, _two_step_session(clock))

    assert len(notices) == 1
    assert espeak in notices[0]
    assert "using tones instead of speech" in notices[0]
    index = read_index(tmp_path)
    assert {e["kind"] for e in index} == {"tone"}
    # Announcements become chimes (4 s before the step ends when there is no
    # speech to make time for); the countdowns stay exactly where they were.
    timeline = [(e["due"], e["text"]) for e in index]
    if engine.startswith("/"):
        # Known missing from the start: no time set aside for speech.
        assert (146.0, "Backward. One point five. One minute.") in timeline
    assert [t for t, text in timeline if text in {"three", "two", "one", "go"}] == [
        147.0,
        148.0,
        149.0,
        150.0,
        207.0,
        208.0,
        209.0,
    ]
    assert_cues_audible(tmp_path, index)  # tones only: each over the tones' floor


@pytest.mark.looptime
async def test_a_pause_moves_the_countdown_to_the_new_end_of_the_step() -> None:
    bus = EventBus()
    log = ActivityLog()
    sink = VoiceSink(bus.subscribe("voice"), mode="tones", play=False, on_activity=log)
    clock = SessionClock(bus)
    short = {**WORK, "duration_s": 60, "cue": ""}

    async def script() -> None:
        await clock.at(0, step_started(0, 0, short, RECOVER))
        await clock.at(10, state(10, step=0, step_remaining_s=50))
        await clock.at(20, event(20, EventKind.PAUSED))
        await clock.at(20, state(20, step=0, step_remaining_s=40, status=Status.PAUSED))
        await clock.at(50, event(50, EventKind.RESUMED))
        await clock.at(50, state(50, step=0, step_remaining_s=40))
        await clock.at(95, event(95, EventKind.SESSION_ENDED, reason="completed"))
        bus.close()

    await _run(sink, script())

    fired = [(a.t, a.cue.text) for a in log.items if a.what == "fired"]
    assert fired == [
        (0.0, "Backward. Two point five. One minute."),
        (20.0, "Paused."),
        (50.0, "Resuming."),
        (86.0, "Backward. One point five. One minute."),
        (87.0, "three"),
        (88.0, "two"),
        (89.0, "one"),
        (95.0, "ok"),
        (95.0, "Session complete. Well done."),
    ]


# -- the turn-around -------------------------------------------------------------

WARM_UP: dict[str, Any] = {
    "direction": "forward",
    "speed_kmh": 4.0,
    "duration_s": 30,
    "label": "warm-up",
}
TURN: dict[str, Any] = {
    "direction": "backward",
    "speed_kmh": 1.0,
    "duration_s": 12,
    "turnaround": True,
}


@needs_espeak
@pytest.mark.process
@pytest.mark.looptime
@pytest.mark.parametrize("phased", [True, False], ids=["two-phase", "one-event"])
async def test_a_turnaround_says_its_whole_script_in_order(tmp_path: Path, phased: bool) -> None:
    bus = EventBus()
    sink = VoiceSink(bus.subscribe("voice"), cue_dir=tmp_path, play=False)
    clock = SessionClock(bus)
    turn: dict[str, Any] = {
        "index": 1,
        "to": "backward",
        "stop_belt": False,
        "needs_confirm": True,
        "hold_s": 12,
    }

    async def script() -> None:
        await clock.at(0, step_started(0, 0, WARM_UP, TURN))
        await clock.at(30, step_started(30, 1, TURN, WORK))
        if phased:
            await clock.at(30, event(30, EventKind.TURNAROUND, phase="slowing", **turn))
            await clock.at(36, event(36, EventKind.TURNAROUND, phase="turn", **turn))
        else:
            await clock.at(30, event(30, EventKind.TURNAROUND, **turn))
        await clock.at(44, event(44, EventKind.TURNAROUND_CONFIRMED))
        await clock.at(44, step_started(44, 2, WORK, RECOVER))
        await clock.at(50, event(50, EventKind.SESSION_ENDED, reason="stopped"))
        bus.close()

    await _run(sink, script())

    said = [(e["due"], e["text"]) for e in read_index(tmp_path) if e["kind"] == "speech"]
    script_lines = [
        "Slowing down.",
        "Hold the rails.",
        "Turn around now.",
        "Press enter when you are ready.",
    ]
    assert [text for _, text in said] == [
        "Forward. Four. Thirty seconds.",
        "Turn-around coming up.",
        *script_lines,
        "Backward. Two point five. Two minutes thirty.",
        "Short steps. Stay tall.",
        "Session over.",
    ]
    times = {text: t for t, text in said}
    assert times["Slowing down."] == times["Hold the rails."] == 30.0
    assert times["Turn around now."] == (36.0 if phased else 30.0)
    tones = [(e["due"], e["text"]) for e in read_index(tmp_path) if e["kind"] == "tone"]
    assert (44.0, "confirmed") in tones
    assert (44.0, "go") in tones


# -- playing ---------------------------------------------------------------------

# A sound card double: "plays" a WAV by taking an eighth of its duration in wall time.
FAKE_PLAYER = [
    sys.executable,
    "-c",
    (
        "import sys, time, wave\n"
        "w = wave.open(sys.argv[1])\n"
        "time.sleep(w.getnframes() / w.getframerate() / 8)\n"
    ),
]
LONG_CUE = (
    "Keep your chest up, look straight ahead, let your toes reach back first, and keep "
    "your steps short and quiet while the belt carries you towards the rear of the machine."
)


@needs_espeak
@pytest.mark.process
async def test_a_safety_alert_cuts_off_a_long_cue_and_plays_first(tmp_path: Path) -> None:
    bus = EventBus()
    log = ActivityLog()
    sink = VoiceSink(bus.subscribe("voice"), player=FAKE_PLAYER, on_activity=log)
    async with asyncio.timeout(20), asyncio.TaskGroup() as tasks:
        tasks.create_task(sink.run())
        bus.publish(step_started(0, 0, {**WORK, "cue": LONG_CUE}, RECOVER))
        await log.wait_for("playing", LONG_CUE)
        bus.publish(event(1, EventKind.CEILING_VIOLATION, "belt 5.6 km/h over the ceiling"))
        bus.publish(event(1, EventKind.SPEED_ADJUSTED, target_kmh=2.6))
        await log.wait_for("played", "Belt too fast. Slowing down.")
        bus.close()

    what = [(a.what, a.cue.text) for a in log.items if a.what != "fired"]
    assert ("interrupted", LONG_CUE) in what
    assert ("played", LONG_CUE) not in what
    after = what[what.index(("interrupted", LONG_CUE)) + 1 :]
    # The alarm tone, then the words; guidance fired after the alert waits its turn.
    assert after[:4] == [
        ("playing", "alarm"),
        ("played", "alarm"),
        ("playing", "Belt too fast. Slowing down."),
        ("played", "Belt too fast. Slowing down."),
    ]
    assert sink.notices == []


@needs_espeak
@pytest.mark.process
@pytest.mark.looptime
async def test_a_player_that_cannot_play_leaves_the_files_and_one_notice(tmp_path: Path) -> None:
    false = shutil.which("false")
    assert false is not None
    bus = EventBus()
    notices: list[str] = []
    sink = VoiceSink(
        bus.subscribe("voice"), cue_dir=tmp_path, player=[false], on_notice=notices.append
    )
    clock = SessionClock(bus)

    await _run(sink, _two_step_session(clock))

    assert notices == [
        f"cannot play audio (false exited with 1: no message): cues are written to {tmp_path} only"
    ]
    assert [(e["due"], e["kind"], e["text"]) for e in read_index(tmp_path)] == EXPECTED_SPOKEN


@pytest.mark.looptime
async def test_a_cue_dir_that_cannot_be_made_costs_one_notice_and_nothing_else(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    bus = EventBus()
    log = ActivityLog()
    notices: list[str] = []
    sink = VoiceSink(
        bus.subscribe("voice"),
        mode="tones",
        cue_dir=blocker / "cues",
        play=False,
        on_notice=notices.append,
        on_activity=log,
    )
    clock = SessionClock(bus)

    await _run(sink, _two_step_session(clock))

    assert len(notices) == 1
    assert notices[0].startswith(f"cannot write cues to {blocker / 'cues'}: ")
    assert sink.cue_dir is None
    # The cues still fire on time (for a caption, a log), just with nowhere to go.
    assert [a.t for a in log.items if a.cue.text == "go"] == [150.0]
