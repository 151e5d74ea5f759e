"""Two real ``retrorun run`` sessions started with the same ``--mqtt-id``.

The first one owns the id. The second never reaches the id's topics: it refuses to
start (exit code 2, one line, the belt never moved) once ``retrorun.app`` claims the
id before connecting to the treadmill; until then its MQTT sink stands down with a
warning while its session runs. Either way the retained state does not flap, the
second session's end does not mark the first offline, and a ``cmd/stop`` stops the
first session only.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mqtt_support import Broker, Observer, observe
from session_support import RunProcess, retrorun_run, wait_for, write_program

pytestmark = [pytest.mark.process, pytest.mark.looptime(False)]

SPEEDUP = 20


def program(directory: Path, name: str) -> Path:
    directory.mkdir()
    return write_program(
        directory / "program.toml",
        name,
        [{"kind": "work", "direction": "backward", "duration": "10min", "speed_kmh": 2.5}],
    )


def states(seen: Observer, base: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in seen.payloads(f"{base}/state")]


def events(seen: Observer, base: str) -> list[dict[str, Any]]:
    return [json.loads(p) for p in dict.fromkeys(seen.payloads(f"{base}/event"))]


def describe(seen: Observer, *runs: RunProcess) -> str:
    last = [(m.topic, m.payload[:100]) for m in seen.messages[-6:]]
    return "\n".join([f"last on the broker: {last}", *(r.output() for r in runs)])


def stood_down(run: RunProcess) -> bool:
    return any(
        e["kind"] == "sink_warning" and "another live retrorun session" in e["message"]
        for e in run.record_events()
    )


async def first_session_running(seen: Observer, first: RunProcess, base: str) -> None:
    await wait_for(
        lambda: any(s["status"] == "running" and s["speed_kmh"] >= 2.4 for s in states(seen, base)),
        timeout=30,
        what="the first session running at speed",
        context=lambda: describe(seen, first),
    )


@contextlib.asynccontextmanager
async def first_session(
    broker: Broker, tmp_path: Path, mqtt_id: str
) -> AsyncIterator[tuple[Observer, RunProcess]]:
    """The session that owns ``mqtt_id`` (program "First"), running at speed, and an
    observer of the id's topics."""
    base = f"retrorun/{mqtt_id}"
    a_program = program(tmp_path / "a", "First")
    async with (
        observe(broker, f"{base}/#") as seen,
        retrorun_run(broker, tmp_path / "a", a_program, mqtt_id, speedup=SPEEDUP) as first,
    ):
        await first_session_running(seen, first, base)
        yield seen, first


def second_session(
    broker: Broker, tmp_path: Path, mqtt_id: str
) -> contextlib.AbstractAsyncContextManager[RunProcess]:
    """Another session (program "Second") started on the same ``mqtt_id``."""
    b_program = program(tmp_path / "b", "Second")
    return retrorun_run(broker, tmp_path / "b", b_program, mqtt_id, speedup=SPEEDUP)


@pytest.mark.hazard("HZ-16")
async def test_a_second_session_on_the_same_id_never_reaches_its_topics(
    broker: Broker, tmp_path: Path
) -> None:
    base = "retrorun/dup1"
    async with (
        first_session(broker, tmp_path, "dup1") as (seen, first),
        second_session(broker, tmp_path, "dup1") as second,
    ):
        await wait_for(
            lambda: second.returncode is not None or stood_down(second),
            timeout=30,
            what="the second session refused or standing down",
            context=lambda: describe(seen, first, second),
        )
        async with broker.client() as remote:
            await remote.publish(f"{base}/cmd/stop", b"PRESS", qos=1)
        assert await first.finish() == 1, first.output()
        if second.returncode is None:
            # Still running, its belt still going: the stop was not for it.
            await wait_for(
                lambda: (b := second.belt_now()) is not None and b["running"],
                timeout=10,
                what="the second belt running",
                context=lambda: describe(seen, first, second),
            )
            assert not [e for e in second.record_events() if e["kind"] == "command_ack"]
            second.process.send_signal(signal.SIGTERM)
            await second.finish()
        await wait_for(
            lambda: seen.payloads(f"{base}/availability")[-1:] == [b"offline"],
            timeout=5,
            what="offline",
            context=lambda: describe(seen, first, second),
        )
    assert "Traceback" not in first.output() + second.output()
    # Only the first session ever spoke on the id: no flapping state, one online and
    # one offline, every event its own, the stop its own.
    assert seen.payloads(f"{base}/availability") == [b"online", b"offline"]
    assert {s["program"] for s in states(seen, base)} == {"First"}
    on_mqtt = [
        {k: v for k, v in e.items() if k not in {"type", "session"}} for e in first.record_events()
    ]
    assert events(seen, base) == on_mqtt
    [end] = [line for line in first.record_lines() if line["type"] == "end"]
    assert end["reason"] == "user_stop"
    if second.returncode == 2:
        assert "in use" in second.err.read_text()
    else:
        [end] = [line for line in second.record_lines() if line["type"] == "end"]
        assert end["reason"] != "user_stop"


@pytest.mark.hazard("HZ-16")
async def test_a_second_session_on_the_same_id_refuses_before_the_belt_moves(
    broker: Broker, tmp_path: Path
) -> None:
    base = "retrorun/dup2"
    async with first_session(broker, tmp_path, "dup2") as (seen, first):
        async with second_session(broker, tmp_path, "dup2") as second:
            code = await second.finish(timeout=15)
        assert first.returncode is None  # the first session goes on
        assert seen.payloads(f"{base}/availability") == [b"online"]
    assert code == 2, second.output()
    lines = second.err.read_text().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("retrorun: MQTT id 'dup2' is in use")
    assert "--mqtt-id" in lines[0]
    assert not [s for s in second.belt_states() if s["running"] or s["belt_kmh"] > 0]
