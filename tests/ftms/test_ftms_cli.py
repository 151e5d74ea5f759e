"""``retrorun ftms decode``: one JSON object out, one clear line and exit 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from retrorun.cli import main

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("treadmill-data", "0800 2003 1e00 ff7f",
     {"more_data": False, "speed_kmh": 8.0, "incline_pct": 3.0, "ramp_angle_deg": None}),
    ("treadmill-data", "0500 640000 aa",
     {"more_data": True, "distance_m": 100, "extra_hex": "aa"}),
    ("feature", "5c16000003000000",
     {"machine": ["elapsed_time", "elevation_gain", "expended_energy", "heart_rate_measurement",
                  "inclination", "step_count", "total_distance"],
      "target": ["inclination", "speed"]}),
    ("speed-range", "64007c0b0a00", {"min_kmh": 1.0, "max_kmh": 29.4, "step_kmh": 0.1}),
    ("incline-range", "9cffc8000500", {"min_pct": -10.0, "max_pct": 20.0, "step_pct": 0.5}),
    ("control-point", "023403", {"op": "set_target_speed", "speed_kmh": 8.2}),
    ("control-point", "03e7ff", {"op": "set_target_inclination", "incline_pct": -2.5}),
    ("control-point", "0802", {"op": "stop_or_pause", "control": "pause"}),
    ("control-point", "0c881300", {"op": "set_targeted_distance", "distance_m": 5000}),
    ("control-point", "0d0807", {"op": "set_targeted_training_time", "seconds": 1800}),
    ("control-point", "2a01", {"op": "0x2a", "parameter_hex": "01"}),
    ("control-response", "800205",
     {"request_op": "set_target_speed", "result": "control_not_permitted"}),
    ("status", "053403", {"op": "target_speed_changed", "target_speed_kmh": 8.2}),
    ("status", "06e7ff", {"op": "target_incline_changed", "target_incline_pct": -2.5}),
    ("status", "0201", {"op": "stopped_or_paused_by_user", "control": "stop"}),
    ("status", "ff", {"op": "control_permission_lost"}),
    ("training-status", "010d517569636b", {"status": "manual_mode", "text": "Quick"}),
    ("training-status", "0001", {"status": "idle"}),
    ("service-data", "010100", {"available": True, "machine_type": ["treadmill"]}),
]  # fmt: skip


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["ftms", "decode", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("name", "hex_text", "expected"), CASES)
def test_decode_prints_one_json_object(
    capsys: pytest.CaptureFixture[str], name: str, hex_text: str, expected: dict[str, Any]
) -> None:
    code, out, err = _run(capsys, name, hex_text)
    assert code == 0
    assert err == ""
    assert out.count("\n") == 1
    assert json.loads(out) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["0c00f403"],
        ["0C 00 F4 03"],
        ["0c:00:f4:03"],
        ["0C:00:F4:03"],
        ["0c", "00", "f4", "03"],
        ["0C-00-F4-03"],
    ],
)
def test_hex_forms(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, _ = _run(capsys, "speed-range", *args, "0a00")
    assert code == 0
    assert json.loads(out) == {"min_kmh": 0.12, "max_kmh": 10.12, "step_kmh": 0.1}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["treadmill-data", "zz"], "not a hex digit"),
        (["treadmill-data", "0x0g00"], "not a hex digit"),
        (["treadmill-data", "0c0"], "odd number of hex digits"),
        (["treadmill-data", " "], "no bytes"),
        (["treadmill-data", "0400f401"], "Treadmill Data (0x2ACD)"),
        (["treadmill-data", "00"], "no flags"),
        (["feature", "0c14"], "Fitness Machine Feature (0x2ACC)"),
        (["speed-range", "6400"], "Supported Speed Range (0x2AD4)"),
        (["incline-range", "9cff"], "Supported Inclination Range (0x2AD5)"),
        (["control-point", "02"], "set_target_speed (0x02) needs a 2-byte parameter"),
        (["control-response", "0201"], "is not the response code 0x80"),
        (["control-response", "80"], "request op code needs 1 byte"),
        (["status", "0d4000"], "targeted_distance_changed (0x0D)"),
        (["training-status", "01"], "Training Status (0x2AD3)"),
        (["service-data", "01"], "machine type"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("retrorun: ")
    assert needle in err
    assert "Traceback" not in err


def test_unknown_characteristic_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ftms", "decode", "heart-rate", "00"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert "is not one of" in err


@pytest.mark.process
def test_real_subprocess() -> None:
    executable = Path(sys.executable).parent / "retrorun"
    done = subprocess.run(
        [
            str(executable),
            "ftms",
            "decode",
            "treadmill-data",
            "84 24 2C 01 2E 00 00 02 00 00 00 00 39 00 53 00 00",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 83
    short = subprocess.run(
        [str(executable), "ftms", "decode", "treadmill-data", "0400f401"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert short.returncode == 2
    assert short.stdout == ""
    assert short.stderr.count("\n") == 1
    assert "Traceback" not in short.stderr
