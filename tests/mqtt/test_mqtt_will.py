"""The will: a controller killed with SIGKILL is marked offline and its id freed."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from mqtt_support import Broker, observe

from retrorun.sinks.mqtt import LockHolder, claim_id, mqtt_settings

pytestmark = pytest.mark.process

CHILD = Path(__file__).with_name("sink_child.py")
AVAILABILITY = "retrorun/tmkill/availability"
SESSION = "retrorun/tmkill/session"


async def test_kill_9_publishes_the_will(broker: Broker) -> None:
    async with observe(broker, "retrorun/tmkill/#") as seen:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            str(CHILD),
            broker.url,
            "tmkill",
            cwd=CHILD.parent,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await seen.wait(
                lambda: (
                    seen.payloads(AVAILABILITY) == [b"online"] and seen.on("retrorun/tmkill/state")
                ),
                timeout=10,
            )
            child.send_signal(signal.SIGKILL)
            output, _ = await asyncio.wait_for(child.communicate(), 5)
            await seen.wait(lambda: seen.payloads(AVAILABILITY) == [b"online", b"offline"])
            await seen.wait(lambda: seen.payloads(SESSION)[-1:] == [b""])  # its own will
        finally:
            if child.returncode is None:
                child.kill()
                await child.communicate()
    assert child.returncode == -signal.SIGKILL, output
    assert json.loads(seen.payloads("retrorun/tmkill/state")[-1])["status"] == "running"
    # The will is retained: a dashboard opened later still sees "offline".
    async with observe(broker, AVAILABILITY) as late:
        await late.wait(lambda: late.on(AVAILABILITY))
    assert late.payloads(AVAILABILITY) == [b"offline"]
    assert late.on(AVAILABILITY)[0].retain
    # The claim's own will emptied the session topic: the id is free at once.
    claims = [LockHolder.parse(p) for p in seen.payloads(SESSION)]
    assert claims[0] is not None
    assert claims[-1] is None
    settings = mqtt_settings(broker.url, client_id="tmkill", device_address=None, environ={})
    assert settings is not None
    claim = await claim_id(settings)
    try:
        assert claim.held
        assert claim.took_over is None  # nothing stale to test: no wait for an answer
    finally:
        await claim.release()
