"""Spoken cues and countdown tones for a runner who cannot see a screen.

The voice is a sink: it reads its own bus subscription in its own task and never
makes the session wait. What it says comes from ``_voice_script`` (pure, timed
in session seconds); this module puts those cues on the loop's clock, renders
them (espeak-ng speech written to WAV, tones made here), plays them one at a time
and, with a cue directory, writes every one as a numbered WAV plus
``index.jsonl``: one JSON object per cue with ``n`` (the file's number), ``t``
(session seconds when it is heard), ``due`` (when its moment came),
``duration_s`` (the file's length), ``kind`` (``speech`` or ``tone``), ``text``
(what was said, or what the tone means), ``file`` and ``alert`` (a safety alert).

The index is the session as heard at normal speed on one channel, the way the
player plays it: cues due at one instant (a step's "go", its announcement and its
own cue; both phases of a turn-around) follow one another, each ``t`` after the
one before has ended; an alert is heard at once and cuts off what was playing.
So no two cues overlap and a turn-around's script is over before the next step's
first word, which ``t`` + ``duration_s`` shows.

Timing. Cues are armed with ``loop.call_at`` on the session's own clock (session
time ``t`` plus the loop time at which the session started), so they land on
time at any ``--speedup``: the paced virtual clock fires timers exactly on their
deadline. Speech takes wall time, ``speedup`` times more in session time, so
above :data:`SPEECH_MAX_SPEEDUP` spoken guidance is not played; tones and safety
alerts are. A cue directory still gets every spoken cue at any speedup (they are
files, not playback), placed as at normal speed. Speech for timed cues is
synthesised when the step is planned, long before it is due.

Safety alerts (an alarm tone, then the words) interrupt whatever is playing (the
player process is killed) and go before everything still queued. Failures stay
here: a missing speech engine means tones (one notice), a player that cannot play
means files only (one notice). espeak-ng and the player run under a wall-clock
limit each, so a stuck one cannot hold the voice up for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import wave
from collections import deque
from collections.abc import AsyncIterable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from retrorun.bus import Item
from retrorun.clock import current_speedup, wait_wall
from retrorun.events import EventKind, SessionEvent, SessionState, Status, StepInfo, StepStarted
from retrorun.sinks._voice_audio import AudioError, Player, default_player, synthesize, tone_wav
from retrorun.sinks._voice_script import (
    Cue,
    CueKind,
    event_cues,
    fixed_phrases,
    step_cues,
    step_start_cues,
)
from retrorun.sinks._voice_words import (
    announce_step,
    duration_words,
    number_words,
    speed_words,
)

__all__ = [
    "SPEECH_MAX_SPEEDUP",
    "Cue",
    "CueKind",
    "VoiceActivity",
    "VoiceMode",
    "VoiceSink",
    "announce_step",
    "default_voice_mode",
    "duration_words",
    "number_words",
    "speed_words",
]

_log = logging.getLogger("retrorun.voice")

VoiceMode = Literal["espeak", "tones", "off"]

# Above this speedup a spoken step announcement (about 3 s of wall time) would run
# into the countdown that follows it 4 s of session time later, so speech is
# skipped; tones (a tenth of a second) and safety alerts are kept.
SPEECH_MAX_SPEEDUP = 2.0
# A guidance cue that could not start playing within this many wall seconds of its
# time is dropped: a late "three, two, one" is worse than none.
_MAX_LATE_WALL_S = 1.0
# The step's end, as telemetry reports it, must move by more than this before the
# timed cues are re-planned.
_END_TOLERANCE_S = 0.5
# On the way out, what is still playing gets this many wall seconds to finish.
_DRAIN_WALL_S = 5.0


Activity = Literal["fired", "skipped", "written", "playing", "played", "interrupted", "dropped"]


@dataclass(frozen=True, slots=True)
class VoiceActivity:
    """What happened to a cue, at session time ``t`` (for captions, logs and tests).

    ``fired``: its time came; ``skipped``: not to be heard (speech at a high
    speedup, which a cue directory still gets, or no tone for it); ``written``:
    saved to the cue directory as ``file``; ``playing`` / ``played`` /
    ``interrupted``: the player; ``dropped``: too late to be useful, or swept
    aside by a safety alert.
    """

    what: Activity
    cue: Cue
    t: float
    file: Path | None = None


def default_voice_mode(*, espeak: str = "espeak-ng") -> tuple[VoiceMode, str | None]:
    """``("espeak", None)`` when the speech engine is installed, else tones and why."""
    if shutil.which(espeak):
        return "espeak", None
    return "tones", f"{espeak} not found: countdown tones only (install espeak-ng for speech)"


@dataclass(slots=True)
class _Fired:
    cue: Cue
    t: float
    sound: asyncio.Future[Path | None]
    spoken: bool  # rendered as speech (else as its tone)


class VoiceSink:
    """Reads session states and events from ``subscription`` and speaks.

    ``mode``: ``espeak`` (speech, tones for countdowns), ``tones`` (tones only)
    or ``off``. ``cue_dir``: also write every cue there. ``play``: False never
    starts a player (files only); ``player`` is the command a WAV path is
    appended to (default ``paplay``, else ``aplay -q``). ``origin``: the loop
    time at session time 0, when the session knows it; otherwise it is
    estimated from the items' ``t``. ``on_notice`` gets each one-line notice
    (default: logged as a warning); ``on_activity`` sees every
    :class:`VoiceActivity`.
    """

    def __init__(
        self,
        subscription: AsyncIterable[Item],
        *,
        mode: VoiceMode = "espeak",
        cue_dir: Path | None = None,
        espeak: str = "espeak-ng",
        play: bool = True,
        player: Sequence[str] | None = None,
        origin: float | None = None,
        on_notice: Callable[[str], None] | None = None,
        on_activity: Callable[[VoiceActivity], None] | None = None,
    ) -> None:
        self._subscription = subscription
        self.mode: VoiceMode = mode
        self.cue_dir = cue_dir
        self._espeak = espeak
        self._want_play = play
        self._player_argv = list(player) if player is not None else None
        self._origin = origin
        self._origin_fixed = origin is not None
        self._on_notice = on_notice
        self._on_activity = on_activity
        self.notices: list[str] = []
        self._noticed: set[str] = set()

        self._speech_ok = mode == "espeak"
        self._player: Player | None = None
        self._fired_keys: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._step: StepInfo | None = None
        self._next: StepInfo | None = None
        self._end = 0.0
        self._suspended = False
        self._announced: set[int] = set()

        self._play_queue: deque[_Fired] = deque()
        self._alert_queue: deque[_Fired] = deque()
        self._wakeup = asyncio.Event()
        self._alert_arrived = asyncio.Event()
        self._closing = False
        self._playing: _Fired | None = None
        self._write_queue: asyncio.Queue[_Fired | None] = asyncio.Queue()
        self._index: IO[str] | None = None
        self._heard_until = 0.0  # session time the index's channel is free again

        self._work_dir: Path | None = None
        self._speech: dict[str, asyncio.Task[Path | None]] = {}
        self._tones: dict[str, Path] = {}
        self._synth_slots = asyncio.Semaphore(2)

    # -- the clock ---------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time() - (self._origin or 0.0)

    def _track_origin(self, item: Item) -> None:
        if self._origin_fixed:
            return
        # Items are delivered at or after their time: the smallest difference seen
        # is the best estimate of when session time 0 was.
        estimate = asyncio.get_running_loop().time() - item.t
        if self._origin is None or estimate < self._origin:
            self._origin = estimate

    def _speaks(self) -> bool:
        return self._speech_ok and current_speedup() <= SPEECH_MAX_SPEEDUP

    def _writes_speech(self) -> bool:
        """Spoken cues go to the cue directory, at any speedup."""
        return self._speech_ok and self.cue_dir is not None

    def _speech_scale(self) -> float:
        """Session seconds per wall second of speech, for placing announcements.

        Played speech takes the speedup; speech only written to files is placed as
        heard at normal speed; none at all needs no room.
        """
        if self._speaks():
            return current_speedup()
        return 1.0 if self._writes_speech() else 0.0

    # -- running -----------------------------------------------------------------

    async def run(self) -> None:
        """Speak until the subscription ends, then let the last cues finish."""
        if self.mode == "off":
            async for _ in self._subscription:
                pass
            return
        self._setup()
        try:
            async with asyncio.TaskGroup() as tasks:
                player = tasks.create_task(self._play_loop(), name="voice-player")
                writer = tasks.create_task(self._write_loop(), name="voice-writer")
                async for item in self._subscription:
                    self._on_item(item)
                self._cancel_timers()
                self._write_queue.put_nowait(None)
                await writer
                self._closing = True
                self._wakeup.set()
                # Wall time: the speech engine's and the player's work is real, whatever
                # the loop's clock does (a fake one jumps ahead while they work).
                if not await wait_wall(player, _DRAIN_WALL_S):
                    if self._player is not None:
                        self._player.interrupt()
                    player.cancel()
        finally:
            self._cancel_timers()
            if self._index is not None:
                self._index.close()
            for task in self._speech.values():
                task.cancel()
            await asyncio.gather(*self._speech.values(), return_exceptions=True)
            if self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)

    def _setup(self) -> None:
        if self.cue_dir is not None:
            try:
                self.cue_dir.mkdir(parents=True, exist_ok=True)
                self._index = (self.cue_dir / "index.jsonl").open("w", encoding="utf-8")
            except OSError as exc:
                self._cue_dir_failed(exc)
        if self._speech_ok and not shutil.which(self._espeak):
            self._speech_failed(f"{self._espeak} not found")
        if self._want_play:
            argv = self._player_argv if self._player_argv is not None else default_player()
            if argv:
                self._player = Player(argv)
            else:
                found = "no audio player (paplay or aplay) found"
                self._notice("player", found + self._files_only())
        self._work_dir = Path(tempfile.mkdtemp(prefix="retrorun-voice-"))
        if self._speech_ok and self._renders():
            for text in fixed_phrases():
                self._speech_sound(text)

    def _cue_dir_failed(self, exc: OSError) -> None:
        self._notice("cue-dir", f"cannot write cues to {self.cue_dir}: {exc}")
        self.cue_dir = None

    def _renders(self) -> bool:
        return self._player is not None or self.cue_dir is not None

    def _files_only(self) -> str:
        if self.cue_dir is not None:
            return f": cues are written to {self.cue_dir} only"
        return ": no cue will be heard"

    def _notice(self, key: str, message: str) -> None:
        if key in self._noticed:
            return
        self._noticed.add(key)
        self.notices.append(message)
        if self._on_notice is not None:
            self._on_notice(message)
        else:
            _log.warning("%s", message)

    def _report(self, what: Activity, cue: Cue, file: Path | None = None) -> None:
        if self._on_activity is not None:
            self._on_activity(VoiceActivity(what, cue, round(self._now(), 3), file))

    # -- reading the session -----------------------------------------------------

    def _on_item(self, item: Item) -> None:
        self._track_origin(item)
        if isinstance(item, SessionState):
            self._on_state(item)
        else:
            self._on_event(item)

    def _on_state(self, state: SessionState) -> None:
        if state.status in {Status.PAUSED, Status.STOPPED}:
            if not self._suspended:
                self._suspended = True
                self._cancel_timers()
            return
        if state.status is not Status.RUNNING:
            return
        step = self._step
        resumed = self._suspended
        self._suspended = False
        if step is None or state.step != step.index:
            return
        end = state.t + state.step_remaining_s
        if resumed or abs(end - self._end) > _END_TOLERANCE_S:
            self._end = end
            self._replan()

    def _on_event(self, event: SessionEvent) -> None:
        now = self._now()
        if isinstance(event, StepStarted):
            step, upcoming = event.step, event.next
            previous = self._step
            self._cancel_timers()
            self._step, self._next = step, upcoming
            self._end = event.t + step.duration_s
            self._suspended = False
            announced = step.index in self._announced
            for cue in step_start_cues(step, previous, announced=announced, t=now):
                self._fire(cue)
            self._replan()
            return
        if event.kind in {
            EventKind.SAFETY_STOP,
            EventKind.SAFETY_KEY,
            EventKind.USER_STOP,
            EventKind.SESSION_ENDED,
        }:
            self._cancel_timers()
            self._step = self._next = None
        elif event.kind is EventKind.PAUSED:
            self._suspended = True
            self._cancel_timers()
        elif event.kind is EventKind.TURNAROUND:
            self._cancel_timers()
        for cue in event_cues(event, t=now):
            self._fire(cue)

    # -- scheduling --------------------------------------------------------------

    def _replan(self) -> None:
        self._cancel_timers()
        step = self._step
        if step is None or self._suspended:
            return
        loop = asyncio.get_running_loop()
        now = self._now()
        speech_scale = self._speech_scale()
        for cue in step_cues(step, self._next, self._end, speech_scale=speech_scale):
            if cue.key in self._fired_keys or cue.t < now - _END_TOLERANCE_S:
                continue
            ahead = (self._speaks() and self._renders()) or self._writes_speech()
            if cue.kind is not CueKind.TONE and ahead:
                self._speech_sound(cue.text)  # ahead of time, not when due
            when = (self._origin or 0.0) + cue.t
            self._timers[cue.key] = loop.call_at(when, self._fire_timed, cue)

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _fire_timed(self, cue: Cue) -> None:
        self._timers.pop(cue.key, None)
        if cue.key.endswith(":next") and self._next is not None:
            self._announced.add(self._next.index)
        self._fire(cue)

    def _fire(self, cue: Cue) -> None:
        if cue.key in self._fired_keys:
            return
        self._fired_keys.add(cue.key)
        self._report("fired", cue)
        spoken = cue.kind is not CueKind.TONE and self._speech_ok
        heard = not spoken or cue.urgent or self._speaks()
        if not spoken and cue.kind is not CueKind.TONE and cue.tone is None:
            # Without a speech engine, a cue with no tone has nothing to say it with.
            self._report("skipped", cue)
            return
        if not heard:
            # Speech the listener cannot keep up with (high speedup) is not played;
            # a cue directory still gets it.
            self._report("skipped", cue)
            if not self._writes_speech():
                return
        if not self._renders():
            return
        if spoken:
            sound: asyncio.Future[Path | None] = self._speech_sound(cue.text)
        else:
            sound = asyncio.get_running_loop().create_future()
            sound.set_result(self._tone_file(cue.tone or "notice"))
        fired = _Fired(cue, self._now(), sound, spoken)
        if self.cue_dir is not None:
            self._write_queue.put_nowait(fired)
        if self._player is None or not heard:
            return
        if cue.urgent:
            playing = self._playing
            if playing is not None and not playing.cue.urgent:
                self._player.interrupt()
            while self._play_queue:
                self._report("dropped", self._play_queue.popleft().cue)
            self._alert_queue.append(fired)
            self._alert_arrived.set()
        else:
            self._play_queue.append(fired)
        self._wakeup.set()

    # -- rendering ---------------------------------------------------------------

    def _speech_sound(self, text: str) -> asyncio.Task[Path | None]:
        task = self._speech.get(text)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._synthesize(text), name=f"voice-synth-{len(self._speech)}"
            )
            self._speech[text] = task
        return task

    async def _synthesize(self, text: str) -> Path | None:
        if self._work_dir is None:
            return None
        digest = hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
        path = self._work_dir / f"speech-{digest}.wav"
        async with self._synth_slots:
            if not self._speech_ok:  # an earlier synthesis may have failed meanwhile
                return None
            try:
                await synthesize(self._espeak, text, path)
            except AudioError as exc:
                self._speech_failed(str(exc))
                return None
        return path

    def _speech_failed(self, reason: str) -> None:
        if not self._speech_ok:
            return
        self._speech_ok = False
        self._notice("speech", f"{reason}: using tones instead of speech")
        # Announcements were placed early to leave time for speech; a chime needs none.
        self._replan()

    def _tone_file(self, name: str) -> Path:
        path = self._tones.get(name)
        if path is None:
            directory = self._work_dir or Path(tempfile.gettempdir())
            path = directory / f"tone-{name}.wav"
            path.write_bytes(tone_wav(name))
            self._tones[name] = path
        return path

    async def _resolve(self, fired: _Fired) -> tuple[Path | None, str]:
        """The file to play or write for ``fired`` and its kind: speech falls back to tones."""
        path = await asyncio.shield(fired.sound)
        if path is not None:
            return path, "speech" if fired.spoken else "tone"
        if fired.cue.tone is not None:
            return self._tone_file(fired.cue.tone), "tone"
        return None, ""

    # -- the cue directory -------------------------------------------------------

    async def _write_loop(self) -> None:
        index = self._index
        if index is None:
            return
        count = 0
        with index:
            while (fired := await self._write_queue.get()) is not None:
                if self.cue_dir is None:
                    return
                path, kind = await self._resolve(fired)
                if path is None:
                    self._report("skipped", fired.cue)
                    continue
                count += 1
                target = self.cue_dir / f"{count:04d}-{_slug(fired.cue.text)}.wav"
                duration = _wav_seconds(path)
                # One channel, as the player plays: after what is still being heard,
                # unless it is an alert, which cuts that off.
                heard = fired.t if fired.cue.urgent else max(fired.t, self._heard_until)
                self._heard_until = heard + duration
                entry = {
                    "n": count,
                    "t": round(heard, 3),
                    "due": round(fired.t, 3),
                    "duration_s": round(duration, 3),
                    "kind": kind,
                    "text": fired.cue.text,
                    "file": target.name,
                    "alert": fired.cue.urgent,
                }
                try:
                    _store(path, target)
                    index.write(json.dumps(entry, separators=(",", ":")) + "\n")
                    index.flush()
                except OSError as exc:
                    self._cue_dir_failed(exc)
                    return
                self._report("written", fired.cue, target)

    # -- playing -----------------------------------------------------------------

    def _next_to_play(self) -> _Fired | None:
        if self._alert_queue:
            item = self._alert_queue.popleft()
            if not self._alert_queue:
                self._alert_arrived.clear()
            return item
        return self._play_queue.popleft() if self._play_queue else None

    async def _play_loop(self) -> None:
        while True:
            fired = self._next_to_play()
            if fired is None:
                if self._closing or self._player is None:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if not await self._play_one(fired):
                return

    async def _play_one(self, fired: _Fired) -> bool:
        """Play one cue; False once playing has failed for good."""
        player = self._player
        if player is None:
            return False
        if not fired.cue.keep and self._late_wall_s(fired) > _MAX_LATE_WALL_S:
            self._report("dropped", fired.cue)
            return True
        if not fired.sound.done() and not fired.cue.urgent:
            # A slow speech engine must not hold an alert back.
            alert = asyncio.ensure_future(self._alert_arrived.wait())
            waiting: set[asyncio.Future[Any]] = {fired.sound, alert}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            alert.cancel()
            if not fired.sound.done():
                self._play_queue.appendleft(fired)
                return True
        path, _ = await self._resolve(fired)
        if path is None:
            return True
        self._playing = fired
        self._report("playing", fired.cue)
        try:
            finished = await player.play(path)
        except AudioError as exc:
            self._player = None
            self._notice("player", f"cannot play audio ({exc})" + self._files_only())
            self._play_queue.clear()
            self._alert_queue.clear()
            return False
        finally:
            self._playing = None
        self._report("played" if finished else "interrupted", fired.cue)
        return True

    def _late_wall_s(self, fired: _Fired) -> float:
        return (self._now() - fired.t) / current_speedup()


def _store(source: Path, target: Path) -> None:
    """Put the rendered ``source`` at ``target``: a hard link when it can, else a copy."""
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _wav_seconds(path: Path) -> float:
    """How long a WAV file sounds (0 for one that cannot be read as such)."""
    try:
        with wave.open(str(path), "rb") as wav:
            rate = wav.getframerate()
            return wav.getnframes() / rate if rate else 0.0
    except (OSError, EOFError, wave.Error):
        return 0.0


def _slug(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:40].rstrip("-") or "cue"
