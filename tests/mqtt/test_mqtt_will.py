"""The will: a controller killed with SIGKILL is marked offline by the broker."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest
from mqtt_support import Broker, observe

pytestmark = pytest.mark.process

CHILD = Path(__file__).with_name("sink_child.py")
AVAILABILITY = "retrorun/tmkill/availability"


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
