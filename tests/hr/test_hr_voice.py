"""The voice's words for a heart-rate slow-down come from the event's own field, not
from the wording of the governor's reason."""

from __future__ import annotations

import pytest

from retrorun.events import HeartRateHigh
from retrorun.sinks._voice_script import CueKind, event_cues


def _speech(event: HeartRateHigh) -> list[str]:
    return [cue.text for cue in event_cues(event, t=event.t) if cue.kind is CueKind.SPEECH]


@pytest.mark.hazard("HZ-15", "HZ-18")
def test_unknown_heart_rate_is_said_to_be_lost_whatever_the_message() -> None:
    [said] = _speech(HeartRateHigh(t=40.0, message="no value for 6 s", heart_rate_unknown=True))
    assert said.startswith("Heart rate lost")
    assert "high" not in said.lower()


def test_a_heart_rate_over_the_limit_is_said_to_be_high() -> None:
    event = HeartRateHigh(t=40.0, message="heart rate unknown? no: 168 bpm over 160")
    assert _speech(event) == ["Heart rate high. Slowing down."]


def test_the_field_goes_into_the_record_and_mqtt_payload() -> None:
    body = HeartRateHigh(t=1.0, message="m", heart_rate_unknown=True).to_json_dict()
    assert body["kind"] == "hr_high"
    assert body["heart_rate_unknown"] is True
    assert HeartRateHigh(t=1.0, message="m").to_json_dict()["heart_rate_unknown"] is False
