"""Where the maximum comes from, the limit the governor holds, zones in bpm, the
runner settings file, and the flags: bad input is one line and exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retrorun.app import RunOptions
from retrorun.cli import _build_parser, main
from retrorun.cli._run import options_from_args
from retrorun.errors import UsageError
from retrorun.hr import (
    RunnerSettings,
    Zone,
    heart_rate_limit,
    load_runner_settings,
    maximum_heart_rate,
    prescribe,
    runner_settings_path,
    tanaka,
)
from retrorun.limits import RunnerProfile
from retrorun.programs import PlanStep, parse_program, plan

ZONES = """
name = "Zones"
profile = "{profile}"
[[steps]]
direction = "forward"
duration = 60
speed_kmh = 3.0
[[steps]]
direction = "backward"
duration = 300
{zone}
speed_range_kmh = [1.5, 3.5]
label = "Zone walk"
"""


def zone_plan(zone: str, profile: str = "rehab") -> tuple[PlanStep, ...]:
    return plan(parse_program(ZONES.format(zone=zone, profile=profile), "z.toml")).steps


@pytest.mark.hazard("HZ-14")
def test_the_maximum_is_the_clinicians_then_the_measured_one_then_tanaka() -> None:
    assert maximum_heart_rate(150, 190, 40) == 150
    assert maximum_heart_rate(None, 190, 40) == 190
    assert maximum_heart_rate(None, None, 40) == tanaka(40) == 180  # 208 - 28
    assert tanaka(70) == 159  # 208 - 49: 220 - age would say 150
    assert maximum_heart_rate(None, None, None) is None


@pytest.mark.hazard("HZ-14")
def test_the_limit_is_karvonen_of_the_reserve_rounded_down() -> None:
    assert heart_rate_limit(180, None, None) == 180
    assert heart_rate_limit(180, 60, None) == 180
    assert heart_rate_limit(180, 60, 80.0) == 156  # 60 + 0.8 x 120
    assert heart_rate_limit(181, 60, 50.0) == 120  # 60 + 60.5, down


def test_zones_in_bpm_of_the_maximum_and_of_the_reserve() -> None:
    rx = prescribe(
        zone_plan("hr_reserve_pct = [40, 60]"),
        profile=RunnerProfile.REHAB,
        max_hr=None,
        measured_max_hr=170,
        resting_hr=70,
        has_strap=True,
    )
    assert rx.maximum == 170
    assert rx.limit == 150  # rehab: 80 % of the reserve by default
    assert rx.zones == {2: Zone(110, 130)}  # 70 + 0.4 x 100, 70 + 0.6 x 100
    rx = prescribe(
        zone_plan("hr_pct = [60, 70]"),
        profile=RunnerProfile.REHAB,
        max_hr=None,
        age=40,
        resting_hr=70,  # known, but hr_pct is of the maximum all the same
        reserve_pct=100.0,
        has_strap=True,
    )
    assert rx.limit == 180
    assert rx.zones == {2: Zone(108, 126)}
    rx = prescribe(
        zone_plan("hr_zone = [95, 105]", "novice"),
        profile=RunnerProfile.NOVICE,
        max_hr=150,
        resting_hr=60,
        has_strap=True,
    )
    assert rx.limit == 150  # no profile fraction for novices: the maximum itself
    assert rx.zones == {2: Zone(95, 105)}


@pytest.mark.parametrize(
    ("zone", "kwargs", "message"),
    [
        ("hr_zone = [95, 105]", {"max_hr": 150}, "need a heart-rate strap"),
        ("hr_zone = [95, 105]", {"has_strap": True}, "need a maximum heart rate"),
        ("hr_reserve_pct = [40, 60]", {"has_strap": True, "max_hr": 150}, "resting heart rate"),
        ("hr_zone = [95, 125]", {"has_strap": True, "max_hr": 120}, "over the 120 bpm limit"),
        ("hr_pct = [60, 65]", {"has_strap": True, "max_hr": 120}, "narrower than 8 bpm"),
        ("hr_zone = [95, 105]", {"max_hr": 150, "reserve_pct": 70.0}, "--resting-hr"),
        ("hr_zone = [95, 105]", {"max_hr": 150, "resting_hr": 150}, "not under the 150"),
    ],
)
@pytest.mark.hazard("HZ-14")
def test_a_zone_that_cannot_be_held_safely_is_refused_in_one_line(
    zone: str, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"max_hr": None, **kwargs}
    with pytest.raises(UsageError, match=message) as info:
        prescribe(zone_plan(zone), profile=RunnerProfile.REHAB, **arguments)
    assert "\n" not in str(info.value)


def test_a_program_of_speeds_needs_nothing() -> None:
    steps = plan(
        parse_program(
            ZONES.format(zone="", profile="rehab").replace(
                "speed_range_kmh = [1.5, 3.5]", "speed_kmh = 2.0"
            ),
            "s.toml",
        )
    ).steps
    rx = prescribe(steps, profile=RunnerProfile.REHAB, max_hr=None)
    assert rx.maximum is None
    assert rx.limit is None
    assert not rx.zones


# ------------------------------------------------------------ runner settings


def test_the_settings_file_lives_in_the_config_home(tmp_path: Path) -> None:
    assert runner_settings_path({"XDG_CONFIG_HOME": str(tmp_path)}) == (
        tmp_path / "retrorun" / "runner.toml"
    )
    assert runner_settings_path({"HOME": "/home/r"}) == Path("/home/r/.config/retrorun/runner.toml")
    assert runner_settings_path({}) is None
    assert load_runner_settings(tmp_path / "missing.toml") == RunnerSettings()
    good = tmp_path / "runner.toml"
    good.write_text("max_hr = 183  # measured, treadmill test\nresting_hr = 58\n")
    assert load_runner_settings(good) == RunnerSettings(max_hr=183, resting_hr=58)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max-hr = 183\n", "unknown key 'max-hr'"),
        ("max_hr = 183.5\n", "max_hr must be a whole number"),
        ("max_hr = true\n", "max_hr must be a whole number"),
        ("max_hr = 300\n", "max_hr must be from 60 to 240 bpm, not 300"),
        ("resting_hr = 10\n", "resting_hr must be from 30 to 120 bpm"),
        ("max_hr = 150\nresting_hr = 110\nmax_hr = 1\n", "not a TOML file"),
        ("max_hr = 100\nresting_hr = 100\n", "resting_hr 100 is not under max_hr"),
        ("\xff\xfe", "not a TOML file"),
    ],
)
def test_a_bad_settings_file_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    folder = tmp_path / "retrorun"
    folder.mkdir()
    (folder / "runner.toml").write_bytes(text.encode("latin-1"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["run", "demo", "--yes", "--plain", "--voice", "off"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err
    assert "runner.toml" in err


def _options(*flags: str) -> RunOptions:
    args = _build_parser().parse_args(["run", "demo", "--yes", *flags])
    return options_from_args(args, stdin_is_tty=True)


def test_the_flags_and_the_settings_reach_the_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    options = _options("--resting-hr", "62", "--hr-reserve-pct", "75")
    assert (options.resting_hr, options.hr_reserve_pct, options.measured_max_hr) == (62, 75.0, None)
    (tmp_path / "retrorun").mkdir()
    (tmp_path / "retrorun" / "runner.toml").write_text("max_hr = 187\nresting_hr = 55\n")
    options = _options("--age", "40")
    assert (options.measured_max_hr, options.resting_hr, options.age) == (187, 55, 40)
    assert _options("--resting-hr", "64").resting_hr == 64  # the flag wins over the file


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--resting-hr", "29"], "argument --resting-hr: must be from 30 to 120 bpm, not '29'"),
        (["--resting-hr", "60.5"], "argument --resting-hr: expected a whole number, not '60.5'"),
        (["--hr-reserve-pct", "nan"], "argument --hr-reserve-pct: must be from 20 to 100 %"),
        (["--hr-reserve-pct", "101"], "argument --hr-reserve-pct: must be from 20 to 100 %"),
    ],
)
def test_bad_heart_rate_flags_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "demo", "--yes", *flags])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--hr-reserve-pct", "70", "--age", "40"], "--hr-reserve-pct needs a resting heart rate"),
        (["--hr-reserve-pct", "70", "--resting-hr", "60"], "--hr-reserve-pct needs a maximum"),
        (["--resting-hr", "120", "--max-hr", "110"], "not under the 110 bpm maximum"),
    ],
)
def test_contradicting_heart_rate_figures_are_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    record = tmp_path / "r.jsonl"
    code = main(
        ["run", "demo", "--yes", "--plain", "--voice", "off", "--record", str(record), *flags]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message in err
    assert not record.exists()


@pytest.mark.hazard("HZ-15")
def test_a_zone_program_without_a_strap_is_refused_before_the_belt_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    program = tmp_path / "zones.toml"
    program.write_text(ZONES.format(zone="hr_reserve_pct = [40, 60]", profile="rehab"))
    state_log = tmp_path / "belt.jsonl"
    base = ["run", str(program), "--yes", "--plain", "--voice", "off"]
    base += ["--record", str(tmp_path / "r.jsonl"), "--sim-state-log", str(state_log)]
    assert main([*base, "--max-hr", "160", "--resting-hr", "60"]) == 2
    assert "need a heart-rate strap" in capsys.readouterr().err
    assert main([*base, "--sim-hr", "--max-hr", "160"]) == 2
    assert "need a resting heart rate" in capsys.readouterr().err
    assert not state_log.exists()  # no simulator ran: nothing moved
