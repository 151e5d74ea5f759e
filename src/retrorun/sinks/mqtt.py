"""Live session status over MQTT: state, events, Home Assistant discovery, remote buttons.

Topics (``<id>`` is :attr:`MqttSettings.client_id`; the conventions were checked
against a real Home Assistant, see docs/architecture.md "MQTT")::

    retrorun/<id>/state               retained, QoS 0: SessionState.to_json_dict()
    retrorun/<id>/availability        retained, QoS 1: "online" / "offline" (also the will)
    retrorun/<id>/event               QoS 1: SessionEvent.to_json_dict() (``kind`` names)
    retrorun/<id>/cmd/<pause|resume|stop>   payload "PRESS"; retained ones are ignored
    retrorun/<id>/session             retained, QoS 1: the id's owner (token, host, pid);
                                      empty when free (also the will of its connection)
    retrorun/<id>/session/ping|pong   QoS 1: "is the owner alive?" and its answer
    homeassistant/device/<id>/config  retained, QoS 1: device-based discovery (``cmps``)

One live session per id. :func:`claim_id` (the app calls it before the belt moves)
takes ``retrorun/<id>/session`` on a connection of its own whose will empties it, so
a killed process frees its id at once. A retained owner that does not answer a ping
within a couple of seconds is stale (a broker that kept it across a restart) and is
taken over; one that answers is live, and the claim raises :class:`MqttIdInUse` (exit
code 2). The sink publishes nothing and takes no command until its claim is held, and
stands down, without a word on the id's topics, if another live session takes the id.

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
from typing import Any, Final, Literal, get_args
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
    "LockHolder",
    "MqttClaim",
    "MqttIdInUse",
    "MqttSettings",
    "MqttSink",
    "MqttTopics",
    "bluetooth_address",
    "claim_id",
    "default_client_id",
    "discovery_payload",
    "mqtt_settings",
]

HA_STATUS_TOPIC: Final = "homeassistant/status"
PRESS: Final = b"PRESS"
COMMANDS: Final[frozenset[str]] = frozenset(get_args(RemoteCommand))
MAX_COMMAND_PAYLOAD: Final = 64
ENERGY_FIELD: Final = "energy_kcal"
"""The state field the Home Assistant energy sensor reads (kcal since the start)."""
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PREFIX_RE: Final = re.compile(r"(?:[A-Za-z0-9_.-]{1,64}/){1,8}")
_MAC_RE: Final = re.compile(r"[0-9a-f]{2}(?:[:-]?[0-9a-f]{2}){5}")
_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_WARNING_COOLDOWN_S: Final = 10.0
_NETWORK_TIMEOUT_S: Final = 5.0  # connect, subscribe and publish acknowledgements
_ECHO_S: Final = 2.0  # a message of this session's own back from the broker
_PROBE_S: Final = 2.0  # how long a retained owner has to answer a ping
_SETTLE_S: Final = 0.25  # how long a fresh claim listens for a later, competing one
_CLAIM_PATIENCE_S: Final = 10.0  # connected, claim undecided: say so after this long


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where and how to connect. ``client_id`` is the ``<id>`` in every topic.

    ``device_name`` is the treadmill's name, the Home Assistant device's name.
    """

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    client_id: str
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    device_name: str | None = None
    bridge_prefix: str = ""
    """What a bridge puts before this session's topics where Home Assistant reads them
    (``site/room-a/``): discovery names those topics (``RETRORUN_MQTT_BRIDGE_PREFIX``)."""

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
    def session(self) -> str:
        """The id's owner, retained; empty when nobody holds it."""
        return f"{self.base}/session"

    @property
    def ping(self) -> str:
        return f"{self.base}/session/ping"

    @property
    def pong(self) -> str:
        return f"{self.base}/session/pong"

    @property
    def discovery(self) -> str:
        return f"homeassistant/device/{self.client_id}/config"


def _slug(text: str) -> str:
    """Lower-case letters and digits, other runs as one ``_`` (an entity-id part)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _printable(text: str, limit: int = 64) -> str:
    """One line of at most ``limit`` printable characters (for messages and names)."""
    cleaned = "".join(c if c.isprintable() else " " for c in text).strip()
    return " ".join(cleaned.split())[:limit]


def bluetooth_address(value: str | None) -> str | None:
    """The hex digits of a Bluetooth address (or a CoreBluetooth UUID); None for a name."""
    if value is None:
        return None
    text = value.strip().lower()
    if _MAC_RE.fullmatch(text) or _UUID_RE.fullmatch(text):
        return re.sub(r"[^0-9a-f]", "", text)
    return None


def default_client_id(
    device_address: str | None, *, device_name: str | None = None, host: str | None = None
) -> str:
    """A topic id that stays the same for the same treadmill, session after session.

    A Bluetooth address identifies the treadmill wherever it is run from:
    ``AA:BB:CC:DD:EE:FF`` -> ``retrorun_aabbccddeeff``. A name (``--device NAME``,
    or the embedded simulator's profile) does not: two treadmills may advertise the
    same one, so the host name is part of the id, ``retrorun_<host>_<name>``. Only
    ``[a-z0-9_]``; anything that does not clean up into a short id is hashed.
    """
    address = bluetooth_address(device_address)
    if address is not None:
        return f"retrorun_{address}"
    name = device_name if device_address is None else device_address
    machine = (host if host is not None else socket.gethostname()).split(".")[0]
    parts = [part for part in (_slug(machine), _slug(name or "")) if part]
    body = "_".join(parts)
    if not body or len(body) > 40:
        source = f"{machine}\0{name or ''}"
        body = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"retrorun_{body}"


def mqtt_settings(
    url: str | None,
    *,
    client_id: str | None,
    device_address: str | None,
    device_name: str | None = None,
    ca: Path | str | None = None,
    cert: Path | str | None = None,
    key: Path | str | None = None,
    environ: Mapping[str, str] = os.environ,
) -> MqttSettings | None:
    """Settings from ``--mqtt URL`` (or ``RETRORUN_MQTT_URL``); None when neither is set.

    ``mqtt://[user[:password]@]host[:port]`` or ``mqtts://...``. The password may
    come from ``RETRORUN_MQTT_PASSWORD`` instead, so it stays out of shell
    history. Raises :class:`UsageError` (one line) for anything that cannot work.

    ``device_address`` is the treadmill's Bluetooth address when known (or the
    ``--device`` text); ``device_name`` its advertised name, which names the Home
    Assistant device (a ``device_address`` that is not an address stands in for it).
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
    bridge_prefix = environ.get("RETRORUN_MQTT_BRIDGE_PREFIX", "").strip()
    if bridge_prefix and not bridge_prefix.endswith("/"):
        bridge_prefix += "/"
    if bridge_prefix and not _PREFIX_RE.fullmatch(bridge_prefix):
        raise UsageError(
            "RETRORUN_MQTT_BRIDGE_PREFIX: use topic levels of letters, digits, '_', '-' "
            "or '.' (such as site/room-a/)"
        )
    if device_name is None and bluetooth_address(device_address) is None:
        device_name = device_address
    if client_id is None:
        client_id = default_client_id(device_address, device_name=device_name)
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
        device_name=_printable(device_name) or None if device_name is not None else None,
        bridge_prefix=bridge_prefix,
    )


def discovery_payload(
    client_id: str,
    *,
    version: str = __version__,
    device_name: str | None = None,
    topic_prefix: str = "",
) -> dict[str, Any]:
    """Home Assistant device-based discovery for ``homeassistant/device/<id>/config``.

    Entity names are just "Speed", "Stop"...: Home Assistant puts the device's name
    (the treadmill's) in front of them. Each entity's id is set outright,
    ``<platform>.<id>_<key>`` (``object_id`` for Home Assistant before 2025.10,
    ``default_entity_id`` after), so it never repeats the device name. The
    top-level ``qos`` is not inherited by components: every one that needs QoS 1
    (the event, the buttons) says so itself.

    ``topic_prefix`` is a bridge's (``site/room-a/``) for a Home Assistant on the
    broker at the other end: its topics are the prefixed ones, and the bridge
    carries this config (``homeassistant/...``) unprefixed.
    """
    topics = MqttTopics(client_id)
    p = topic_prefix
    slug = _slug(client_id) or hashlib.sha256(client_id.encode()).hexdigest()[:12]

    def entity_id(platform: str, key: str) -> dict[str, str]:
        object_id = f"{slug}_{key}"
        return {"object_id": object_id, "default_entity_id": f"{platform}.{object_id}"}

    def sensor(key: str, field_name: str, name: str, **extra: Any) -> dict[str, Any]:
        return {
            "p": "sensor",
            "name": name,
            "unique_id": f"{client_id}_{field_name}",
            **entity_id("sensor", key),
            "state_topic": p + topics.state,
            "value_template": f"{{{{ value_json.{field_name} }}}}",
            **extra,
        }

    def button(command: str, name: str, icon: str) -> dict[str, Any]:
        return {
            "p": "button",
            "name": name,
            "unique_id": f"{client_id}_{command}",
            **entity_id("button", command),
            "command_topic": f"{p}{topics.command_prefix}{command}",
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
            "speed",
            "speed_kmh",
            "Speed",
            device_class="speed",
            unit_of_measurement="km/h",
            state_class="measurement",
            suggested_display_precision=1,
        ),
        "incline": sensor(
            "incline",
            "incline_pct",
            "Incline",
            unit_of_measurement="%",
            state_class="measurement",
            icon="mdi:slope-uphill",
        ),
        "distance": sensor(
            "distance",
            "distance_m",
            "Distance",
            device_class="distance",
            unit_of_measurement="m",
            state_class="total_increasing",
        ),
        "elapsed": sensor(
            "elapsed",
            "elapsed_s",
            "Elapsed",
            device_class="duration",
            unit_of_measurement="s",
            state_class="measurement",
        ),
        "heart_rate": sensor(
            "heart_rate",
            "heart_rate_bpm",
            "Heart rate",
            unit_of_measurement="bpm",
            state_class="measurement",
            icon="mdi:heart-pulse",
        ),
        "energy": sensor(
            "energy",
            ENERGY_FIELD,
            "Energy",
            unit_of_measurement="kcal",
            state_class="total_increasing",
            suggested_display_precision=0,
            icon="mdi:fire",
            # "None" is Home Assistant's "unknown": a state without the field (an
            # older retrorun) leaves the sensor unknown instead of logging a warning.
            value_template=(
                f"{{{{ value_json.{ENERGY_FIELD} if value_json.{ENERGY_FIELD} is defined "
                "else None }}"
            ),
        ),
        "direction": sensor(
            "direction",
            "direction",
            "Direction",
            device_class="enum",
            options=[str(d) for d in Direction],
            icon="mdi:swap-horizontal",
        ),
        "status": sensor(
            "status",
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
            **entity_id("event", "safety"),
            "state_topic": p + topics.event,
            "event_types": safety,
            "value_template": event_template,
            "qos": 1,
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
            "name": device_name or client_id,
            "manufacturer": "retrorun",
            "model": "Backward-running treadmill session",
            "sw_version": version,
        },
        "origin": {"name": "retrorun", "sw_version": version},
        "availability_topic": p + topics.availability,
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


def _payload(message: aiomqtt.Message) -> bytes:
    raw = message.payload
    return bytes(raw) if isinstance(raw, bytes | bytearray) else b""


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


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


def _tls_context(settings: MqttSettings) -> _TrackingContext | None:
    if not settings.tls:
        return None
    context = _TrackingContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies chain and host name
    if settings.ca is not None:
        context.load_verify_locations(cafile=str(settings.ca))
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if settings.cert is not None:
        key = str(settings.key) if settings.key is not None else None
        context.load_cert_chain(str(settings.cert), key)
    return context


def _client(
    settings: MqttSettings, role: str, will: aiomqtt.Will, tls_context: _TrackingContext | None
) -> aiomqtt.Client:
    return aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        # A fresh MQTT client id per connection: two sessions with the same topic id
        # must not take each other's connection over (the claim decides who goes on).
        identifier=f"retrorun-{settings.client_id}-{role}{secrets.token_hex(4)}",
        will=will,
        clean_session=True,
        timeout=wall_seconds(_NETWORK_TIMEOUT_S),  # the broker lives in wall time
        keepalive=15,
        max_queued_incoming_messages=64,
        tls_context=tls_context,
    )


class _Lost(Exception):
    """The connection ended under a running sink (wraps the aiomqtt error)."""


# -- one live session per id ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds an id: the payload of ``retrorun/<id>/session``."""

    token: str
    host: str = "?"
    pid: int | None = None
    since: float | None = None

    @classmethod
    def parse(cls, payload: bytes) -> LockHolder | None:
        """None for an empty payload (a free id); anything else holds it."""
        if not payload.strip():
            return None
        data = _json_object(payload)
        token = data.get("token")
        if not isinstance(token, str) or not token:
            # Not written by retrorun: a holder that can never answer a ping.
            return cls(token="?" + hashlib.sha256(payload).hexdigest()[:16])
        host, pid, since = data.get("host"), data.get("pid"), data.get("since")
        return cls(
            token=token[:64],
            host=_printable(host) or "?" if isinstance(host, str) else "?",
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            since=float(since)
            if isinstance(since, int | float) and not isinstance(since, bool)
            else None,
        )

    def payload(self) -> bytes:
        return json.dumps(
            {"token": self.token, "host": self.host, "pid": self.pid, "since": self.since}
        ).encode()

    def describe(self) -> str:
        """``host H, pid P, since HH:MM`` for a one-line message."""
        parts = [f"host {self.host}"]
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.since is not None:
            parts.append(f"since {time.strftime('%H:%M', time.localtime(self.since))}")
        return ", ".join(parts)


class MqttIdInUse(UsageError):
    """Another live session holds the MQTT id: one line, exit code 2, before the belt moves."""

    def __init__(self, client_id: str, holder: LockHolder) -> None:
        super().__init__(
            f"MQTT id {client_id!r} is in use by another live retrorun session "
            f"({holder.describe()}); stop that session or choose another id with --mqtt-id"
        )
        self.client_id = client_id
        self.holder = holder


ClaimState = Literal["pending", "held", "lost", "released"]


@dataclass(frozen=True, slots=True)
class _Seen:
    kind: Literal["lock", "ping", "pong"]
    holder: LockHolder | None = None
    retained: bool = False
    token: str = ""
    nonce: str = ""


class _Refused(Exception):
    def __init__(self, holder: LockHolder) -> None:
        super().__init__(holder.describe())
        self.holder = holder


class _Released(Exception):
    pass


_RELEASE: Final = "release"
_LOSE: Final = "lose"
_Inbox = asyncio.Queue[aiomqtt.Message | BaseException | str]


class MqttClaim:
    """This session's hold on its MQTT id: ``retrorun/<id>/session`` names it.

    Its own connection carries a will that empties the topic, so a killed session
    frees the id at once. Get one with :func:`claim_id` (or :meth:`start` and let it
    work in the background, as a sink without one does). ``state``:

    * ``pending``: not decided yet (no broker, or a reconnection under way);
    * ``held``: this session owns the id, answers pings and keeps the topic;
    * ``lost``: another live session owns it (``holder`` says which); final;
    * ``released``: :meth:`release` was called; final.

    An owner that finds another session's lock published over its own has lost:
    the newcomer found it unanswering (stale) and took over.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        probe_s: float = _PROBE_S,
        settle_s: float = _SETTLE_S,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.topics = MqttTopics(settings.client_id)
        self.token = secrets.token_hex(8)
        self.me = LockHolder(
            self.token,
            host=_printable(socket.gethostname()) or "?",
            pid=os.getpid(),
            since=round(time.time(), 1),
        )
        self.state: ClaimState = "pending"
        self.holder: LockHolder | None = None
        self.took_over: LockHolder | None = None  # a stale owner this claim replaced
        self.last_error: str | None = None
        self._probe_s = probe_s
        self._settle_s = settle_s
        self._reconnect_min_s = max(0.01, reconnect_min_s)
        self._reconnect_max_s = max(self._reconnect_min_s, reconnect_max_s)
        self._decided = asyncio.Event()
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._released = False
        self._asserted = False
        self._inbox: _Inbox | None = None
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Future[None] | None = None

    # -- the owner's side -------------------------------------------------------------

    @property
    def held(self) -> bool:
        return self.state == "held"

    @property
    def lost(self) -> bool:
        return self.state == "lost"

    def start(self) -> None:
        """Start claiming in the background (idempotent)."""
        if self._task is None:
            self._first = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(
                self._run(), name=f"mqtt-claim-{self.settings.client_id}"
            )

    async def acquire(self, timeout_s: float = 2 * _NETWORK_TIMEOUT_S) -> None:
        """Start, and wait for the first answer; :class:`MqttIdInUse` if the id is taken.

        Returns once the claim is held, or once the first connection attempt failed
        or ``timeout_s`` (wall seconds) passed: then the claim keeps trying in the
        background and the sink publishes nothing until it is held.
        """
        self.start()
        if self._first is None:
            raise RuntimeError("internal error: the claim started without its first answer")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._first), wall_seconds(timeout_s))
        if self.state == "lost" and self.holder is not None:
            raise MqttIdInUse(self.settings.client_id, self.holder)

    async def wait_decided(self) -> ClaimState:
        """Until held, lost or released; that state."""
        while self.state == "pending":
            self._decided.clear()
            await self._decided.wait()
        return self.state

    async def wait_lost(self) -> None:
        await self._lost.wait()

    def lost_to(self, holder: LockHolder) -> None:
        """Another live session owns the id now (a sink saw its lock): give it up."""
        if self.state in {"lost", "released"} or holder.token == self.token:
            return
        self._set_lost(holder)
        if self._inbox is not None:
            self._inbox.put_nowait(_LOSE)

    async def release(self, timeout_s: float = 3.0) -> None:
        """Empty the session topic (if this session holds it) and disconnect cleanly."""
        if self.state in {"held", "pending"}:
            self.state = "released"
        self._released = True
        self._decided.set()
        self._wake.set()
        task = self._task
        if task is None or task.done():
            return
        if self._inbox is not None:
            self._inbox.put_nowait(_RELEASE)
        else:
            task.cancel()
        done, _ = await asyncio.wait({task}, timeout=wall_seconds(timeout_s))
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def __aenter__(self) -> MqttClaim:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()

    # -- state ------------------------------------------------------------------------

    def _first_done(self) -> None:
        if self._first is not None and not self._first.done():
            self._first.set_result(None)

    def _set_held(self) -> None:
        if self.state == "pending":
            self.state = "held"
            self._decided.set()
        self._first_done()

    def _set_lost(self, holder: LockHolder) -> None:
        if self.state not in {"lost", "released"}:
            self.state = "lost"
            self.holder = holder
            self._decided.set()
            self._lost.set()
        self._first_done()

    # -- the connection ---------------------------------------------------------------

    async def _run(self) -> None:
        try:
            try:
                tls_context = _tls_context(self.settings)
            except (OSError, ssl.SSLError) as exc:
                self.last_error = f"cannot set up TLS ({exc})"
                return
            will = aiomqtt.Will(self.topics.session, b"", qos=1, retain=True)
            delay = self._reconnect_min_s
            while not self._released:
                try:
                    async with _client(self.settings, "claim-", will, tls_context) as client:
                        delay = self._reconnect_min_s
                        await self._session(client)
                except _Refused as refused:
                    self._set_lost(refused.holder)
                    return
                except (aiomqtt.MqttError, _Lost) as exc:
                    self.last_error = str(exc) or type(exc).__name__
                else:
                    return  # released
                finally:
                    if tls_context is not None:
                        tls_context.release()
                if self.state == "held":
                    self.state = "pending"
                self._first_done()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wall_seconds(delay))
                delay = min(delay * 2, self._reconnect_max_s)
        finally:
            self._first_done()

    async def _session(self, client: aiomqtt.Client) -> None:
        """Decide, take and keep the id on one connection; returns once released."""
        inbox: _Inbox = asyncio.Queue()
        reader = asyncio.create_task(self._read(client, inbox), name="mqtt-claim-read")
        self._inbox, self._client = inbox, client
        try:
            if self._released:
                return
            topics = self.topics
            result = await client.subscribe(
                [(topics.session, 1), (topics.ping, 1), (topics.pong, 1)]
            )
            if any(_refused(code) for code in result) or not await self._decide(client, inbox):
                # Nothing comes back on retrorun/<id>/session (an ACL written before it
                # existed): nobody can claim the id here, so nobody is told no, and
                # the session publishes as it always did.
                self.last_error = f"nothing comes back on {topics.session}: not verified"
                self._asserted = True
                await client.publish(topics.session, self.me.payload(), qos=1, retain=True)
            else:
                await self._assert(client, inbox)
            self._set_held()
            await self._hold(client, inbox)
        except _Released:
            if self._asserted and self.state != "lost":
                await client.publish(self.topics.session, b"", qos=1, retain=True)
        finally:
            self._inbox = self._client = None
            self._asserted = False
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    @staticmethod
    async def _read(client: aiomqtt.Client, inbox: _Inbox) -> None:
        try:
            async for message in client.messages:
                inbox.put_nowait(message)
        except aiomqtt.MqttError as exc:
            inbox.put_nowait(exc)
        else:
            inbox.put_nowait(_Lost("the broker closed the connection"))

    def _parse(self, message: aiomqtt.Message) -> _Seen | None:
        topic, payload = message.topic.value, _payload(message)
        if topic == self.topics.session:
            return _Seen("lock", holder=LockHolder.parse(payload), retained=bool(message.retain))
        if topic in {self.topics.ping, self.topics.pong}:
            data = _json_object(payload)
            token, nonce = data.get("token"), data.get("nonce")
            if isinstance(token, str) and isinstance(nonce, str):
                kind: Literal["ping", "pong"] = "ping" if topic == self.topics.ping else "pong"
                return _Seen(kind, token=token[:64], nonce=nonce[:64])
        return None

    async def _next(
        self, client: aiomqtt.Client, inbox: _Inbox, deadline: float | None
    ) -> _Seen | None:
        """The next lock, own ping or pong; None at ``deadline`` (loop time).

        Answers other sessions' pings on the way once this one has asserted its lock.
        """
        loop = asyncio.get_running_loop()
        while True:
            if deadline is None:
                item = await inbox.get()
            else:
                try:
                    async with asyncio.timeout(max(0.0, deadline - loop.time())):
                        item = await inbox.get()
                except TimeoutError:
                    return None
            if isinstance(item, str):
                if item == _RELEASE:
                    raise _Released
                raise _Refused(self.holder or LockHolder("?"))  # _LOSE
            if isinstance(item, BaseException):
                raise _Lost(str(item) or type(item).__name__) from item
            seen = self._parse(item)
            if seen is None:
                continue
            if seen.kind == "ping" and seen.token != self.token:
                if self._asserted:
                    answer = {"token": self.token, "nonce": seen.nonce}
                    await client.publish(self.topics.pong, json.dumps(answer).encode(), qos=1)
                continue
            return seen

    async def _decide(self, client: aiomqtt.Client, inbox: _Inbox) -> bool:
        """Free, stale or live? Raises :class:`_Refused` for a live owner.

        The ping does two things: it asks a retained owner to answer, and its own
        echo comes after the retained lock (one broker queue), so once it is back
        the lock's current value is known. False when the echo never came.
        """
        loop = asyncio.get_running_loop()
        nonce = secrets.token_hex(4)
        ping = json.dumps({"token": self.token, "nonce": nonce}).encode()
        await client.publish(self.topics.ping, ping, qos=1)
        current: LockHolder | None = None
        answered: set[str] = set()
        deadline = loop.time() + wall_seconds(_ECHO_S)
        echoed = False
        while (seen := await self._next(client, inbox, deadline)) is not None:
            if seen.kind == "lock":
                holder = seen.holder
                if holder is None or holder.token == self.token:
                    current = None
                elif not seen.retained:
                    raise _Refused(holder)  # somebody claimed it just now: alive
                else:
                    current = holder
            elif seen.kind == "pong":
                answered.add(seen.token)
            elif seen.nonce == nonce:
                echoed = True  # our own ping is back: the retained lock came before it
                break
        if current is None:
            return echoed
        deadline = loop.time() + wall_seconds(self._probe_s)
        while current.token not in answered:
            seen = await self._next(client, inbox, deadline)
            if seen is None:
                self.took_over = current  # nobody answered for it: stale
                return echoed
            if seen.kind == "pong":
                answered.add(seen.token)
            elif seen.kind == "lock":
                if seen.holder is None:
                    return echoed  # its owner let it go meanwhile
                if seen.holder.token != self.token and not seen.retained:
                    raise _Refused(seen.holder)
        raise _Refused(current)

    async def _assert(self, client: aiomqtt.Client, inbox: _Inbox) -> None:
        """Publish this session's lock; a competing lock published after it wins."""
        loop = asyncio.get_running_loop()
        self._asserted = True
        await client.publish(self.topics.session, self.me.payload(), qos=1, retain=True)
        mine = False
        deadline = loop.time() + wall_seconds(_ECHO_S)
        while (seen := await self._next(client, inbox, deadline)) is not None:
            if seen.kind != "lock":
                continue
            holder = seen.holder
            if holder is not None and holder.token == self.token:
                if not mine:
                    mine = True
                    deadline = loop.time() + wall_seconds(self._settle_s)
            elif holder is None:
                if mine:  # emptied after ours (a competing claim's will): again
                    await client.publish(self.topics.session, self.me.payload(), qos=1, retain=True)
                    mine = False
                    deadline = loop.time() + wall_seconds(_ECHO_S)
            elif mine:
                raise _Refused(holder)  # published after ours: the last writer holds it
            # A competing lock published before ours: ours is the last, it backs off.

    async def _hold(self, client: aiomqtt.Client, inbox: _Inbox) -> None:
        """Answer pings, keep the lock; raises :class:`_Refused` when another takes it."""
        while True:
            seen = await self._next(client, inbox, None)
            if seen is None or seen.kind != "lock":
                continue
            if seen.holder is None:
                await client.publish(self.topics.session, self.me.payload(), qos=1, retain=True)
            elif seen.holder.token != self.token:
                raise _Refused(seen.holder)


async def claim_id(
    settings: MqttSettings, *, timeout_s: float = 2 * _NETWORK_TIMEOUT_S
) -> MqttClaim:
    """Claim ``settings.client_id`` for this session; call it before the belt moves.

    Returns the :class:`MqttClaim` (pass it to :class:`MqttSink` as ``claim=``, and
    ``await claim.release()`` when the session is over; it is also an async context
    manager). Raises :class:`MqttIdInUse` (a :class:`UsageError`: one line, exit
    code 2) when another live session holds the id. A broker that cannot be reached
    is no reason to refuse: the claim then goes on trying in the background and the
    sink publishes nothing until it holds the id. Takes one round trip on a free
    id, up to a couple of seconds more when a stale lock must be tested; at most
    ``timeout_s`` wall seconds.
    """
    claim = MqttClaim(settings)
    try:
        await claim.acquire(timeout_s)
    except BaseException:
        await claim.release()
        raise
    return claim


class _StandDown(Exception):
    """Another live session owns the id: leave without a word on its topics."""


class MqttSink:
    """Publishes the session to an MQTT broker and takes pause/resume/stop from it.

    ``claim`` is the :class:`MqttClaim` from :func:`claim_id` (the app's, released by
    the app). Without one the sink claims the id itself when it starts and releases
    it at the end; then a session that finds its id taken still runs, but this sink
    stands down with one warning instead of refusing to start.
    """

    def __init__(
        self,
        subscription: Subscription,
        controls: SessionControls,
        settings: MqttSettings,
        *,
        claim: MqttClaim | None = None,
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
        self._claim = claim
        self._own_claim = claim is None
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
        self._online_due = False
        self._serving = False
        self._warned_at: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        # Figures for tests, benchmarks and the end-of-session summary.
        self.connected = False  # publishing: connected, and the id is this session's
        self.connections = 0
        self.stood_down = False
        self.states_published = 0
        self.events_published = 0
        self.events_dropped = 0
        self.commands_accepted = 0
        self.commands_ignored = 0

    @property
    def claim(self) -> MqttClaim:
        """The claim on the id (the sink's own one exists once :meth:`run` started)."""
        if self._claim is None:
            self._claim = MqttClaim(
                self._settings,
                reconnect_min_s=self._reconnect_min_s,
                reconnect_max_s=self._reconnect_max_s,
            )
        return self._claim

    # -- the session side -------------------------------------------------------------

    async def run(self) -> None:
        """Publish until the subscription ends, then say ``offline`` and disconnect.

        The goodbye takes at most ``close_timeout_s``; a broker that cannot be
        reached then is left to the will.
        """
        if self._own_claim:
            self.claim.start()
        connection = asyncio.create_task(self._connection_loop(), name="mqtt-connection")
        connection.add_done_callback(self._connection_ended)
        loop = asyncio.get_running_loop()
        try:
            # Keeps draining even if the connection loop has given up: never block the bus.
            async for item in self._subscription:
                self._accept(item)
            self._ended.set()
            self._wake.set()
            started = loop.time()
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
            if self._own_claim:
                spent = (loop.time() - started) / wall_seconds(1.0)
                await self.claim.release(max(0.2, self._close_timeout_s - spent))
        except asyncio.CancelledError:
            if self._own_claim:
                # Cancelled: the claim's own task empties the lock, briefly, then we go.
                await self.claim.release(min(1.0, self._close_timeout_s))
            raise
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

    def _stand_down(self) -> None:
        if self.stood_down:
            return
        self.stood_down = True
        holder = self.claim.holder
        who = f" ({holder.describe()})" if holder is not None else ""
        self._warn(
            "stand-down",
            f"MQTT: another live retrorun session{who} holds the id "
            f"{self._settings.client_id!r}; this session publishes nothing on "
            f"{self.topics.base}/ and takes no commands from it (choose another --mqtt-id)",
        )

    # -- the broker side --------------------------------------------------------------

    def _client(self, tls_context: _TrackingContext | None) -> aiomqtt.Client:
        will = aiomqtt.Will(self.topics.availability, b"offline", qos=1, retain=True)
        return _client(self._settings, "", will, tls_context)

    async def _connection_loop(self) -> None:
        try:
            tls_context = _tls_context(self._settings)
        except (OSError, ssl.SSLError) as exc:
            self._warn("tls", f"MQTT: cannot set up TLS ({exc}); not publishing this session")
            return
        delay = self._reconnect_min_s
        outage = False
        while not self._ended.is_set():
            if self.claim.lost:
                self._stand_down()
                return
            client = self._client(tls_context)
            was_connected = False
            try:
                async with client:
                    was_connected = True
                    delay = self._reconnect_min_s
                    if outage:
                        self._warn("connected", f"MQTT: connected again to {self._settings.where}")
                    outage = False
                    try:
                        await self._serve(client)
                    except asyncio.CancelledError:
                        if self._serving:
                            await self._goodbye(client)
                        raise
                    else:
                        return
            except _StandDown:
                self._stand_down()  # the connection closed cleanly: no will
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
                self.connected = self._serving = False
                if tls_context is not None:
                    tls_context.release()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), timeout=wall_seconds(delay))
            delay = min(delay * 2, self._reconnect_max_s)

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """On cancellation: ``offline`` ahead of the clean disconnect (no will then),
        through the client's public API and bounded (the broker's will covers a miss)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                client.publish(self.topics.availability, b"offline", qos=0, retain=True),
                timeout=wall_seconds(1.0),
            )

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Publish and listen on one connection; returns after the goodbye.

        Nothing is published or obeyed before the claim is held; raises
        :class:`_StandDown` when the id turns out to be another live session's.
        """
        claim = self.claim
        listener = asyncio.create_task(self._listen(client), name="mqtt-listen")
        tasks: set[asyncio.Task[Any]] = {listener}
        publisher: asyncio.Task[None] | None = None
        lost: asyncio.Task[None] | None = None
        done: set[asyncio.Task[Any]] = set()
        try:
            # Watch the lock first: another session's lock arrives before its commands.
            await client.subscribe([(self.topics.session, 1)])
            if not await self._await_claim(claim, listener):
                return  # released: nothing was said on this connection
            if claim.lost:
                raise _StandDown
            publisher = asyncio.create_task(self._publish(client), name="mqtt-publish")
            lost = asyncio.create_task(claim.wait_lost(), name="mqtt-claim-lost")
            tasks |= {publisher, lost}
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if lost in done:
            raise _StandDown
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

    async def _await_claim(self, claim: MqttClaim, listener: asyncio.Task[None]) -> bool:
        """Until the claim is decided: True when held or lost, False when released.

        Also after the session's end, so its last state still goes out once the id is
        held (``run`` bounds that wait by ``close_timeout_s``).
        """
        decided = asyncio.create_task(claim.wait_decided(), name="mqtt-claim-decided")
        waits = {decided, listener}
        try:
            done, _ = await asyncio.wait(
                waits,
                timeout=wall_seconds(_CLAIM_PATIENCE_S),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not done:
                self._warn(
                    "claim",
                    f"MQTT: connected to {self._settings.where} but the id "
                    f"{self._settings.client_id!r} is not claimed yet "
                    f"({claim.last_error or 'no answer'}); publishing nothing until it is",
                )
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            decided.cancel()
            await asyncio.gather(decided, return_exceptions=True)
        if decided in done:
            return claim.state in {"held", "lost"}
        exc = None if listener.cancelled() else listener.exception()
        if isinstance(exc, aiomqtt.MqttError):
            raise _Lost(str(exc)) from exc
        if exc is not None:
            raise exc
        raise _Lost("the broker closed the connection")

    async def _publish(self, client: aiomqtt.Client) -> None:
        subscriptions = [(self.topics.commands, 1), (HA_STATUS_TOPIC, 1)]
        result = await client.subscribe([*subscriptions, (self.topics.availability, 1)])
        if any(_refused(code) for code in result[: len(subscriptions)]):
            self._warn(
                "subscribe",
                f"MQTT: {self._settings.where} does not let this session read its command "
                "topics; remote pause/resume/stop will not work",
            )
        await client.publish(self.topics.availability, b"online", qos=1, retain=True)
        self.connected = self._serving = True
        self.connections += 1
        # Every connection re-sends discovery: a restarted broker has lost it.
        self._discovery_due = True
        self._online_due = False
        while True:
            if self._online_due and not self._ended.is_set():
                self._online_due = False
                await client.publish(self.topics.availability, b"online", qos=1, retain=True)
            if self._discovery_due:
                self._discovery_due = False
                payload = discovery_payload(
                    self._settings.client_id,
                    version=self._version,
                    device_name=self._settings.device_name,
                    topic_prefix=self._settings.bridge_prefix,
                )
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
        payload = _payload(message)
        if topic == HA_STATUS_TOPIC:
            if payload.strip() == b"online":
                self._discovery_due = True
                self._wake.set()
            return
        if topic == self.topics.session:
            holder = LockHolder.parse(payload)
            claim = self.claim
            if claim.held and not message.retain and holder is not None:
                claim.lost_to(holder)  # published over ours: that session owns the id now
            return
        if topic == self.topics.availability:
            # Someone else's "offline" (a stray will): this session is still here.
            if payload.strip() == b"offline" and not message.retain and self._serving:
                self._online_due = True
                self._wake.set()
            return
        shown = topic if len(topic) <= 80 else topic[:77] + "..."
        prefix = self.topics.command_prefix
        command = topic[len(prefix) :] if topic.startswith(prefix) else None
        if command is None:
            self._ignore("topic", f"a message on an unexpected topic {shown!r}")
        elif not self.claim.held:
            self._ignore("owner", f"a command on {shown}: this session does not own the id")
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
