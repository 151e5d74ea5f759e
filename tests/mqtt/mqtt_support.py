"""Test support for the MQTT sink: a real mosquitto, an observer, a fake session.

A real mosquitto per test: a free loopback port, its own config, users, ACL and TLS.

Never the system broker (there may be one on 1883). When ``mosquitto`` is missing
and we are root, ``apt-get install -y mosquitto mosquitto-clients`` is tried once;
otherwise the tests fail with one line saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from retrorun.bus import EventBus
from retrorun.events import (
    CommandAck,
    Direction,
    RemoteCommand,
    SessionState,
    Status,
)
from retrorun.sinks.mqtt import MqttSettings, MqttSink, mqtt_settings

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def _which(name: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(name, path=path)


def ensure_mosquitto() -> tuple[str, str]:
    broker, passwd = _which("mosquitto"), _which("mosquitto_passwd")
    if broker is None or passwd is None:
        apt = _which("apt-get")
        if apt is not None and os.geteuid() == 0:
            subprocess.run(
                [apt, "install", "-y", "mosquitto", "mosquitto-clients"],
                check=False,
                capture_output=True,
                timeout=300,
            )
        broker, passwd = _which("mosquitto"), _which("mosquitto_passwd")
    if broker is None or passwd is None:
        pytest.fail(
            "mosquitto not found and not installable here: "
            "apt-get install -y mosquitto mosquitto-clients",
            pytrace=False,
        )
    return broker, passwd


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A test CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "retrorun test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return files


@dataclass
class Broker:
    """One mosquitto process; ``restart`` keeps the port (retained messages are lost)."""

    binary: str
    directory: Path
    port: int
    config: Path
    tls: TlsFiles | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def start(self) -> None:
        assert self.process is None
        log = (self.directory / "mosquitto.out").open("ab")
        with log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = (self.directory / "mosquitto.out").read_text(errors="replace")
                self.process = None
                pytest.fail(f"mosquitto exited at start: {output.strip()[-300:]}", pytrace=False)
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail("mosquitto did not open its port within 10 s", pytrace=False)

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

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, **kwargs: Any) -> aiomqtt.Client:
        """A test client (the observer, or a hostile user) on this broker."""
        if self.tls is not None:
            kwargs.setdefault("tls_params", aiomqtt.TLSParameters(ca_certs=str(self.tls.ca)))
        kwargs.setdefault("timeout", 5)
        return aiomqtt.Client(self.host, self.port, **kwargs)


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
