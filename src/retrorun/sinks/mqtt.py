"""Live session status over MQTT: state, events, Home Assistant discovery, remote buttons.

Topics (``<id>`` is :attr:`MqttSettings.client_id`; the conventions were checked
against a real Home Assistant, see docs/architecture.md "MQTT")::

    retrorun/<id>/state               retained, QoS 0: SessionState.to_json_dict()
    retrorun/<id>/availability        retained, QoS 1: "online" / "offline" (also the will)
    retrorun/<id>/event               QoS 1: SessionEvent.to_json_dict() (``kind`` names)
    retrorun/<id>/cmd/<pause|resume|stop>   payload "PRESS"; retained ones are ignored
    homeassistant/device/<id>/config  retained, QoS 1: device-based discovery (``cmps``)

The sink never blocks the session: the bus hands it items synchronously, it keeps
only the newest unpublished state and a bounded list of events, and its own loop
connects, publishes and reconnects with backoff (aiomqtt has no reconnect of its
own). Every connection problem becomes one warning through ``on_warning`` (the
session records it as a ``sink_warning`` event) and nothing else.

Remote commands can only pause, resume or stop, through
:meth:`SessionControls.request`; the session answers with a ``command_ack`` or
``command_refused`` event, which this sink publishes like every other event.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, get_args
from urllib.parse import unquote, urlsplit

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.reasoncodes import ReasonCode

from retrorun import __version__
from retrorun.bus import Item, Subscription
from retrorun.clock import wall_seconds
from retrorun.errors import UsageError
from retrorun.events import (
    SAFETY_KINDS,
    Direction,
    RemoteCommand,
    SessionControls,
    SessionEvent,
    SessionState,
    Status,
)

__all__ = [
    "HA_STATUS_TOPIC",
    "MqttSettings",
    "MqttSink",
    "MqttTopics",
    "default_client_id",
    "discovery_payload",
    "mqtt_settings",
]

HA_STATUS_TOPIC: Final = "homeassistant/status"
PRESS: Final = b"PRESS"
COMMANDS: Final[frozenset[str]] = frozenset(get_args(RemoteCommand))
MAX_COMMAND_PAYLOAD: Final = 64
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WARNING_COOLDOWN_S: Final = 10.0
_NETWORK_TIMEOUT_S: Final = 5.0  # connect, subscribe and publish acknowledgements


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect. ``client_id`` is the ``<id>`` in every topic."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    client_id: str
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @property
    def where(self) -> str:
        """``mqtts://host:port`` for messages (never the credentials)."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class MqttTopics:
    """The topic names for one ``<id>``."""

    client_id: str

    @property
    def base(self) -> str:
        return f"retrorun/{self.client_id}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def event(self) -> str:
        return f"{self.base}/event"

    @property
    def command_prefix(self) -> str:
        return f"{self.base}/cmd/"

    @property
    def commands(self) -> str:
        """The subscription filter for every command topic."""
        return f"{self.base}/cmd/+"

    @property
    def discovery(self) -> str:
        return f"homeassistant/device/{self.client_id}/config"


def default_client_id(device_address: str | None) -> str:
    """A topic id that stays the same for the same treadmill, session after session.

    ``AA:BB:CC:DD:EE:FF`` -> ``retrorun_aabbccddeeff``. Without an address (the
    demo), the host name stands in. Anything that does not clean up into a short
    id is hashed.
    """
    source = device_address or socket.gethostname() or "retrorun"
    cleaned = re.sub(r"[^a-z0-9]", "", source.lower())
    if not cleaned or len(cleaned) > 40:
        cleaned = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"retrorun_{cleaned}"


def mqtt_settings(
    url: str | None,
    *,
    client_id: str | None,
    device_address: str | None,
    ca: Path | str | None = None,
    cert: Path | str | None = None,
    key: Path | str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> MqttSettings | None:
    """Settings from ``--mqtt URL`` (or ``RETRORUN_MQTT_URL``); None when neither is set.

    ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``. The password may
    come from ``RETRORUN_MQTT_PASSWORD`` instead, so it stays out of shell
    history. Raises :class:`UsageError` (one line) for anything that cannot work.
    """
    url = url or environ.get("RETRORUN_MQTT_URL") or None
    if url is None:
        if ca is not None or cert is not None or key is not None:
            raise UsageError("--mqtt-ca/--mqtt-cert/--mqtt-key need --mqtt mqtts://...")
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise UsageError(f"bad MQTT URL: {exc}") from None
    if parts.scheme not in {"mqtt", "mqtts"}:
        raise UsageError("bad MQTT URL: use mqtt://[user[:password]@]host[:port] or mqtts://...")
    if not host:
        raise UsageError("bad MQTT URL: no host (mqtt://host[:port])")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise UsageError("bad MQTT URL: no path, query or fragment after host[:port]")
    if port == 0:
        raise UsageError("bad MQTT URL: port 0")
    tls = parts.scheme == "mqtts"
    if not tls and (ca is not None or cert is not None or key is not None):
        raise UsageError("--mqtt-ca/--mqtt-cert/--mqtt-key need an mqtts:// URL")
    if key is not None and cert is None:
        raise UsageError("--mqtt-key needs --mqtt-cert")
    files = {"--mqtt-ca": ca, "--mqtt-cert": cert, "--mqtt-key": key}
    for flag, path in files.items():
        if path is not None and not Path(path).is_file():
            raise UsageError(f"{flag}: no such file: {path}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is None and username is not None:
        password = environ.get("RETRORUN_MQTT_PASSWORD") or None
    if client_id is None:
        client_id = default_client_id(device_address)
    elif not _ID_RE.fullmatch(client_id):
        raise UsageError(
            f"--mqtt-id {client_id!r}: use 1 to 64 letters, digits, '_' or '-' "
            "(it is part of every topic)"
        )
    return MqttSettings(
        host=host,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=username,
        password=password,
        client_id=client_id,
        ca=Path(ca) if ca is not None else None,
        cert=Path(cert) if cert is not None else None,
        key=Path(key) if key is not None else None,
    )


def discovery_payload(client_id: str, *, version: str = __version__) -> dict[str, Any]:
    """Home Assistant device-based discovery for ``homeassistant/device/<id>/config``."""
    topics = MqttTopics(client_id)

    def sensor(key: str, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "p": "sensor",
            "name": name,
            "unique_id": f"{client_id}_{key}",
            "state_topic": topics.state,
            "value_template": f"{{{{ value_json.{key} }}}}",
            **extra,
        }

    def button(command: str, name: str, icon: str) -> dict[str, Any]:
        return {
            "p": "button",
            "name": name,
            "unique_id": f"{client_id}_{command}",
            "command_topic": f"{topics.command_prefix}{command}",
            "payload_press": PRESS.decode(),
            "qos": 1,
            "retain": False,
            "icon": icon,
        }

    safety = sorted(str(kind) for kind in SAFETY_KINDS)
    event_template = (
        f"{{% if value_json.kind in {safety} %}}"
        "{{ {'event_type': value_json.kind, 'message': value_json.message} | tojson }}"
        "{% endif %}"
    )
    components: dict[str, dict[str, Any]] = {
        "speed": sensor(
            "speed_kmh",
            "Speed",
            device_class="speed",
            unit_of_measurement="km/h",
            state_class="measurement",
            suggested_display_precision=1,
        ),
        "incline": sensor(
            "incline_pct",
            "Incline",
            unit_of_measurement="%",
            state_class="measurement",
            icon="mdi:slope-uphill",
        ),
        "distance": sensor(
            "distance_m",
            "Distance",
            device_class="distance",
            unit_of_measurement="m",
            state_class="total_increasing",
        ),
        "elapsed": sensor(
            "elapsed_s",
            "Elapsed",
            device_class="duration",
            unit_of_measurement="s",
            state_class="measurement",
        ),
        "heart_rate": sensor(
            "heart_rate_bpm",
            "Heart rate",
            unit_of_measurement="bpm",
            state_class="measurement",
            icon="mdi:heart-pulse",
        ),
        "direction": sensor(
            "direction",
            "Direction",
            device_class="enum",
            options=[str(d) for d in Direction],
            icon="mdi:swap-horizontal",
        ),
        "status": sensor(
            "status",
            "Status",
            device_class="enum",
            options=[str(s) for s in Status],
            icon="mdi:run",
        ),
        "safety": {
            "p": "event",
            "name": "Safety",
            "unique_id": f"{client_id}_safety",
            "state_topic": topics.event,
            "event_types": safety,
            "value_template": event_template,
            "icon": "mdi:alert-octagon",
        },
        "pause": button("pause", "Pause", "mdi:pause"),
        "resume": button("resume", "Resume", "mdi:play"),
        "stop": button("stop", "Stop", "mdi:stop"),
    }
    # Component keys double as unique ids' suffixes; HA wants them unique per device.
    components = {f"{client_id}_{name}": value for name, value in components.items()}
    return {
        "device": {
            "identifiers": [client_id],
            "name": f"retrorun {client_id}",
            "manufacturer": "retrorun",
            "model": "Backward-running treadmill session",
            "sw_version": version,
        },
        "origin": {"name": "retrorun", "sw_version": version},
        "availability_topic": topics.availability,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "cmps": components,
    }


def _event_payload(event: SessionEvent) -> bytes:
    try:
        return json.dumps(event.to_json_dict(), default=str, allow_nan=False).encode()
    except (TypeError, ValueError):
        # Data we cannot serialise (a NaN, a circular structure): keep what we can.
        minimal = {"t": round(event.t, 3), "kind": str(event.kind), "message": event.message}
        return json.dumps(minimal, default=str).encode()


def _state_payload(state: SessionState) -> bytes:
    return json.dumps(state.to_json_dict(), default=str).encode()


def _refused(code: int | ReasonCode) -> bool:
    return code.is_failure if isinstance(code, ReasonCode) else code >= 0x80


class _TrackingContext(ssl.SSLContext):
    """An SSL context that remembers the sockets it wraps.

    paho drops (without closing) the socket of a failed TLS handshake, e.g. an
    untrusted server; :meth:`release` closes whatever a connection left behind.
    """

    _wrapped: list[ssl.SSLSocket]

    def wrap_socket(  # noqa: PLR0917 - the signature of ssl.SSLContext.wrap_socket
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        wrapped = super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session,
        )
        if not hasattr(self, "_wrapped"):
            self._wrapped = []
        self._wrapped.append(wrapped)
        return wrapped

    def release(self) -> None:
        """Close every socket wrapped so far (call when its connection has ended)."""
        wrapped, self._wrapped = getattr(self, "_wrapped", []), []
        for sock in wrapped:
            with contextlib.suppress(OSError):
                sock.close()


class _Lost(Exception):
    """The connection ended under a running sink (wraps the aiomqtt error)."""


class MqttSink:
    """Publishes the session to an MQTT broker and takes pause/resume/stop from it."""

    def __init__(
        self,
        subscription: Subscription,
        controls: SessionControls,
        settings: MqttSettings,
        *,
        on_warning: Callable[[str], None] | None = None,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        close_timeout_s: float = 3.0,
        max_events: int = 1000,
        version: str = __version__,
    ) -> None:
        self._subscription = subscription
        self._controls = controls
        self._settings = settings
        self._on_warning = on_warning
        self._reconnect_min_s = max(0.01, reconnect_min_s)
        self._reconnect_max_s = max(self._reconnect_min_s, reconnect_max_s)
        self._close_timeout_s = close_timeout_s
        self._max_events = max(1, max_events)
        self._version = version
        self.topics = MqttTopics(settings.client_id)
        self._latest: SessionState | None = None
        self._events: deque[SessionEvent] = deque()
        self._wake = asyncio.Event()
        self._ended = asyncio.Event()
        self._discovery_due = True
        self._warned_at: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        # Figures for tests, benchmarks and the end-of-session summary.
        self.connected = False
        self.connections = 0
        self.states_published = 0
        self.events_published = 0
        self.events_dropped = 0
        self.commands_accepted = 0
        self.commands_ignored = 0

    # -- the session side -------------------------------------------------------------

    async def run(self) -> None:
        """Publish until the subscription ends, then say ``offline`` and disconnect.

        The goodbye takes at most ``close_timeout_s``; a broker that cannot be
        reached then is left to the will.
        """
        connection = asyncio.create_task(self._connection_loop(), name="mqtt-connection")
        connection.add_done_callback(self._connection_ended)
        try:
            # Keeps draining even if the connection loop has given up: never block the bus.
            async for item in self._subscription:
                self._accept(item)
            self._ended.set()
            self._wake.set()
            if not connection.done():
                done, _ = await asyncio.wait(
                    {connection}, timeout=wall_seconds(self._close_timeout_s)
                )
                if not done:
                    self._warn(
                        "close",
                        f"MQTT: could not say goodbye to {self._settings.where} within "
                        f"{self._close_timeout_s:g} s; the broker's will marks it offline",
                    )
        finally:
            connection.cancel()
            await asyncio.gather(connection, return_exceptions=True)

    def _connection_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._warn("failed", f"MQTT: publishing stopped on an internal error: {exc!r}")

    def _accept(self, item: Item) -> None:
        if isinstance(item, SessionState):
            self._latest = item  # a newer state supersedes an unpublished one
        else:
            self._events.append(item)
            if len(self._events) > self._max_events:
                self._drop_event()
        self._wake.set()

    def _drop_event(self) -> None:
        victim = next((e for e in self._events if not e.safety), None)
        if victim is None:
            return  # safety events are never dropped
        self._events.remove(victim)
        self.events_dropped += 1

    # -- warnings ---------------------------------------------------------------------

    def _warn(self, key: str, message: str, *, cooldown_s: float = 0.0) -> None:
        """Tell the session; repeats of ``key`` within ``cooldown_s`` are only counted."""
        now = time.monotonic()
        last = self._warned_at.get(key)
        if last is not None and now - last < cooldown_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += f" ({suppressed} more like it suppressed)"
        self._warned_at[key] = now
        if self._on_warning is None:
            return
        try:
            self._on_warning(message)
        except Exception:  # noqa: BLE001 - a broken warning hook must not end the sink
            self._on_warning = None

    # -- the broker side --------------------------------------------------------------

    def _tls_context(self) -> _TrackingContext | None:
        if not self._settings.tls:
            return None
        s = self._settings
        context = _TrackingContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
        if s.ca is not None:
            context.load_verify_locations(cafile=str(s.ca))
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if s.cert is not None:
            context.load_cert_chain(str(s.cert), str(s.key) if s.key is not None else None)
        return context

    def _client(self, tls_context: _TrackingContext | None) -> aiomqtt.Client:
        s = self._settings
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=s.password,
            # A fresh MQTT client id per process: two sessions with the same topic id
            # must not take each other's connection over.
            identifier=f"retrorun-{s.client_id}-{secrets.token_hex(4)}",
            will=aiomqtt.Will(self.topics.availability, b"offline", qos=1, retain=True),
            clean_session=True,
            timeout=wall_seconds(_NETWORK_TIMEOUT_S),  # the broker lives in wall time
            keepalive=15,
            max_queued_incoming_messages=64,
            tls_context=tls_context,
        )

    async def _connection_loop(self) -> None:
        try:
            tls_context = self._tls_context()
        except (OSError, ssl.SSLError) as exc:
            self._warn("tls", f"MQTT: cannot set up TLS ({exc}); not publishing this session")
            return
        delay = self._reconnect_min_s
        outage = False
        while not self._ended.is_set():
            client = self._client(tls_context)
            was_connected = False
            try:
                async with client:
                    self.connected = was_connected = True
                    self.connections += 1
                    delay = self._reconnect_min_s
                    if outage:
                        self._warn("connected", f"MQTT: connected again to {self._settings.where}")
                    outage = False
                    try:
                        await self._serve(client)
                    except asyncio.CancelledError:
                        self._goodbye_now(client)
                        raise
                    else:
                        return
            except MqttConnectError as exc:
                if not outage:
                    self._warn(
                        "refused",
                        f"MQTT: {self._settings.where} refused the connection ({exc}); "
                        "the session goes on without it, retrying in the background",
                    )
                outage = True
            except (aiomqtt.MqttError, _Lost) as exc:
                if not outage:
                    what = "lost the connection to" if was_connected else "cannot reach"
                    self._warn(
                        "unreachable",
                        f"MQTT: {what} {self._settings.where} ({str(exc) or type(exc).__name__}); "
                        "the session goes on, retrying in the background",
                    )
                outage = True
            finally:
                self.connected = False
                if tls_context is not None:
                    tls_context.release()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), timeout=wall_seconds(delay))
            delay = min(delay * 2, self._reconnect_max_s)

    def _goodbye_now(self, client: aiomqtt.Client) -> None:
        """On cancellation: queue ``offline`` ahead of the clean disconnect (no will then)."""
        with contextlib.suppress(Exception):
            client._client.publish(self.topics.availability, b"offline", qos=0, retain=True)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Publish and listen on one connection; returns after the goodbye."""
        publisher = asyncio.create_task(self._publish(client), name="mqtt-publish")
        listener = asyncio.create_task(self._listen(client), name="mqtt-listen")
        tasks = {publisher, listener}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.cancelled():
                continue
            exc = task.exception()
            if isinstance(exc, aiomqtt.MqttError):
                raise _Lost(str(exc)) from exc
            if exc is not None:
                raise exc
        if publisher not in done:
            raise _Lost("the broker closed the connection")

    async def _publish(self, client: aiomqtt.Client) -> None:
        result = await client.subscribe([(self.topics.commands, 1), (HA_STATUS_TOPIC, 1)])
        if any(_refused(code) for code in result):
            self._warn(
                "subscribe",
                f"MQTT: {self._settings.where} does not let this session read its command "
                "topics; remote pause/resume/stop will not work",
            )
        await client.publish(self.topics.availability, b"online", qos=1, retain=True)
        # Every connection re-sends discovery: a restarted broker has lost it.
        self._discovery_due = True
        while True:
            if self._discovery_due:
                self._discovery_due = False
                payload = discovery_payload(self._settings.client_id, version=self._version)
                await client.publish(
                    self.topics.discovery, json.dumps(payload).encode(), qos=1, retain=True
                )
            while self._events:
                event = self._events[0]
                await client.publish(self.topics.event, _event_payload(event), qos=1)
                if self._events and self._events[0] is event:
                    self._events.popleft()
                self.events_published += 1
            state, self._latest = self._latest, None
            if state is not None:
                try:
                    await client.publish(self.topics.state, _state_payload(state), retain=True)
                except BaseException:
                    if self._latest is None:
                        self._latest = state
                    raise
                self.states_published += 1
                continue
            if self._ended.is_set() and not self._discovery_due:
                await client.publish(self.topics.availability, b"offline", qos=1, retain=True)
                return
            self._wake.clear()
            await self._wake.wait()

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._handle(message)

    # -- remote commands --------------------------------------------------------------

    def _ignore(self, key: str, message: str) -> None:
        self.commands_ignored += 1
        self._warn(f"ignored:{key}", f"MQTT: ignored {message}", cooldown_s=_WARNING_COOLDOWN_S)

    def _handle(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        raw = message.payload
        payload = bytes(raw) if isinstance(raw, bytes | bytearray) else b""
        if topic == HA_STATUS_TOPIC:
            if payload.strip() == b"online":
                self._discovery_due = True
                self._wake.set()
            return
        shown = topic if len(topic) <= 80 else topic[:77] + "..."
        prefix = self.topics.command_prefix
        command = topic[len(prefix) :] if topic.startswith(prefix) else None
        if command is None:
            self._ignore("topic", f"a message on an unexpected topic {shown!r}")
        elif message.retain:
            self._ignore(
                "retained",
                f"a retained message on {shown} (commands are never retained; clear it "
                f"with: mosquitto_pub -r -n -t '{topic}')",
            )
        elif command not in COMMANDS:
            self._ignore("command", f"an unknown command topic {shown!r}")
        elif len(payload) > MAX_COMMAND_PAYLOAD:
            self._ignore("oversized", f"an oversized payload ({len(payload)} bytes) on {shown}")
        elif payload.strip() != PRESS:
            self._ignore("payload", f"a payload other than PRESS on {shown}")
        else:
            self._command(command)

    def _command(self, command: str) -> None:
        for name in get_args(RemoteCommand):
            if name == command:
                try:
                    self._controls.request(name, source="mqtt")
                except Exception as exc:  # noqa: BLE001 - a command must never end the sink
                    self._warn("request", f"MQTT: the {command} command failed: {exc}")
                    return
                self.commands_accepted += 1
                return
