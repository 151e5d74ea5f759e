"""``retrorun run`` flags: every number has a range, checked by the parser in one line."""

from __future__ import annotations

import dataclasses

import pytest

from retrorun.app import RunOptions
from retrorun.cli import _build_parser
from retrorun.cli._run import options_from_args
from retrorun.errors import UsageError


def _options(*flags: str) -> RunOptions:
    args = _build_parser().parse_args(["run", "demo", "--yes", *flags])
    return options_from_args(args, stdin_is_tty=True)


def _refused(capsys: pytest.CaptureFixture[str], flag: str, text: str) -> str:
    with pytest.raises(SystemExit) as info:
        _options(f"{flag}={text}")  # "=": a value may start with "-"
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_heart_rate_maximum_and_age_reach_the_options() -> None:
    options = _options("--max-hr", "172", "--age", "64")
    assert options.max_hr == 172
    assert options.age == 64
    assert _options().max_hr is None
    assert _options().age is None


def test_run_options_have_no_catch_all_field() -> None:
    assert "extra" not in {f.name for f in dataclasses.fields(RunOptions)}


@pytest.mark.parametrize(
    ("flag", "low", "high"),
    [
        ("--speedup", "1", "10000"),
        ("--weight-kg", "20", "350"),
        ("--week", "1", "52"),
        ("--max-hr", "60", "240"),
        ("--age", "10", "110"),
        ("--ceiling", "0.01", "25"),
        ("--reference-kmh", "0.01", "25"),
    ],
)
def test_bounds_are_inclusive(flag: str, low: str, high: str) -> None:
    name = flag.removeprefix("--").replace("-", "_")
    for text in (low, high):
        value = getattr(_options(flag, text), name)
        if flag == "--ceiling":
            assert value == round(float(text) * 100)
        else:
            assert value == float(text)


@pytest.mark.parametrize(
    ("flag", "text", "message"),
    [
        ("--speedup", "0.99", "must be from 1 to 10000, not '0.99'"),
        ("--speedup", "10001", "must be from 1 to 10000, not '10001'"),
        ("--speedup", "nan", "must be from 1 to 10000, not 'nan'"),
        ("--weight-kg", "19.9", "must be from 20 to 350 kg"),
        ("--weight-kg", "1e400", "must be from 20 to 350 kg, not '1e400'"),
        ("--week", "53", "must be from 1 to 52"),
        ("--week", "1.5", "expected a whole number, not '1.5'"),
        ("--week", "9" * 5000, "expected a whole number"),
        ("--max-hr", "59", "must be from 60 to 240 bpm"),
        ("--max-hr", "-inf", "expected a whole number, not '-inf'"),
        ("--age", "111", "must be from 10 to 110 years"),
        ("--ceiling", "0", "must be above 0 and at most 25 km/h, not '0'"),
        ("--ceiling", "-inf", "must be above 0 and at most 25 km/h"),
        ("--reference-kmh", "26", "must be above 0 and at most 25 km/h"),
        ("--reference-kmh", "fast", "expected a number, not 'fast'"),
    ],
)
def test_out_of_range_values_are_one_line(
    capsys: pytest.CaptureFixture[str], flag: str, text: str, message: str
) -> None:
    err = _refused(capsys, flag, text)
    assert err.startswith(f"retrorun run: error: argument {flag}: ")
    assert message in err
    assert len(err) < 300


def test_hci_without_a_device_is_refused_not_ignored() -> None:
    with pytest.raises(UsageError, match="--hci needs --device"):
        _options("--hci", "tcp-client:127.0.0.1:9101")
