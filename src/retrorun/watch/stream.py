"""``retrorun watch --json`` and ``--plain``: one line per change, for scripts and logs.

``--json`` writes one JSON object per change (:meth:`Change.to_json_dict`: the
treadmill's ``id``, ``site``, ``name``, ``change``, ``online``, the fields of its
last state at the top level, ``alert``, and ``event`` for an event), flushed at
once so a reader sees it without delay. ``--plain`` writes the same changes as
words. Warnings (the broker gone, back again) go to standard error.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from retrorun.sinks.mqtt import MqttSettings
from retrorun.watch._model import Change, Fleet, Prefix, step_words
from retrorun.watch.client import Watcher

__all__ = ["plain_line", "stream"]


def _number(state: dict[str, object], name: str, form: str) -> str:
    value = state.get(name)
    return format(value, form) if isinstance(value, int | float) else "-"


def plain_line(change: Change) -> str:
    """One change in words: ``12:00:01 room-a/Gym 3 (tm-3) state running backward 3.20 km/h``."""
    row = change.row
    stamp = time.strftime("%H:%M:%S", time.localtime(row.updated or time.time()))
    who = f"{row.site}/{row.label}" if row.site else row.label
    if change.kind == "availability":
        return f"{stamp} {who} {'online' if row.online else 'offline'}"
    if change.kind == "name":
        where = f"{row.site}/{row.client_id}" if row.site else row.client_id
        return f"{stamp} {where} is named {row.name}"
    if change.event is not None:
        event = change.event
        alert = " ALERT" if row.alert is event else ""
        return f"{stamp} {who} event{alert} {event.kind}: {event.message}"
    state = row.state
    return (
        f"{stamp} {who} state {state.get('status', '-')} {state.get('direction', '-')} "
        f"{_number(state, 'speed_kmh', '.2f')} km/h"
        f" (ceiling {_number(state, 'ceiling_kmh', '.2f')})"
        f" step {step_words(state)}"
        f" left {_number(state, 'step_remaining_s', '.0f')} s"
        f" hr {state.get('heart_rate_bpm') or '-'}"
    )


async def stream(
    settings: MqttSettings,
    prefix: Prefix,
    *,
    as_json: bool,
    out: TextIO | None = None,
    persistent_id: str | None = None,
) -> None:
    """Write every change until cancelled (Ctrl-C) or the reader goes away."""
    target = out if out is not None else sys.stdout

    def write(change: Change) -> None:
        if as_json:
            line = json.dumps(change.to_json_dict(), ensure_ascii=False, allow_nan=False)
        else:
            line = plain_line(change)
        target.write(line + "\n")
        target.flush()

    def warn(message: str) -> None:
        sys.stderr.write(f"retrorun: {message}\n")
        sys.stderr.flush()

    watcher = Watcher(settings, Fleet(prefix), write, on_warning=warn, persistent_id=persistent_id)
    await watcher.run()
