"""The watcher's MQTT connection: subscribe, fold every message, send a command.

One aiomqtt client, with its own reconnect loop and backoff (aiomqtt has none).
Every message goes through :meth:`Fleet.apply`, which never raises on what it
reads; a change is handed to ``on_change`` at once, on the loop. A broker problem
becomes one warning through ``on_warning`` per outage, never an exception.

The only things it ever publishes are ``PRESS`` on a treadmill's
``.../cmd/pause``, ``/resume`` or ``/stop`` (QoS 1, never retained), to the topic
the treadmill's own messages came from: a command can pause, resume or stop a
session, never change a speed.

With ``persistent_id`` the broker keeps this watcher's session while it is away
(``clean_session`` false): the QoS 1 events sent meanwhile, safety events first
among them, are delivered when it comes back, including across the broker's own
restart when the broker persists its sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections.abc import Callable
from typing import Final

import aiomqtt

from retrorun.events import RemoteCommand
from retrorun.sinks.mqtt import MqttSettings
from retrorun.watch._model import Change, Fleet, Treadmill

__all__ = ["PRESS", "Watcher"]

PRESS: Final = b"PRESS"
_NETWORK_TIMEOUT_S: Final = 5.0
_QUEUE: Final = 10_000  # incoming messages held while the loop is busy: 200 treadmills x 50 s


def _tls(settings: MqttSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    context = ssl.create_default_context(cafile=str(settings.ca) if settings.ca else None)
    if settings.cert is not None:
        context.load_cert_chain(str(settings.cert), str(settings.key) if settings.key else None)
    return context


class Watcher:
    """Keeps ``fleet`` current from the broker in ``settings``; sends commands."""

    def __init__(
        self,
        settings: MqttSettings,
        fleet: Fleet,
        on_change: Callable[[Change], None],
        *,
        on_warning: Callable[[str], None] | None = None,
        persistent_id: str | None = None,
        reconnect_min_s: float = 0.25,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.settings = settings
        self.fleet = fleet
        self._on_change = on_change
        self._on_warning = on_warning
        self._persistent_id = persistent_id
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.connections = 0
        self.messages = 0

    def _warn(self, message: str) -> None:
        if self._on_warning is not None:
            self._on_warning(message)

    def _new_client(self, tls: ssl.SSLContext | None) -> aiomqtt.Client:
        identifier = self._persistent_id or f"retrorun-watch-{secrets.token_hex(4)}"
        return aiomqtt.Client(
            self.settings.host,
            self.settings.port,
            username=self.settings.username,
            password=self.settings.password,
            identifier=identifier,
            clean_session=self._persistent_id is None,
            timeout=_NETWORK_TIMEOUT_S,
            keepalive=15,
            max_queued_incoming_messages=_QUEUE,
            tls_context=tls,
        )

    async def run(self) -> None:
        """Watch until cancelled, reconnecting with backoff."""
        try:
            tls = _tls(self.settings)
        except (OSError, ssl.SSLError) as exc:
            self._warn(f"watch: cannot set up TLS ({exc})")
            raise
        delay = self._reconnect_min_s
        outage = False
        while True:
            try:
                async with self._new_client(tls) as client:
                    topics = [(topic, 1) for topic in self.fleet.prefix.subscriptions()]
                    await client.subscribe(topics)
                    self._client = client
                    self.connections += 1
                    self.connected.set()
                    if outage:
                        self._warn(f"watch: connected again to {self.settings.where}")
                    outage, delay = False, self._reconnect_min_s
                    await self._read(client)
            except aiomqtt.MqttError as exc:
                if not outage:
                    self._warn(
                        f"watch: no connection to {self.settings.where} "
                        f"({str(exc) or type(exc).__name__}); retrying"
                    )
                outage = True
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max_s)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.messages += 1
            raw = message.payload
            payload = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
            change = self.fleet.apply(message.topic.value, payload, retained=message.retain)
            if change is not None:
                self._on_change(change)

    async def send(self, row: Treadmill, command: RemoteCommand) -> bool:
        """``PRESS`` on the row's command topic; False when not connected or it failed."""
        client = self._client
        if client is None:
            row.answer = f"{command} not sent: no connection to the broker"
            return False
        try:
            await client.publish(row.command_topic(command), PRESS, qos=1, retain=False)
        except aiomqtt.MqttError as exc:
            row.answer = f"{command} not sent: {exc}"
            return False
        self.fleet.sent(row, command)
        return True

    async def stop_all(self) -> int:
        """Stop every treadmill not known to be offline; how many stops went out."""
        rows = [row for row in self.fleet.rows.values() if row.online is not False]
        sent = await asyncio.gather(*(self.send(row, "stop") for row in rows))
        return sum(sent)


async def wait_connected(watcher: Watcher, timeout_s: float) -> bool:
    """True once ``watcher`` is subscribed, False after ``timeout_s``."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(watcher.connected.wait(), timeout_s)
        return True
    return False
