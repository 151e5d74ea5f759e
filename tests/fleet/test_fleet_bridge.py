"""A room's treadmills seen and stopped from the centre, through a real bridge.

One module, one scenario, to keep the wall time down: a central and an edge
mosquitto from docs/fleet.md's configurations (TLS on the bridge, passwords,
ACLs, persistence), three real ``retrorun run`` sessions on the embedded simulator
against the edge (``tm-1``, ``tm-2`` and ``tm-3``, whose console a person sets to
2.3 km/h 20 s in: a ``console_change``, a safety event), and two real ``retrorun
watch --prefix site/+`` on the central broker from the start: ``--json --client-id
desk`` and a plain one writing to a pipe. The tests
share them in file order: the watchers see every field; Home Assistant pauses
``tm-2``; the coach's Textual view on the central broker sorts, filters, shows a
treadmill's events, pauses and resumes, and stops ``tm-1``; with the central
broker down, the room's desk (the Textual view on the edge) stops all the others
with a typed confirmation, and no event is lost. What the belts did is read from
the simulator's state logs. Real time throughout: the brokers' own timing (the
bridge's reconnect, persistence) is what is tested.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fleet_support import (
    PREFIX,
    SESSIONS,
    SITE,
    Session,
    Topology,
    WatchProcess,
    password,
    remember,
    start_session,
    url,
    write_program,
)
from mqtt_support import Observer, observe
from session_support import discovery_problems
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from retrorun.sinks.mqtt import MqttSettings, mqtt_settings
from retrorun.watch import STATE_FIELDS, Fleet, parse_prefix
from retrorun.watch.client import PRESS, Watcher
from retrorun.watch.tui import ConfirmScreen, StopAllScreen, WatchApp, row_style
from session_waits import wait_until

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.looptime(False)]

SPEEDUP = 20
SPEED_KMH = 2.5
CONSOLE_KMH = 2.3  # what a person sets at tm-3's console, 20 s (simulated) in
OUTAGE_S = 2.0  # the central broker's outage at least (docs/fleet.md says why not 10 s)
TOLERANCE_KMH = 0.3  # the governor's widest tolerance
VIEW_ID = "coach-view"  # the coach's Textual view: a session the central broker keeps
RED, GREY = "bold white on dark_red", "grey50"
SIZE = (200, 50)


@dataclass
class Rig:
    topology: Topology
    watch: WatchProcess
    plain: WatchProcess
    sessions: dict[str, Session]
    directory: Path


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    directory = tmp_path_factory.mktemp("fleet")
    topology = Topology.start(directory)
    sessions: dict[str, Session] = {}
    watchers: list[WatchProcess] = []
    try:
        wait_until(topology.bridge_up, timeout=10, what="the bridge to the central broker")
        # The coach's view comes later; the central broker keeps what it missed.
        central = topology.central
        remember(central, "coach", VIEW_ID, *parse_prefix("site/+").subscriptions())
        coach = url(central, "coach")
        json_args = ("--json", "--client-id", "desk")
        watchers.append(WatchProcess.start(coach, "--prefix", "site/+", *json_args))
        watchers.append(WatchProcess.start(coach, "--prefix", "site/+"))  # to a pipe: plain
        wait_until(
            lambda: topology.connected("desk") and topology.connected("retrorun-watch-"),
            timeout=10,
            what="both watchers on the central broker",
        )
        program = write_program(directory / "long.toml", 20, SPEED_KMH)
        extra = {
            "tm-1": (),
            "tm-2": (),
            "tm-3": ("--sim-fault", f"console-speedup@20:{CONSOLE_KMH}"),
        }
        for client_id in SESSIONS:
            sessions[client_id] = start_session(
                topology,
                directory / client_id,
                program,
                client_id,
                speedup=SPEEDUP,
                extra=extra[client_id],
            )
        yield Rig(topology, watchers[0], watchers[1], sessions, directory)
    finally:
        for session in sessions.values():
            session.kill()
        for watcher in watchers:
            watcher.stop()
        topology.stop()
    # Never over the ceiling, whatever anybody sent (the program's speed is the most).
    for session in sessions.values():
        fastest = max((s["belt_kmh"] for s in session.belt_states()), default=0.0)
        assert fastest <= SPEED_KMH + TOLERANCE_KMH, (session.client_id, fastest)


def _base(client_id: str) -> str:
    return f"{PREFIX}retrorun/{client_id}"


def _running(rig: Rig, client_id: str, fastest: float = SPEED_KMH) -> dict[str, Any] | None:
    assert rig.watch.process.poll() is None, rig.watch.errors
    return next(
        (
            line
            for line in reversed(rig.watch.of(client_id, "state"))
            if line.get("status") == "running"
            and line.get("speed_kmh", 0) >= fastest - 0.3
            and line.get("step_remaining_s", 0) > 0  # settled: the step's clock runs
        ),
        None,
    )


def test_the_central_watch_sees_every_field_of_every_session(rig: Rig) -> None:
    """``--json``: one object per change, the treadmill's ``id`` and every field the
    table shows (name, site, program, step, direction, speed, ceiling, heart rate,
    time left, last safety event, online), named as in the state payload."""
    lines = {
        client_id: wait_until(
            lambda c=client_id: _running(rig, c), timeout=20, what=f"{client_id} running"
        )
        for client_id in SESSIONS
    }
    for client_id, line in lines.items():
        assert set(line) >= {"id", "site", "name", "change", "online", "alert", *STATE_FIELDS}
        assert line["id"] == client_id
        assert line["change"] == "state"
        assert line["site"] == SITE
        # The name comes from the treadmill's discovery config, carried by the bridge.
        assert isinstance(line["name"], str)
        assert line["name"]
        assert line["online"] is True
        assert line["program"] == "Fleet test"
        assert (line["step"], line["step_label"]) == (0, "Backward walk")  # the plan's index
        assert line["direction"] == "backward"
        assert abs(line["speed_kmh"] - SPEED_KMH) <= TOLERANCE_KMH
        assert line["ceiling_kmh"] >= SPEED_KMH
        assert 0 < line["step_remaining_s"] <= 20 * 60
    # Time left runs down; no heart rate without a strap.
    first = lines["tm-1"]
    later = wait_until(
        lambda: (x := rig.watch.of("tm-1", "state")[-1])["elapsed_s"] > first["elapsed_s"] and x,
        timeout=10,
        what="tm-1's next state",
    )
    assert 0 < later["step_remaining_s"] < first["step_remaining_s"]
    # The heart rate the treadmill measures (the simulator's runner).
    assert all(40 <= line["heart_rate_bpm"] <= 220 for line in lines.values())
    assert rig.watch.process.poll() is None, rig.watch.errors


async def test_home_assistant_on_the_central_broker_sees_and_pauses_a_treadmill(rig: Rig) -> None:
    central = rig.topology.central
    base = _base("tm-2")
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
    _wait_belt(rig.sessions["tm-2"], lambda kmh: kmh == 0.0, "tm-2's belt at rest")


# -- the Textual view, driven by its pilot ----------------------------------------------


def _wait_belt(session: Session, good: Callable[[float], bool], what: str) -> None:
    wait_until(
        lambda: (b := session.belt_states()) and good(b[-1]["belt_kmh"]), timeout=15, what=what
    )


async def _until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.05)


async def _belt(session: Session, good: Callable[[float], bool], what: str) -> None:
    await _until(lambda: (b := session.belt_states()) and good(b[-1]["belt_kmh"]), what, timeout=15)


def _view(settings: MqttSettings, prefix: str | None, persistent_id: str | None) -> WatchApp:
    return WatchApp(
        lambda on_change: Watcher(
            settings, Fleet(parse_prefix(prefix)), on_change, persistent_id=persistent_id
        )
    )


def _table(app: WatchApp) -> DataTable[Any]:
    return app.query_one(DataTable)


def _styles(app: WatchApp, base: str) -> set[str]:
    """The styles of a row's cells as the table draws them."""
    return {str(cell.style) for cell in _table(app).get_row(base)}


def _shown(app: WatchApp) -> list[str]:
    """The table's first column, top to bottom."""
    table = _table(app)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def _detail(app: WatchApp) -> str:
    return str(app.query_one("#detail", Static).content)


async def _select(app: WatchApp, pilot: Pilot[None], base: str) -> None:
    _table(app).move_cursor(row=app.order.index(base))
    await pilot.pause()
    selected = app.selected()
    assert selected is not None
    assert selected.base == base


async def _ask(app: WatchApp, pilot: Pilot[None], key: str, answer: str, *names: str) -> None:
    """``key`` opens a confirmation naming ``names``; ``answer`` closes it."""
    await pilot.press(key)
    await _until(lambda: isinstance(app.screen, ConfirmScreen), f"the question after {key!r}")
    assert isinstance(app.screen, ConfirmScreen)
    assert all(name in app.screen.question for name in names), app.screen.question
    await pilot.press(answer)
    await _until(lambda: not isinstance(app.screen, ConfirmScreen), "the question closed")


def _commands(sent: Observer) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in sent.messages]


async def test_the_coach_view_sorts_filters_pauses_resumes_and_stops_one(rig: Rig) -> None:
    """The Textual view on the central broker (``--prefix site/+``), with the events
    the broker kept for it: tm-3 red after its console change, sorting and filtering,
    tm-3's recent events, keys that cannot raise a speed on the paused tm-2, tm-1
    paused and resumed, tm-2 resumed, tm-1 stopped (each confirmed, each answered by
    its ``command_ack``) and grey once offline. Every command it sent is seen on the
    central broker: ``PRESS`` on a ``cmd/`` topic, nothing else."""
    central = rig.topology.central
    settings = mqtt_settings(url(central, "coach"), client_id="w", device_address=None)
    assert settings is not None
    app = _view(settings, "site/+", VIEW_ID)
    bases = {client_id: _base(client_id) for client_id in SESSIONS}
    coach = {"username": "coach", "password": password("coach")}
    async with (
        observe(central, "site/+/retrorun/+/cmd/#", **coach) as sent,
        app.run_test(size=SIZE) as pilot,
    ):
        await _until(lambda: set(bases.values()) <= set(app.order), "the three rows", 15)
        rows = {client_id: app.fleet.rows[base] for client_id, base in bases.items()}
        # Red: tm-3's console change, sent while this view was away and kept for it.
        await _until(lambda: rows["tm-3"].alert is not None, "tm-3's console_change")
        await _until(lambda: _styles(app, bases["tm-3"]) == {RED}, "tm-3's row red")
        assert _styles(app, bases["tm-1"]) == {""}
        assert [row.site for row in rows.values()] == [SITE] * 3

        # Sorting: by treadmill (its name from discovery, then its id) first; 'o'
        # moves to the next column (each key press costs the test a moment: two).
        await _until(lambda: all(row.name for row in rows.values()), "the names")
        await _until(lambda: app.order == list(bases.values()), "the rows by name and id")
        assert [rows[c].label for c in SESSIONS] == [f"{rows['tm-1'].name} ({c})" for c in SESSIONS]
        app.sort_column = "direction"
        await pilot.press("o")
        assert app.sort_column == "speed"
        assert app.order[0] == bases["tm-2"]  # paused by Home Assistant: at rest
        assert "tm-2" in _shown(app)[0]
        app.sort_column = "left"
        await pilot.press("o")
        assert app.sort_column == "safety"
        assert app.order[0] == bases["tm-3"]  # alerts first
        assert "tm-3" in _shown(app)[0]

        # Filtering: every word is looked for in the id, name, site, program and status.
        await pilot.press("slash", *"pau")
        await _until(lambda: app.order == [bases["tm-2"]], "the filter 'pau'")
        assert _table(app).row_count == 1
        await pilot.press("escape")
        await _until(lambda: len(app.order) == 3, "the filter cleared")

        # The detail pane: one treadmill and its recent events, newest first.
        await _select(app, pilot, bases["tm-3"])
        detail = _detail(app)
        assert rows["tm-3"].label in detail
        assert f"site {SITE}" in detail
        console = f"console_change: Speed changed at the console to {CONSOLE_KMH:.1f} km/h."
        assert console in detail
        assert detail.index(console) < detail.index("step_started: ")

        # Keys a person might try for speed, on the paused tm-2: nothing is sent and
        # its belt stays at rest.
        await _select(app, pilot, bases["tm-2"])
        rest_from = rig.sessions["tm-2"].belt_states()[-1]["t"]
        await pilot.press("+", "f", "right", "enter", "ctrl+up")
        await pilot.pause(0.3)
        assert app.screen is app.screen_stack[0]
        assert _commands(sent) == []
        await _until(
            lambda: rig.sessions["tm-2"].belt_states()[-1]["t"] > rest_from + 2,
            "tm-2's belt log two seconds on",
        )
        after = [s for s in rig.sessions["tm-2"].belt_states() if s["t"] > rest_from]
        assert max(s["belt_kmh"] for s in after) == 0.0
        assert rows["tm-2"].state["status"] == "paused"

        # Pause tm-1 (no question: a pause only slows a belt), then resume it.
        await _select(app, pilot, bases["tm-1"])
        await pilot.press("p")
        await _until(lambda: rows["tm-1"].answer == "pause accepted", "tm-1's pause answered")
        await _until(lambda: "last command: pause accepted" in _detail(app), "the pane's answer")
        await _belt(rig.sessions["tm-1"], lambda kmh: kmh == 0.0, "tm-1's belt at rest")
        await _ask(app, pilot, "r", "n", rows["tm-1"].label)  # asked, and declined
        await _ask(app, pilot, "r", "y", rows["tm-1"].label)
        await _until(lambda: rows["tm-1"].answer == "resume accepted", "tm-1's resume answered")
        await _select(app, pilot, bases["tm-2"])
        await _ask(app, pilot, "r", "y", rows["tm-2"].label)
        await _until(lambda: rows["tm-2"].answer == "resume accepted", "tm-2's resume answered")
        await _until(
            lambda: "last command: resume accepted" in (d := _detail(app)) and "resumed: " in d,
            "tm-2's answer and resumed event in the pane",
        )
        for client_id in ("tm-1", "tm-2"):
            await _belt(
                rig.sessions[client_id],
                lambda kmh: kmh >= SPEED_KMH - TOLERANCE_KMH,
                f"{client_id}'s belt back up to speed",
            )

        # Stop tm-1, asked first: declined, nothing happens; confirmed, its belt stops.
        await _select(app, pilot, bases["tm-1"])
        await _ask(app, pilot, "s", "n", rows["tm-1"].label)
        await _ask(app, pilot, "s", "y", rows["tm-1"].label)
        await _until(lambda: rows["tm-1"].answer == "stop accepted", "tm-1's stop answered")
        await _until(lambda: rows["tm-1"].online is False, "tm-1 offline", 15)
        await _until(lambda: _styles(app, bases["tm-1"]) == {GREY}, "tm-1's row grey")
        assert row_style(rows["tm-1"]) == GREY

        assert _commands(sent) == [
            (f"{bases['tm-1']}/cmd/pause", PRESS),
            (f"{bases['tm-1']}/cmd/resume", PRESS),
            (f"{bases['tm-2']}/cmd/resume", PRESS),
            (f"{bases['tm-1']}/cmd/stop", PRESS),
        ]
    session = rig.sessions["tm-1"]
    assert session.finish(10) == 1, session.output()  # a session cut short by a stop
    assert session.belt_states()[-1]["belt_kmh"] == 0.0
    stops = [e for e in session.record_events() if e["kind"] == "user_stop"]
    assert len(stops) == 1


async def test_the_desk_stops_all_while_the_central_broker_is_down(rig: Rig) -> None:
    """The room's desk, the Textual view on the edge: stop all asks for STOP typed,
    and nothing else (empty, a wrong word, Escape) stops anything. With the central
    broker down, STOP stops every belt (each simulator's state log). The central
    broker restarted, the central watcher has every QoS 1 event the sessions
    recorded, those of the outage among them (command_ack, user_stop and
    session_ended, safety events)."""
    topology = rig.topology
    running = ("tm-2", "tm-3")
    seen_before = {c: len(rig.watch.events(c)) for c in running}
    assert all(seen_before.values())
    settings = mqtt_settings(url(topology.edge, "desk"), client_id="w", device_address=None)
    assert settings is not None
    app = _view(settings, None, None)
    loop = asyncio.get_running_loop()
    async with (
        observe(
            topology.edge, "retrorun/+/cmd/+", username="desk", password=password("desk")
        ) as sent,
        app.run_test(size=SIZE) as pilot,
    ):
        rows = app.fleet.rows
        await _until(
            lambda: (
                all(rows.get(f"retrorun/{c}", None) for c in SESSIONS)
                and rows["retrorun/tm-1"].online is False
                and all(rows[f"retrorun/{c}"].online for c in running)
            ),
            "the room's rows",
        )
        topology.central.stop()
        down_at = loop.time()
        try:
            for attempt in (["enter"], [*"stop", "enter"], ["escape"]):
                await pilot.press("A")
                await _until(lambda: isinstance(app.screen, StopAllScreen), "the question")
                assert isinstance(app.screen, StopAllScreen)
                assert app.screen.count == 2  # tm-1 is offline
                await pilot.press(*attempt)
                await _until(lambda: not isinstance(app.screen, StopAllScreen), "it closed")
            await pilot.pause(0.3)
            assert _commands(sent) == []
            for client_id in running:
                session = rig.sessions[client_id]
                assert session.process.poll() is None, session.output()
                await _belt(session, lambda kmh: kmh > 1.0, f"{client_id}'s belt still moving")

            await pilot.press("A", *"STOP", "enter")
            for client_id in running:
                row = rows[f"retrorun/{client_id}"]
                await _until(lambda r=row: r.answer == "stop accepted", f"{client_id}'s stop")
            await asyncio.sleep(max(0.0, OUTAGE_S - (loop.time() - down_at)))
        finally:
            topology.central.start()
        assert sorted(_commands(sent)) == [(f"retrorun/{c}/cmd/stop", PRESS) for c in running]
        for client_id in running:
            session = rig.sessions[client_id]
            assert session.finish(15) == 1, session.output()
            assert session.belt_states()[-1]["belt_kmh"] == 0.0
            assert [e["kind"] for e in session.record_events()].count("user_stop") == 1
    for client_id in running:
        session = rig.sessions[client_id]
        recorded = [e for e in session.record_events() if e["kind"] != "sink_warning"]
        wait_until(
            lambda c=client_id: any(e["kind"] == "session_ended" for e in rig.watch.events(c)),
            timeout=15,
            what=f"{client_id}'s session_ended through the restarted central broker",
        )
        watched = rig.watch.events(client_id)
        start = watched[0]["t"]

        def key(event: dict[str, Any]) -> tuple[str, float]:
            return event["kind"], round(event["t"], 2)

        seen = set(map(key, watched))
        missing = [key(e) for e in recorded if e["t"] >= start and key(e) not in seen]
        assert missing == [], client_id
        kinds = {e["kind"] for e in watched[seen_before[client_id] :]}
        assert {"command_ack", "user_stop", "session_ended"} <= kinds
        assert not any(math.isnan(e["t"]) for e in watched)


_PLAIN = re.compile(
    r"\d\d:\d\d:\d\d (?P<site>[^/ ]+)/(?P<who>.+?) "
    r"(?P<what>state \S+ \S+ \S+ km/h \(ceiling \S+\) step \S+( .+)? left \S+ s hr \S+"
    r"|event( ALERT)? [a-z_]+: .*|online|offline|is named .+)"
)


def test_each_change_is_one_line_in_words_or_json_with_the_last_safety_event(rig: Rig) -> None:
    """Without ``--json``, to a pipe: every line is one change in words, the same
    changes as ``--json`` (tm-1's events, one line each, in the same order). Both
    carry tm-3's console change: an ALERT line, and ``alert`` on every JSON line of
    tm-3 from then on."""
    wait_until(
        lambda: any(t.endswith("offline\n") and "(tm-1)" in t for t in rig.plain.texts),
        timeout=10,
        what="tm-1 offline in the plain lines",
    )
    texts = list(rig.plain.texts)
    assert texts
    assert rig.plain.process.poll() is None, rig.plain.errors
    parsed = []
    for text in texts:
        assert text.endswith("\n")
        assert "\x1b" not in text  # no terminal codes in a pipe
        match = _PLAIN.fullmatch(text[:-1])
        assert match is not None, text
        parsed.append(match)
    assert {m["site"] for m in parsed} == {SITE}

    def of(client_id: str) -> list[str]:
        return [
            m["what"]
            for m in parsed  # named from its discovery config, or by its id until then
            if m["who"] == client_id or m["who"].endswith(f"({client_id})")
        ]

    states = [w for w in of("tm-1") if w.startswith("state running backward")]
    assert any("step 1 Backward walk left" in w for w in states)
    assert all(re.search(r" hr \d+$", w) for w in states)
    events = [w.split(":")[0].split()[-1] for w in of("tm-1") if w.startswith("event")]
    assert events == [e["kind"] for e in rig.watch.events("tm-1")]
    assert {"command_ack", "paused", "resumed", "user_stop", "session_ended"} <= set(events)
    said = of("tm-1")
    ended = max(i for i, w in enumerate(said) if w.startswith("event session_ended:"))
    assert "offline" in said[ended:]  # (its last state may come either side of it)
    console = f"event ALERT console_change: Speed changed at the console to {CONSOLE_KMH:.1f} km/h."
    assert console in of("tm-3")

    lines = rig.watch.of("tm-3")
    [at] = [i for i, x in enumerate(lines) if x.get("event", {}).get("kind") == "console_change"]
    assert [x["alert"] for x in lines[:at]] == [None] * at
    assert {x["alert"] for x in lines[at:]} == {"console_change"}
    assert {x["alert"] for x in rig.watch.of("tm-1")} == {None}


async def test_a_controller_is_refused_another_treadmills_topics(rig: Rig) -> None:
    edge, central = rig.topology.edge, rig.topology.central

    def as_user(broker: Any, user: str) -> aiomqtt.Client:
        return broker.client(username=user, password=password(user))

    got: dict[str, list[str]] = {"tm-8": [], "tm-9": []}

    async def collect(name: str, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            got[name].append(message.topic.value)

    async with as_user(edge, "tm-8") as tm8, as_user(edge, "tm-9") as tm9:
        refused = await tm8.subscribe([("retrorun/tm-9/cmd/+", 1), ("retrorun/+/cmd/+", 1)])
        own = await tm9.subscribe("retrorun/tm-9/cmd/+", qos=1)
        readers = [
            asyncio.create_task(collect("tm-8", tm8)),
            asyncio.create_task(collect("tm-9", tm9)),
        ]
        # Another treadmill's state and event: dropped by the edge, never bridged.
        forged = json.dumps({"t": 1.0, "kind": "safety_stop", "message": "forged"})
        await tm8.publish("retrorun/tm-9/event", forged, qos=1)
        await tm8.publish("retrorun/tm-9/state", b'{"speed_kmh": 9.0}', qos=1)
        note = json.dumps({"t": 1.0, "kind": "treadmill_note", "message": "tm-8 here"})
        await tm8.publish("retrorun/tm-8/event", note, qos=1)
        async with as_user(central, "coach") as coach:
            await coach.publish(f"{PREFIX}retrorun/tm-9/cmd/pause", b"PRESS", qos=1)
        async with asyncio.timeout(10):
            while not got["tm-9"]:  # noqa: ASYNC110 - the readers fill it
                await asyncio.sleep(0.02)
        wait_until(lambda: rig.watch.events("tm-8"), timeout=10, what="tm-8's own event")
        await asyncio.sleep(0.3)  # anything tm-8 was wrongly sent has arrived by now
        for reader in readers:
            reader.cancel()
    assert got["tm-9"] == ["retrorun/tm-9/cmd/pause"]
    assert got["tm-8"] == []
    # mosquitto 2.0 grants the subscriptions and checks the ACL on every message:
    # the refusal is that nothing of another treadmill's is ever delivered.
    assert len(refused) == 2
    assert [int(getattr(c, "value", c)) for c in own] == [1]
    assert rig.watch.of("tm-9") == []
    assert [e["message"] for e in rig.watch.events("tm-8")] == ["tm-8 here"]


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
    async with edge.client(username="tm-8", password=password("tm-8")) as tm8:
        for leaf, payload in hostile:
            await tm8.publish(f"retrorun/tm-8/{leaf}", payload, qos=1)
        good = {"speed_kmh": 1.5, "status": "running", "program": "last", "step": 1}
        await tm8.publish("retrorun/tm-8/state", json.dumps(good).encode(), qos=1)
    line = wait_until(
        lambda: next(
            (x for x in rig.watch.of("tm-8", "state") if x.get("program") == "last"), None
        ),
        timeout=10,
        what="tm-8's good state after the garbage",
    )
    assert line["speed_kmh"] == 1.5
    for state in rig.watch.of("tm-8", "state"):
        for name in ("speed_kmh", "ceiling_kmh"):
            assert name not in state or math.isfinite(state[name])
        assert all(isinstance(state.get(k, ""), str) for k in ("status", "program"))
        assert "\u0007" not in state.get("status", "")
    assert not any(e["kind"] == "launch_missiles" for e in rig.watch.events("tm-8"))
    assert rig.watch.process.poll() is None, rig.watch.errors
    assert rig.plain.process.poll() is None, rig.plain.errors
