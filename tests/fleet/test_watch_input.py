"""``retrorun watch``'s input: bad flags are one line and exit 2; no message, however
hostile, makes the fleet model raise, grow without bound or invent a treadmill."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.cli import main
from retrorun.watch import ALERT_KINDS, MAX_PAYLOAD, Fleet, parse_prefix


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["watch", "mqtt://h", "--prefix", "site/#"], "--prefix"),
        (["watch", "mqtt://h", "--prefix", "a//b"], "--prefix"),
        (["watch", "mqtt://h", "--prefix", "site/+/retrorun"], "before retrorun/"),
        (["watch", "http://h"], "bad MQTT URL"),
        (["watch", "mqtt://h", "--client-id", "a b"], "--client-id"),
        (["watch"], "no broker"),
        (["watch", "mqtt://h", "--json", "--plain"], "not allowed with"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RETRORUN_MQTT_URL", raising=False)
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert words in err


def test_a_prefix_names_the_site_and_the_command_topic() -> None:
    fleet = Fleet(parse_prefix("site/+"))
    state = json.dumps({"speed_kmh": 2.5, "status": "running", "direction": "backward"})
    change = fleet.apply("site/room-a/retrorun/tm-1/state", state.encode())
    assert change is not None
    row = change.row
    assert (row.site, row.client_id) == ("room-a", "tm-1")
    assert row.command_topic("stop") == "site/room-a/retrorun/tm-1/cmd/stop"
    assert change.to_json_dict()["speed_kmh"] == 2.5
    # Not under the prefix, or not one of the three topics: nothing.
    assert fleet.apply("retrorun/tm-1/state", state.encode()) is None
    assert fleet.apply("site/room-a/retrorun/tm-1/cmd/stop", b"PRESS") is None
    assert fleet.apply("site/room-a/retrorun/bad id/state", state.encode()) is None


def test_a_safety_event_marks_the_row_until_its_next_session() -> None:
    fleet = Fleet(parse_prefix(None))
    for kind in ("session_started", "ceiling_violation", "session_ended"):
        fleet.apply("retrorun/t/event", json.dumps({"kind": kind, "t": 1}).encode())
    row = fleet.rows["retrorun/t"]
    assert row.alert is not None
    assert row.alert.kind == "ceiling_violation" in ALERT_KINDS
    fleet.apply("retrorun/t/event", b'{"kind": "session_started"}')
    assert row.alert is None


def test_rows_are_bounded() -> None:
    fleet = Fleet(parse_prefix(None), max_rows=3)
    for i in range(10):
        fleet.apply(f"retrorun/t{i}/availability", b"online")
    assert len(fleet.rows) == 3
    assert fleet.dropped_rows == 7


_topics = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda i, leaf: f"retrorun/{i}/{leaf}",
        st.text(max_size=70),
        st.sampled_from(["state", "event", "availability", "cmd/stop", ""]),
    ),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children)
    ),
    max_leaves=12,
)
_payloads = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["kind", "speed_kmh", "heart_rate_bpm", "status", "message", "t"]),
        _json_values,
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_topics, _payloads, st.booleans()), max_size=12))
def test_no_message_makes_the_model_raise(messages: list[tuple[str, bytes, bool]]) -> None:
    fleet = Fleet(parse_prefix(None), max_rows=5)
    for topic, payload, retained in messages:
        change = fleet.apply(topic, payload, retained=retained)
        if change is not None:
            line = json.dumps(change.to_json_dict(), allow_nan=False)  # always valid JSON
            assert len(line) < 4 * MAX_PAYLOAD
    assert len(fleet.rows) <= 5
