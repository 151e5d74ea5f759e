"""What a command loads before it does anything: only what it uses.

The controller's home is a small board clipped to the treadmill, where every
library loaded costs a noticeable part of a second and megabytes that stay. Each
command's help, and ``retrorun ftms decode``, run in a fresh interpreter here and
list what they imported; the heavy parts (pydantic, asyncio, the Bluetooth stack,
the display, the chart, the exporters, the web server) must not be among them.
This tests what is imported, never how long it takes (``bench/startup.py`` times it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from retrorun.cli import _build_parser

# What only some sessions use: the full-screen display, the chart, the web page, the
# exporters. A plain session without them must not load them.
OPTIONAL = ("matplotlib", "textual", "aiohttp", "garmin_fit_sdk", "lxml")

# A command's help, or a decode, needs none of these.
HEAVY = (
    "pydantic",
    "asyncio",
    "bleak",
    "bumble",
    "matplotlib",
    "textual",
    "aiohttp",
    "aiomqtt",
    "garmin_fit_sdk",
    "lxml",
    "retrorun.devices",
    "retrorun.programs",
    "retrorun.app",
    "retrorun.session",
    "retrorun.treadmill",
    "retrorun.report",
    "retrorun.export",
)

_PROBE = """
import json, sys
from {module} import main
try:
    main({argv!r})
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded_by(module: str, argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after ``module.main(argv)``."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, argv=argv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    marker = done.stderr.rpartition("\nMODULES ")[2]
    assert marker, done.stderr
    return set(json.loads(marker))


def heavy(modules: set[str], names: tuple[str, ...] = HEAVY) -> list[str]:
    return sorted(
        name for name in modules if any(name == h or name.startswith(h + ".") for h in names)
    )


def _commands() -> list[list[str]]:
    """Every ``retrorun`` command and action, read from the parser itself."""
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append(path)
        for action in subs:
            for name, child in action.choices.items():
                walk(child, [*path, name])

    walk(_build_parser(), [])
    return found


@pytest.mark.parametrize("command", [[], *_commands()], ids=lambda c: " ".join(c) or "retrorun")
def test_a_command_help_loads_nothing_heavy(command: list[str]) -> None:
    assert heavy(loaded_by("retrorun.cli", [*command, "--help"])) == []


def test_ftms_decode_loads_the_codec_and_nothing_heavy() -> None:
    modules = loaded_by("retrorun.cli", ["ftms", "decode", "treadmill-data", "0000f401"])
    assert "retrorun.ftms" in modules
    assert heavy(modules) == []


def test_treadsim_help_loads_nothing_heavy() -> None:
    assert heavy(loaded_by("treadsim.cli", ["--help"])) == []


def _plain_session(tmp_path: Path) -> set[str]:
    argv = ["run", "demo", "--plain", "--yes", "--voice", "off", "--speedup", "200"]
    modules = loaded_by("retrorun.cli", [*argv, "--record", str(tmp_path / "demo.jsonl")])
    assert "retrorun.session" in modules  # it did run
    return modules


def test_a_plain_session_loads_no_optional_part(tmp_path: Path) -> None:
    assert heavy(_plain_session(tmp_path), OPTIONAL) == []


def test_a_session_without_mqtt_loads_no_mqtt_client(tmp_path: Path) -> None:
    assert heavy(_plain_session(tmp_path), ("aiomqtt", "paho")) == []


def test_watch_is_checked_and_its_bad_input_loads_no_client() -> None:
    """``retrorun watch`` (retrorun.cli._watch) registers cheaply like every command;
    a bad --prefix is refused before the MQTT client or Textual are loaded."""
    assert ["watch"] in _commands()
    argv = ["watch", "mqtt://127.0.0.1:1", "--prefix", "site/#", "--json"]
    assert heavy(loaded_by("retrorun.cli", argv), ("aiomqtt", "paho", "textual", "asyncio")) == []
