"""Fixtures: a real mosquitto per test (never the system broker on 1883)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mqtt_support import Broker, ensure_mosquitto, free_port, make_tls

BrokerFactory = Callable[..., Broker]


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[BrokerFactory]:
    """``make_broker(users={...}, acl="...", tls=False)`` -> a started :class:`Broker`."""
    binary, passwd = ensure_mosquitto()
    brokers: list[Broker] = []

    def factory(
        *, users: dict[str, str] | None = None, acl: str | None = None, tls: bool = False
    ) -> Broker:
        directory = tmp_path / f"broker{len(brokers)}"
        directory.mkdir()
        port = free_port()
        lines = [f"listener {port} 127.0.0.1", "persistence false", "log_type all"]
        if os.geteuid() == 0:
            lines.append("user root")
        if users:
            password_file = directory / "passwd"
            for i, (user, password) in enumerate(users.items()):
                flags = ["-b", "-c"] if i == 0 else ["-b"]
                subprocess.run(
                    [passwd, *flags, str(password_file), user, password],
                    check=True,
                    capture_output=True,
                )
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
        config = directory / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        broker = Broker(binary, directory, port, config, tls=tls_files)
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
