"""A bridged pair of real mosquitto brokers, configured from docs/fleet.md, and its clients.

* :func:`fleet_configs` reads the ``<!-- fleet-config: NAME -->`` blocks of
  docs/fleet.md: the tests run exactly the configurations the page shows, with
  their ``${...}`` placeholders filled in (and ``user root`` added as root).
* :class:`Topology` is a central and an edge broker on free loopback ports, TLS on
  the bridge, password files and ACLs (the suite's :class:`Broker`, from
  tests/mosquitto_support.py); the central one can be stopped and started.
* :func:`start_session` is a real ``retrorun run`` on the embedded simulator
  against the edge (the command the MQTT tests run, ``session_support.run_args``);
  :class:`WatchProcess` a real ``retrorun watch``, ``--json`` or plain.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from mosquitto_support import (
    Broker,
    free_port,
    make_tls,
    which,
    write_passwords,
)

# The MQTT tests' session helpers (the same ``retrorun run`` command, Home
# Assistant's discovery rules) live beside them in tests/mqtt.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))

from session_support import RETRORUN, child_env, run_args

from process_support import stop_process
from retrorun.record import read_record
from treadsim.runtime import read_state_log

ROOT = Path(__file__).resolve().parents[2]
FLEET_MD = ROOT / "docs" / "fleet.md"
SITE = "room-a"
PREFIX = f"site/{SITE}/"
PASSWORD = "pw-{user}"  # each user's own password, derived from its name
SESSIONS = ("tm-1", "tm-2", "tm-3")  # controllers that run a session
STRANGERS = ("tm-8", "tm-9")  # controllers with no session: the ACL's and garbage's
CENTRAL_USERS = ("homeassistant", "coach", SITE)

_BLOCK_RE = re.compile(r"<!-- fleet-config: (\S+) -->\n```conf\n(.*?)```", re.DOTALL)


def fleet_configs() -> dict[str, str]:
    """``{"edge.conf": text, ...}``: the configurations docs/fleet.md shows."""
    found = dict(_BLOCK_RE.findall(FLEET_MD.read_text()))
    assert set(found) == {"edge.conf", "edge.acl", "central.conf", "central.acl"}, found
    return found


def password(user: str) -> str:
    return PASSWORD.format(user=user)


def url(broker: Broker, user: str) -> str:
    return f"mqtt://{user}:{password(user)}@{broker.host}:{broker.port}"


def _users(names: tuple[str, ...]) -> dict[str, str]:
    return {name: password(name) for name in names}


@dataclass
class Topology:
    """A central broker and one room's edge broker bridged to it, from docs/fleet.md."""

    central: Broker
    edge: Broker
    bridge_port: int

    @classmethod
    def start(cls, directory: Path) -> Topology:
        certs, central_dir, edge_dir = (directory / n for n in ("certs", "central", "edge"))
        for folder in (certs, central_dir, edge_dir, central_dir / "data", edge_dir / "data"):
            folder.mkdir(parents=True)
        make_tls(certs)  # ca.pem, server.pem, server.key (localhost, 127.0.0.1)
        values = {
            "CERTS": str(certs),
            "CENTRAL_DIR": str(central_dir),
            "CENTRAL_DATA": str(central_dir / "data"),
            "CENTRAL_HOST": "127.0.0.1",
            "CENTRAL_PORT": str(free_port()),
            "BRIDGE_PORT": str(free_port()),
            "EDGE_DIR": str(edge_dir),
            "EDGE_DATA": str(edge_dir / "data"),
            "EDGE_HOST": "127.0.0.1",
            "EDGE_PORT": str(free_port()),
            "SITE": SITE,
            "BRIDGE_PASSWORD": password(SITE),
        }
        configs = {
            name: Template(text).substitute(values) for name, text in fleet_configs().items()
        }
        (central_dir / "central.acl").write_text(configs["central.acl"])
        (edge_dir / "edge.acl").write_text(configs["edge.acl"])
        write_passwords(central_dir / "central.passwd", _users(CENTRAL_USERS))
        write_passwords(edge_dir / "edge.passwd", _users((*SESSIONS, *STRANGERS, "desk")))
        central = Broker.configured(
            central_dir, "central.conf", configs["central.conf"], int(values["CENTRAL_PORT"])
        )
        edge = Broker.configured(
            edge_dir, "edge.conf", configs["edge.conf"], int(values["EDGE_PORT"])
        )
        central.start()
        edge.start()
        return cls(central, edge, int(values["BRIDGE_PORT"]))

    def _central_log(self) -> str:
        """The central broker's log since it last started."""
        log = (self.central.directory / "mosquitto.out").read_text(errors="replace")
        return log.rpartition(" starting")[2]

    def bridge_up(self) -> bool:
        """The edge's bridge is connected (the central broker's log says so)."""
        return f" as bridge-{SITE} " in self._central_log()

    def connected(self, client_id: str) -> bool:
        """A client whose id starts with ``client_id`` is connected to the central broker."""
        return f" as {client_id}" in self._central_log()

    def stop(self) -> None:
        self.edge.stop()
        self.central.stop()


def remember(broker: Broker, user: str, client_id: str, *topics: str) -> None:
    """Subscribe ``client_id`` with a session the broker keeps (``mosquitto_sub -c``)
    and leave: QoS 1 messages on ``topics`` wait for its next connection."""
    binary = which("mosquitto_sub")
    assert binary is not None, "mosquitto_sub not found: apt-get install -y mosquitto-clients"
    args = [binary, "-h", broker.host, "-p", str(broker.port), "-u", user, "-P", password(user)]
    args += ["-c", "-i", client_id, "-q", "1", "-E"]
    for topic in topics:
        args += ["-t", topic]
    subprocess.run(args, check=True, timeout=10, capture_output=True)


# -- the real processes ---------------------------------------------------------------


@dataclass
class Session:
    """One ``retrorun run`` child against the edge broker and the files it writes."""

    client_id: str
    process: subprocess.Popen[bytes]
    record: Path
    belt: Path
    out: Path

    def belt_states(self) -> list[dict[str, Any]]:
        return read_state_log(self.belt.read_text()) if self.belt.exists() else []

    def record_events(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [line for line in read_record(self.record) if line.get("type") == "event"]

    def output(self) -> str:
        return self.out.read_text(errors="replace")[-2000:] if self.out.exists() else ""

    def finish(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.client_id} did not end\n{self.output()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)


def write_program(path: Path, minutes: int, speed_kmh: float) -> Path:
    path.write_text(
        'name = "Fleet test"\ndescription = "Written by a test"\nprofile = "novice"\n\n'
        f'[[steps]]\nkind = "work"\ndirection = "backward"\nduration = "{minutes}min"\n'
        f'speed_kmh = {speed_kmh}\nlabel = "Backward walk"\n'
    )
    return path


def start_session(
    topology: Topology,
    directory: Path,
    program: Path,
    client_id: str,
    *,
    speedup: float,
    extra: tuple[str, ...] = (),
) -> Session:
    """``retrorun run`` on the simulator, as the controller ``client_id`` of the room."""
    directory.mkdir(parents=True, exist_ok=True)
    args = run_args(
        program, url(topology.edge, client_id), client_id, directory, speedup=speedup, extra=extra
    )
    out = directory / "out.txt"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=child_env(RETRORUN_MQTT_BRIDGE_PREFIX=PREFIX),
        )
    return Session(client_id, process, directory / "record.jsonl", directory / "belt.jsonl", out)


@dataclass
class WatchProcess:
    """``retrorun watch`` writing to a pipe: every line it printed, as it comes.

    With ``--json`` each line is parsed (a line that is not JSON fails the test);
    without, the pipe (not a terminal) gets the plain lines, kept as text.
    """

    process: subprocess.Popen[str]
    as_json: bool
    texts: list[str] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, *args: str) -> WatchProcess:
        process = subprocess.Popen(
            [RETRORUN, "watch", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        watch = cls(process, as_json="--json" in args)
        for stream, handler in ((process.stdout, watch._line), (process.stderr, watch._error)):
            thread = threading.Thread(target=watch._read, args=(stream, handler), daemon=True)
            thread.start()
            watch._threads.append(thread)
        return watch

    @staticmethod
    def _read(stream: Any, handler: Callable[[str], None]) -> None:
        for line in stream:
            handler(line)

    def _line(self, line: str) -> None:
        self.texts.append(line)
        if self.as_json:
            self.lines.append(json.loads(line))

    def _error(self, line: str) -> None:
        self.errors.append(line.rstrip("\n"))

    def of(self, client_id: str, change: str | None = None) -> list[dict[str, Any]]:
        return [
            line
            for line in list(self.lines)
            if line["id"] == client_id and (change is None or line["change"] == change)
        ]

    def events(self, client_id: str) -> list[dict[str, Any]]:
        return [line["event"] for line in self.of(client_id, "event")]

    def stop(self) -> None:
        stop_process(self.process)
        for thread in self._threads:
            thread.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
