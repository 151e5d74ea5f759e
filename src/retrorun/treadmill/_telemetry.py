"""Telemetry: Treadmill Data notifications in, reassembled records and events out.

This part owns the two streams a session reads (records and events, each a
bounded drop-oldest queue, closed with the Treadmill), the ``latest`` record,
``next_record``/``wait_for_speed`` (the belt as telemetry shows it), the notes
the client makes about the machine, and the silence the supervisor's watchdog
measures. The other parts put their events and notes here through :meth:`emit`
and :meth:`note`.

Treadmill Data cut at 20 bytes while its flags announce more (Matrix consoles) is
read as far as it goes, speed first: always with the ``truncated_records`` quirk,
and from the moment the first frames of a connection show it (``truncating``); any
other frame too short is garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from retrorun._queue import DropOldestQueue
from retrorun.errors import CommandIgnored
from retrorun.ftms import ControlOp, FtmsDecodeError, RecordAssembler, TreadmillData
from retrorun.limits import SETTLE_TOLERANCE
from retrorun.treadmill._data import Machine, Telemetry, TreadmillEvent, TreadmillEventKind

__all__ = ["TelemetryFeed"]

log = logging.getLogger(__name__)

_TRUNCATED_AT: Final = 20  # the default ATT payload, where truncating consoles cut
_DETECT_FRAMES: Final = 5  # truncation is recognised among a connection's first frames


class TelemetryFeed:
    """One treadmill's records, events and notes; see the module docstring."""

    def __init__(self, machine: Machine) -> None:
        self._machine = machine
        self._assembler = RecordAssembler()
        self._frames = 0  # Treadmill Data notifications on this connection
        self._truncating = False  # Treadmill Data arrives cut at 20 bytes (seen or quirk)
        self._latest: Telemetry | None = None
        self._last_record_t = 0.0
        self._record_seen = asyncio.Event()
        self._records: DropOldestQueue[Telemetry] = DropOldestQueue(64)
        self._events: DropOldestQueue[TreadmillEvent] = DropOldestQueue(256)
        self._notes: list[str] = []

    # ------------------------------------------------------------------ reading

    @property
    def records(self) -> DropOldestQueue[Telemetry]:
        """The record stream, in order, until :meth:`close`."""
        return self._records

    @property
    def events(self) -> DropOldestQueue[TreadmillEvent]:
        """Status notifications and link events, until :meth:`close`."""
        return self._events

    @property
    def latest(self) -> Telemetry | None:
        """The newest record, or ``None`` before the first."""
        return self._latest

    @property
    def truncating(self) -> bool:
        """Treadmill Data is seen cut at 20 bytes on this machine."""
        return self._truncating

    @property
    def notes(self) -> list[str]:
        """What the client learned of the machine, in plain words, oldest first."""
        return self._notes

    def silent_for(self) -> float:
        """Loop seconds since the last record (or since :meth:`restart_silence`)."""
        return asyncio.get_running_loop().time() - self._last_record_t

    def restart_silence(self) -> None:
        """Count silence from now: a new link gets the watchdog's whole time."""
        self._last_record_t = asyncio.get_running_loop().time()

    def new_connection(self) -> None:
        """A new link: no half record from the old one, truncation looked for anew."""
        self._assembler.reset()
        self._frames = 0

    def wake(self) -> None:
        """End a :meth:`next_record` wait early: something else changed (a status)."""
        self._record_seen.set()

    async def next_record(self, timeout: float) -> None:
        """Wait for the next telemetry record (or a :meth:`wake`), at most ``timeout``
        seconds."""
        self._record_seen.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0.0)):
                await self._record_seen.wait()

    async def wait_for_speed(self, target: int, timeout: float | None = None) -> bool:
        """Wait for the belt to reach ``target`` (0.01 km/h) within 0.2 km/h.

        True once settled; False when the belt is moving toward the target but has
        not arrived within ``timeout`` (default: the profile's settle time) — a slow
        belt. Raises ``CommandIgnored`` when the belt made no progress at all.
        """
        timeout = self._machine.profile.settle_time_s if timeout is None else timeout
        start = self._speed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            now = self._speed()
            if start is None:
                start = now
            if now is not None and abs(now - target) <= SETTLE_TOLERANCE:
                return True
            remaining = deadline - loop.time()
            if remaining <= 1e-3:  # arrived (clocks round; never spin on a sliver)
                break
            await self.next_record(remaining)
        now = self._speed()
        if start is not None and now is not None and abs(target - start) > SETTLE_TOLERANCE:
            moved = (now - start) if target > start else (start - now)
            if moved < SETTLE_TOLERANCE // 2:
                raise CommandIgnored(
                    ControlOp.SET_TARGET_SPEED,
                    f"{self._machine.name} acknowledged {target / 100:.2f} km/h but the belt"
                    f" stayed at {now / 100:.2f} km/h for {timeout:g} s",
                )
        return False

    def _speed(self) -> int | None:
        return self._latest.speed if self._latest is not None else None

    # ------------------------------------------------------------------ writing

    def on_data(self, data: bytearray) -> None:
        """A Treadmill Data notification: a record when it completes one."""
        self._frames += 1
        partial = self._truncating or self._machine.profile.has("truncated_records")
        try:
            record = self._assembler.feed_bytes(data, partial=partial)
        except (FtmsDecodeError, ValueError) as exc:
            record = self._detect_truncation(data) if not partial else None
            if record is None:
                self.emit(TreadmillEventKind.GARBAGE, detail=f"treadmill data: {exc}")
                return
        if record is None:
            return
        t = asyncio.get_running_loop().time()
        self._last_record_t = t
        sample = Telemetry(t, record)
        self._latest = sample
        self._records.put(sample)
        self._record_seen.set()

    def _detect_truncation(self, data: bytearray) -> TreadmillData | None:
        """Among the first frames of a connection, a frame cut at exactly 20 bytes
        that still holds its speed is a console that truncates (the quirk is then on
        for the session): the record it completes, else ``None``."""
        if self._frames > _DETECT_FRAMES or len(data) != _TRUNCATED_AT:
            return None
        try:
            record = self._assembler.feed_bytes(data, partial=True)
        except (FtmsDecodeError, ValueError):
            return None
        self._truncating = True
        self.note(
            f"{self._machine.name} cuts Treadmill Data at {_TRUNCATED_AT} bytes (flags "
            f"0x{data[0] | data[1] << 8:04X} announce more): reading the fields it does "
            "send, speed first"
        )
        return record

    def emit(self, kind: TreadmillEventKind, value: int | None = None, detail: str = "") -> None:
        """Put an event on the event stream, stamped with the loop's time."""
        t = asyncio.get_running_loop().time()
        self._events.put(TreadmillEvent(t, kind, value, detail))

    def note(self, message: str) -> None:
        """Something learned of the machine: kept in ``notes``, logged, and an event."""
        self._notes.append(message)
        log.warning("%s", message)
        with contextlib.suppress(RuntimeError):
            self.emit(TreadmillEventKind.NOTE, detail=message)

    def close(self) -> None:
        """End both streams (their readers finish what is queued)."""
        self._records.close()
        self._events.close()
