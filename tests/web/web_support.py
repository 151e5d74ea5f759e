"""The live page in a real browser: Debian's chromium driven by Playwright.

* :func:`launch` starts ``/usr/bin/chromium`` (never a browser Playwright would
  download), with ``--no-sandbox`` when running as root.
* :class:`RunningSession` is ``retrorun run ... --web 127.0.0.1:0`` as a real
  process on the embedded simulator (record and belt state log in a temporary
  folder); it reads the ``web: URL`` line and the QR code the command prints, and
  kills its process (by pid) if a test leaves it running.
* ``session_waits.wait_until`` polls with a bound (never a fixed sleep).
* :func:`compare_images` compares a screenshot with its approved snapshot, tolerant
  of antialiasing, by the suite's one rule (``snapshot_support``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from retrorun.record import read_record
from session_waits import wait_until
from snapshot_support import compare_png
from treadsim.runtime import read_state_log

RETRORUN = str(Path(sys.executable).parent / "retrorun")
CHROMIUM = Path("/usr/bin/chromium")
SNAPSHOTS = Path(__file__).parent / "snapshots"


def chromium_args() -> list[str]:
    args = ["--disable-gpu", "--font-render-hinting=none", "--hide-scrollbars"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # chromium refuses to run as root with its sandbox
    return args


def need_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs it (apt-get install chromium)")


@contextlib.contextmanager
def launch() -> Iterator[Browser]:
    """Debian's chromium under Playwright (a test fails at once where it is missing)."""
    need_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=chromium_args())
        try:
            yield chromium
        finally:
            chromium.close()


class RunningSession:
    """One ``retrorun run --web`` process and what it printed."""

    def __init__(self, folder: Path, program: str, *extra: str, speedup: float = 5) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.record = folder / "run.jsonl"
        self.belt = folder / "belt.jsonl"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [
                RETRORUN,
                "run",
                program,
                "--yes",
                "--plain",
                "--voice",
                "off",
                "--speedup",
                f"{speedup:g}",
                "--record",
                str(self.record),
                "--sim-state-log",
                str(self.belt),
                "--web",
                "127.0.0.1:0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self.base = self.token = ""

    def ready(self) -> RunningSession:
        """Wait for the ``web: URL`` line (sessions started together wait together)."""
        self.url = wait_until(self._url, timeout=30, what="the 'web: http' line")
        self.base = self.url.split("?")[0].rstrip("/")
        self.token = self.url.split("token=", 1)[1]
        return self

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _url(self) -> str | None:
        if self.proc.poll() is not None and not self.lines:
            raise AssertionError(
                f"retrorun ended: {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        for line in self.lines:
            if line.startswith("web: http"):
                return line.removeprefix("web: ")
        return None

    def qr_lines(self) -> list[str]:
        """The QR code printed under the address (half-block characters)."""
        start = next(i for i, line in enumerate(self.lines) if line.startswith("web: http"))
        out = []
        for line in self.lines[start + 1 :]:
            if not line or set(line) - set(" ▀▄█"):
                break
            out.append(line)
        return out

    def records(self) -> list[dict[str, Any]]:
        return list(read_record(self.record)) if self.record.exists() else []

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("type") == "event" and r.get("kind") == kind]

    def belt_states(self) -> list[dict[str, Any]]:
        return read_state_log(self.belt.read_text()) if self.belt.exists() else []

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self._reader.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def program_file(folder: Path, backward_s: int = 600) -> Path:
    """A short forward walk, then one long backward step (the turn-around between
    them is the plan's own)."""
    path = folder / "long-back.toml"
    path.write_text(
        'name = "Long back"\ndescription = "Written by a test"\nprofile = "novice"\n\n'
        '[[steps]]\ndirection = "forward"\nduration = 15\nspeed_kmh = 3.0\n'
        'label = "Warm up"\n\n'
        f'[[steps]]\ndirection = "backward"\nduration = {backward_s}\nspeed_kmh = 2.5\n'
        'label = "Backward"\ncue = "Walk backward, small steps."\n'
    )
    return path


def compare_images(actual_png: bytes, name: str) -> str | None:
    """None when ``actual_png`` matches the approved ``snapshots/<name>.png``;
    otherwise what differs (``snapshot_support.compare_png``)."""
    return compare_png(actual_png, SNAPSHOTS / f"{name}.png")
