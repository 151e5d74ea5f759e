"""The words the voice says for a safety event match what happened."""

from __future__ import annotations

from retrorun.events import HeartRateHigh
from retrorun.sinks._voice_script import CueKind, event_cues


def _speech(message: str, *, unknown: bool = False) -> list[str]:
    event = HeartRateHigh(t=40.0, message=message, heart_rate_unknown=unknown)
    cues = event_cues(event, t=40.0)
    return [cue.text for cue in cues if cue.kind is CueKind.SPEECH]


def test_a_heart_rate_over_the_maximum_is_said_to_be_high() -> None:
    assert _speech("heart rate 168 bpm over the 160 bpm maximum") == [
        "Heart rate high. Slowing down."
    ]


def test_a_heart_rate_that_is_unknown_is_not_called_high() -> None:
    [said] = _speech("heart rate unknown (the strap has lost skin contact)", unknown=True)
    assert "high" not in said.lower()
    assert said.startswith("Heart rate lost")
