"""``mqtt_settings``: the URL, the environment, the id; and the discovery document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from session_support import discovery_problems, ha_entity_ids

from retrorun.errors import UsageError
from retrorun.events import Direction, Status
from retrorun.sinks.mqtt import (
    ENERGY_FIELD,
    MqttTopics,
    default_client_id,
    discovery_payload,
    mqtt_settings,
)

TOPIC_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
    odd = ["+/#", "Lane 3 / Café #1", "x" * 300, "\n\t", "", "../..", "ÅÄÖ"]
    values = [a, default_client_id(None), *(default_client_id(o, host="h.local") for o in odd)]
    for value in values:
        assert value.startswith("retrorun_")
        assert re.fullmatch(r"[a-z0-9_]+", value), value
        assert TOPIC_SEGMENT.fullmatch(value), value


def test_default_id_comes_from_the_address_not_the_name() -> None:
    # The same treadmill, however its address is written, wherever it is run from.
    mac = default_client_id("AA:BB:CC:DD:EE:01", host="gym-pc")
    assert mac == "retrorun_aabbccddee01"
    assert default_client_id("aa-bb-cc-dd-ee-01", host="other") == mac
    assert default_client_id("AA:BB:CC:DD:EE:02", host="gym-pc") != mac
    uuid = "F1E2D3C4-0000-4000-8000-ABCDEFABCDEF"
    assert default_client_id(uuid) == "retrorun_f1e2d3c4000040008000abcdefabcdef"
    # A name is not an address: two treadmills may advertise the same one.
    here = default_client_id("KS-WalkingPad", host="gym-pc.local")
    there = default_client_id("KS-WalkingPad", host="garage")
    assert here == "retrorun_gym_pc_ks_walkingpad"
    assert here != there
    # The embedded simulator: the host and the profile it emulates.
    sim = default_client_id(None, device_name="Generic FTMS", host="laptop")
    assert sim == "retrorun_laptop_generic_ftms"
    assert sim != default_client_id(None, device_name="KS-WalkingPad", host="laptop")


def test_settings_carry_the_treadmills_name() -> None:
    by_address = mqtt_settings(
        "mqtt://h",
        client_id=None,
        device_address="AA:BB:CC:DD:EE:FF",
        device_name="KS-WalkingPad",
        environ={},
    )
    assert by_address is not None
    assert (by_address.client_id, by_address.device_name) == (
        "retrorun_aabbccddeeff",
        "KS-WalkingPad",
    )
    # A --device NAME (or the simulator's profile) passed as the address names it too.
    by_name = mqtt_settings("mqtt://h", client_id=None, device_address="Generic FTMS", environ={})
    assert by_name is not None
    assert by_name.device_name == "Generic FTMS"
    assert by_name.client_id == default_client_id("Generic FTMS")
    assert by_name.client_id.endswith("_generic_ftms")
    unnamed = mqtt_settings("mqtt://h", client_id="tm", device_address=None, environ={})
    assert unnamed is not None
    assert unnamed.device_name is None


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
    assert discovery_problems(doc, "tm1") == []


def test_discovery_qos_is_set_on_each_component_that_needs_it() -> None:
    # Home Assistant does not hand the top-level qos down to the components: the
    # safety event and the buttons say QoS 1 themselves.
    cmps = discovery_payload("tm1")["cmps"].values()
    for component in cmps:
        if component["p"] in {"event", "button"}:
            assert component.get("qos") == 1, component["name"]
    [event] = [c for c in cmps if c["p"] == "event"]
    assert event["name"] == "Safety"


def test_discovery_has_an_energy_sensor() -> None:
    by_name = {c["name"]: c for c in discovery_payload("tm1")["cmps"].values()}
    energy = by_name["Energy"]
    assert energy["p"] == "sensor"
    assert energy["unit_of_measurement"] == "kcal"
    assert energy["state_class"] == "total_increasing"
    assert energy["state_topic"] == "retrorun/tm1/state"
    assert ENERGY_FIELD == "energy_kcal"
    assert f"value_json.{ENERGY_FIELD}" in energy["value_template"]
    assert energy["unique_id"] == "tm1_energy_kcal"


@pytest.mark.parametrize(
    ("client_id", "device_name"),
    [
        ("retrorun_laptop_generic_ftms", "Generic FTMS"),
        ("retrorun_aabbccddeeff", "KS-WalkingPad"),
        ("lane-3", None),
        ("Lane_3", "Lane 3"),
    ],
)
def test_entity_ids_are_the_id_and_the_entity_never_doubled(
    client_id: str, device_name: str | None
) -> None:
    doc = discovery_payload(client_id, device_name=device_name)
    assert discovery_problems(doc, client_id) == []
    # The device is the treadmill; entities are named for what they show.
    assert doc["device"]["name"] == (device_name or client_id)
    names = {c["name"] for c in doc["cmps"].values()}
    assert "Speed" in names
    assert "Stop" in names
    assert not [n for n in names if "retrorun" in n.lower() or client_id in n]
    ids = ha_entity_ids(doc)
    slug = client_id.lower().replace("-", "_")
    by_name = {c["name"]: ids[key] for key, c in doc["cmps"].items()}
    assert by_name["Speed"] == f"sensor.{slug}_speed"
    assert by_name["Safety"] == f"event.{slug}_safety"
    assert by_name["Stop"] == f"button.{slug}_stop"
    assert by_name["Energy"] == f"sensor.{slug}_energy"
    for entity_id in ids.values():
        assert "retrorun_retrorun" not in entity_id
        assert entity_id.count(slug) == 1
    # Both spellings, for Home Assistant before and after 2025.10.
    for component in doc["cmps"].values():
        assert component["default_entity_id"] == f"{component['p']}.{component['object_id']}"


def test_the_entity_id_model_reproduces_the_doubled_ids() -> None:
    # What Home Assistant made of the old document: device "retrorun <id>", no object_id.
    doc = discovery_payload("retrorun_genericftms")
    doc["device"]["name"] = "retrorun retrorun_genericftms"
    for component in doc["cmps"].values():
        del component["object_id"], component["default_entity_id"]
    speed = next(k for k, c in doc["cmps"].items() if c["name"] == "Speed")
    assert ha_entity_ids(doc)[speed] == "sensor.retrorun_retrorun_genericftms_speed"
