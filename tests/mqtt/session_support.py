"""Whole ``retrorun run`` sessions seen through a real mosquitto (real time).

* :func:`retrorun_run` starts the real command (:func:`run_args`, also the fleet's)
  as a child process on the embedded simulator, with ``--record`` and
  ``--sim-state-log`` in a temporary directory, and kills it (by its own pid) if a
  test leaves it running.
* :func:`mosquitto_sub` runs the real ``mosquitto_sub -v`` client and collects its
  lines; it returns only once the client is known to be subscribed.
* :func:`wait_for` polls a condition with a bounded timeout (never a fixed sleep).
* :func:`discovery_problems` checks a Home Assistant device-based discovery payload
  against the fields Home Assistant's own schema requires (``DEVICE_DISCOVERY_SCHEMA``
  in ``homeassistant/components/mqtt/schemas.py``, abbreviations expanded as its
  discovery code does), and each component against the options its platform
  documents: Home Assistant drops unknown component options without a word, so a
  misspelt ``qos`` would silently fall back to QoS 0.
* :func:`ha_entity_ids` is the entity id Home Assistant gives each component.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mosquitto_support import Broker, which
from retrorun.record import read_record
from treadsim.runtime import read_state_log

RETRORUN = str(Path(sys.executable).parent / "retrorun")
T = TypeVar("T")


# -- waiting --------------------------------------------------------------------------


async def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            extra = f"\n{context()}" if context is not None else ""
            raise AssertionError(f"{what}: not within {timeout} s{extra}")
        await asyncio.sleep(0.02)


# -- programs -------------------------------------------------------------------------


def write_program(path: Path, name: str, steps: Iterable[dict[str, Any]]) -> Path:
    """A program file in the format of ``programs/*.toml`` (flat steps only)."""
    lines = [
        f"name = {json.dumps(name)}",
        'description = "Written by a test"',
        'profile = "novice"',
    ]
    for step in steps:
        lines += ["", "[[steps]]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in step.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the retrorun process -------------------------------------------------------------


@dataclass
class RunProcess:
    """One ``retrorun run`` child and the files it writes."""

    process: asyncio.subprocess.Process
    record: Path
    belt: Path
    out: Path
    err: Path

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def belt_states(self) -> list[dict[str, Any]]:
        """The simulator's state log so far (what the belt really did)."""
        return read_state_log(self.belt.read_text()) if self.belt.exists() else []

    def belt_now(self) -> dict[str, Any] | None:
        states = self.belt_states()
        return states[-1] if states else None

    def record_lines(self) -> list[dict[str, Any]]:
        return list(read_record(self.record)) if self.record.exists() else []

    def record_events(self) -> list[dict[str, Any]]:
        return [line for line in self.record_lines() if line.get("type") == "event"]

    def output(self) -> str:
        out = self.out.read_text(errors="replace") if self.out.exists() else ""
        err = self.err.read_text(errors="replace") if self.err.exists() else ""
        return f"--- stdout (tail)\n{out[-1500:]}\n--- stderr (tail)\n{err[-1500:]}"

    async def finish(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit on its own; its exit code."""
        try:
            return await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"retrorun did not exit within {timeout} s\n{self.output()}"
            ) from None


def run_args(
    program: str | Path,
    url: str,
    client_id: str,
    directory: Path,
    *,
    speedup: float,
    extra: Iterable[str] = (),
) -> list[str]:
    """``retrorun run PROGRAM --yes --plain --voice off --mqtt URL --mqtt-id ID ...``.

    The record and the simulator's state log go to ``directory``: ``record.jsonl``
    and ``belt.jsonl``. The fleet's sessions (tests/fleet) run the same command.
    """
    return [
        RETRORUN,
        "run",
        str(program),
        "--yes",
        "--speedup",
        f"{speedup:g}",
        "--plain",
        "--voice",
        "off",
        "--mqtt",
        url,
        "--mqtt-id",
        client_id,
        "--record",
        str(directory / "record.jsonl"),
        "--sim-state-log",
        str(directory / "belt.jsonl"),
        *extra,
    ]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a ``retrorun`` child: unbuffered, no MQTT settings of ours."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    for name in ("RETRORUN_MQTT_URL", "RETRORUN_MQTT_PASSWORD"):
        if name not in extra:
            env.pop(name, None)
    return env


@contextlib.asynccontextmanager
async def retrorun_run(
    broker: Broker,
    directory: Path,
    program: str | Path,
    client_id: str,
    *,
    speedup: float,
    extra: Iterable[str] = (),
) -> AsyncIterator[RunProcess]:
    """:func:`run_args` against ``broker``, as a child of this test.

    Its files go to ``directory`` (which exists: a test's ``tmp_path``).
    """
    args = run_args(program, broker.url, client_id, directory, speedup=speedup, extra=extra)
    out, err = directory / "stdout.txt", directory / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=child_env(),
        )
    run = RunProcess(process, directory / "record.jsonl", directory / "belt.jsonl", out, err)
    try:
        yield run
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


# -- mosquitto_sub --------------------------------------------------------------------

_PROBE_TOPIC = "retrorun/_probe/ready"


@dataclass
class SubLines:
    """What ``mosquitto_sub -v`` printed: one ``(topic, payload)`` per line."""

    lines: list[tuple[str, str]] = field(default_factory=list)

    def on(self, topic: str) -> list[str]:
        return [payload for t, payload in self.lines if t == topic]

    def under(self, prefix: str) -> list[tuple[str, str]]:
        return [(t, payload) for t, payload in self.lines if t.startswith(prefix)]


@contextlib.asynccontextmanager
async def mosquitto_sub(broker: Broker, *topics: str) -> AsyncIterator[SubLines]:
    """The real ``mosquitto_sub -v -t TOPIC...``; yields once it is subscribed."""
    binary = which("mosquitto_sub")
    assert binary is not None, "mosquitto_sub not found: apt-get install -y mosquitto-clients"
    args = ["-h", broker.host, "-p", str(broker.port), "-q", "1", "-v"]
    for topic in topics:
        args += ["-t", topic]
    process = await asyncio.create_subprocess_exec(
        binary,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    seen = SubLines()

    async def read() -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            topic, _, payload = line.decode(errors="replace").rstrip("\n").partition(" ")
            seen.lines.append((topic, payload))

    reader = asyncio.create_task(read())
    try:
        # Ready when a probe published now comes back through it.
        async with broker.client() as probe:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            next_probe = loop.time()
            while not seen.on(_PROBE_TOPIC):
                assert process.returncode is None, f"mosquitto_sub exited: {seen.lines}"
                assert loop.time() < deadline, "mosquitto_sub did not subscribe within 10 s"
                if loop.time() >= next_probe:  # it may not have subscribed yet: again
                    await probe.publish(_PROBE_TOPIC, b"probe", qos=1)
                    next_probe = loop.time() + 0.2
                await asyncio.sleep(0.02)
        yield seen
    finally:
        if process.returncode is None:
            process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 5)
        if process.returncode is None:
            process.kill()
            await process.wait()
        await reader


# -- Home Assistant discovery ---------------------------------------------------------

# Home Assistant expands these abbreviations before validating (its abbreviations.py).
_TOP = {
    "dev": "device",
    "o": "origin",
    "cmps": "components",
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_tpl": "availability_template",
    "avty_t": "availability_topic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "stat_t": "state_topic",
    "cmd_t": "command_topic",
    "e": "encoding",
}
_DEVICE = {"ids": "identifiers", "cns": "connections", "mf": "manufacturer", "mdl": "model"}
_DEVICE |= {"sw": "sw_version", "hw": "hw_version", "sn": "serial_number"}
_ORIGIN = {"sw": "sw_version", "url": "support_url"}
_COMPONENT = {
    "p": "platform",
    "uniq_id": "unique_id",
    "obj_id": "object_id",
    "stat_t": "state_topic",
    "cmd_t": "command_topic",
    "val_tpl": "value_template",
    "pl_prs": "payload_press",
    "evt_typ": "event_types",
    "dev_cla": "device_class",
    "stat_cla": "state_class",
    "unit_of_meas": "unit_of_measurement",
    "sug_dsp_prc": "suggested_display_precision",
    "ic": "icon",
    "ret": "retain",
    "ops": "options",
}
# Options every MQTT entity takes (MQTT_ENTITY_COMMON_SCHEMA; ``object_id`` sets the
# entity id up to Home Assistant 2025.9, ``default_entity_id`` from 2025.10), then
# each platform's own (the sensor, button and event pages of the MQTT integration).
_COMMON_ALLOWED = {
    "platform",
    "name",
    "unique_id",
    "object_id",
    "default_entity_id",
    "icon",
    "entity_category",
    "entity_picture",
    "enabled_by_default",
    "encoding",
    "json_attributes_topic",
    "json_attributes_template",
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "qos",
}
_PLATFORM_ALLOWED = {
    "sensor": {
        "state_topic",
        "value_template",
        "device_class",
        "state_class",
        "unit_of_measurement",
        "suggested_display_precision",
        "options",
        "expire_after",
        "force_update",
        "last_reset_value_template",
    },
    "button": {"command_topic", "command_template", "payload_press", "retain", "device_class"},
    "event": {"state_topic", "value_template", "event_types", "device_class"},
    "binary_sensor": {"state_topic", "value_template", "device_class", "payload_on", "payload_off"},
}
_OBJECT_ID_RE = re.compile(r"[a-z0-9_]+")
# DEVICE_DISCOVERY_SCHEMA: the availability options, these, and nothing else.
_TOP_ALLOWED = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "device",
    "components",
    "origin",
    "state_topic",
    "command_topic",
    "qos",
    "encoding",
}
_DEVICE_ALLOWED = {
    "identifiers",
    "connections",
    "manufacturer",
    "model",
    "name",
    "hw_version",
    "serial_number",
    "sw_version",
    "via_device",
    "suggested_area",
    "configuration_url",
}
_ORIGIN_ALLOWED = {"name", "sw_version", "support_url"}
_TOPIC_RE = re.compile(r"[^#+\x00]+")


def _expand(doc: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    return {names.get(key, key): value for key, value in doc.items()}


def discovery_problems(doc: object, client_id: str) -> list[str]:
    """Everything Home Assistant would reject (or could not tie to this session)."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    top = _expand(doc, _TOP)
    problems = [f"unknown top-level key {key!r}" for key in sorted(set(top) - _TOP_ALLOWED)]
    device, origin, components = top.get("device"), top.get("origin"), top.get("components")
    if not isinstance(device, dict):
        problems.append("no device (dev)")
    else:
        device = _expand(device, _DEVICE)
        problems += [f"unknown device key {k!r}" for k in sorted(set(device) - _DEVICE_ALLOWED)]
        ids = device.get("identifiers")
        if not ids and not device.get("connections"):
            problems.append("device has neither identifiers nor connections")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            problems.append("device identifiers is not a list of strings")
        if not isinstance(device.get("name"), str) or not device["name"]:
            problems.append("device has no name")
    if not isinstance(origin, dict):
        problems.append("no origin (o)")
    else:
        origin = _expand(origin, _ORIGIN)
        problems += [f"unknown origin key {k!r}" for k in sorted(set(origin) - _ORIGIN_ALLOWED)]
        if not isinstance(origin.get("name"), str) or not origin["name"]:
            problems.append("origin has no name")
    availability = top.get("availability_topic")
    if "availability" in top and availability is not None:
        problems.append("availability and availability_topic are exclusive")
    if availability != f"retrorun/{client_id}/availability":
        problems.append(f"availability_topic is {availability!r}")
    if top.get("qos", 0) not in {0, 1, 2}:
        problems.append(f"qos {top.get('qos')!r}")
    if not isinstance(components, dict) or not components:
        problems.append("no components (cmps)")
        return problems
    unique_ids: list[str] = []
    for key, raw in components.items():
        if not isinstance(raw, dict):
            problems.append(f"component {key!r} is not an object")
            continue
        component = _expand(raw, _COMPONENT)
        platform = component.get("platform")
        if platform not in {"sensor", "button", "event", "binary_sensor"}:
            problems.append(f"component {key!r}: platform (p) {platform!r}")
        unique_id = component.get("unique_id")
        if not isinstance(unique_id, str) or not unique_id:
            problems.append(f"component {key!r}: no unique_id")
        else:
            unique_ids.append(unique_id)
        for name in ("state_topic", "command_topic"):
            topic = component.get(name, top.get(name))
            if topic is not None and not (isinstance(topic, str) and _TOPIC_RE.fullmatch(topic)):
                problems.append(f"component {key!r}: bad {name} {topic!r}")
        if platform in {"sensor", "event"} and not component.get("state_topic"):
            problems.append(f"component {key!r}: a {platform} needs a state_topic")
        if platform == "button" and not component.get("command_topic"):
            problems.append(f"component {key!r}: a button needs a command_topic")
        if platform == "event" and not component.get("event_types"):
            problems.append(f"component {key!r}: an event needs event_types")
        if component.get("device_class") == "enum" and (
            not component.get("options") or "state_class" in component
        ):
            problems.append(f"component {key!r}: an enum sensor needs options, no state_class")
        allowed = _COMMON_ALLOWED | _PLATFORM_ALLOWED.get(str(platform), set())
        problems += [
            f"component {key!r}: {platform} has no option {name!r} (Home Assistant drops it)"
            for name in sorted(set(component) - allowed)
        ]
        if component.get("qos", 0) not in {0, 1, 2}:
            problems.append(f"component {key!r}: qos {component.get('qos')!r}")
        object_id = component.get("object_id")
        if object_id is not None and not (
            isinstance(object_id, str) and _OBJECT_ID_RE.fullmatch(object_id)
        ):
            problems.append(f"component {key!r}: object_id {object_id!r} is not [a-z0-9_]+")
        default_entity_id = component.get("default_entity_id")
        if default_entity_id is not None and (
            object_id is None or default_entity_id != f"{platform}.{object_id}"
        ):
            problems.append(
                f"component {key!r}: default_entity_id {default_entity_id!r} is not "
                f"'{platform}.<object_id>'"
            )
    if len(set(unique_ids)) != len(unique_ids):
        problems.append(f"unique_ids repeat: {unique_ids}")
    entity_ids = list(ha_entity_ids(doc).values())
    if len(set(entity_ids)) != len(entity_ids):
        problems.append(f"entity ids repeat: {entity_ids}")
    return problems


def _ha_slugify(text: str) -> str:
    """Home Assistant's ``slugify`` for the ASCII names used here."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


def ha_entity_ids(doc: dict[str, Any]) -> dict[str, str]:
    """Component key -> the entity id Home Assistant creates for it.

    ``default_entity_id`` (2025.10 on) or ``object_id`` (before) when given; else,
    as every MQTT entity has ``has_entity_name``, the slug of "<device name>
    <entity name>" (the device's name alone for an entity named null).
    """
    top = _expand(doc, _TOP)
    device = _expand(top.get("device") or {}, _DEVICE)
    ids: dict[str, str] = {}
    for key, raw in (top.get("components") or {}).items():
        component = _expand(raw, _COMPONENT)
        platform = component.get("platform")
        if component.get("default_entity_id"):
            ids[key] = str(component["default_entity_id"])
        elif component.get("object_id"):
            ids[key] = f"{platform}.{_ha_slugify(str(component['object_id']))}"
        else:
            name = " ".join(str(n) for n in (device.get("name"), component.get("name")) if n)
            ids[key] = f"{platform}.{_ha_slugify(name)}"
    return ids
