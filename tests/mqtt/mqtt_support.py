"""Test support for the MQTT sink: an observer on a real broker, a fake session.

The brokers themselves (``Broker``, ``make_broker`` and the rest) are the suite's:
tests/mosquitto_support.py. The MQTT tests import the broker's names from here too
(``from mqtt_support import Broker``): they are handed over from that module when
asked for, so that sink_child.py, which imports this module in a child process whose
path holds only this folder, needs none of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt

from retrorun.bus import EventBus
from retrorun.events import (
    CommandAck,
    Direction,
    RemoteCommand,
    SessionState,
    Status,
)
from retrorun.sinks.mqtt import MqttSettings, MqttSink, mqtt_settings

if TYPE_CHECKING:
    from mosquitto_support import Broker

_SHARED = frozenset({"Broker", "TlsFiles", "ensure_mosquitto", "free_port", "make_tls"})


def __getattr__(name: str) -> Any:
    """The broker's names, from the suite's broker module (see the docstring)."""
    if name in _SHARED:
        import mosquitto_support

        return getattr(mosquitto_support, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- observing the broker -------------------------------------------------------------


@dataclass
class Seen:
    topic: str
    payload: bytes
    retain: bool


class Observer:
    """Collects everything on some topics; ``wait`` polls for a condition."""

    def __init__(self) -> None:
        self.messages: list[Seen] = []

    def on(self, topic: str) -> list[Seen]:
        return [m for m in self.messages if m.topic == topic]

    def payloads(self, topic: str) -> list[bytes]:
        return [m.payload for m in self.on(topic)]

    async def wait(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                seen = [(m.topic, m.payload[:80]) for m in self.messages[-10:]]
                raise AssertionError(f"condition not met within {timeout} s; last seen: {seen}")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def observe(broker: Broker, *topics: str, **kwargs: Any) -> AsyncIterator[Observer]:
    observer = Observer()
    async with broker.client(**kwargs) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                payload = message.payload
                data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
                observer.messages.append(Seen(message.topic.value, data, message.retain))

        task = asyncio.create_task(collect())
        try:
            yield observer
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


# -- a fake session -------------------------------------------------------------------


class FakeControls:
    """Records requests and acknowledges them on the bus, as the session does."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.requests: list[tuple[RemoteCommand, str]] = []

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        self.requests.append((command, source))
        self.bus.publish(
            CommandAck(t=0.0, message=f"{command} accepted", command=command, source=source)
        )
        return True


def make_state(elapsed_s: float, *, status: Status = Status.RUNNING) -> SessionState:
    return SessionState(
        t=elapsed_s,
        speed_kmh=3.25,
        incline_pct=1.0,
        distance_m=elapsed_s * 0.9,
        elapsed_s=elapsed_s,
        heart_rate_bpm=120,
        direction=Direction.BACKWARD,
        step=1,
        step_label="work",
        step_remaining_s=30.0,
        program="demo",
        status=status,
        ceiling_kmh=4.0,
        target_kmh=3.25,
        steps_total=4,
    )


# -- a sink under test ---------------------------------------------------------------


@dataclass
class Running:
    bus: EventBus
    sink: MqttSink
    controls: FakeControls
    settings: MqttSettings
    task: asyncio.Task[None]
    warnings: list[str] = field(default_factory=list)

    async def wait_warning(self, text: str, timeout: float = 5.0) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for warning in self.warnings:
                if text in warning:
                    return warning
            await asyncio.sleep(0.02)
        raise AssertionError(f"no warning with {text!r} within {timeout} s: {self.warnings}")

    async def wait_requests(self, count: int, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.controls.requests) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{self.controls.requests} within {timeout} s")
            await asyncio.sleep(0.02)

    async def wait_connected(self, connections: int = 1, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (self.sink.connected and self.sink.connections >= connections):
            if loop.time() > deadline:
                raise AssertionError(f"sink not connected within {timeout} s: {self.warnings}")
            await asyncio.sleep(0.02)

    async def close(self, timeout: float = 5.0) -> None:
        self.bus.close()
        await asyncio.wait_for(self.task, timeout)


@contextlib.asynccontextmanager
async def running_sink(
    url: str,
    *,
    client_id: str = "tm1",
    ca: Path | None = None,
    environ: dict[str, str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[Running]:
    settings = mqtt_settings(
        url, client_id=client_id, device_address=None, ca=ca, environ=environ or {}
    )
    assert settings is not None
    bus = EventBus()
    subscription = bus.subscribe("mqtt", maxsize=64)
    controls = FakeControls(bus)
    warnings: list[str] = []
    kwargs.setdefault("reconnect_min_s", 0.05)
    kwargs.setdefault("reconnect_max_s", 0.3)
    sink = MqttSink(subscription, controls, settings, on_warning=warnings.append, **kwargs)
    task = asyncio.create_task(sink.run())
    running = Running(bus, sink, controls, settings, task, warnings)
    try:
        yield running
    finally:
        bus.close()
        if not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), 5)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
