"""Ending a process a test started: one way for brokers, watch desks and simulators."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from typing import Any

__all__ = ["stop_process"]


def stop_process(process: subprocess.Popen[Any], *, wait_s: float = 10.0) -> None:
    """SIGTERM ``process`` if it still runs (after SIGCONT: a frozen one cannot die of
    SIGTERM); SIGKILL it if it has not ended within ``wait_s``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGCONT)
        process.terminate()
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(wait_s)
