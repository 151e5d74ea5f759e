"""``retrorun watch``: every treadmill of a clinic or gym, live, from their MQTT broker.

Each controller publishes its session on ``retrorun/<id>/state``, ``availability``
and ``event`` (see :mod:`retrorun.sinks.mqtt`); across rooms or sites, edge brokers
bridge them to a central one under a prefix such as ``site/<name>/`` (docs/fleet.md).
The watcher subscribes to ``[PREFIX]retrorun/+/...`` and Home Assistant's device
discovery (for the treadmills' names), folds every message into a :class:`Fleet`
(pure, hostile input dropped, never raised) and shows it: a Textual table
(:class:`WatchApp`), or one line per change (:func:`stream`, ``--json``/``--plain``).

It sends only ``PRESS`` on a treadmill's ``cmd/pause``, ``cmd/resume`` or
``cmd/stop``: nothing it does or receives can raise a belt's speed.

The package loads aiomqtt (and Textual, in :mod:`retrorun.watch.tui`) when used:
``retrorun --help`` imports none of it.
"""

from __future__ import annotations

from retrorun.watch._model import (
    ALERT_KINDS,
    MAX_PAYLOAD,
    MAX_TREADMILLS,
    STATE_FIELDS,
    Change,
    Fleet,
    Prefix,
    Treadmill,
    parse_prefix,
)

__all__ = [
    "ALERT_KINDS",
    "MAX_PAYLOAD",
    "MAX_TREADMILLS",
    "STATE_FIELDS",
    "Change",
    "Fleet",
    "Prefix",
    "Treadmill",
    "parse_prefix",
]
