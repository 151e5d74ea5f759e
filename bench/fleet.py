"""A fleet through bridged brokers: N treadmills into edge brokers, one central broker,
``retrorun watch --json`` on the central one.

For each N: N lightweight publishers (one aiomqtt client per treadmill, with its
availability will) send the real payloads, ``SessionState.to_json_dict()`` on
``retrorun/<id>/state`` at 1 Hz (QoS 0, retained) and a safety event
(``CeilingClamped.to_json_dict()``, QoS 1) every 10 s, random phases, into edge
brokers of 50 treadmills each, bridged to one central broker with the topic lines
of docs/fleet.md (anonymous and without TLS here: the bench measures the bridge and
the watcher, not the handshakes). A real ``retrorun watch --json --prefix site/+
--client-id bench`` on the central broker prints one line per change; the bench
reads them as they come. Whole sessions (simulator, link, governor) are not run:
on a 2-core machine 200 of them would measure the simulators, not the fleet.

Reported per N: states and safety events delivered to the watcher of those sent,
p50/p99 latency from a publisher's send to the watcher's line (CLOCK_MONOTONIC in
both: the same machine), CPU of the brokers and of the watcher (% of one core over
the run), the watcher's peak RSS. With ``--restart`` the central broker is stopped
for ``--outage`` seconds mid-run and started again (persistence on): states sent
meanwhile are superseded (QoS 0, retained), events must all arrive.

    .venv/bin/python bench/fleet.py --n 10 50 100 200 --seconds 20
    .venv/bin/python bench/fleet.py --n 10 50 100 200 --seconds 30 --restart --outage 10

Exits 0 whether or not a target is met; 2 (one line) when mosquitto is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from retrorun.events import CeilingClamped, Direction, SessionState, Status

PER_EDGE = 50
RETRORUN = str(Path(sys.executable).parent / "retrorun")
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Mosquitto:
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    cpu_before: float = 0.0  # CPU of earlier processes on this port (a restart)

    def start(self) -> None:
        binary = shutil.which("mosquitto", path=os.environ["PATH"] + ":/usr/sbin")
        if binary is None:
            sys.exit("bench/fleet.py: mosquitto not found (apt-get install mosquitto)")
        self.process = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.02)
        raise SystemExit("bench/fleet.py: mosquitto did not start")

    def cpu(self) -> float:
        alive = cpu_seconds(self.process.pid) if self.process is not None else 0.0
        return self.cpu_before + alive

    def stop(self) -> None:
        if self.process is not None:
            self.cpu_before += cpu_seconds(self.process.pid)
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def broker_config(directory: Path, port: int, bridge_to: int | None, site: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {directory}/",
        "max_queued_messages 100000",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    if bridge_to is not None:
        lines += [
            f"connection {site}",
            f"address 127.0.0.1:{bridge_to}",
            f"remote_clientid bridge-{site}",
            "cleansession false",
            "local_cleansession false",
            "restart_timeout 1 10",
            "try_private true",
            f'topic retrorun/+/state out 1 "" site/{site}/',
            f'topic retrorun/+/availability out 1 "" site/{site}/',
            f'topic retrorun/+/event out 1 "" site/{site}/',
            f'topic retrorun/+/cmd/+ in 1 "" site/{site}/',
            "topic homeassistant/device/+/config out 1",
            "topic homeassistant/status in 1",
        ]
    config = directory / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def state_payload(elapsed_s: float) -> bytes:
    state = SessionState(
        t=elapsed_s,
        speed_kmh=2.5 + random.random() * 0.1,
        incline_pct=0.0,
        distance_m=elapsed_s * 0.7,
        elapsed_s=elapsed_s,
        heart_rate_bpm=110,
        direction=Direction.BACKWARD,
        step=1,
        step_label="Backward walk",
        step_remaining_s=600 - elapsed_s,
        program="bench",
        status=Status.RUNNING,
        ceiling_kmh=4.0,
        target_kmh=2.5,
    )
    return json.dumps(state.to_json_dict()).encode()


def event_payload(t: float) -> bytes:
    event = CeilingClamped(t=t, message="clamped", ceiling_kmh=4.0, requested_kmh=5.0)
    return json.dumps(event.to_json_dict()).encode()


@dataclass
class Tally:
    sent_states: dict[tuple[str, float], int] = field(default_factory=dict)
    sent_events: dict[tuple[str, float], int] = field(default_factory=dict)
    got_states: dict[tuple[str, float], int] = field(default_factory=dict)
    got_events: dict[tuple[str, float], int] = field(default_factory=dict)


async def treadmill(
    index: int, port: int, seconds: float, *, tally: Tally, start: float, stop: asyncio.Event
) -> None:
    client_id = f"bench-{index:03d}"
    will = aiomqtt.Will(f"retrorun/{client_id}/availability", b"offline", qos=1, retain=True)
    async with aiomqtt.Client("127.0.0.1", port, identifier=client_id, will=will) as client:
        await client.publish(f"retrorun/{client_id}/availability", b"online", qos=1, retain=True)
        phase = random.random()
        await asyncio.sleep(max(0.0, start + phase - time.monotonic()))
        tick = 0
        while not stop.is_set() and tick < seconds:
            elapsed = float(tick)
            tally.sent_states[(client_id, elapsed)] = time.monotonic_ns()
            await client.publish(f"retrorun/{client_id}/state", state_payload(elapsed), retain=True)
            if tick % 10 == 5:
                t = elapsed + 0.5
                tally.sent_events[(client_id, t)] = time.monotonic_ns()
                await client.publish(f"retrorun/{client_id}/event", event_payload(t), qos=1)
            tick += 1
            await asyncio.sleep(max(0.0, start + phase + tick - time.monotonic()))


async def read_watch(process: asyncio.subprocess.Process, tally: Tally) -> None:
    assert process.stdout is not None
    while line := await process.stdout.readline():
        now = time.monotonic_ns()
        data = json.loads(line)
        if data["change"] == "state" and "elapsed_s" in data:
            tally.got_states.setdefault((data["id"], data["elapsed_s"]), now)
        elif data["change"] == "event" and data["event"].get("kind") == "ceiling_clamped":
            tally.got_events.setdefault((data["id"], data["event"]["t"]), now)


def latencies_ms(
    sent: dict[tuple[str, float], int], got: dict[tuple[str, float], int]
) -> list[float]:
    return [(got[k] - sent[k]) / 1e6 for k in sent if k in got]


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


async def run_one(n: int, seconds: float, restart: bool, outage: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="retrorun-fleet-") as tmp:
        root = Path(tmp)
        central_port = free_port()
        central = Mosquitto(broker_config(root / "central", central_port, None, ""), central_port)
        central.start()
        edges = []
        for e in range((n + PER_EDGE - 1) // PER_EDGE):
            port = free_port()
            edge = Mosquitto(
                broker_config(root / f"edge{e}", port, central_port, f"room-{e}"), port
            )
            edge.start()
            edges.append(edge)
        await asyncio.sleep(1.5)  # bridges connect
        watch = await asyncio.create_subprocess_exec(
            RETRORUN,
            "watch",
            f"mqtt://127.0.0.1:{central_port}",
            "--prefix",
            "site/+",
            "--json",
            "--client-id",
            "bench",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        tally = Tally()
        reader = asyncio.create_task(read_watch(watch, tally))
        await asyncio.sleep(1.5)  # the watcher subscribes
        stop = asyncio.Event()
        start = time.monotonic() + 1.0
        cpu0 = [central.cpu(), *(e.cpu() for e in edges)]
        watch_cpu0 = cpu_seconds(watch.pid)
        tasks = [
            asyncio.create_task(
                treadmill(
                    i, edges[i // PER_EDGE].port, seconds, tally=tally, start=start, stop=stop
                )
            )
            for i in range(n)
        ]
        if restart:
            await asyncio.sleep(seconds / 3)
            central.stop()
            await asyncio.sleep(outage)
            central.start()
        await asyncio.gather(*tasks)
        await asyncio.sleep(3.0 if not restart else 8.0)  # the last ones arrive
        wall = seconds + 1.0
        cpu1 = [central.cpu(), *(e.cpu() for e in edges)]
        watch_cpu = cpu_seconds(watch.pid) - watch_cpu0
        rss = peak_rss_mb(watch.pid)
        watch.terminate()
        await watch.wait()
        reader.cancel()
        for edge in edges:
            edge.stop()
        central.stop()
    states = latencies_ms(tally.sent_states, tally.got_states)
    events = latencies_ms(tally.sent_events, tally.got_events)
    return {
        "n": n,
        "restart": restart,
        "states": f"{len(states)}/{len(tally.sent_states)}",
        "events": f"{len(events)}/{len(tally.sent_events)}",
        "state_p50_ms": round(pct(states, 50), 1),
        "state_p99_ms": round(pct(states, 99), 1),
        "event_p99_ms": round(pct(events, 99), 1),
        "central_cpu_pct": round(100 * (cpu1[0] - cpu0[0]) / wall, 1),
        "edges_cpu_pct": round(
            100 * sum(b - a for a, b in zip(cpu0[1:], cpu1[1:], strict=True)) / wall, 1
        ),
        "watch_cpu_pct": round(100 * watch_cpu / wall, 1),
        "watch_rss_mb": round(rss, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--restart", action="store_true", help="also with the central restarted")
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args()
    modes = [False, True] if args.restart else [False]
    for restart in modes:
        for n in args.n:
            print(json.dumps(await run_one(n, args.seconds, restart, args.outage)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
