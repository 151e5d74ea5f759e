"""Every example ``retrorun ftms decode --help`` shows works, and logs' spellings too."""

from __future__ import annotations

import json

import pytest

from retrorun.cli import main
from retrorun.cli._ftms import EXAMPLES, characteristic_name


@pytest.mark.parametrize(("name", "value"), EXAMPLES)
def test_every_help_example_decodes(
    name: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ftms", "decode", *name.split(), value]) == 0
    json.loads(capsys.readouterr().out)


def test_the_help_shows_exactly_those_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ftms", "decode", "--help"])
    text = capsys.readouterr().out
    for name, value in EXAMPLES:
        assert f"retrorun ftms decode {name} {value!r}" in text


@pytest.mark.parametrize(
    "spelling",
    ["treadmill-data", "2acd", "2ACD", "0x2ACD", "00002acd-0000-1000-8000-00805f9b34fb"],
)
def test_a_characteristic_by_name_or_uuid(spelling: str) -> None:
    assert characteristic_name(spelling) == "treadmill-data"


@pytest.mark.parametrize("frame", ["0000f401", "00-00-F4-01", "00:00:f4:01", "0x00 0x00 0xF4 0x01"])
def test_hex_as_logs_write_it(frame: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ftms", "decode", "2acd", frame]) == 0
    assert json.loads(capsys.readouterr().out)["speed_kmh"] == 5.0


def test_an_unknown_characteristic_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ftms", "decode", "2a00", "00"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "UUID" in err
