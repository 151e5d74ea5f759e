"""``--web`` on the command line: good forms parsed, bad ones one line and exit 2 before
anything connects (a real ``retrorun run`` process for the whole path)."""

from __future__ import annotations

import argparse
import socket
import subprocess
from pathlib import Path

import pytest
from web_support import RETRORUN

from retrorun.cli._run import web_address

pytestmark = pytest.mark.process


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8080", ("127.0.0.1", 8080)),
        ("0", ("127.0.0.1", 0)),
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("localhost:9000", ("localhost", 9000)),
        ("[::1]:8080", ("::1", 8080)),
    ],
)
def test_good_addresses(text: str, expected: tuple[str, int]) -> None:
    assert web_address(text) == expected


@pytest.mark.parametrize("text", ["", "http", "70000", "-1", ":80", "::1:80", "[zz]:80", "a b:80"])
def test_bad_addresses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        web_address(text)


def _run(tmp_path: Path, web: str) -> subprocess.CompletedProcess[str]:
    record = str(tmp_path / "run.jsonl")
    argv = [RETRORUN, "run", "demo", "--yes", "--plain", "--voice", "off", "--record", record]
    return subprocess.run(
        [*argv, "--web", web],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _run(tmp_path, "70000")
    assert done.returncode == 2
    assert "--web" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run.jsonl").exists()


def test_a_port_in_use_is_refused_before_anything_connects(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _run(tmp_path, f"127.0.0.1:{port}")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"--web 127.0.0.1:{port}: cannot listen there" in lines[0]
    assert "web: http" not in done.stdout
    assert not (tmp_path / "run.jsonl").exists()  # no record: nothing started
