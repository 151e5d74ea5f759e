"""Suite-wide test configuration."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

# A real mosquitto per test (``make_broker``, ``broker``) for the MQTT, doctor and
# fleet tests alike; tests/mosquitto_support.py.
pytest_plugins = ["mosquitto_support"]

if TYPE_CHECKING:
    from xdist.remote import Producer
    from xdist.scheduler.protocol import Scheduling

    from recorded_sessions import Run

# The folders whose tests read ``recorded_runs``: under xdist they share one worker.
SHARED_FOLDERS = ("tests/report/", "tests/export/")


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


@pytest.fixture(scope="session")
def recorded_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The sessions of ``recorded_sessions.SESSIONS`` (every library program among them),
    run once per test run for the report, history and export tests alike (set up
    before any test's own fixtures, so the runner settings' folder is emptied here too)."""
    from recorded_sessions import SESSIONS, record_sessions  # the app, only when asked for

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config-home")))
        return record_sessions(tmp_path_factory.mktemp("recorded-runs"), SESSIONS)


def _work_unit(nodeid: str) -> str:
    """Where a test runs under xdist: with its file, or with the shared folders."""
    path = nodeid.split("::", 1)[0]
    return "recorded_runs" if path.startswith(SHARED_FOLDERS) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> Scheduling | None:
    """``--dist loadfile`` (``scripts/test``) with one change: the tests of the shared
    folders are one unit, so the sessions of ``recorded_runs`` run once. A file's
    tests stay on one worker, so its module fixtures are set up once and its tests
    keep their order. (Marks cannot say it: ``--dist loadgroup`` loses its groups
    on pytest 9.2.)"""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFolders(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid)

    return SharedFolders(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, the units holding a ``slow`` test or the shared folders go
    first (``scripts/test`` keeps this order with ``--no-loadscope-reorder``), so that
    no long one is left to run alone at the end while the other worker idles."""
    if not hasattr(config, "workerinput"):
        return
    heavy = {_work_unit(item.nodeid) for item in items if item.get_closest_marker("slow")}
    heavy.add("recorded_runs")
    items.sort(key=lambda item: _work_unit(item.nodeid) not in heavy)  # stable
