"""A room's treadmills seen and stopped from the centre, through a real bridge.

One module, one scenario, to keep the wall time down: a central and an edge
mosquitto from docs/fleet.md's configurations (TLS on the bridge, passwords,
ACLs, persistence), two real ``retrorun run`` sessions on the embedded simulator
(``tm-1``, ``tm-2``) against the edge, and a real ``retrorun watch --json
--prefix site/+ --client-id desk`` on the central broker, shared by the tests in
file order: Home Assistant pauses ``tm-2``, the Textual view stops ``tm-1``, and
the room's desk stops ``tm-2`` while the central broker is down. What the belts
did is read from the simulator's state logs. Real time throughout: the brokers'
own timing (the bridge's reconnect, persistence) is what is tested.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fleet_support import (
    PREFIX,
    SITE,
    Session,
    Topology,
    WatchProcess,
    password,
    start_session,
    url,
    wait_until,
    write_program,
)
from session_support import discovery_problems

from retrorun.sinks.mqtt import mqtt_settings
from retrorun.watch import STATE_FIELDS, Fleet, parse_prefix
from retrorun.watch.client import Watcher
from retrorun.watch.tui import WatchApp, row_style

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.looptime(False)]

SPEEDUP = 10
SPEED_KMH = 2.5
OUTAGE_S = 2.0  # the central broker's outage (docs/fleet.md says why not 10 s)
TOLERANCE_KMH = 0.3  # the governor's widest tolerance


@dataclass
class Rig:
    topology: Topology
    watch: WatchProcess
    sessions: dict[str, Session]
    directory: Path


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    directory = tmp_path_factory.mktemp("fleet")
    topology = Topology.start(directory)
    sessions: dict[str, Session] = {}
    watch: WatchProcess | None = None
    try:
        wait_until(topology.bridge_up, timeout=10, what="the bridge to the central broker")
        watch = WatchProcess.start(
            url(topology.central, "coach"), "--prefix", "site/+", "--json", "--client-id", "desk"
        )
        program = write_program(directory / "long.toml", 10, SPEED_KMH)
        for client_id in ("tm-1", "tm-2"):
            sessions[client_id] = start_session(
                topology, directory / client_id, program, client_id, speedup=SPEEDUP
            )
        yield Rig(topology, watch, sessions, directory)
    finally:
        for session in sessions.values():
            session.kill()
        if watch is not None:
            watch.stop()
        topology.stop()
    # Never over the ceiling, whatever anybody sent (the program's speed is the most).
    for session in sessions.values():
        fastest = max((s["belt_kmh"] for s in session.belt_states()), default=0.0)
        assert fastest <= SPEED_KMH + TOLERANCE_KMH, (session.client_id, fastest)


def _running(rig: Rig, client_id: str) -> dict[str, Any] | None:
    assert rig.watch.process.poll() is None, rig.watch.errors
    return next(
        (
            line
            for line in reversed(rig.watch.of(client_id, "state"))
            if line.get("status") == "running" and line.get("speed_kmh", 0) >= SPEED_KMH - 0.3
        ),
        None,
    )


def test_the_central_watch_sees_every_session_of_the_room(rig: Rig) -> None:
    for client_id in ("tm-1", "tm-2"):
        line = wait_until(
            lambda c=client_id: _running(rig, c), timeout=20, what=f"{client_id} running"
        )
        assert line["site"] == SITE
        assert line["direction"] == "backward"
        assert line["ceiling_kmh"] >= SPEED_KMH
        assert set(line) >= {"id", "site", "name", "change", "online", "alert", *STATE_FIELDS}
        assert line["online"] is True
        # The name comes from the treadmill's discovery config, carried by the bridge.
        assert isinstance(line["name"], str)
        assert line["name"]
    assert rig.watch.process.poll() is None, rig.watch.errors


async def test_home_assistant_on_the_central_broker_sees_and_pauses_a_treadmill(rig: Rig) -> None:
    central = rig.topology.central
    base = f"{PREFIX}retrorun/tm-2"
    user = {"username": "homeassistant", "password": password("homeassistant")}
    async with central.client(**user) as ha:
        await ha.subscribe("homeassistant/device/tm-2/config", qos=1)
        await ha.subscribe(f"{base}/#", qos=1)
        config: dict[str, Any] | None = None
        retained: set[str] = set()
        async with asyncio.timeout(10):
            async for message in ha.messages:
                assert isinstance(message.payload, bytes)
                if message.topic.matches("homeassistant/device/+/config"):
                    config = json.loads(message.payload)
                elif message.retain:
                    retained.add(message.topic.value)
                if config is not None and {f"{base}/state", f"{base}/availability"} <= retained:
                    break
        assert config is not None
        # What Home Assistant checks, but for the prefix the bridge adds on the topics.
        problems = discovery_problems(config, "tm-2")
        assert problems == [f"availability_topic is '{base}/availability'"]
        topics = [c.get("state_topic") or c.get("command_topic") for c in config["cmps"].values()]
        assert all(t.startswith(f"{base}/") for t in topics), topics
        assert {t for t in topics if t.endswith("/state")} == {f"{base}/state"}
        [pause] = [c for c in config["cmps"].values() if c["name"] == "Pause"]
        await ha.publish(pause["command_topic"], pause["payload_press"].encode(), qos=1)

    def acked() -> bool:
        return any(
            e["kind"] == "command_ack" and e.get("command") == "pause"
            for e in rig.watch.events("tm-2")
        )

    wait_until(acked, timeout=10, what="tm-2's command_ack for the pause")
    session = rig.sessions["tm-2"]
    wait_until(
        lambda: (b := session.belt_states()) and b[-1]["belt_kmh"] == 0.0,
        timeout=10,
        what="tm-2's belt at rest",
    )


async def test_the_table_shows_the_room_and_stops_one_treadmill(rig: Rig) -> None:
    settings = mqtt_settings(url(rig.topology.central, "coach"), client_id="w", device_address=None)
    assert settings is not None
    app = WatchApp(lambda on_change: Watcher(settings, Fleet(parse_prefix("site/+")), on_change))
    base = f"{PREFIX}retrorun/tm-1"
    loop = asyncio.get_running_loop()

    async def until(condition: Any, what: str, timeout: float = 10.0) -> None:
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, f"{what}: not within {timeout} s"
            await asyncio.sleep(0.05)

    async with app.run_test(size=(180, 40)) as pilot:
        await until(lambda: base in app.order, "tm-1's row")
        row = app.fleet.rows[base]
        await until(lambda: row.state.get("speed_kmh", 0) >= SPEED_KMH - 0.3, "tm-1 at speed")
        first = row.state["elapsed_s"]
        await until(lambda: row.state["elapsed_s"] > first, "tm-1's row updated")
        assert row_style(row) == ""
        table = app.query_one("DataTable")
        table.move_cursor(row=app.order.index(base))  # type: ignore[attr-defined]
        await pilot.pause()
        assert app.selected() is row
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await until(lambda: row.answer == "stop accepted", "the stop's command_ack", 10)
        await until(lambda: row.online is False, "tm-1 offline", 15)
        await pilot.pause(0.3)
        assert row_style(row) == "grey50"
    code = rig.sessions["tm-1"].finish(10)
    assert code == 1, rig.sessions["tm-1"].output()  # a session cut short by a stop
    belt = rig.sessions["tm-1"].belt_states()
    assert belt[-1]["belt_kmh"] == 0.0
    stops = [e for e in rig.sessions["tm-1"].record_events() if e["kind"] == "user_stop"]
    assert len(stops) == 1


async def test_no_event_is_lost_while_the_central_broker_is_down(rig: Rig) -> None:
    topology, session = rig.topology, rig.sessions["tm-2"]
    seen_before = len(rig.watch.events("tm-2"))
    assert seen_before > 0
    topology.central.stop()
    try:
        # The room's desk stops tm-2 while the centre is away: its user_stop and
        # session_ended (safety events) and the command_ack go to the edge's queue.
        async with topology.edge.client(username="desk", password=password("desk")) as desk:
            await desk.publish("retrorun/tm-2/cmd/stop", b"PRESS", qos=1)
        assert session.finish(15) == 1, session.output()
        await asyncio.sleep(max(0.0, OUTAGE_S - 1.0))
    finally:
        topology.central.start()
    recorded = [e for e in session.record_events() if e["kind"] != "sink_warning"]
    ended = wait_until(
        lambda: [e for e in rig.watch.events("tm-2") if e["kind"] == "session_ended"],
        timeout=15,
        what="tm-2's session_ended through the restarted central broker",
    )
    assert ended
    watched = rig.watch.events("tm-2")
    start = watched[0]["t"]

    def key(event: dict[str, Any]) -> tuple[str, float]:
        return event["kind"], round(event["t"], 2)

    missing = [key(e) for e in recorded if e["t"] >= start and key(e) not in set(map(key, watched))]
    assert missing == []
    kinds = {e["kind"] for e in watched[seen_before:]}
    assert {"command_ack", "user_stop", "session_ended"} <= kinds
    assert not any(math.isnan(e["t"]) for e in watched)


async def test_a_controller_is_refused_another_treadmills_topics(rig: Rig) -> None:
    edge, central = rig.topology.edge, rig.topology.central

    def as_user(broker: Any, user: str) -> aiomqtt.Client:
        return broker.client(username=user, password=password(user))

    got: dict[str, list[str]] = {"tm-3": [], "tm-4": []}

    async def collect(name: str, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            got[name].append(message.topic.value)

    async with as_user(edge, "tm-3") as tm3, as_user(edge, "tm-4") as tm4:
        refused = await tm3.subscribe([("retrorun/tm-4/cmd/+", 1), ("retrorun/+/cmd/+", 1)])
        own = await tm4.subscribe("retrorun/tm-4/cmd/+", qos=1)
        readers = [
            asyncio.create_task(collect("tm-3", tm3)),
            asyncio.create_task(collect("tm-4", tm4)),
        ]
        # Another treadmill's state and event: dropped by the edge, never bridged.
        forged = json.dumps({"t": 1.0, "kind": "safety_stop", "message": "forged"})
        await tm3.publish("retrorun/tm-4/event", forged, qos=1)
        await tm3.publish("retrorun/tm-4/state", b'{"speed_kmh": 9.0}', qos=1)
        note = json.dumps({"t": 1.0, "kind": "treadmill_note", "message": "tm-3 here"})
        await tm3.publish("retrorun/tm-3/event", note, qos=1)
        async with as_user(central, "coach") as coach:
            await coach.publish(f"{PREFIX}retrorun/tm-4/cmd/pause", b"PRESS", qos=1)
        async with asyncio.timeout(10):
            while not got["tm-4"]:  # noqa: ASYNC110 - the readers fill it
                await asyncio.sleep(0.02)
        wait_until(lambda: rig.watch.events("tm-3"), timeout=10, what="tm-3's own event")
        await asyncio.sleep(0.3)  # anything tm-3 was wrongly sent has arrived by now
        for reader in readers:
            reader.cancel()
    assert got["tm-4"] == ["retrorun/tm-4/cmd/pause"]
    assert got["tm-3"] == []
    # mosquitto 2.0 grants the subscriptions and checks the ACL on every message:
    # the refusal is that nothing of another treadmill's is ever delivered.
    assert len(refused) == 2
    assert [int(getattr(c, "value", c)) for c in own] == [1]
    assert rig.watch.of("tm-4") == []
    assert [e["message"] for e in rig.watch.events("tm-3")] == ["tm-3 here"]


async def test_hostile_messages_are_dropped_and_the_watch_goes_on(rig: Rig) -> None:
    """Garbage on a controller's own topics: the watcher drops it, prints nothing
    wrong, keeps running and shows the next good state."""
    hostile = [
        ("state", b"\xff\xfe not json"),
        ("state", b"[1, 2, 3]"),
        ("state", b"[" * 100_000),
        ("state", rb'{"speed_kmh": NaN, "ceiling_kmh": 1e999, "status": "\u0007bell"}'),
        ("state", json.dumps({"speed_kmh": "fast", "step": True, "program": ["x"]}).encode()),
        ("state", b"{" + b'"k": 1, ' * 20_000 + b'"z": 0}'),  # over the size limit
        ("event", json.dumps({"kind": "launch_missiles", "message": "?"}).encode()),
        ("event", json.dumps({"kind": ["safety_stop"]}).encode()),
        ("availability", b"maybe"),
    ]
    edge = rig.topology.edge
    async with edge.client(username="tm-3", password=password("tm-3")) as tm3:
        for leaf, payload in hostile:
            await tm3.publish(f"retrorun/tm-3/{leaf}", payload, qos=1)
        good = {"speed_kmh": 1.5, "status": "running", "program": "last", "step": 1}
        await tm3.publish("retrorun/tm-3/state", json.dumps(good).encode(), qos=1)
    line = wait_until(
        lambda: next(
            (x for x in rig.watch.of("tm-3", "state") if x.get("program") == "last"), None
        ),
        timeout=10,
        what="tm-3's good state after the garbage",
    )
    assert line["speed_kmh"] == 1.5
    for state in rig.watch.of("tm-3", "state"):
        for name in ("speed_kmh", "ceiling_kmh"):
            assert name not in state or math.isfinite(state[name])
        assert all(isinstance(state.get(k, ""), str) for k in ("status", "program"))
        assert "\u0007" not in state.get("status", "")
    assert not any(e["kind"] == "launch_missiles" for e in rig.watch.events("tm-3"))
    assert rig.watch.process.poll() is None, rig.watch.errors
