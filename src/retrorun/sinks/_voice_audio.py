"""Sound for the voice: tone WAVs made here, speech WAVs from espeak-ng, a player process.

Speech is always *written* (``espeak-ng -w``) and then played by ``paplay`` or
``aplay``: played directly, espeak-ng exits 0 even when no sound came out, while
the players exit non-zero without a device, which is how the sink learns that
nothing is audible.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import io
import math
import shutil
import threading
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "PLAY_LIMIT_S",
    "SAMPLE_RATE",
    "SYNTH_LIMIT_S",
    "TONES",
    "AudioError",
    "Player",
    "default_player",
    "synthesize",
    "tone_wav",
]

SAMPLE_RATE = 22050  # espeak-ng's own rate: tones and speech share one format
_AMPLITUDE = 0.6
_FADE_S = 0.006  # a few ms of fade in and out: a hard edge clicks

# Named tone patterns: (frequency in Hz, or 0 for a gap; length in ms).
TONES: dict[str, tuple[tuple[int, int], ...]] = {
    "tick": ((880, 120),),  # countdown: three, two, one
    "go": ((1320, 400),),  # the change happens now
    "chime": ((660, 150), (0, 40), (990, 220)),  # a new step is coming
    "notice": ((740, 180),),  # halfway, paused, resumed
    "notice2": ((740, 150), (0, 80), (740, 150)),  # thirty seconds left
    "turn": ((990, 200), (0, 60), (740, 200), (0, 60), (520, 350)),  # turn around
    "alarm": ((1000, 180), (600, 180)) * 3,  # safety: interrupts everything
    "refused": ((220, 250),),  # a key press that changed nothing
    "ok": ((880, 80), (0, 30), (1320, 120)),  # confirmed, or restored
}


SYNTH_LIMIT_S = 10.0  # wall seconds espeak-ng may take for one cue (it takes ~20 ms)
PLAY_LIMIT_S = 30.0  # wall seconds a player may take for one cue (none is that long)


class AudioError(Exception):
    """Speech or playback failed; the message is one line for a person."""


@contextlib.contextmanager
def _watchdog(proc: asyncio.subprocess.Process, limit_s: float) -> Iterator[threading.Event]:
    """Kill ``proc`` after ``limit_s`` seconds of *wall* time.

    The external program runs on wall time whatever the session clock does (a
    paced virtual clock at ``--speedup``, or fake time in tests), so its limit is
    kept by a timer thread, never by the loop. The event tells whether it fired.
    """
    loop = asyncio.get_running_loop()
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        loop.call_soon_threadsafe(_kill, proc)

    timer = threading.Timer(limit_s, expire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()


def tone_wav(name: str) -> bytes:
    """The WAV file (16-bit mono PCM) of tone pattern ``name``."""
    samples = array.array("h")
    for freq, ms in TONES[name]:
        count = SAMPLE_RATE * ms // 1000
        fade = max(1, int(SAMPLE_RATE * _FADE_S))
        for i in range(count):
            if freq == 0:
                samples.append(0)
                continue
            envelope = min(1.0, i / fade, (count - 1 - i) / fade)
            value = _AMPLITUDE * envelope * math.sin(2 * math.pi * freq * i / SAMPLE_RATE)
            samples.append(round(value * 32767))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


async def synthesize(espeak: str, text: str, path: Path, *, limit_s: float = SYNTH_LIMIT_S) -> None:
    """Write ``text`` as speech to ``path`` with ``espeak-ng -w``, or raise :class:`AudioError`.

    The text goes through stdin, so a cue starting with ``-`` is never an option.
    An engine that takes more than ``limit_s`` wall seconds is killed.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            espeak,
            "-w",
            str(path),
            "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise AudioError(f"cannot run {espeak}: {exc.strerror or exc}") from exc
    try:
        with _watchdog(proc, limit_s) as expired:
            _, err = await proc.communicate(text.encode("utf-8"))
    finally:
        if proc.returncode is None:
            _kill(proc)
            # Reap it, even when cancelled: an unreaped child warns at exit.
            await asyncio.shield(proc.wait())
    if expired.is_set():
        raise AudioError(f"{espeak} took more than {limit_s:g} s")
    if proc.returncode != 0:
        detail = err.decode("utf-8", "replace").strip().splitlines()
        reason = detail[0] if detail else "no message"
        raise AudioError(f"{espeak} exited with {proc.returncode}: {reason}")


def default_player() -> list[str] | None:
    """``paplay`` (PulseAudio/PipeWire), else ``aplay`` (ALSA), else None."""
    for argv in (["paplay"], ["aplay", "-q"]):
        found = shutil.which(argv[0])
        if found:
            return [found, *argv[1:]]
    return None


class Player:
    """Plays one WAV at a time with an external command; the playing one can be cut.

    ``play`` returns True when the file played to the end, False when it was
    interrupted, and raises :class:`AudioError` when the command failed (the sink
    then stops trying: nothing will be heard on this machine).
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self._proc: asyncio.subprocess.Process | None = None
        self._interrupted = False

    async def play(self, path: Path) -> bool:
        """Play ``path`` to the end (True) or until :meth:`interrupt` (False)."""
        self._interrupted = False
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                str(path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise AudioError(f"cannot run {self.argv[0]}: {exc.strerror or exc}") from exc
        self._proc = proc
        if self._interrupted:  # cut off while the player was starting
            _kill(proc)
        try:
            with _watchdog(proc, PLAY_LIMIT_S) as expired:
                _, err = await proc.communicate()
        finally:
            self._proc = None
            if proc.returncode is None:
                _kill(proc)
                await asyncio.shield(proc.wait())
        if expired.is_set():
            raise AudioError(f"{Path(self.argv[0]).name} took more than {PLAY_LIMIT_S:g} s")
        if self._interrupted:
            return False
        if proc.returncode != 0:
            detail = err.decode("utf-8", "replace").strip().splitlines()
            reason = detail[0] if detail else "no message"
            name = Path(self.argv[0]).name
            raise AudioError(f"{name} exited with {proc.returncode}: {reason}")
        return True

    def interrupt(self) -> None:
        """Stop what is playing now, or what is about to play (its player is starting)."""
        self._interrupted = True
        if self._proc is not None:
            _kill(self._proc)
