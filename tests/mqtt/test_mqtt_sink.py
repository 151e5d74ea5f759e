"""The MQTT sink against a real mosquitto: publishing, commands, auth, ACL, TLS, outages."""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass

import aiomqtt
import pytest
from mqtt_support import Broker, free_port, make_state, observe, running_sink

from mosquitto_support import BrokerFactory
from retrorun.events import (
    HeartRateHigh,
    LinkDown,
    Paused,
    SessionEnded,
    SessionStarted,
    Status,
)
from state_payload import STATE_FIELDS

pytestmark = pytest.mark.process

STATE = "retrorun/tm1/state"
AVAILABILITY = "retrorun/tm1/availability"
EVENT = "retrorun/tm1/event"
DISCOVERY = "homeassistant/device/tm1/config"


def kinds(payloads: list[bytes]) -> list[str]:
    return [json.loads(p)["kind"] for p in payloads]


@dataclass(frozen=True, slots=True, kw_only=True)
class _OddHeartRate(HeartRateHigh):
    """An event carrying data a JSON serialiser chokes on (NaN)."""

    x: float = math.nan


async def test_a_whole_session_as_a_subscriber_sees_it(broker: Broker) -> None:
    async with (
        observe(broker, "retrorun/#", "homeassistant/#") as seen,
        running_sink(broker.url) as run,
    ):
        await seen.wait(lambda: seen.on(DISCOVERY))
        run.bus.publish(SessionStarted(t=0.0, message="started"))
        for i in range(5):
            run.bus.publish(make_state(float(i)))
            await asyncio.sleep(0.01)
        run.bus.publish(Paused(t=4.0, message="paused"))
        run.bus.publish(make_state(4.5, status=Status.PAUSED))
        # Data a serialiser chokes on must not end the sink.
        run.bus.publish(_OddHeartRate(t=4.6, message="odd data"))
        run.bus.publish(SessionEnded(t=5.0, message="done", reason="stopped"))
        await run.close()
        await seen.wait(lambda: seen.payloads(AVAILABILITY)[-1:] == [b"offline"])

    assert seen.payloads(AVAILABILITY) == [b"online", b"offline"]
    assert all(m.retain is False for m in seen.on(EVENT))  # live, not retained
    assert kinds(seen.payloads(EVENT)) == ["session_started", "paused", "hr_high", "session_ended"]
    states = [json.loads(p) for p in seen.payloads(STATE)]
    assert states, "no state published"
    assert set(states[-1]) >= set(STATE_FIELDS)
    assert states[-1]["status"] == "paused"
    assert states[-1]["speed_kmh"] == 3.25
    assert len(states) <= 6  # at most one per telemetry record
    elapsed = [s["elapsed_s"] for s in states]
    assert elapsed == sorted(elapsed)
    doc = json.loads(seen.payloads(DISCOVERY)[0])
    assert doc["device"]["identifiers"] == ["tm1"]
    assert doc["availability_topic"] == AVAILABILITY
    assert len(doc["cmps"]) >= 10
    for component in doc["cmps"].values():
        assert {"p", "unique_id", "name"} <= set(component)
    assert run.warnings == []
    assert run.task.done()


async def test_retained_topics_and_discovery_on_home_assistant_restart(broker: Broker) -> None:
    async with running_sink(broker.url) as run:
        run.bus.publish(make_state(1.0))
        await run.wait_connected()
        # A late subscriber (a dashboard opened now) gets state, availability, discovery.
        async with observe(broker, "retrorun/#", "homeassistant/device/#") as seen:
            await seen.wait(lambda: seen.on(STATE) and seen.on(AVAILABILITY) and seen.on(DISCOVERY))
            assert all(m.retain for m in seen.messages)
            assert seen.payloads(AVAILABILITY) == [b"online"]
            async with broker.client() as ha:
                await ha.publish("homeassistant/status", b"online", qos=1)
            await seen.wait(lambda: len(seen.on(DISCOVERY)) == 2)
            assert seen.on(DISCOVERY)[1].retain is False  # a live re-send


@pytest.mark.hazard("HZ-16")
async def test_pause_resume_stop_round_trip(broker: Broker) -> None:
    async with (
        observe(broker, EVENT) as seen,
        running_sink(broker.url) as run,
        broker.client() as remote,
    ):
        await run.wait_connected()
        await asyncio.sleep(0.1)  # the sink's SUBACK
        for command in ("pause", "resume", "stop"):
            await remote.publish(f"retrorun/tm1/cmd/{command}", b"PRESS", qos=1)
        await seen.wait(lambda: len(seen.on(EVENT)) == 3)
    assert run.controls.requests == [("pause", "mqtt"), ("resume", "mqtt"), ("stop", "mqtt")]
    acks = [json.loads(p) for p in seen.payloads(EVENT)]
    assert [(a["kind"], a["command"]) for a in acks] == [
        ("command_ack", "pause"),
        ("command_ack", "resume"),
        ("command_ack", "stop"),
    ]


@pytest.mark.hazard("HZ-16")
async def test_hostile_payloads_are_ignored_with_a_warning(broker: Broker) -> None:
    # A retained PRESS left on the stop topic must not stop the next session.
    async with broker.client() as remote:
        await remote.publish("retrorun/tm1/cmd/stop", b"PRESS", qos=1, retain=True)
    async with running_sink(broker.url) as run, broker.client() as remote:
        await run.wait_connected()
        await run.wait_warning("retained")
        hostile: list[tuple[str, bytes]] = [
            ("retrorun/tm1/cmd/stop", b"PRESS" + b"\0" * 2_000_000),
            ("retrorun/tm1/cmd/pause", bytes(range(256))),
            ("retrorun/tm1/cmd/pause", b"\xff\xfe"),
            ("retrorun/tm1/cmd/pause", b"press"),
            ("retrorun/tm1/cmd/pause", b""),
            ("retrorun/tm1/cmd/pause", b'{"speed_kmh": 20}'),
            ("retrorun/tm1/cmd/speed", b"PRESS"),
            ("retrorun/tm1/cmd/ceiling", b"PRESS"),
            ("retrorun/tm1/cmd/stop/now", b"PRESS"),
            ("retrorun/tm1/cmd", b"PRESS"),
            ("retrorun/tm2/cmd/stop", b"PRESS"),
        ]
        hostile += [("retrorun/tm1/cmd/resume", b"junk %d" % i) for i in range(40)]
        for topic, payload in hostile:
            await remote.publish(topic, payload, qos=1)
        await remote.publish("retrorun/tm1/cmd/pause", b"PRESS", qos=1)
        await run.wait_warning("oversized")
        await run.wait_requests(1)
        await asyncio.sleep(0.2)
        assert run.controls.requests == [("pause", "mqtt")]
        assert not run.task.done()
        assert run.sink.commands_ignored >= 45
        # Repeats are counted, not each turned into a session event.
        assert len(run.warnings) <= 8, run.warnings
        assert any("unknown command" in w for w in run.warnings)
        assert any("other than PRESS" in w for w in run.warnings)
        await run.close()
        # Clean up the retained command for good measure.
        await remote.publish("retrorun/tm1/cmd/stop", b"", qos=1, retain=True)


async def test_broker_down_at_start_then_up(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    broker.stop()
    async with running_sink(broker.url) as run:
        await run.wait_warning("cannot reach")
        for i in range(100):  # publishing goes on: never blocks, never raises
            run.bus.publish(make_state(float(i)))
        run.bus.publish(LinkDown(t=1.0, message="lost"))
        assert not run.task.done()
        broker.start()
        async with observe(broker, "retrorun/#") as seen:
            await run.wait_connected()
            await run.wait_warning("connected again")
            await seen.wait(lambda: seen.on(EVENT) and seen.on(STATE))
        assert kinds(seen.payloads(EVENT)) == ["link_lost"]  # kept across the outage
        assert json.loads(seen.payloads(STATE)[-1])["elapsed_s"] == 99.0  # newest only
        assert run.sink.states_published == 1
        await run.close()


async def test_broker_restarted_mid_session(make_broker: BrokerFactory) -> None:
    broker = make_broker()
    async with running_sink(broker.url) as run:
        run.bus.publish(make_state(1.0))
        await run.wait_connected()
        broker.restart()  # a new broker: retained messages gone
        await run.wait_warning("lost the connection")
        run.bus.publish(make_state(2.0))
        await run.wait_connected(connections=2)
        await run.wait_warning("connected again")
        async with observe(broker, "retrorun/#", "homeassistant/#") as seen:
            run.bus.publish(make_state(3.0))
            await seen.wait(
                lambda: (
                    b'"elapsed_s": 3.0' in b"".join(seen.payloads(STATE))
                    and seen.payloads(AVAILABILITY) == [b"online"]
                    and seen.on(DISCOVERY)
                )
            )
            # Commands work again: the sink resubscribed on the new connection.
            async with broker.client() as remote:
                await remote.publish("retrorun/tm1/cmd/pause", b"PRESS", qos=1)
            await seen.wait(lambda: seen.on(EVENT))
        assert run.controls.requests == [("pause", "mqtt")]
        await run.close()


async def test_wrong_password_is_a_warning_and_the_session_goes_on(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(users={"alice": "right"})
    url = f"mqtt://alice@127.0.0.1:{broker.port}"
    async with running_sink(url, environ={"RETRORUN_MQTT_PASSWORD": "wrong"}) as run:
        warning = await run.wait_warning("refused")
        assert "wrong" not in warning
        run.bus.publish(make_state(1.0))
        await asyncio.sleep(0.3)
        assert not run.task.done()
        assert run.sink.connections == 0
        assert len(run.warnings) == 1  # one warning per outage, not one per retry
        await run.close(timeout=5)
    # The right password from the environment works.
    async with (
        observe(broker, "retrorun/#", username="alice", password="right") as seen,
        running_sink(url, environ={"RETRORUN_MQTT_PASSWORD": "right"}) as run,
    ):
        run.bus.publish(make_state(1.0))
        await seen.wait(lambda: seen.on(STATE))
        assert run.warnings == []


ACL = """\
user alice
topic readwrite retrorun/tm1/#
topic readwrite homeassistant/#

user bob
topic readwrite retrorun/tm2/#
topic read retrorun/tm1/#
"""


@pytest.mark.hazard("HZ-16")
async def test_acl_keeps_another_treadmills_user_from_commanding(
    make_broker: BrokerFactory,
) -> None:
    broker = make_broker(users={"alice": "a-pw", "bob": "b-pw"}, acl=ACL)
    url = f"mqtt://alice:a-pw@127.0.0.1:{broker.port}"
    async with (
        observe(broker, "retrorun/tm1/#", username="bob", password="b-pw") as bob_sees,
        running_sink(url) as run,
        broker.client(username="bob", password="b-pw") as bob,
        broker.client(username="alice", password="a-pw") as alice,
    ):
        await run.wait_connected()
        await asyncio.sleep(0.1)
        for command in ("stop", "pause", "resume"):
            await bob.publish(f"retrorun/tm1/cmd/{command}", b"PRESS", qos=1)  # dropped
        await asyncio.sleep(0.5)
        assert run.controls.requests == []
        # The same path is live: alice's command arrives (so "nothing" above is real).
        await alice.publish("retrorun/tm1/cmd/pause", b"PRESS", qos=1)
        await bob_sees.wait(lambda: bob_sees.on(EVENT))
        await asyncio.sleep(0.2)
        assert run.controls.requests == [("pause", "mqtt")]
        # bob may still watch this treadmill: that is what the ACL grants.
        assert bob_sees.on(AVAILABILITY)
        assert run.warnings == []


async def test_tls_with_a_test_ca(make_broker: BrokerFactory) -> None:
    broker = make_broker(tls=True)
    assert broker.tls is not None
    async with (
        observe(broker, "retrorun/#") as seen,
        running_sink(broker.url, ca=broker.tls.ca) as run,
    ):
        run.bus.publish(make_state(1.0))
        await seen.wait(lambda: seen.on(STATE))
        assert run.settings.tls
        assert run.warnings == []
    # Without the CA the server is not trusted: a warning, nothing else.
    async with running_sink(broker.url) as run:
        warning = await run.wait_warning("cannot reach")
        assert "certificate" in warning.lower()
        assert run.sink.connections == 0


async def test_close_with_no_broker_is_bounded() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    async with running_sink(url, close_timeout_s=1.0) as run:
        await run.wait_warning("cannot reach")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await run.close(timeout=3)
        assert loop.time() - started < 1.5


async def test_cancelled_sink_still_says_offline(broker: Broker) -> None:
    async with observe(broker, AVAILABILITY) as seen, running_sink(broker.url) as run:
        await seen.wait(lambda: seen.payloads(AVAILABILITY) == [b"online"])
        run.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run.task
        await seen.wait(lambda: seen.payloads(AVAILABILITY) == [b"online", b"offline"])


def test_aiomqtt_is_the_pinned_major() -> None:
    assert aiomqtt.__version__.startswith("2.")
