"""Suite-wide test configuration."""

from __future__ import annotations

import asyncio

import pytest

# A real mosquitto per test (``make_broker``, ``broker``) for the MQTT, doctor and
# fleet tests alike; tests/mosquitto_support.py.
pytest_plugins = ["mosquitto_support"]


def pytest_configure(config: pytest.Config) -> None:
    # looptime's hook asks the policy for "the" event loop even around synchronous
    # tests; on Python 3.11 that silently creates a loop nobody closes, which
    # filterwarnings=error then reports as an unclosed-loop ResourceWarning. Marking
    # the main thread as having no loop makes that call raise (which looptime
    # expects) instead of creating one. pytest-asyncio sets its own loops as usual.
    del config
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def _own_config_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No developer's own ``runner.toml`` (a measured maximum, a resting rate) reaches a
    test: the runner settings are looked up in an empty folder unless a test says."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
