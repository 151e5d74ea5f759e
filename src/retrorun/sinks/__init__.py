"""Sinks: everything that reads the session's event stream (display, voice, MQTT, recorder).

A sink subscribes to ``retrorun.bus.EventBus``, handles its own failures (a broker
that is down, a missing speech engine) and never blocks or ends the session.
"""

from __future__ import annotations

__all__: list[str] = []
