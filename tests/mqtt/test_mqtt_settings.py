"""``mqtt_settings``: the URL, the environment, the id; and the discovery document."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrorun.errors import UsageError
from retrorun.events import Direction, Status
from retrorun.sinks.mqtt import MqttTopics, default_client_id, discovery_payload, mqtt_settings


def test_no_url_means_no_mqtt() -> None:
    assert mqtt_settings(None, client_id=None, device_address="AA:BB", environ={}) is None


def test_url_with_everything() -> None:
    s = mqtt_settings(
        "mqtt://coach:s%40cret@broker.local:1884",
        client_id="lane-3",
        device_address=None,
        environ={},
    )
    assert s is not None
    assert (s.host, s.port, s.tls, s.username, s.password) == (
        "broker.local",
        1884,
        False,
        "coach",
        "s@cret",
    )
    assert s.client_id == "lane-3"
    assert "s@cret" not in repr(s)


def test_defaults_and_environment(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {"RETRORUN_MQTT_URL": "mqtts://coach@10.0.0.2", "RETRORUN_MQTT_PASSWORD": "pw"}
    s = mqtt_settings(None, client_id=None, device_address="AA:BB:CC:DD:EE:FF", ca=ca, environ=env)
    assert s is not None
    assert (s.port, s.tls, s.username, s.password, s.ca) == (8883, True, "coach", "pw", ca)
    assert s.client_id == "retrorun_aabbccddeeff"
    # The URL's own password wins over the environment's.
    s2 = mqtt_settings("mqtt://u:mine@h", client_id=None, device_address=None, environ=env)
    assert s2 is not None
    assert s2.password == "mine"
    assert s2.port == 1883


def test_default_id_is_stable_and_topic_safe() -> None:
    a = default_client_id("F1E2D3C4-0000-4000-8000-ABCDEFABCDEF" * 2)
    assert a == default_client_id("F1E2D3C4-0000-4000-8000-ABCDEFABCDEF" * 2)
    assert default_client_id(None) == default_client_id(None)
    for value in (a, default_client_id(None), default_client_id("+/#")):
        assert value.startswith("retrorun_")
        assert all(c.isalnum() or c == "_" for c in value)


@pytest.mark.parametrize(
    ("url", "kwargs", "words"),
    [
        ("http://h", {}, "mqtt://"),
        ("mqtt://", {}, "no host"),
        ("mqtt://h:99999", {}, "bad MQTT URL"),
        ("mqtt://h:port", {}, "bad MQTT URL"),
        ("mqtt://h/topic", {}, "no path"),
        ("mqtt://h", {"client_id": "a/b"}, "--mqtt-id"),
        ("mqtt://h", {"client_id": "#"}, "--mqtt-id"),
        ("mqtt://h", {"ca": "ca.pem"}, "mqtts://"),
        ("mqtts://h", {"ca": "/nonexistent/ca.pem"}, "no such file"),
        ("mqtts://h", {"key": "k.pem"}, "--mqtt-cert"),
    ],
)
def test_bad_input_is_one_line(url: str, kwargs: dict[str, str], words: str) -> None:
    kwargs.setdefault("client_id", "tm")
    with pytest.raises(UsageError) as info:
        mqtt_settings(url, device_address=None, environ={}, **kwargs)
    message = str(info.value)
    assert words in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_discovery_document() -> None:
    doc = discovery_payload("tm1")
    topics = MqttTopics("tm1")
    assert doc["device"]["identifiers"] == ["tm1"]
    assert doc["origin"]["name"] == "retrorun"
    assert doc["availability_topic"] == topics.availability
    cmps = doc["cmps"]
    by_name = {c["name"]: c for c in cmps.values()}
    assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)
    for c in cmps.values():
        assert c["p"] in {"sensor", "button", "event"}
    assert by_name["Speed"]["device_class"] == "speed"
    assert by_name["Speed"]["unit_of_measurement"] == "km/h"
    assert by_name["Distance"]["device_class"] == "distance"
    assert by_name["Elapsed"]["device_class"] == "duration"
    assert by_name["Heart rate"]["unit_of_measurement"] == "bpm"
    assert by_name["Status"]["options"] == [str(s) for s in Status]
    assert by_name["Direction"]["options"] == [str(d) for d in Direction]
    assert "safety_stop" in by_name["Safety"]["event_types"]
    assert by_name["Safety"]["state_topic"] == topics.event
    for command in ("pause", "resume", "stop"):
        button = by_name[command.capitalize()]
        assert button["command_topic"] == f"retrorun/tm1/cmd/{command}"
        assert button["payload_press"] == "PRESS"
    # Nothing in the document can raise speed or change the ceiling.
    assert not [c for c in cmps.values() if c["p"] not in {"sensor", "button", "event"}]
