"""The fleet as the watcher knows it: one row per treadmill, folded from MQTT messages.

Pure and synchronous (no asyncio, no MQTT client): :meth:`Fleet.apply` takes a
topic, a payload and the retain flag, and returns the :class:`Change` it made, or
None for anything it ignores. Everything it reads is hostile until checked: a
payload over :data:`MAX_PAYLOAD`, a topic that is not ``[PREFIX]retrorun/<id>/...``
with a valid id, JSON that is not an object, a field of the wrong type, a number
that is not finite, a string with control characters: each is dropped (and
counted in :attr:`Fleet.ignored`), never raised. The number of rows is bounded,
so a flood of made-up ids cannot take the watcher's memory. Nothing here sends
anything: a message can only change what is shown.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from retrorun.errors import UsageError
from retrorun.events import SAFETY_KINDS, EventKind, RemoteCommand

__all__ = [
    "ALERT_KINDS",
    "MAX_PAYLOAD",
    "MAX_TREADMILLS",
    "STATE_FIELDS",
    "Change",
    "Fleet",
    "Prefix",
    "Treadmill",
    "parse_prefix",
]

MAX_PAYLOAD: Final = 64 * 1024
"""Bytes; a state is about 400, a discovery payload about 6,000. Longer: ignored."""
MAX_TREADMILLS: Final = 2000
"""Rows kept at most: ten times the largest fleet we plan for."""
RECENT_EVENTS: Final = 20
_TEXT_LIMIT: Final = 200
_ID_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LEVEL_RE: Final = re.compile(r"[^#+\x00/]{1,64}|\+")
_KINDS: Final = frozenset(str(kind) for kind in EventKind)

ALERT_KINDS: Final[frozenset[str]] = frozenset(
    str(kind)
    for kind in SAFETY_KINDS
    - {EventKind.SESSION_ENDED, EventKind.LINK_RESTORED, EventKind.USER_STOP}
)
"""Safety events that turn a row red: the belt did something the rules had to catch.

A session's ordinary end, a link coming back and a stop somebody asked for are
safety kinds for delivery (never dropped) but no alarm for a coach.
"""

# The state's fields (SessionState.to_json_dict) and what each must be.
_NUMBERS: Final = (
    "speed_kmh",
    "incline_pct",
    "distance_m",
    "elapsed_s",
    "step_remaining_s",
    "ceiling_kmh",
    "target_kmh",
    "energy_kcal",
)
_WHOLE: Final = ("step",)
_TEXTS: Final = ("direction", "step_label", "program", "status")
STATE_FIELDS: Final = (*_NUMBERS, "heart_rate_bpm", *_WHOLE, *_TEXTS)

Topic = Literal["state", "availability", "event"]
_TOPICS: Final = frozenset({"state", "availability", "event"})
ChangeKind = Literal["state", "availability", "event", "name"]


@dataclass(frozen=True, slots=True)
class Prefix:
    """Where the treadmills' topics start: ``""``, or a bridge's ``site/+/``.

    ``+`` levels match any site; the levels they match name the row's site.
    """

    text: str

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(self.text.split("/")[:-1]) if self.text else ()

    def subscriptions(self) -> list[str]:
        """The topic filters a watcher subscribes to (discovery names the rows)."""
        base = f"{self.text}retrorun/+"
        return [f"{base}/state", f"{base}/availability", f"{base}/event", DISCOVERY_FILTER]

    def split(self, topic: str) -> tuple[str, str, str, str] | None:
        """``(site, base, id, leaf)`` for ``[prefix]retrorun/<id>/<leaf>``, else None.

        ``base`` is the topic up to the id (``site/a/retrorun/<id>``): where that
        treadmill's commands go, with ``/cmd/<command>`` after it.
        """
        parts = topic.split("/")
        levels = self.levels
        if len(parts) != len(levels) + 3 or parts[len(levels)] != "retrorun":
            return None
        matched: list[str] = []
        for want, got in zip(levels, parts, strict=False):
            if want == "+":
                if not got or not _LEVEL_RE.fullmatch(got):
                    return None
                matched.append(got)
            elif want != got:
                return None
        client_id, leaf = parts[-2], parts[-1]
        if not _ID_RE.fullmatch(client_id):
            return None
        site = "/".join(matched) if matched else self.text.rstrip("/")
        return site, "/".join(parts[:-1]), client_id, leaf


DISCOVERY_FILTER: Final = "homeassistant/device/+/config"


def parse_prefix(text: str | None) -> Prefix:
    """``--prefix`` as given (``site/+`` or ``site/+/``); :class:`UsageError` otherwise.

    Levels are names or ``+``; no ``#`` (what follows the prefix is retrorun's).
    """
    if text is None or text in {"", "/"}:
        return Prefix("")
    body = text[:-1] if text.endswith("/") else text
    levels = body.split("/")
    if len(levels) > 8 or not all(_LEVEL_RE.fullmatch(level) for level in levels):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise UsageError(
            f"--prefix {shown!r}: use topic levels of names or '+' (such as site/+), "
            "no '#' and no empty level"
        )
    if levels[-1] == "retrorun":
        raise UsageError("--prefix: give what comes before retrorun/ (such as site/+)")
    return Prefix(body + "/")


def _printable(value: object, limit: int = _TEXT_LIMIT) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = "".join(c if c.isprintable() else " " for c in value[: limit * 2])
    return " ".join(cleaned.split())[:limit]


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and abs(number) < 1e9 else None


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if abs(value) < 1_000_000_000 else None


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def clean_state(data: dict[str, Any]) -> dict[str, Any]:
    """The state's known fields, each of its type; the rest is left out."""
    state: dict[str, Any] = {}
    for name in _NUMBERS:
        if (number := _finite(data.get(name))) is not None:
            state[name] = number
    for name in _WHOLE:
        if (whole := _whole(data.get(name))) is not None:
            state[name] = whole
    if "heart_rate_bpm" in data:  # null: no heart rate known
        heart_rate = data["heart_rate_bpm"]
        if heart_rate is None or (_whole(heart_rate) is not None and 0 <= heart_rate < 400):
            state["heart_rate_bpm"] = heart_rate
    for name in _TEXTS:
        if (text := _printable(data.get(name), 64)) is not None:
            state[name] = text
    return state


def step_words(state: dict[str, Any]) -> str:
    """The step as a person counts it (``1 Backward walk``); the state's ``step`` is
    the plan's index, from 0, and stays so in ``--json``."""
    step = state.get("step")
    words = f"{step + 1}" if isinstance(step, int) else "-"
    label = state.get("step_label")
    return f"{words} {label}" if label else words


def clean_event(data: dict[str, Any]) -> dict[str, Any] | None:
    """An event's scalar fields (at most 24), or None when its ``kind`` is not ours."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        return None
    event: dict[str, Any] = {}
    for key, value in list(data.items())[:24]:
        if not isinstance(key, str) or not _ID_RE.fullmatch(key):
            continue
        if value is None or isinstance(value, bool):
            event[key] = value
        elif (number := _finite(value)) is not None:
            event[key] = value if isinstance(value, int) else number
        elif (text := _printable(value)) is not None:
            event[key] = text
    return event


@dataclass(frozen=True, slots=True)
class Seen:
    """One event as the watcher received it (``at``: wall time)."""

    at: float
    kind: str
    message: str
    fields: dict[str, Any]


@dataclass(slots=True)
class Treadmill:
    """One row: a treadmill under one prefix (``base`` is its topic up to the id)."""

    base: str
    client_id: str
    site: str
    name: str | None = None
    online: bool | None = None
    state: dict[str, Any] = field(default_factory=dict)
    alert: Seen | None = None
    events: deque[Seen] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS))
    updated: float = 0.0
    pending: tuple[RemoteCommand, float] | None = None
    answer: str | None = None  # the last command's answer, in words

    @property
    def label(self) -> str:
        """Its name with its id: treadmills of one model often share their name."""
        if self.name and self.name != self.client_id:
            return f"{self.name} ({self.client_id})"
        return self.client_id

    def command_topic(self, command: RemoteCommand) -> str:
        return f"{self.base}/cmd/{command}"


@dataclass(frozen=True, slots=True)
class Change:
    """What one message changed: the row, which part, and the event if it was one."""

    row: Treadmill
    kind: ChangeKind
    event: Seen | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` line: the treadmill's id, site, online and its state's fields.

        The state's fields are at the top level, named as in the state payload; an
        event's fields are under ``event``.
        """
        row = self.row
        line: dict[str, Any] = {
            "id": row.client_id,
            "site": row.site,
            "name": row.name,
            "change": self.kind,
            "online": row.online,
            **row.state,
            "alert": row.alert.kind if row.alert is not None else None,
        }
        if self.event is not None:
            line["event"] = self.event.fields
        return line


class Fleet:
    """Every treadmill seen under ``prefix``, keyed by its ``base`` topic."""

    def __init__(
        self,
        prefix: Prefix,
        *,
        max_rows: int = MAX_TREADMILLS,
        clock: Any = time.time,
    ) -> None:
        self.prefix = prefix
        self.rows: dict[str, Treadmill] = {}
        self.names: dict[str, str] = {}  # availability topic -> the device's name
        self.ignored = 0
        self.dropped_rows = 0
        self._max_rows = max_rows
        self._clock = clock

    def apply(self, topic: str, payload: bytes, *, retained: bool = False) -> Change | None:
        """Fold one message in; the change it made, or None (ignored, or no change)."""
        del retained  # a retained state is the latest one: shown like a live one
        if len(payload) > MAX_PAYLOAD or len(topic) > 512:
            self.ignored += 1
            return None
        if topic.startswith("homeassistant/"):
            return self._discovery(payload)
        where = self.prefix.split(topic)
        if where is None or where[3] not in _TOPICS:
            self.ignored += 1
            return None
        site, base, client_id, leaf = where
        if leaf == "availability":
            return self._availability(site, base, client_id, payload)
        data = _json_object(payload)
        if data is None:
            self.ignored += 1
            return None
        if leaf == "state":
            row = self._row(site, base, client_id)
            if row is None:
                return None
            row.state = clean_state(data)
            row.updated = self._clock()
            return Change(row, "state")
        return self._event(site, base, client_id, data)

    def _row(self, site: str, base: str, client_id: str) -> Treadmill | None:
        row = self.rows.get(base)
        if row is None:
            if len(self.rows) >= self._max_rows:
                self.dropped_rows += 1
                return None
            row = Treadmill(base, client_id, site, name=self.names.get(base))
            self.rows[base] = row
        return row

    def _availability(self, site: str, base: str, client_id: str, payload: bytes) -> Change | None:
        word = payload.strip()
        if word not in {b"online", b"offline"}:
            self.ignored += 1
            return None
        row = self._row(site, base, client_id)
        if row is None:
            return None
        row.online = word == b"online"
        row.updated = self._clock()
        return Change(row, "availability")

    def _event(self, site: str, base: str, client_id: str, data: dict[str, Any]) -> Change | None:
        fields = clean_event(data)
        if fields is None:
            self.ignored += 1
            return None
        row = self._row(site, base, client_id)
        if row is None:
            return None
        kind = str(fields["kind"])
        seen = Seen(self._clock(), kind, str(fields.get("message") or ""), fields)
        row.events.append(seen)
        row.updated = seen.at
        if kind == EventKind.SESSION_STARTED:
            row.alert = None
        elif kind in ALERT_KINDS:
            row.alert = seen
        if kind in {EventKind.COMMAND_ACK, EventKind.COMMAND_REFUSED}:
            self._answer(row, seen)
        return Change(row, "event", seen)

    @staticmethod
    def _answer(row: Treadmill, seen: Seen) -> None:
        command = seen.fields.get("command")
        accepted = seen.kind == EventKind.COMMAND_ACK
        verdict = "accepted" if accepted else f"refused: {seen.message}"
        row.answer = f"{command} {verdict}"
        if row.pending is not None and row.pending[0] == command:
            row.pending = None

    def _discovery(self, payload: bytes) -> Change | None:
        """A Home Assistant device's name, for the row its availability topic names."""
        data = _json_object(payload)
        if not data:  # an emptied config (a device removed) or not JSON: nothing to name
            return None
        device = data.get("device", data.get("dev"))
        topic = data.get("availability_topic", data.get("avty_t"))
        name = _printable(device.get("name"), 64) if isinstance(device, dict) else None
        if not isinstance(topic, str) or not name or not topic.endswith("/availability"):
            self.ignored += 1
            return None
        where = self.prefix.split(topic)
        if where is None:
            return None  # a treadmill under another prefix
        base = where[1]
        if base not in self.names and len(self.names) >= self._max_rows:
            return None
        self.names[base] = name
        row = self.rows.get(base)
        if row is None or row.name == name:
            return None
        row.name = name
        return Change(row, "name")

    def sent(self, row: Treadmill, command: RemoteCommand) -> None:
        """A command went out to ``row``: its answer is awaited."""
        row.pending = (command, self._clock())
        row.answer = f"{command} sent, waiting for its answer"

    def unanswered(self, timeout_s: float) -> list[Treadmill]:
        """Rows whose command had no answer within ``timeout_s`` (marked as such)."""
        now = self._clock()
        late = []
        for row in self.rows.values():
            if row.pending is not None and now - row.pending[1] > timeout_s:
                row.answer = f"{row.pending[0]}: no answer within {timeout_s:g} s"
                row.pending = None
                late.append(row)
        return late
