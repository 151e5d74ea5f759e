"""Plain text guidance: one line per event or state change worth printing.

This is what ``--plain`` prints (and what runs when there is no terminal). It reads
the session's typed events (``retrorun.events``: one class per kind, with exactly
its fields) and writes them with the shared words of ``retrorun.guidance``.
Every event's ``message`` is one short sentence for a person, shown as is.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterable
from typing import TextIO

from retrorun.bus import Item
from retrorun.events import (
    SessionEvent,
    SessionState,
    SinkWarning,
    StepStarted,
    TreadmillNote,
    TurnaroundPhase,
)
from retrorun.guidance import facing_words, format_clock, format_state, format_step

__all__ = ["PlainSink", "format_event"]


def format_event(event: SessionEvent) -> str:
    """One line for an event: a step in words, or the event's own message.

    Safety events start with ``!`` so they stand out in a scrolling console.
    """
    match event:
        case StepStarted(step=step, next=upcoming, total=total):
            text = f"> {format_step(step, total)}"
            if step.cue:
                text += f' "{step.cue}"'
            if upcoming is not None:
                text += f" (next: {format_step(upcoming, total)})"
            return text
        case TurnaroundPhase(phase="turn", needs_confirm=needs_confirm, to=to):
            action = "turn around now" + (", then press Enter" if needs_confirm else "")
            return f"~ turn-around to face {facing_words(to)}: {action}"
        case TurnaroundPhase(stop_belt=stop_belt, to=to):
            action = ("stopping the belt" if stop_belt else "slowing down") + ", hold the rails"
            return f"~ turn-around to face {facing_words(to)}: {action}"
        case TreadmillNote(message=message):
            return f"- treadmill: {message.strip()}"
        case SinkWarning(message=message):
            return f"- warning: {message.strip()}"
        case _:
            pass
    label = event.kind.replace("_", " ")
    message = event.message.strip()
    text = f"{label}: {message}" if message and message != str(event.kind) else label
    return f"! {text}" if event.safety else f"- {text}"


class PlainSink:
    """Prints the session to a text stream, one line per thing worth a line.

    Every event gets a line. A state gets one on a step change, on a status
    change, and otherwise every ``every_s`` seconds of session time: a console
    scrolled by ten telemetry records a second is unreadable.
    """

    def __init__(
        self,
        subscription: AsyncIterable[Item],
        *,
        stream: TextIO | None = None,
        every_s: float = 10.0,
    ) -> None:
        self._subscription = subscription
        self._stream = stream
        self._every_s = every_s
        self._last: SessionState | None = None
        self._last_t = float("-inf")
        self.lines = 0

    def line_for(self, item: Item) -> str | None:
        """The line ``item`` earns (with its session time), or None."""
        if isinstance(item, SessionEvent):
            return f"{format_clock(item.t):>8}  {format_event(item)}"
        last, self._last = self._last, item
        if (
            last is not None
            and last.step == item.step
            and last.status is item.status
            and item.t - self._last_t < self._every_s
        ):
            return None
        self._last_t = item.t
        return f"{format_clock(item.t):>8}  {format_state(item)}"

    async def run(self) -> None:
        """Print until the subscription ends."""
        stream = self._stream if self._stream is not None else sys.stdout
        async for item in self._subscription:
            line = self.line_for(item)
            if line is None:
                continue
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError):
                # A closed or broken stdout (a pipe whose reader left) ends the
                # printing, never the session.
                return
            self.lines += 1
