"""Real mosquitto brokers for the tests: the suite's one broker fixture module.

Registered for the whole suite in tests/conftest.py, so every test folder gets the
``make_broker`` and ``broker`` fixtures, and imports the rest by name
(``from mosquitto_support import Broker``): the MQTT sink's tests, the doctor's
and the fleet's bridged pair (which writes its configurations from docs/fleet.md
and starts them with :meth:`Broker.configured`).

A real mosquitto per test: a free loopback port, its own config, users, ACL and
TLS. Never the system broker (there may be one on 1883). When ``mosquitto`` is
missing and we are root, ``apt-get install -y mosquitto mosquitto-clients`` is
tried once; otherwise the tests fail with one line saying so.

aiomqtt and cryptography load when a test first needs them, not with the plugin:
most of the suite never starts a broker.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from process_support import stop_process

if TYPE_CHECKING:
    import aiomqtt

__all__ = [
    "Broker",
    "BrokerFactory",
    "TlsFiles",
    "broker",
    "ensure_mosquitto",
    "free_port",
    "make_broker",
    "make_tls",
    "which",
    "write_passwords",
]

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def which(name: str) -> str | None:
    """``shutil.which``, also looking in the sbin folders (mosquitto lives there)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(name, path=path)


def ensure_mosquitto() -> tuple[str, str]:
    """The paths of ``mosquitto`` and ``mosquitto_passwd`` (installed once if missing)."""
    broker, passwd = which("mosquitto"), which("mosquitto_passwd")
    if broker is None or passwd is None:
        apt = which("apt-get")
        if apt is not None and os.geteuid() == 0:
            subprocess.run(
                [apt, "install", "-y", "mosquitto", "mosquitto-clients"],
                check=False,
                capture_output=True,
                timeout=300,
            )
        broker, passwd = which("mosquitto"), which("mosquitto_passwd")
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


def write_passwords(path: Path, users: Mapping[str, str]) -> Path:
    """A mosquitto password file at ``path`` with ``users`` (name -> password)."""
    _, passwd = ensure_mosquitto()
    for i, (user, password) in enumerate(users.items()):
        flags = ["-b", "-c"] if i == 0 else ["-b"]
        subprocess.run([passwd, *flags, str(path), user, password], check=True, capture_output=True)
    return path


@dataclass
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> TlsFiles:
    """A test CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
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
    """One mosquitto process; ``restart`` keeps the port (retained messages are lost
    unless its configuration persists them)."""

    binary: str
    directory: Path
    port: int
    config: Path
    tls: TlsFiles | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    host: str = "127.0.0.1"

    @classmethod
    def configured(
        cls, directory: Path, name: str, text: str, port: int, *, tls: TlsFiles | None = None
    ) -> Broker:
        """A broker (not started yet) running ``text``, written to ``directory/name``.

        As root, ``user root`` is added: mosquitto otherwise drops to the
        ``mosquitto`` user, who cannot read files in a test's temporary folder.
        """
        binary, _ = ensure_mosquitto()
        config = directory / name
        as_root = "user root\n" if os.geteuid() == 0 else ""
        config.write_text(text.rstrip("\n") + "\n" + as_root)
        return cls(binary, directory, port, config, tls=tls)

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
        stop_process(self.process)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, **kwargs: Any) -> aiomqtt.Client:
        """A test client (the observer, or a hostile user) on this broker."""
        import aiomqtt

        if self.tls is not None:
            kwargs.setdefault("tls_params", aiomqtt.TLSParameters(ca_certs=str(self.tls.ca)))
        kwargs.setdefault("timeout", 5)
        return aiomqtt.Client(self.host, self.port, **kwargs)


BrokerFactory = Callable[..., Broker]


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[BrokerFactory]:
    """``make_broker(users={...}, acl="...", tls=False)`` -> a started :class:`Broker`."""
    brokers: list[Broker] = []

    def factory(
        *, users: dict[str, str] | None = None, acl: str | None = None, tls: bool = False
    ) -> Broker:
        directory = tmp_path / f"broker{len(brokers)}"
        directory.mkdir()
        port = free_port()
        lines = [f"listener {port} 127.0.0.1", "persistence false", "log_type all"]
        if users:
            password_file = write_passwords(directory / "passwd", users)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if acl is not None:
            acl_file = directory / "acl"
            acl_file.write_text(acl)
            lines.append(f"acl_file {acl_file}")
        tls_files = make_tls(directory) if tls else None
        if tls_files is not None:
            lines += [
                f"cafile {tls_files.ca}",
                f"certfile {tls_files.cert}",
                f"keyfile {tls_files.key}",
            ]
        broker = Broker.configured(
            directory, "mosquitto.conf", "\n".join(lines), port, tls=tls_files
        )
        brokers.append(broker)
        broker.start()
        return broker

    yield factory
    for broker in brokers:
        broker.stop()


@pytest.fixture
def broker(make_broker: BrokerFactory) -> Broker:
    """An anonymous broker."""
    return make_broker()
