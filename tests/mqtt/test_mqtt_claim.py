"""One live session per MQTT id, against a real mosquitto.

``claim_id`` takes ``retrorun/<id>/session`` before the belt moves; a second session
on the same id is refused in one line (exit code 2); a sink never publishes or obeys
on an id it does not hold, and stands down when another live session takes it.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from mqtt_support import Broker, free_port, make_state, observe, running_sink

from mosquitto_support import BrokerFactory
from retrorun.errors import InputError, UsageError
from retrorun.events import SessionStarted
from retrorun.sinks.mqtt import (
    LockHolder,
    MqttClaim,
    MqttIdInUse,
    MqttSettings,
    claim_id,
    mqtt_settings,
)

pytestmark = pytest.mark.process

ID = "shared"
BASE = f"retrorun/{ID}"
SESSION = f"{BASE}/session"
STATE = f"{BASE}/state"
AVAILABILITY = f"{BASE}/availability"
EVENT = f"{BASE}/event"


def settings_for(broker: Broker, client_id: str = ID) -> MqttSettings:
    settings = mqtt_settings(broker.url, client_id=client_id, device_address=None, environ={})
    assert settings is not None
    return settings


async def retained(broker: Broker, topic: str, wait: float = 0.5) -> list[bytes]:
    """What a subscriber arriving now gets on ``topic`` (retained messages only)."""
    async with observe(broker, topic) as late:
        await asyncio.sleep(wait)
    return [m.payload for m in late.messages if m.retain]


def holder_of(payloads: list[bytes]) -> LockHolder | None:
    assert len(payloads) <= 1, payloads
    return LockHolder.parse(payloads[0]) if payloads else None


# -- claim_id -------------------------------------------------------------------------


async def test_a_free_id_is_claimed_and_released(broker: Broker) -> None:
    async with observe(broker, SESSION) as seen:
        claim = await claim_id(settings_for(broker))
        assert claim.held
        assert claim.took_over is None
        holder = holder_of(await retained(broker, SESSION))
        assert holder is not None
        assert holder.token == claim.token
        assert holder.pid is not None
        await claim.release()
        assert claim.state == "released"
        await seen.wait(lambda: seen.payloads(SESSION)[-1:] == [b""])
    # Released: a subscriber arriving later finds the id free (no retained lock).
    assert await retained(broker, SESSION) == []


@pytest.mark.hazard("HZ-16")
async def test_a_second_claim_on_a_live_id_is_refused_in_one_line(broker: Broker) -> None:
    first = await claim_id(settings_for(broker))
    try:
        with pytest.raises(MqttIdInUse) as info:
            await claim_id(settings_for(broker))  # the owner answers the ping
        error = info.value
        assert isinstance(error, UsageError)
        assert isinstance(error, InputError)
        assert error.exit_code == 2
        message = str(error)
        assert "\n" not in message
        assert "'shared'" in message
        assert "--mqtt-id" in message
        assert f"pid {first.me.pid}" in message
        assert error.holder.token == first.token
        # The owner is untouched: still held, still the retained owner.
        await asyncio.sleep(0.3)
        assert first.held
        holder = holder_of(await retained(broker, SESSION))
        assert holder is not None
        assert holder.token == first.token
    finally:
        await first.release()


async def test_a_stale_lock_nobody_answers_for_is_taken_over(broker: Broker) -> None:
    # A broker that kept a lock across a restart, its owner long gone.
    stale = LockHolder("0123456789abcdef", host="old-host", pid=4242, since=1.0)
    async with broker.client() as other:
        await other.publish(SESSION, stale.payload(), qos=1, retain=True)
    loop = asyncio.get_running_loop()
    started = loop.time()
    claim = await claim_id(settings_for(broker))
    try:
        assert loop.time() - started >= 1.5  # it waited for an answer first
        assert claim.held
        assert claim.took_over == stale
        holder = holder_of(await retained(broker, SESSION))
        assert holder is not None
        assert holder.token == claim.token
    finally:
        await claim.release()


async def test_concurrent_claims_leave_exactly_one_owner(broker: Broker) -> None:
    results = await asyncio.gather(
        *(claim_id(settings_for(broker)) for _ in range(4)), return_exceptions=True
    )
    claims = [r for r in results if isinstance(r, MqttClaim)]
    refused = [r for r in results if isinstance(r, MqttIdInUse)]
    try:
        assert len(claims) == 1, results
        assert len(refused) == 3, results
        await asyncio.sleep(0.5)
        assert claims[0].held
        holder = holder_of(await retained(broker, SESSION))
        assert holder is not None
        assert holder.token == claims[0].token
    finally:
        for claim in claims:
            await claim.release()


async def test_no_broker_is_no_reason_to_refuse() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"
    settings = mqtt_settings(url, client_id=ID, device_address=None, environ={})
    assert settings is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    claim = await claim_id(settings)
    assert loop.time() - started < 2.0
    assert claim.state == "pending"
    assert claim.last_error
    await claim.release()
    assert claim.state == "released"


# -- the sink -------------------------------------------------------------------------


@pytest.mark.hazard("HZ-16")
async def test_two_sinks_on_one_id_only_the_owner_publishes_and_obeys(broker: Broker) -> None:
    async with (
        observe(broker, f"{BASE}/#") as seen,
        running_sink(broker.url, client_id=ID) as owner,
    ):
        await owner.wait_connected()
        owner.bus.publish(make_state(1.0))
        await seen.wait(lambda: seen.on(STATE))
        async with running_sink(broker.url, client_id=ID) as second:
            warning = await second.wait_warning("another live retrorun session")
            assert "'shared'" in warning
            assert second.sink.stood_down
            assert second.sink.connections == 0
            for i in range(5):
                second.bus.publish(make_state(100.0 + i))
            second.bus.publish(SessionStarted(t=0.0, message="second"))
            async with broker.client() as remote:
                await remote.publish(f"{BASE}/cmd/stop", b"PRESS", qos=1)
            await owner.wait_requests(1)
            await asyncio.sleep(0.3)
            await second.close()
        # The second session's end says nothing: the owner is still online.
        await asyncio.sleep(0.3)
        assert seen.payloads(AVAILABILITY) == [b"online"]
        owner.bus.publish(make_state(2.0))
        await owner.close()
        await seen.wait(lambda: seen.payloads(AVAILABILITY)[-1:] == [b"offline"])

    assert owner.controls.requests == [("stop", "mqtt")]
    assert second.controls.requests == []  # the stop reached the owner only
    assert seen.payloads(AVAILABILITY) == [b"online", b"offline"]
    elapsed = [json.loads(p)["elapsed_s"] for p in seen.payloads(STATE)]
    assert elapsed
    assert all(e < 100 for e in elapsed), elapsed  # nothing from the second session
    kinds = [json.loads(p)["kind"] for p in seen.payloads(EVENT)]
    assert "session_started" not in kinds
    assert owner.warnings == []


@pytest.mark.hazard("HZ-16")
async def test_a_sink_whose_id_is_taken_mid_run_stands_down(broker: Broker) -> None:
    async with (
        observe(broker, f"{BASE}/#") as seen,
        running_sink(broker.url, client_id=ID) as run,
        broker.client() as other,
    ):
        await run.wait_connected()
        run.bus.publish(make_state(1.0))
        await seen.wait(lambda: seen.on(STATE))
        # Another live session took the id (it found this one unanswering).
        newcomer = LockHolder("feedfacefeedface", host="elsewhere", pid=7, since=2.0)
        await other.publish(SESSION, newcomer.payload(), qos=1, retain=True)
        warning = await run.wait_warning("another live retrorun session")
        assert "elsewhere" in warning
        assert run.sink.stood_down
        assert run.sink.claim.lost
        published = run.sink.states_published
        run.bus.publish(make_state(50.0))
        await other.publish(f"{BASE}/cmd/stop", b"PRESS", qos=1)
        await asyncio.sleep(0.5)
        await run.close()
        await asyncio.sleep(0.3)
    assert run.controls.requests == []
    assert run.sink.states_published == published
    # It left without a word: no "offline" over the newcomer, no emptied lock.
    assert seen.payloads(AVAILABILITY) == [b"online"]
    holder = holder_of(await retained(broker, SESSION))
    assert holder == newcomer
    assert await retained(broker, AVAILABILITY) == [b"online"]


async def test_a_stray_offline_is_answered_with_online(broker: Broker) -> None:
    async with (
        observe(broker, AVAILABILITY) as seen,
        running_sink(broker.url, client_id=ID) as run,
        broker.client() as other,
    ):
        await run.wait_connected()
        await seen.wait(lambda: seen.payloads(AVAILABILITY) == [b"online"])
        # E.g. the will of an older retrorun that ran on the same id.
        await other.publish(AVAILABILITY, b"offline", qos=1, retain=True)
        await seen.wait(lambda: seen.payloads(AVAILABILITY) == [b"online", b"offline", b"online"])
        assert await retained(broker, AVAILABILITY) == [b"online"]
        await run.close()
        await seen.wait(lambda: seen.payloads(AVAILABILITY)[-1:] == [b"offline"])
    assert run.warnings == []


async def test_a_sink_with_the_apps_claim_publishes_and_leaves_it_to_the_app(
    broker: Broker,
) -> None:
    claim = await claim_id(settings_for(broker))
    try:
        async with (
            observe(broker, f"{BASE}/#") as seen,
            running_sink(broker.url, client_id=ID, claim=claim) as run,
        ):
            await run.wait_connected()
            run.bus.publish(make_state(1.0))
            await seen.wait(lambda: seen.on(STATE))
            await run.close()
            await seen.wait(lambda: seen.payloads(AVAILABILITY)[-1:] == [b"offline"])
        assert claim.held  # the sink does not release the app's claim
        holder = holder_of(await retained(broker, SESSION))
        assert holder is not None
        assert holder.token == claim.token
    finally:
        await claim.release()
    assert await retained(broker, SESSION) == []


NARROW_ACL = """\
user carol
topic readwrite retrorun/shared/state
topic readwrite retrorun/shared/availability
topic readwrite retrorun/shared/event
topic readwrite retrorun/shared/cmd/+
topic readwrite homeassistant/#
"""


async def test_an_acl_without_the_session_topic_still_publishes(
    make_broker: BrokerFactory,
) -> None:
    # A broker set up for an older retrorun: no retrorun/<id>/session. Nobody can
    # claim the id there, so nobody is refused; the session publishes as before.
    broker = make_broker(users={"carol": "c-pw"}, acl=NARROW_ACL)
    url = f"mqtt://carol:c-pw@127.0.0.1:{broker.port}"
    async with (
        observe(broker, f"{BASE}/#", username="carol", password="c-pw") as seen,
        running_sink(url, client_id=ID) as run,
    ):
        await run.wait_connected(timeout=4)
        run.bus.publish(make_state(1.0))
        await seen.wait(lambda: seen.on(STATE))
        assert run.sink.claim.held
        assert run.sink.claim.last_error
        await run.close()
    assert seen.payloads(AVAILABILITY) == [b"online", b"offline"]
