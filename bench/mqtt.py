"""MQTT publishing figures through a real mosquitto on loopback, in one run.

1. Latency of one telemetry record from the session to an MQTT subscriber: the time
   from ``Session`` publishing the ``SessionState`` for a telemetry record onto its
   ``EventBus`` to an independent aiomqtt subscriber (a separate process) receiving
   it on ``retrorun/<id>/state``, p50/p99. One real simulated session
   (``retrorun.app.prepare`` + ``run_prepared``: embedded simulator, bumble BLE link,
   ``Treadmill``, governor, ``Session``, plain sink, recorder, ``MqttSink``) at 1x.
2. How many treadmill sessions one process can publish for at 1 Hz with p99 under
   20 ms: N concurrent sessions in one event loop, each with its own MQTT id, N
   rising until p99 misses (or a cap); per N the p50/p99 latency, states received
   of those published, CPU (this process, mosquitto, the subscriber), event-loop lag
   and the longest garbage collection. Measured twice,
   side by side: (a) full simulated sessions, as above; (b) the MQTT path alone, N
   ``MqttSink`` fed synthetic ``SessionState`` at 1 Hz (random phases), to show
   whether the sessions or MQTT set the limit.

Timestamps: ``time.monotonic_ns`` (CLOCK_MONOTONIC, the same clock in the publishing
process and the subscriber process). The bench starts its own mosquitto (a fresh one
per measurement, on a free loopback port, with its own temporary config) and never
touches a system broker. Run:

    .venv/bin/python bench/mqtt.py            # full run, about 12 minutes
    .venv/bin/python bench/mqtt.py --quick    # smoke run, about 75 seconds

Exits 0 whether or not a target is met; 2 (one line) when mosquitto is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import platform
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO, TypeVar

import aiomqtt

from figures import pct, verdict
from retrorun import clock
from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.bus import EventBus, Item
from retrorun.events import Direction, RemoteCommand, SessionState, Status
from retrorun.session import Session
from retrorun.sinks.mqtt import MqttSink, mqtt_settings

TARGET_P99_MS: Final = 20.0
STATE_FILTER: Final = "retrorun/+/state"
SBIN_DIRS: Final = ("/usr/sbin", "/usr/local/sbin", "/sbin")
FULL_SESSION_LEVELS: Final = (1, 5, 10, 20, 40, 80, 160, 320, 640)
MQTT_ONLY_LEVELS: Final = (1, 10, 50, 100, 200, 400, 700, 1000, 1400, 2000, 3000)
QUICK_SESSION_LEVELS: Final = (1, 3)
QUICK_MQTT_ONLY_LEVELS: Final = (1, 10, 50)
WARMUP_S: Final = 3.0  # after every session publishes, before the window opens
LOOP_LAG_INTERVAL_S: Final = 0.05
PR_SET_PDEATHSIG: Final = 1  # prctl(2)

# One long forward step: a session that outlasts any measurement window.
BENCH_PROGRAM: Final = """\
name = "MQTT bench"
description = "One long easy forward walk, for bench/mqtt.py"
profile = "novice"

[[steps]]
kind = "work"
direction = "forward"
duration = "60min"
speed_kmh = 3.0
label = "Easy forward walk"
"""

SCRIPT: Final = Path(__file__).resolve()

T = TypeVar("T")
StateKey = tuple[str, float]  # (MQTT id, elapsed_s as the state payload carries it)


# -- figures ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LevelResult:
    """One measurement window at one N."""

    n: int
    started: int
    latencies_ms: list[float]
    expected: int
    wall_s: float
    cpu_s: float
    broker_cpu_s: float
    subscriber_cpu_s: float
    loop_lag_ms: list[float]
    gc_pauses_ms: list[float]
    note: str = ""

    @property
    def received(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50(self) -> float:
        return pct(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return pct(self.latencies_ms, 0.99)

    @property
    def cpu_pct(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s

    @property
    def broker_cpu_pct(self) -> float:
        return 100.0 * self.broker_cpu_s / self.wall_s

    @property
    def subscriber_cpu_pct(self) -> float:
        return 100.0 * self.subscriber_cpu_s / self.wall_s

    @property
    def passed(self) -> bool:
        """p99 under target, every session running and every state received."""
        return (
            self.started == self.n
            and self.expected > 0
            and self.received == self.expected
            and self.p99 < TARGET_P99_MS
        )


# -- the broker ------------------------------------------------------------------------


def find_mosquitto() -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    for directory in path.split(os.pathsep):
        candidate = Path(directory) / "mosquitto"
        if directory and candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def mosquitto_version(binary: str) -> str:
    """``2.0.11``, from the line of ``mosquitto -h`` that names it (it exits non-zero)."""
    result = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10, check=False)
    for line in (result.stdout + result.stderr).splitlines():
        if "version" in line:
            return line.rsplit("version", 1)[1].strip()
    return "unknown"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc (0.0 if unreadable)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:
    """In the broker's process, before exec: SIGTERM it when the bench dies (Linux).

    The bench stops its broker on every exit it unwinds from; this covers SIGKILL and
    anything else that ends it without unwinding.
    """
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Broker:
    """One anonymous mosquitto on a free loopback port with its own config."""

    binary: str
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def cpu_s(self) -> float:
        return process_cpu_s(self.process.pid) if self.process is not None else 0.0

    def start(self) -> None:
        self.port = free_port()
        self.directory.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            f"log_dest file {self.directory / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to a user that cannot log here
        config = self.directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        out = self.directory / "mosquitto.out"
        with out.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                text = out.read_text(errors="replace").strip()[-300:]
                raise RuntimeError(f"mosquitto exited at start: {text}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("mosquitto did not open its port within 10 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@contextlib.contextmanager
def running_broker(binary: str, directory: Path) -> Iterator[Broker]:
    broker = Broker(binary, directory)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# -- the subscriber (a separate process) -----------------------------------------------


async def subscriber_main(port: int, out: Path) -> int:
    """Receive ``retrorun/+/state`` until SIGTERM; write ``recv_ns id elapsed_s`` lines.

    Also ends (code 1) if the broker goes away, and when the bench process is gone.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    bench = os.getppid()
    received: list[tuple[int, str, bytes]] = []
    gc.disable()  # the observer keeps its own pauses out of the figures (it is short-lived)
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-observer", timeout=10) as c:
        await c.subscribe(STATE_FILTER, qos=0)
        print("ready", flush=True)

        async def collect() -> None:
            async for message in c.messages:
                now = time.monotonic_ns()
                if message.retain:
                    continue  # an old state, sent because we subscribed
                payload = message.payload
                data = bytes(payload) if isinstance(payload, bytes | bytearray) else b""
                received.append((now, message.topic.value, data))

        collector = asyncio.create_task(collect())
        stopped = asyncio.create_task(stop.wait())
        while not (stopped.done() or collector.done()) and os.getppid() == bench:
            await asyncio.wait({stopped, collector}, timeout=0.5)
        stopped.cancel()
        collector.cancel()
        lost = await asyncio.gather(collector, return_exceptions=True)
    write_receipts(out, received)
    return 0 if isinstance(lost[0], asyncio.CancelledError) and stop.is_set() else 1


def write_receipts(out: Path, received: list[tuple[int, str, bytes]]) -> None:
    with out.open("w") as f:
        for now, topic, data in received:
            client_id = topic.split("/")[1]
            elapsed = json.loads(data)["elapsed_s"]
            f.write(f"{now} {client_id} {elapsed!r}\n")


class Subscriber:
    """The observer process: started per measurement, receipts read back at the end."""

    def __init__(self, port: int, directory: Path) -> None:
        self._port = port
        self._out = directory / f"receipts-{port}.txt"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--subscriber-port",
            str(self._port),
            "--subscriber-out",
            str(self._out),
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 30)
        if line.strip() != b"ready":
            await self.kill()
            raise RuntimeError(f"the subscriber did not start: {line!r}")

    @property
    def cpu_s(self) -> float:
        return process_cpu_s(self._process.pid) if self._process is not None else 0.0

    async def finish(self) -> dict[StateKey, int]:
        """Stop it; receipt time per state key (the first receipt of each)."""
        process = self._process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(process.wait(), 30)
        finally:
            await self.kill()
        if code != 0:
            raise RuntimeError(f"the subscriber failed (exit code {code}): lost the broker?")
        receipts: dict[StateKey, int] = {}
        for line in self._out.read_text().splitlines():
            recv_ns, client_id, elapsed = line.split()
            receipts.setdefault((client_id, float(elapsed)), int(recv_ns))
        return receipts

    async def kill(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None


# -- what the publishing process measures ----------------------------------------------


class PublishTimes:
    """When each state went onto a session's bus, keyed as the subscriber sees it."""

    def __init__(self) -> None:
        self.at: dict[StateKey, int] = {}
        self.count: dict[str, int] = {}

    def instrument(self, bus: EventBus, client_id: str) -> None:
        """Stamp every state ``bus`` publishes (just before the bus hands it out)."""
        original = bus.publish

        def publish(item: Item) -> None:
            if isinstance(item, SessionState):
                self.stamp(client_id, item.elapsed_s)
            original(item)

        bus.publish = publish  # type: ignore[method-assign]

    def stamp(self, client_id: str, elapsed_s: float) -> None:
        self.at[(client_id, round(elapsed_s, 1))] = time.monotonic_ns()
        self.count[client_id] = self.count.get(client_id, 0) + 1

    def latencies_ms(
        self, receipts: dict[StateKey, int], start_ns: int, end_ns: int
    ) -> tuple[list[float], int]:
        """Latencies of the states published in [start, end) that arrived; how many there were."""
        window = {key: t for key, t in self.at.items() if start_ns <= t < end_ns}
        latencies = [
            (receipts[key] - published) / 1e6
            for key, published in window.items()
            if key in receipts
        ]
        return latencies, len(window)


class GcPauses:
    """How long each garbage collection in this process took, while watching."""

    def __init__(self) -> None:
        self.pauses_ms: list[float] = []
        self._started_ns = 0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        del info
        if phase == "start":
            self._started_ns = time.perf_counter_ns()
        elif self._started_ns:
            self.pauses_ms.append((time.perf_counter_ns() - self._started_ns) / 1e6)


def stop_on_signals() -> None:
    """SIGINT/SIGTERM cancel the measurement (sessions stop their belts, brokers stop).

    Each ``run_prepared`` installs its own handlers (which end only that session), so
    this goes in after every session has started.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)


def watch_loop_errors() -> list[str]:
    """Collect what the running loop would log as unhandled errors (e.g. in callbacks)."""
    errors: list[str] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        del loop
        exc = context.get("exception")
        errors.append(f"{context.get('message', '')}: {exc!r}" if exc else context["message"])

    asyncio.get_running_loop().set_exception_handler(handler)
    return errors


@dataclass
class Window:
    """Wall time, CPU (own, broker's, subscriber's) and loop lag over one window."""

    broker: Broker
    subscriber: Subscriber
    start_ns: int = 0
    end_ns: int = 0
    lag_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    broker_cpu_s: float = 0.0
    subscriber_cpu_s: float = 0.0
    gc: GcPauses = field(default_factory=GcPauses)
    _lag_task: asyncio.Task[None] | None = None

    def open(self) -> None:
        self.cpu_s = time.process_time()
        self.broker_cpu_s = self.broker.cpu_s
        self.subscriber_cpu_s = self.subscriber.cpu_s
        self._lag_task = asyncio.create_task(self._measure_lag())
        self.gc.__enter__()
        self.start_ns = time.monotonic_ns()

    async def close(self) -> None:
        self.end_ns = time.monotonic_ns()
        self.gc.__exit__()
        self.cpu_s = time.process_time() - self.cpu_s
        self.broker_cpu_s = self.broker.cpu_s - self.broker_cpu_s
        self.subscriber_cpu_s = self.subscriber.cpu_s - self.subscriber_cpu_s
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task

    @property
    def wall_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def result(
        self,
        n: int,
        started: int,
        latencies_ms: list[float],
        expected: int,
        *,
        notes: Sequence[str],
        loop_errors: Sequence[str],
    ) -> LevelResult:
        if loop_errors:
            notes = [*notes, f"{len(loop_errors)} loop errors, first: {loop_errors[0]}"[:200]]
        return LevelResult(
            n=n,
            started=started,
            latencies_ms=latencies_ms,
            expected=expected,
            wall_s=self.wall_s,
            cpu_s=self.cpu_s,
            broker_cpu_s=self.broker_cpu_s,
            subscriber_cpu_s=self.subscriber_cpu_s,
            loop_lag_ms=self.lag_ms,
            gc_pauses_ms=self.gc.pauses_ms,
            note="; ".join(note for note in notes if note),
        )

    async def _measure_lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LOOP_LAG_INTERVAL_S)
            self.lag_ms.append((loop.time() - before - LOOP_LAG_INTERVAL_S) * 1000)


@dataclass(frozen=True, slots=True)
class Setup:
    """What every measurement shares."""

    seconds: float  # the measurement window
    workdir: Path
    program: Path
    aligned: bool  # every session's 1 Hz on the same phase (a burst each second)
    gc_freeze: bool = False  # gc.freeze() once everything has started

    def settle_gc(self) -> None:
        """With ``gc_freeze``: move everything built so far out of the collector's sight."""
        if self.gc_freeze:
            gc.collect()
            gc.freeze()

    def phases(self, n: int) -> list[float]:
        """Each session's offset into the second: random (seeded by N) unless aligned."""
        if self.aligned:
            return [0.0] * n
        rng = random.Random(n)
        return [rng.random() for _ in range(n)]


# -- (a) full simulated sessions --------------------------------------------------------


async def full_sessions(n: int, broker: Broker, setup: Setup, *, out: TextIO) -> LevelResult:
    """N real ``retrorun run`` sessions, each with its embedded simulator, at 1x.

    Each starts after its phase offset, so the simulators' 1 Hz telemetry is spread
    over the second as for independent treadmills. ``out`` takes what they print.
    """
    loop_errors = watch_loop_errors()
    times = PublishTimes()
    sessions: dict[str, Session] = {}
    ids = [f"bench_s{i}" for i in range(n)]
    records = [setup.workdir / f"{client_id}-{broker.port}.jsonl" for client_id in ids]
    subscriber = Subscriber(broker.port, setup.workdir)
    await subscriber.start()
    tasks: list[asyncio.Task[int]] = []
    window = Window(broker, subscriber)
    try:
        phases = setup.phases(n)
        for client_id, record, phase in zip(ids, records, phases, strict=True):
            options = RunOptions(
                program=str(setup.program),
                yes=True,  # unattended: no pre-flight confirmation
                plain=True,
                voice="off",
                record=record,
                mqtt_url=broker.url,
                mqtt_id=client_id,
            )

            def attach(session: Session, client_id: str = client_id) -> None:
                sessions[client_id] = session
                times.instrument(session.bus, client_id)

            session_run = run_prepared(prepare(options), stdout=out, on_session=attach)
            tasks.append(asyncio.create_task(_after(phase, session_run), name=client_id))
        await asyncio.sleep(max(phases) + 0.1)  # every run_prepared has begun
        stop_on_signals()
        started = await _wait_started(times, ids, tasks, timeout=30.0 + 0.5 * n)
        setup.settle_gc()
        await asyncio.sleep(WARMUP_S)
        window.open()
        await asyncio.sleep(setup.seconds)
        await window.close()
        for session in sessions.values():
            session.request("stop", source="bench")
        problems = await _finish(tasks, timeout=30.0 + 0.2 * n)
        await asyncio.sleep(0.5)  # anything still in flight
        receipts = await subscriber.finish()
    finally:
        await _end_level(tasks, subscriber)
    warnings = _sink_warnings(records)
    notes = [problems, f"{warnings} sink_warning events in the records" if warnings else ""]
    latencies, expected = times.latencies_ms(receipts, window.start_ns, window.end_ns)
    return window.result(n, started, latencies, expected, notes=notes, loop_errors=loop_errors)


async def _after(delay: float, coroutine: Coroutine[Any, Any, T]) -> T:
    await asyncio.sleep(delay)
    return await coroutine


async def _wait_started(
    times: PublishTimes, ids: list[str], tasks: list[asyncio.Task[int]], timeout: float
) -> int:
    """Wait until every session has published two states (or all ended, or timed out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def running() -> int:
        return sum(1 for i in ids if times.count.get(i, 0) >= 2)

    while running() < len(ids) and loop.time() < deadline:
        if all(task.done() for task in tasks):
            break
        await asyncio.sleep(0.1)
    return running()


async def _finish(tasks: list[asyncio.Task[int]], timeout: float) -> str:
    """Wait for the sessions to end; a short note on any that failed."""
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    problems: list[str] = []
    if pending:
        problems.append(f"{len(pending)} did not end within {timeout:.0f} s")
    failed = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
    if failed:
        problems.append(f"{len(failed)} failed, first: {failed[0]!r}"[:160])
    return "; ".join(problems)


async def _end_level(tasks: Sequence[asyncio.Task[Any]], subscriber: Subscriber) -> None:
    """However a level ends: its tasks cancelled and awaited, its subscriber killed,
    the collector thawed (``--gc-freeze``) for the next level."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await subscriber.kill()
    gc.unfreeze()


def _sink_warnings(records: list[Path]) -> int:
    """``sink_warning`` events in the session records (MQTT trouble shows up there)."""
    count = 0
    for record in records:
        with contextlib.suppress(OSError):
            count += record.read_text().count('"sink_warning"')
    return count


# -- (b) the MQTT path alone -------------------------------------------------------------


class _NoControls:
    """Session controls that refuse everything (nothing sends commands here)."""

    def request(self, command: RemoteCommand, *, source: str) -> bool:
        del command, source
        return False


def synthetic_state(k: int) -> SessionState:
    """A state like a running session's; ``elapsed_s`` = ``k`` makes each one unique."""
    return SessionState(
        t=float(k),
        speed_kmh=3.0,
        incline_pct=1.0,
        distance_m=k * 0.83,
        elapsed_s=float(k),
        heart_rate_bpm=118,
        direction=Direction.BACKWARD,
        step=1,
        step_label="Backward walk",
        step_remaining_s=max(0.0, 600.0 - k),
        program="MQTT bench",
        status=Status.RUNNING,
        ceiling_kmh=4.0,
        target_kmh=3.0,
        steps_total=3,
    )


async def mqtt_only(n: int, broker: Broker, setup: Setup) -> LevelResult:
    """N ``MqttSink``, each on its own bus fed a synthetic state at 1 Hz."""
    stop_on_signals()
    loop_errors = watch_loop_errors()
    times = PublishTimes()
    subscriber = Subscriber(broker.port, setup.workdir)
    await subscriber.start()
    buses: list[EventBus] = []
    sinks: list[MqttSink] = []
    tasks: list[asyncio.Task[None]] = []
    warnings: list[str] = []
    window = Window(broker, subscriber)
    try:
        for i in range(n):
            settings = mqtt_settings(
                broker.url, client_id=f"bench_m{i}", device_address=None, environ={}
            )
            assert settings is not None
            bus = EventBus()
            subscription = bus.subscribe("mqtt", maxsize=512)  # as retrorun.app does
            sink = MqttSink(subscription, _NoControls(), settings, on_warning=warnings.append)
            times.instrument(bus, settings.client_id)
            buses.append(bus)
            sinks.append(sink)
            tasks.append(asyncio.create_task(sink.run(), name=f"sink-{i}"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30.0 + 0.02 * n
        while loop.time() < deadline:
            if all(s.connected for s in sinks):
                break
            await asyncio.sleep(0.05)
        connected = sum(1 for s in sinks if s.connected)
        setup.settle_gc()
        ticks = round(WARMUP_S + setup.seconds) + 2
        origin = loop.time() + 0.1
        feeders = [
            asyncio.create_task(_feed(bus, origin + phase, ticks))
            for bus, phase in zip(buses, setup.phases(n), strict=True)
        ]
        await asyncio.sleep(origin + WARMUP_S - loop.time())
        window.open()
        await asyncio.sleep(setup.seconds)
        await window.close()
        await asyncio.gather(*feeders)
        await asyncio.sleep(0.5)  # anything still in flight
        for bus in buses:
            bus.close()
        await asyncio.wait(tasks, timeout=30.0)
        receipts = await subscriber.finish()
    finally:
        await _end_level(tasks, subscriber)
    latencies, expected = times.latencies_ms(receipts, window.start_ns, window.end_ns)
    note = f"{len(warnings)} sink warnings, first: {warnings[0]}"[:200] if warnings else ""
    return window.result(n, connected, latencies, expected, notes=[note], loop_errors=loop_errors)


async def _feed(bus: EventBus, first: float, ticks: int) -> None:
    """Publish state ``k`` at ``first + k`` (loop time), like a treadmill at 1 Hz."""
    loop = asyncio.get_running_loop()
    for k in range(ticks):
        await asyncio.sleep(max(0.0, first + k - loop.time()))
        bus.publish(synthetic_state(k))


# -- the run ---------------------------------------------------------------------------

COLUMNS: Final = (
    f"  {'N':>5} {'up':>5} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'received':>13}"
    f" {'lost':>4} {'CPU %':>6} {'broker %':>8} {'sub %':>6} {'lag p99 ms':>10}"
    f" {'GC max ms':>9}"
    f"  p99 < {TARGET_P99_MS:g} ms"
)


def print_row(r: LevelResult) -> None:
    worst = max(r.latencies_ms) if r.latencies_ms else float("nan")
    print(
        f"  {r.n:>5} {r.started:>5} {r.p50:>7.2f} {r.p99:>7.2f} {worst:>7.2f}"
        f" {f'{r.received}/{r.expected}':>13} {r.expected - r.received:>4}"
        f" {r.cpu_pct:>6.1f} {r.broker_cpu_pct:>8.1f} {r.subscriber_cpu_pct:>6.1f}"
        f" {pct(r.loop_lag_ms, 0.99):>10.2f} {max(r.gc_pauses_ms, default=0.0):>9.1f}"
        f"  {verdict(r.passed)}",
        flush=True,
    )
    if r.note:
        print(f"        note: {r.note}", flush=True)


def sweep(
    title: str,
    levels: Sequence[int],
    measure: Callable[[int, Broker], LevelResult],
    binary: str,
    directory: Path,
) -> list[LevelResult]:
    """Measure rising N (a fresh broker each) until one misses; the results so far."""
    print(title, flush=True)
    print(COLUMNS)
    results: list[LevelResult] = []
    for n in levels:
        with running_broker(binary, directory / f"broker-{n}") as broker:
            result = measure(n, broker)
        results.append(result)
        print_row(result)
        if not result.passed:
            break
    best = largest_passing(results)
    last = results[-1].n if results else 0
    label = f"largest N with p99 < {TARGET_P99_MS:g} ms and no loss"
    if results and results[-1].passed:
        print(f"  {label}: >= {best} (no miss up to N = {last}, the cap of this run)")
    else:
        print(f"  {label}: {best} (missed at N = {last})")
    print(flush=True)
    return results


def largest_passing(results: list[LevelResult]) -> int:
    return max((r.n for r in results if r.passed), default=0)


def marginal_cpu_ms(results: list[LevelResult]) -> float:
    """Process CPU per session per second (= per state at 1 Hz), fixed costs taken out.

    The slope of CPU between the smallest and the largest N measured; NaN with one N.
    """
    measured = [r for r in results if r.wall_s > 0]
    if len(measured) < 2:
        return float("nan")
    low, high = measured[0], measured[-1]
    return 1000.0 * (high.cpu_s / high.wall_s - low.cpu_s / low.wall_s) / (high.n - low.n)


def side_by_side(full: list[LevelResult], alone: list[LevelResult]) -> None:
    full_best, alone_best = largest_passing(full), largest_passing(alone)
    full_capped = bool(full) and full[-1].passed
    alone_capped = bool(alone) and alone[-1].passed
    if full_capped and alone_capped:
        bound = "; both runs hit their cap, so this says little"
    elif full_capped:
        bound = "; full sessions hit the cap, so at most this"
    elif alone_capped:
        bound = "; the MQTT path hit the cap, so at least this"
    else:
        bound = ""
    full_cost, alone_cost = marginal_cpu_ms(full), marginal_cpu_ms(alone)
    print("side by side (one process, one event loop, 1 Hz per session):")
    print(
        f"  largest N passing:       full sessions {'>= ' if full_capped else ''}{full_best},"
        f" MQTT path alone {'>= ' if alone_capped else ''}{alone_best}"
        f"  (ratio {alone_best / max(full_best, 1):.1f}x{bound})"
    )
    print(
        f"  process CPU per session: full session {full_cost:.3f} ms/s,"
        f" MQTT path alone {alone_cost:.3f} ms/s  (ratio {full_cost / alone_cost:.1f}x;"
        " the CPU slope between the smallest and largest N)"
    )
    print(
        f"  CPU alone would allow about {1000 / full_cost:.0f} full sessions or"
        f" {1000 / alone_cost:.0f} MQTT sinks per core; where the largest N passing is"
        " well below that,\n  latency (the event loop, GC pauses), not CPU, sets the limit"
    )


def header(binary: str, argv: list[str], *, aligned: bool, gc_freeze: bool) -> None:
    info = time.get_clock_info("monotonic")
    print("retrorun MQTT publishing benchmark")
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    print(f"  command:  {shlex.join([str(python), *argv])}  (cwd {Path.cwd()})")
    print(
        f"  python:   {platform.python_version()} ({platform.python_implementation()})"
        f" on {platform.platform()}, {os.cpu_count()} CPUs, aiomqtt {aiomqtt.__version__}"
    )
    print(
        f"  broker:   mosquitto {mosquitto_version(binary)} ({binary}), a fresh one per"
        " measurement on a free 127.0.0.1 port; anonymous, no TLS, no persistence"
    )
    print(
        "  latency:  SessionState onto the session's EventBus -> MqttSink -> aiomqtt/paho ->"
        " mosquitto -> an aiomqtt subscriber process on retrorun/+/state (QoS 0, retained)"
    )
    print(f"  clock:    time.monotonic_ns ({info.implementation}), the same in both processes")
    phases = (
        "aligned (every session on the same phase: a burst each second)"
        if aligned
        else "random (each session's 1 Hz at its own offset, as independent treadmills)"
    )
    print(f"  phases:   {phases}")
    collector = "frozen once everything has started (--gc-freeze)" if gc_freeze else "default"
    print(f"  gc:       {collector} in this process; off in the subscriber")
    print(f"  target:   p99 < {TARGET_P99_MS:g} ms and no state lost", flush=True)
    print()


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description="MQTT publishing latency and capacity through a real mosquitto."
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (about 75 s)")
    parser.add_argument(
        "--seconds", type=float, help="measurement window per N (default 25; quick 6)"
    )
    parser.add_argument(
        "--single-seconds", type=float, help="window of part 1 (default 60; quick 8)"
    )
    parser.add_argument(
        "--sessions",
        type=_levels,
        metavar="N,N,...",
        help=f"full-session counts (default {_show(FULL_SESSION_LEVELS)})",
    )
    parser.add_argument(
        "--sinks",
        type=_levels,
        metavar="N,N,...",
        help=f"MQTT-alone counts (default {_show(MQTT_ONLY_LEVELS)})",
    )
    parser.add_argument(
        "--aligned",
        action="store_true",
        help="start every session's 1 Hz on the same phase (worst case) instead of random",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once everything has started (what a many-session host could do)",
    )
    parser.add_argument("--subscriber-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--subscriber-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(args_list)

    if args.subscriber_port is not None:  # the observer process (see Subscriber)
        return asyncio.run(subscriber_main(args.subscriber_port, args.subscriber_out))

    binary = find_mosquitto()
    if binary is None:
        print(
            "bench/mqtt.py: mosquitto not found (install it: apt-get install -y mosquitto)",
            file=sys.stderr,
        )
        return 2
    seconds: float = args.seconds or (6.0 if args.quick else 25.0)
    single_s: float = args.single_seconds or (8.0 if args.quick else 60.0)
    session_levels: Sequence[int] = args.sessions or (
        QUICK_SESSION_LEVELS if args.quick else FULL_SESSION_LEVELS
    )
    sink_levels: Sequence[int] = args.sinks or (
        QUICK_MQTT_ONLY_LEVELS if args.quick else MQTT_ONLY_LEVELS
    )
    header(binary, ["bench/mqtt.py", *args_list], aligned=args.aligned, gc_freeze=args.gc_freeze)
    try:
        run_all(
            binary,
            seconds,
            single_s,
            session_levels,
            sink_levels,
            aligned=args.aligned,
            gc_freeze=args.gc_freeze,
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench/mqtt.py: interrupted (brokers and sessions stopped)", file=sys.stderr)
        return 130
    return 0


def run_all(
    binary: str,
    seconds: float,
    single_s: float,
    session_levels: Sequence[int],
    sink_levels: Sequence[int],
    *,
    aligned: bool,
    gc_freeze: bool,
) -> None:
    """Parts 1, 2a, 2b and the side-by-side figures, printed as they are measured."""
    with tempfile.TemporaryDirectory(prefix="retrorun-bench-mqtt-") as tmp:
        workdir = Path(tmp)
        program = workdir / "mqtt-bench.toml"
        program.write_text(BENCH_PROGRAM)
        setup = Setup(seconds, workdir, program, aligned, gc_freeze)

        def sessions_at(n: int, broker: Broker, setup: Setup = setup) -> LevelResult:
            with Path(os.devnull).open("w") as out:
                return clock.run(full_sessions(n, broker, setup, out=out))

        def sinks_at(n: int, broker: Broker) -> LevelResult:
            return clock.run(mqtt_only(n, broker, setup))

        print(
            "1. telemetry record -> subscriber receipt: one full simulated session at 1x,"
            f" {single_s:g} s window"
        )
        with running_broker(binary, workdir / "single") as broker:
            single = sessions_at(
                1, broker, Setup(single_s, workdir, program, aligned=True, gc_freeze=gc_freeze)
            )
        worst = max(single.latencies_ms) if single.latencies_ms else float("nan")
        mean = sum(single.latencies_ms) / max(single.received, 1)
        print(
            f"  n={single.received}  p50 {single.p50:.2f} ms  p99 {single.p99:.2f} ms"
            f"  max {worst:.2f} ms  mean {mean:.2f} ms  received {single.received}/"
            f"{single.expected}   target p99 < {TARGET_P99_MS:g} ms: {verdict(single.passed)}"
        )
        if single.note:
            print(f"  note: {single.note}")
        print(flush=True)

        print(
            "2. sessions one process can publish for at 1 Hz. Columns:\n"
            "   N asked; up = sessions publishing (2a) or sinks connected (2b);\n"
            "   received = states published in the window that the subscriber got;\n"
            "   CPU % of one core: this process, mosquitto (broker), the subscriber (sub);\n"
            "   lag p99 = how late a 50 ms timer on this event loop fires;\n"
            "   GC max = the longest garbage collection in this process during the window.\n"
        )
        full = sweep(
            "2a. full simulated sessions (prepare + run_prepared: embedded simulator + bumble BLE"
            f" link + Treadmill\n    + Session + plain sink + record + MqttSink), {seconds:g} s"
            " per N",
            session_levels,
            sessions_at,
            binary,
            workdir / "full",
        )
        alone = sweep(
            "2b. MQTT path alone (N x EventBus + MqttSink, fed synthetic SessionState at 1 Hz),"
            f" {seconds:g} s per N",
            sink_levels,
            sinks_at,
            binary,
            workdir / "alone",
        )
        side_by_side(full, alone)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of counts, not {text!r}"
        ) from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("counts must be at least 1")
    return levels


def _show(levels: Sequence[int]) -> str:
    return ",".join(str(n) for n in levels)


if __name__ == "__main__":
    sys.exit(main())
