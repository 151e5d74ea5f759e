"""A process that runs an MQTT sink and publishes a state every 50 ms until killed.

``python sink_child.py URL ID``: the will test kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from mqtt_support import FakeControls, make_state

from retrorun.bus import EventBus
from retrorun.sinks.mqtt import MqttSink, mqtt_settings


async def main(url: str, client_id: str) -> None:
    settings = mqtt_settings(url, client_id=client_id, device_address=None, environ={})
    assert settings is not None
    bus = EventBus()
    sink = MqttSink(bus.subscribe("mqtt"), FakeControls(bus), settings, on_warning=print)
    task = asyncio.create_task(sink.run())
    elapsed = 0.0
    while not task.done():
        bus.publish(make_state(elapsed))
        elapsed += 0.05
        await asyncio.sleep(0.05)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
