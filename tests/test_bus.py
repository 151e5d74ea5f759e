"""The event bus never blocks the publisher and never drops a safety event."""

import asyncio

from retrorun.bus import EventBus
from retrorun.events import (
    Direction,
    EventKind,
    SessionEvent,
    SessionState,
    Status,
    event_from_json,
)
from state_payload import STATE_FIELDS


def _state(t: float) -> SessionState:
    return SessionState(
        t=t,
        speed_kmh=2.5,
        incline_pct=0,
        distance_m=t,
        elapsed_s=t,
        heart_rate_bpm=None,
        direction=Direction.BACKWARD,
        step=1,
        step_label="work",
        step_remaining_s=10,
        program="demo",
        status=Status.RUNNING,
        ceiling_kmh=5.0,
    )


def _event(t: float, kind: EventKind) -> SessionEvent:
    return event_from_json({"t": t, "kind": str(kind), "message": str(kind)})


async def test_subscriber_sees_everything_in_order_then_ends() -> None:
    bus = EventBus()
    sub = bus.subscribe("test")
    items = [_state(0), _event(0.5, EventKind.STEP_STARTED), _state(1)]
    for item in items:
        bus.publish(item)
    bus.close()
    assert [item async for item in sub] == items


async def test_full_queue_drops_states_first_and_never_safety_events() -> None:
    bus = EventBus()
    sub = bus.subscribe("slow", maxsize=3)
    bus.publish(_event(0, EventKind.CEILING_VIOLATION))
    for t in range(10):
        bus.publish(_state(t))
    bus.publish(_event(11, EventKind.STEP_STARTED))
    bus.publish(_event(12, EventKind.SAFETY_STOP))
    bus.publish(_event(13, EventKind.LINK_LOST))
    bus.close()
    got = [item async for item in sub]
    kinds = [i.kind for i in got if isinstance(i, SessionEvent)]
    assert kinds == [EventKind.CEILING_VIOLATION, EventKind.SAFETY_STOP, EventKind.LINK_LOST]
    assert sub.dropped == 11


async def test_publish_wakes_a_waiting_subscriber() -> None:
    bus = EventBus()
    sub = bus.subscribe("waiter")

    async def first() -> object:
        async for item in sub:
            return item
        return None

    task = asyncio.create_task(first())
    await asyncio.sleep(0)
    bus.publish(_state(3))
    assert await asyncio.wait_for(task, 1) == _state(3)


def test_state_payload_has_the_documented_fields() -> None:
    payload = _state(2).to_json_dict()
    assert set(payload) >= set(STATE_FIELDS)
    assert payload["direction"] == "backward"
    assert payload["status"] == "running"
