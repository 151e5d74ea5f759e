"""What the voice says and when: pure functions from session events to timed cues.

No clock, no I/O: times are session seconds computed from the step's end, so the
sink can re-plan a step whenever its end moves (the belt took longer to settle,
a pause) and fire only what has not been fired yet, by key.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from retrorun.events import (
    CeilingClamped,
    Direction,
    EventKind,
    HeartRateHigh,
    SessionEnded,
    SessionEvent,
    SpeedAdjusted,
    StepInfo,
    TurnaroundPhase,
)
from retrorun.sinks._voice_words import (
    announce_step,
    script_words,
    speed_words,
    turnaround_script,
)

__all__ = [
    "COUNTDOWN_S",
    "LAST_NOTICE_S",
    "LONG_STEP_S",
    "SENTENCE_S",
    "WORD_S",
    "Cue",
    "CueKind",
    "event_cues",
    "fixed_phrases",
    "speech_seconds",
    "step_cues",
    "step_start_cues",
]

LONG_STEP_S = 120.0  # from two minutes on, a step gets "halfway" and "thirty seconds left"
LAST_NOTICE_S = 30.0
COUNTDOWN_S = 3  # ticks at 3, 2, 1 seconds before a change, "go" when it happens
# espeak-ng at its default rate: about 0.29 s a word and 0.5 s for each sentence's
# fall and pause (measured on the cues: "Backward. Two. Twenty seconds." is
# 2.76 s). Rounded up, so an announcement is placed early rather than late.
WORD_S = 0.3
SENTENCE_S = 0.55
_ANNOUNCE_MARGIN_S = 1.0  # silence between the announcement and the first tick


class CueKind(enum.StrEnum):
    """How a cue sounds: words (skipped at a high speedup unless urgent) or a tone."""

    SPEECH = "speech"
    TONE = "tone"


@dataclass(frozen=True, slots=True)
class Cue:
    """One thing to say or sound at session time ``t``.

    ``text`` is what is said (for a tone: what it means, e.g. ``three``);
    ``tone`` is the tone pattern of a tone cue, or what speech falls back to
    when there is no speech engine (None: nothing). ``urgent`` cues (safety
    alerts) cut off what is playing and go before everything queued; ``keep``
    cues are played however late they get (the turn-around script, alerts);
    ``key`` makes a cue fire at most once however often its step is re-planned.
    """

    t: float
    kind: CueKind
    text: str
    key: str
    tone: str | None = None
    keep: bool = False
    urgent: bool = False


def speech_seconds(text: str) -> float:
    """How long ``text`` takes to say, in wall seconds, at most a little over.

    Numbers are written as words (``Twenty seconds``), each sentence ends in a
    pause: counting words alone put "Backward. Two. Twenty seconds." at 1.6 s
    when it takes 2.8, and ran it into the countdown.
    """
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text.strip())))
    return script_words(text.replace("-", " ")) * WORD_S + sentences * SENTENCE_S


def step_start_cues(
    step: StepInfo, previous: StepInfo | None, *, announced: bool, t: float
) -> list[Cue]:
    """Cues at the moment a step starts: "go", its announcement if not made, its own cue."""
    if step.turnaround:
        return []  # a turn-around's words and tones come with its own events
    cues = []
    if previous is not None and step.changes_from(previous):
        cues.append(Cue(t, CueKind.TONE, "go", f"{step.index}:go", tone="go"))
    if not announced:
        cues.append(Cue(t, CueKind.SPEECH, announce_step(step), f"{step.index}:announce", "chime"))
    if step.cue:
        cues.append(Cue(t, CueKind.SPEECH, step.cue, f"{step.index}:cue"))
    return cues


def step_cues(
    step: StepInfo, upcoming: StepInfo | None, end: float, *, speech_scale: float
) -> list[Cue]:
    """The timed cues of a running step whose timer ends at session time ``end``.

    ``speech_scale`` is how many session seconds one wall second of speech takes
    (the speedup, or 0 when nothing will be spoken): the announcement of the next
    step is placed early enough to be finished before the countdown.
    A turn-around step has none: it lasts until the runner confirms.
    """
    if step.turnaround:
        return []
    start = end - step.duration_s
    cues = []
    if step.duration_s >= LONG_STEP_S:
        half = end - step.duration_s / 2
        cues.append(Cue(half, CueKind.SPEECH, "Halfway.", f"{step.index}:half", "notice"))
        cues.append(
            Cue(
                end - LAST_NOTICE_S,
                CueKind.SPEECH,
                "Thirty seconds left.",
                f"{step.index}:last30",
                "notice2",
            )
        )
    text = announce_step(upcoming) if upcoming is not None else "Last seconds. The belt will stop."
    lead = COUNTDOWN_S + _ANNOUNCE_MARGIN_S + speech_seconds(text) * speech_scale
    announce_at = max(start + 0.5, end - lead)
    cues.append(Cue(announce_at, CueKind.SPEECH, text, f"{step.index}:next", "chime"))
    if upcoming is None or upcoming.changes_from(step):
        for n, word in ((3, "three"), (2, "two"), (1, "one")):
            if end - n > start:
                cues.append(Cue(end - n, CueKind.TONE, word, f"{step.index}:tick{n}", "tick"))
    return sorted(cues, key=lambda cue: cue.t)


_ALERTS: dict[EventKind, tuple[str, str]] = {
    EventKind.CEILING_CLAMPED: ("Speed held at the ceiling.", "alarm"),
    EventKind.CEILING_VIOLATION: ("Belt too fast. Slowing down.", "alarm"),
    EventKind.BELT_HALTED: ("Belt moving. Stopping it. Hold the rails.", "alarm"),
    EventKind.SPEED_REFUSED: ("This treadmill cannot go faster safely. Holding speed.", "notice"),
    EventKind.HR_HIGH: ("Heart rate high. Slowing down.", "alarm"),
    EventKind.SAFETY_STOP: ("Safety stop. The belt is stopping.", "alarm"),
    EventKind.SAFETY_KEY: ("Safety key pulled. The belt has stopped.", "alarm"),
    EventKind.LINK_LOST: ("Treadmill link lost. Hold the rails.", "alarm"),
    EventKind.LINK_RESTORED: ("Link restored.", "ok"),
    EventKind.USER_STOP: ("Stopping the belt.", "alarm"),
    EventKind.CONSOLE_CHANGE: ("Speed changed on the console.", "alarm"),
    EventKind.COMMAND_IGNORED_BY_DEVICE: ("The treadmill did not follow. Hold the rails.", "alarm"),
}


def _alert(t: float, key: str, text: str, tone: str) -> list[Cue]:
    # The tone first: it sounds at once in every mode, whatever the speech engine does.
    return [
        Cue(t, CueKind.TONE, tone, f"{key}:tone", tone, keep=True, urgent=True),
        Cue(t, CueKind.SPEECH, text, key, keep=True, urgent=True),
    ]


def event_cues(event: SessionEvent, *, t: float) -> list[Cue]:
    """Immediate cues for an event other than ``step_started`` (alerts first of all)."""
    key = f"event:{event.kind}:{event.t:.3f}"
    kind = event.kind
    if kind in _ALERTS:
        text, tone = _ALERTS[kind]
        if isinstance(event, CeilingClamped) and event.ceiling_kmh is not None:
            text = f"Speed held at the ceiling, {speed_words(event.ceiling_kmh)}."
        elif isinstance(event, HeartRateHigh) and event.heart_rate_unknown:
            # The strap went stale, lost contact or froze: "high" would be a wrong
            # word to a runner whose heart rate is fine.
            text = "Heart rate lost. Slowing down. Check the strap."
        return _alert(t, key, text, tone)
    if isinstance(event, SessionEnded):
        done = event.reason == "completed"
        return _alert(t, key, "Session complete. Well done." if done else "Session over.", "ok")
    if isinstance(event, TurnaroundPhase):
        turn = event
        lines = turnaround_script(turn)
        # Both phases can come at one instant (a belt already slow enough): the
        # phase is part of the key, or the second would pass for the first.
        key = f"{key}:{turn.phase or 'all'}"
        first_tone = "turn" if turn.phase != "turn" else None
        cues = [
            Cue(
                t,
                CueKind.SPEECH,
                line,
                f"{key}:{i}",
                first_tone if i == 0 else None,
                keep=True,
            )
            for i, line in enumerate(lines)
        ]
        if turn.phase == "turn":
            # The moment to turn gets a tone in every mode: speech may be skipped.
            cues.insert(0, Cue(t, CueKind.TONE, "turn", f"{key}:tone", "turn", keep=True))
        return cues
    if kind is EventKind.TURNAROUND_CONFIRMED:
        return [Cue(t, CueKind.TONE, "confirmed", key, "ok")]
    if kind is EventKind.PAUSED:
        return [Cue(t, CueKind.SPEECH, "Paused.", key, "notice")]
    if kind is EventKind.RESUMED:
        return [Cue(t, CueKind.SPEECH, "Resuming.", key, "notice")]
    if isinstance(event, SpeedAdjusted):
        words = speed_words(event.target_kmh).capitalize()
        return [Cue(t, CueKind.SPEECH, f"{words}.", key, "ok")]
    if kind is EventKind.COMMAND_REFUSED:
        return [Cue(t, CueKind.TONE, "refused", key, "refused")]
    return []


def fixed_phrases() -> list[str]:
    """Everything said word for word whatever the program: synthesised at start-up."""
    phrases = ["Halfway.", "Thirty seconds left.", "Session complete. Well done.", "Session over."]
    phrases += [text for text, _ in _ALERTS.values()]
    for stop_belt in (False, True):
        turn = TurnaroundPhase(
            t=0.0,
            message="",
            phase=None,
            to=Direction.BACKWARD,
            stop_belt=stop_belt,
            needs_confirm=True,
        )
        phrases += turnaround_script(turn)
    return list(dict.fromkeys(phrases))
