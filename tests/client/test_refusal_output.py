"""A treadmill that refuses remote control: the runner reads plain sentences,
never a log record ("WARNING:retrorun.treadmill:...") nor a sink's warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process


@pytest.mark.hazard("HZ-12")
def test_a_refusal_of_control_reaches_the_terminal_as_plain_words(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "retrorun"),
            "run",
            "demo",
            "--yes",
            "--plain",
            "--voice",
            "off",
            "--speedup",
            "50",
            "--sim-fault",
            "reject-control",
            "--record",
            str(tmp_path / "session.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    shown = done.stdout + done.stderr
    assert done.returncode == 1, shown
    assert "control" in shown.lower()
    for raw in ("WARNING:", "INFO:", "ERROR:", "retrorun.treadmill", "sink warning:", "Traceback"):
        assert raw not in shown, shown
