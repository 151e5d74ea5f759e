"""Whole ``retrorun run`` sessions over a real mosquitto, seen and steered by subscribers.

The real command runs as a child process on the embedded simulator (``--speedup``),
so everything here is real time: no looptime. What the belt really did is read from
the simulator's ``--sim-state-log``; what the session says is read from the broker
(``mosquitto_sub -v`` and an aiomqtt observer) and from its ``--record``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mqtt_support import Broker, Observer, observe
from session_support import (
    RunProcess,
    discovery_problems,
    mosquitto_sub,
    retrorun_run,
    wait_for,
    write_program,
)

from retrorun.events import Direction, EventKind, Status
from retrorun.sinks.mqtt import ENERGY_FIELD
from state_payload import STATE_FIELDS

pytestmark = [pytest.mark.process, pytest.mark.looptime(False)]

KINDS = {str(kind) for kind in EventKind}
# Not higher: the sink's MQTT timeouts (5 s) are loop time, i.e. 250 ms of wall time here.
SPEEDUP = 20


class Topics:
    def __init__(self, client_id: str) -> None:
        self.id = client_id
        base = f"retrorun/{client_id}"
        self.all = f"{base}/#"
        self.state = f"{base}/state"
        self.availability = f"{base}/availability"
        self.event = f"{base}/event"
        self.cmd = f"{base}/cmd/"
        self.session = f"{base}/session"
        self.discovery = f"homeassistant/device/{client_id}/config"


def events(seen: Observer, topics: Topics) -> list[dict[str, Any]]:
    """Events as published, without the duplicates QoS 1 allows."""
    unique = dict.fromkeys(seen.payloads(topics.event))
    return [json.loads(payload) for payload in unique]


def states(seen: Observer, topics: Topics) -> list[dict[str, Any]]:
    return [json.loads(payload) for payload in seen.payloads(topics.state)]


def find_event(
    seen: Observer, topics: Topics, kind: str, **fields: Any
) -> Callable[[], dict[str, Any] | None]:
    def find() -> dict[str, Any] | None:
        for event in events(seen, topics):
            if event["kind"] == kind and all(event.get(k) == v for k, v in fields.items()):
                return event
        return None

    return find


def context(seen: Observer, run: RunProcess) -> Callable[[], str]:
    def describe() -> str:
        last = [(m.topic, m.payload[:100]) for m in seen.messages[-6:]]
        return f"last on the broker: {last}\nbelt: {run.belt_now()}\n{run.output()}"

    return describe


async def press(broker: Broker, topics: Topics, command: str, *, retain: bool = False) -> None:
    """What a Home Assistant button does: ``PRESS`` on the command topic, QoS 1."""
    async with broker.client() as client:
        await client.publish(f"{topics.cmd}{command}", b"PRESS", qos=1, retain=retain)


async def press_acknowledged(
    broker: Broker,
    seen: Observer,
    topics: Topics,
    command: str,
    *,
    context: Callable[[], str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Press ``command`` and wait (5 s) for its ``command_ack`` (with ``fields``); the ack."""
    await press(broker, topics, command)
    return await wait_for(
        find_event(seen, topics, "command_ack", command=command, **fields),
        timeout=5,
        what=f"{command} acknowledged",
        context=context,
    )


def backward_program(tmp_path: Path, *steps: tuple[str, float]) -> Path:
    return write_program(
        tmp_path / "remote.toml",
        "MQTT remote",
        [
            {
                "kind": "work",
                "direction": "backward",
                "duration": duration,
                "speed_kmh": speed,
                "label": f"Backward walk {i + 1}",
            }
            for i, (duration, speed) in enumerate(steps)
        ],
    )


# -- the whole demo, as a dashboard sees it -------------------------------------------


# The record's own bookkeeping: the line type and the session id (MQTT has the topic).
_RECORD_ONLY = frozenset({"type", "session"})


@pytest.mark.slow
async def test_the_demo_is_seen_live_by_mosquitto_sub_and_home_assistant(
    broker: Broker, tmp_path: Path
) -> None:
    topics = Topics("demo1")
    async with (
        observe(broker, topics.all, topics.discovery) as seen,
        mosquitto_sub(broker, "retrorun/#") as sub,
        retrorun_run(broker, tmp_path, "demo", topics.id, speedup=SPEEDUP) as run,
    ):
        code = await run.finish(timeout=60)
        describe = context(seen, run)
        await wait_for(
            lambda: seen.payloads(topics.availability)[-1:] == [b"offline"],
            timeout=10,
            what="offline on the broker",
            context=describe,
        )
        await wait_for(
            lambda: sub.on(topics.availability)[-1:] == ["offline"],
            timeout=10,
            what="offline in mosquitto_sub's output",
            context=lambda: f"{sub.lines[-5:]}",
        )
    assert code == 0, run.output()
    assert "Traceback" not in run.output()

    # mosquitto_sub -t 'retrorun/#' -v saw the session live, online first, offline last;
    # the claim on the id came before everything and was given up after.
    everything = sub.under(f"retrorun/{topics.id}/")
    mine = [(t, p) for t, p in everything if not t.startswith(topics.session)]
    assert mine[0] == (topics.availability, "online")
    assert mine[-1] == (topics.availability, "offline")
    assert sub.on(topics.availability) == ["online", "offline"]
    claims = [line for line in everything if line[0] == topics.session]
    assert everything.index(claims[0]) < everything.index(mine[0])
    assert everything.index(claims[-1]) > everything.index(mine[-1])
    assert json.loads(claims[0][1])["token"]
    assert claims[-1][1] in {"", "(null)"}  # free again (mosquitto_sub prints "(null)")
    sub_kinds = [json.loads(p)["kind"] for p in dict.fromkeys(sub.on(topics.event))]
    assert len(sub.on(topics.state)) > 50  # the demo is two minutes of 1 Hz telemetry
    assert not [t for t, _ in mine if t.startswith(topics.cmd)]  # nobody pressed anything

    # The aiomqtt observer saw the same, availability first and last.
    mine_seen = [
        m
        for m in seen.messages
        if m.topic.startswith(f"retrorun/{topics.id}/") and not m.topic.startswith(topics.session)
    ]
    assert (mine_seen[0].topic, mine_seen[0].payload) == (topics.availability, b"online")
    assert (mine_seen[-1].topic, mine_seen[-1].payload) == (topics.availability, b"offline")
    assert seen.payloads(topics.availability) == [b"online", b"offline"]

    # State: every documented field, of the documented type, the whole way through.
    published = states(seen, topics)
    for state in published:
        for name, kind in STATE_FIELDS.items():
            assert isinstance(state.get(name), kind), (name, state)
        assert state["direction"] in {str(d) for d in Direction}
        assert state["status"] in {str(s) for s in Status}
        assert state["program"] == "Demo"
        assert state["ceiling_kmh"] == 5.0  # novice
    assert {s["direction"] for s in published} == {"forward", "turning", "backward"}
    assert {"running", "turning"} <= {s["status"] for s in published}
    assert max(s["speed_kmh"] for s in published) == pytest.approx(3.0)
    assert max(s["speed_kmh"] for s in published if s["direction"] == "backward") <= 5.0
    elapsed = [s["elapsed_s"] for s in published]
    assert elapsed == sorted(elapsed)
    assert {s["step"] for s in published} == set(range(6))  # 4 steps + 2 turn-arounds
    assert published[-1]["distance_m"] > 50

    # Events: the record's events, every one, in order, with the same kind names.
    on_mqtt = events(seen, topics)
    in_record = [{k: v for k, v in e.items() if k not in _RECORD_ONLY} for e in run.record_events()]
    assert on_mqtt == in_record
    kinds = [e["kind"] for e in on_mqtt]
    assert set(kinds) <= KINDS
    assert kinds[0] == "session_started"
    assert kinds[-1] == "session_ended"
    assert on_mqtt[-1]["reason"] == "completed"
    assert kinds.count("step_started") == 6
    assert kinds.count("turnaround") == 4  # slowing + turn, twice
    assert kinds.count("turnaround_confirmed") == 2
    assert sub_kinds == kinds
    assert all(not m.retain for m in seen.on(topics.event))

    # Discovery: valid device-based discovery that matches what is published.
    [raw] = seen.payloads(topics.discovery)
    doc = json.loads(raw)
    assert discovery_problems(doc, topics.id) == []
    components = doc.get("cmps", doc.get("components"))
    platforms: dict[str, list[dict[str, Any]]] = {}
    for component in components.values():
        platforms.setdefault(component["p"], []).append(component)
    buttons = {c["command_topic"]: c for c in platforms["button"]}
    assert set(buttons) == {f"{topics.cmd}{c}" for c in ("pause", "resume", "stop")}
    assert all(b["payload_press"] == "PRESS" and b.get("retain") is False for b in buttons.values())
    for sensor in platforms["sensor"]:
        assert sensor["state_topic"] == topics.state
        [key] = set(re.findall(r"value_json\.(\w+)", sensor["value_template"]))
        # SessionState does not carry the energy yet; the sensor shows unknown until then.
        assert key in published[-1] or key == ENERGY_FIELD, sensor
        if sensor.get("device_class") == "enum":  # every value published is an option
            assert {s[key] for s in published} <= set(sensor["options"]), sensor
    assert all(c.get("qos") == 1 for c in [*platforms["button"], *platforms["event"]])
    [event_entity] = platforms["event"]
    assert event_entity["state_topic"] == topics.event
    assert set(event_entity["event_types"]) <= KINDS
    assert "session_ended" in event_entity["event_types"]

    # Retained: a dashboard opened after the session sees offline, discovery and the
    # last state, and no stale event or command.
    async with observe(broker, topics.all, topics.discovery) as late:
        await wait_for(
            lambda: (
                late.on(topics.availability) and late.on(topics.discovery) and late.on(topics.state)
            ),
            timeout=5,
            what="the retained messages",
        )
    assert late.payloads(topics.availability) == [b"offline"]
    assert all(m.retain for m in late.messages)
    assert late.payloads(topics.discovery) == [raw]
    assert not late.on(topics.event)
    assert not [m for m in late.messages if m.topic.startswith(topics.cmd)]
    assert not late.on(topics.session)  # the id is free for the next session


# -- remote pause, resume and stop against the real session ---------------------------


@pytest.mark.hazard("HZ-06", "HZ-16")
async def test_pause_resume_and_stop_through_the_broker(broker: Broker, tmp_path: Path) -> None:
    topics = Topics("remote1")
    program = backward_program(tmp_path, ("10min", 2.5))
    async with (
        observe(broker, topics.all) as seen,
        retrorun_run(broker, tmp_path, program, topics.id, speedup=SPEEDUP) as run,
    ):
        describe = context(seen, run)

        def belt(condition: Callable[[dict[str, Any]], bool]) -> Callable[[], bool]:
            return lambda: (now := run.belt_now()) is not None and condition(now)

        # Running: the step's clock is going and the belt is at speed.
        await wait_for(
            lambda: any(
                s["status"] == "running" and s["step_remaining_s"] > 0 and s["speed_kmh"] >= 2.4
                for s in states(seen, topics)
            ),
            timeout=30,
            what="a running, settled backward step",
            context=describe,
        )
        await wait_for(
            belt(lambda b: b["running"] and b["belt_kmh"] >= 2.4),
            timeout=5,
            what="the belt at speed",
            context=describe,
        )

        ack = await press_acknowledged(
            broker, seen, topics, "pause", source="mqtt", context=describe
        )
        await wait_for(
            find_event(seen, topics, "paused"), timeout=5, what="paused", context=describe
        )
        await wait_for(
            belt(lambda b: not b["running"] and b["belt_kmh"] == 0.0),
            timeout=10,
            what="the simulated belt at rest",
            context=describe,
        )
        await wait_for(
            lambda: any(
                s["status"] == "paused" and s["speed_kmh"] == 0.0 for s in states(seen, topics)
            ),
            timeout=5,
            what="state: paused, at rest",
            context=describe,
        )
        # Paused stays paused: nothing restarts the belt without a resume.
        assert not find_event(seen, topics, "resumed")()

        resume_ack = await press_acknowledged(
            broker, seen, topics, "resume", source="mqtt", context=describe
        )
        resumed = await wait_for(
            find_event(seen, topics, "resumed"), timeout=10, what="resumed", context=describe
        )
        # Unattended (--yes): the session resumes after its hold, not at once.
        assert 5.0 - 0.01 <= resumed["t"] - resume_ack["t"] < 6.0
        await wait_for(
            belt(lambda b: b["running"] and b["belt_kmh"] >= 2.4),
            timeout=10,
            what="the simulated belt at speed again",
            context=describe,
        )
        await wait_for(
            lambda: states(seen, topics)[-1]["status"] == "running",
            timeout=5,
            what="state: running again",
            context=describe,
        )

        stop_ack = await press_acknowledged(
            broker, seen, topics, "stop", source="mqtt", context=describe
        )
        code = await run.finish()
        await wait_for(
            lambda: seen.payloads(topics.availability)[-1:] == [b"offline"],
            timeout=5,
            what="offline",
            context=describe,
        )

    assert code == 1, run.output()
    assert "Traceback" not in run.output()
    ended = find_event(seen, topics, "session_ended")()
    assert ended is not None
    assert ended["reason"] == "user_stop"
    assert_stop_sent_at_once(run, stop_ack)
    assert find_event(seen, topics, "user_stop")() is not None
    assert seen.payloads(topics.availability) == [b"online", b"offline"]
    # What the belt really did: commanded to rest, not driven, at the end.
    last = run.belt_states()[-1]
    assert last["running"] is False
    assert last["target_kmh"] == 0.0
    # The record agrees with the broker.
    [end] = [line for line in run.record_lines() if line["type"] == "end"]
    assert end["reason"] == "user_stop"
    assert end["belt_stopped"] is True
    acks = [e for e in run.record_events() if e["kind"] == "command_ack"]
    assert [(e["command"], e["source"]) for e in acks] == [
        ("pause", "mqtt"),
        ("resume", "mqtt"),
        ("stop", "mqtt"),
    ]
    assert [e["t"] for e in acks] == [ack["t"], resume_ack["t"], stop_ack["t"]]
    assert not [e for e in run.record_events() if e["kind"] == "command_refused"]


@pytest.mark.hazard("HZ-16")
async def test_retained_commands_left_on_the_broker_are_ignored(
    broker: Broker, tmp_path: Path
) -> None:
    topics = Topics("retained1")
    # Someone published commands with the retain flag before the session started.
    for command in ("stop", "pause", "resume"):
        await press(broker, topics, command, retain=True)
    program = write_program(
        tmp_path / "short.toml",
        "Short",
        [{"kind": "work", "direction": "forward", "duration": "20s", "speed_kmh": 3.0}],
    )
    async with (
        observe(broker, topics.all) as seen,
        retrorun_run(broker, tmp_path, program, topics.id, speedup=SPEEDUP) as run,
    ):
        code = await run.finish(timeout=30)
        await wait_for(
            lambda: seen.payloads(topics.availability)[-1:] == [b"offline"],
            timeout=5,
            what="offline",
            context=context(seen, run),
        )
    assert code == 0, run.output()
    # The observer got the retained commands too: they were there for the session to see.
    assert {m.topic for m in seen.messages if m.retain} >= {
        f"{topics.cmd}{c}" for c in ("stop", "pause", "resume")
    }
    kinds = [e["kind"] for e in events(seen, topics)]
    assert kinds[-1] == "session_ended"
    assert not {"command_ack", "command_refused", "paused", "user_stop"} & set(kinds)
    warnings = [e["message"] for e in events(seen, topics) if e["kind"] == "sink_warning"]
    assert any("retained" in w for w in warnings), warnings
    [end] = [line for line in run.record_lines() if line["type"] == "end"]
    assert end["reason"] == "completed"
    assert end["duration_s"] >= 20


# -- pause, resume and stop edge cases, seen through MQTT ---------------------------


async def test_a_resume_after_a_long_pause_runs_the_belt_again(
    broker: Broker, tmp_path: Path
) -> None:
    topics = Topics("longpause1")
    program = backward_program(tmp_path, ("20s", 2.5), ("60s", 2.0))
    async with (
        observe(broker, topics.all) as seen,
        retrorun_run(broker, tmp_path, program, topics.id, speedup=SPEEDUP) as run,
    ):
        describe = context(seen, run)
        settled = await wait_for(
            lambda: next(
                (
                    s
                    for s in states(seen, topics)
                    if s["status"] == "running" and s["step_remaining_s"] > 0
                ),
                None,
            ),
            timeout=30,
            what="a settled first step",
            context=describe,
        )
        await press(broker, topics, "pause")
        await wait_for(find_event(seen, topics, "paused"), timeout=5, what="paused")
        # Stay paused past the point where the step would have ended.
        until = settled["elapsed_s"] + settled["step_remaining_s"] + 2
        await wait_for(
            lambda: states(seen, topics)[-1]["elapsed_s"] > until,
            timeout=10,
            what="a long pause",
            context=describe,
        )
        await press(broker, topics, "resume")
        resumed = await wait_for(
            find_event(seen, topics, "resumed"), timeout=10, what="resumed", context=describe
        )
        await wait_for(
            find_event(seen, topics, "step_started", index=1),
            timeout=20,
            what="the second step",
            context=describe,
        )
        rest_of_step = [
            s for s in states(seen, topics) if s["step"] == 0 and s["elapsed_s"] > resumed["t"]
        ]
        await press(broker, topics, "stop")
        await run.finish()
    assert rest_of_step, "no state between the resume and the next step"
    assert max(s["speed_kmh"] for s in rest_of_step) >= 1.0, rest_of_step


@pytest.mark.hazard("HZ-09")
async def test_a_stop_during_the_resume_hold_stops_at_once(broker: Broker, tmp_path: Path) -> None:
    topics = Topics("stophold1")
    program = backward_program(tmp_path, ("10min", 2.5))
    async with (
        observe(broker, topics.all) as seen,
        retrorun_run(broker, tmp_path, program, topics.id, speedup=SPEEDUP) as run,
    ):
        describe = context(seen, run)
        await wait_for(
            lambda: any(
                s["status"] == "running" and s["step_remaining_s"] > 0 for s in states(seen, topics)
            ),
            timeout=30,
            what="a settled step",
            context=describe,
        )
        await press(broker, topics, "pause")
        await wait_for(find_event(seen, topics, "paused"), timeout=5, what="paused")
        await press_acknowledged(broker, seen, topics, "resume")
        stop_ack = await press_acknowledged(broker, seen, topics, "stop", context=describe)
        assert await run.finish() == 1
        await wait_for(find_event(seen, topics, "session_ended"), timeout=5, what="ended")
    ended = find_event(seen, topics, "session_ended")()
    assert ended is not None
    assert_stop_sent_at_once(run, stop_ack)
    assert find_event(seen, topics, "resumed")() is None


def assert_stop_sent_at_once(run: Any, stop_ack: dict[str, Any]) -> None:
    """The Stop went to the treadmill at once (the session then watches the belt
    run down before it says it ended, so ``session_ended`` comes later)."""
    stops = [
        line
        for line in run.record_lines()
        if line.get("type") == "command"
        and line.get("op") == "stop_or_pause"
        and line["t"] >= stop_ack["t"]
    ]
    assert stops, "no Stop after the stop was acknowledged"
    assert stops[0]["t"] - stop_ack["t"] < 0.5, (stop_ack, stops[0])
