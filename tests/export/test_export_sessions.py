"""Recorded simulator sessions through FIT and TCX and back, checked against the record.

The sessions are the suite's shared records (tests/recorded_sessions.py, run once per
test run on fake time, the report tests read them too): every library program
whole (its plan, its turn-arounds, its labels), the demo with a console pause, the
demo stopped at the console, the demo with the runner's presses at the ceiling, a
console speed-up and the runner's stop, and the demo ended by a safety stop. Each
record is exported both ways and read back with the official readers: Garmin's FIT decoder
(integrity check, no errors) and Garmin's TCX schema.

Some TCX readers drop trackpoints that have no position unless told to keep them
(``tcxreader`` needs ``only_gps=False``); the laps' totals carry the session
either way, and the trackpoints are checked here with lxml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from export_support import EXPORTED, decode_fit, validate_tcx
from lxml import etree

from retrorun.export import (
    ACTIVITY_EXTENSION,
    TCX,
    fit_activity,
    read_activity,
    tcx_activity,
    write_exports,
)
from retrorun.record import last_session, read_record

NS = {"t": TCX, "x": ACTIVITY_EXTENSION}


@pytest.fixture(scope="module")
def exported(records: dict[str, Path]) -> dict[str, tuple[dict[str, Any], etree._Element]]:
    """Each record's FIT messages and TCX document, decoded by the official readers."""
    out = {}
    for name in EXPORTED:
        activity = read_activity(records[name])
        out[name] = (decode_fit(fit_activity(activity)), validate_tcx(tcx_activity(activity)))
    return out


def _lines(path: Path) -> list[Mapping[str, Any]]:
    return last_session(read_record(path))


def _steps(lines: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [line for line in lines if line.get("kind") == "step_started"]


def _end(lines: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    [end] = [line for line in lines if line["type"] == "end"]
    return end


def _paused_s(lines: list[Mapping[str, Any]]) -> float:
    """From the first pause to the resume after it (the demo pauses once)."""
    kinds = [(line.get("kind"), line["t"]) for line in lines if line["type"] == "event"]
    paused = [t for kind, t in kinds if kind == "paused"]
    resumed = [t for kind, t in kinds if kind == "resumed"]
    return resumed[0] - paused[0] if paused else 0.0


@pytest.mark.parametrize("name", EXPORTED)
def test_fit_totals_and_laps_match_the_record(
    name: str, records: dict[str, Path], exported: dict[str, Any]
) -> None:
    messages, _ = exported[name]
    lines = _lines(records[name])
    end, steps = _end(lines), _steps(lines)
    [file_id] = messages["file_id_mesgs"]
    assert file_id["type"] == "activity"
    assert file_id["manufacturer"] == "development"
    assert file_id["product_name"] == "retrorun"
    started = dt.datetime.fromisoformat(lines[0]["started_at"])
    assert file_id["time_created"] == started
    [session] = messages["session_mesgs"]
    assert (session["sport"], session["sub_sport"]) == ("running", "treadmill")
    assert session["total_elapsed_time"] == pytest.approx(end["duration_s"], abs=0.001)
    assert session["total_distance"] == pytest.approx(end["distance_m"], abs=0.01)
    assert session["total_calories"] == round(end["energy_kcal"])
    assert session["num_laps"] == len(steps)
    [activity] = messages["activity_mesgs"]
    assert activity["num_sessions"] == 1
    assert activity["total_timer_time"] == session["total_timer_time"]

    laps = messages["lap_mesgs"]
    assert [lap["wkt_step_index"] for lap in laps] == [s["index"] for s in steps]
    directions = [lap["developer_fields"][0] for lap in laps]
    assert directions == [s["direction"] for s in steps]
    assert [lap["developer_fields"][1] for lap in laps] == [s["label"] for s in steps]
    assert directions.count("backward") == sum(s["direction"] == "backward" for s in steps)
    assert sum(lap["total_distance"] for lap in laps) == pytest.approx(end["distance_m"], abs=0.05)
    assert sum(lap["total_elapsed_time"] for lap in laps) == pytest.approx(end["duration_s"])
    assert sum(lap["total_calories"] for lap in laps) == pytest.approx(
        end["energy_kcal"], abs=len(laps)
    )
    for lap, step in zip(laps, steps, strict=True):
        assert lap["start_time"] == started + dt.timedelta(seconds=round(step["t"]))
        assert lap["intensity"] == ("rest" if step["turnaround"] else "active")
    # The plan rides along: a lap's step index names a workout step with its label.
    names = [w["wkt_step_name"] for w in messages["workout_step_mesgs"]]
    for lap, step in zip(laps, steps, strict=True):
        assert step["label"] in names[lap["wkt_step_index"]]


@pytest.mark.parametrize("name", EXPORTED)
def test_fit_records_are_per_second_without_position(
    name: str, records: dict[str, Path], exported: dict[str, Any]
) -> None:
    messages, _ = exported[name]
    lines = _lines(records[name])
    telemetry = [line for line in lines if line["type"] == "telemetry"]
    started = dt.datetime.fromisoformat(lines[0]["started_at"])
    points = messages["record_mesgs"]
    times = [p["timestamp"] for p in points]
    assert times == sorted(set(times))  # one record a second, in order
    assert len(points) == len({round(line["t"]) for line in telemetry})
    by_time = {started + dt.timedelta(seconds=round(line["t"])): line for line in telemetry}
    for point in points:
        line = by_time[point["timestamp"]]
        assert point["enhanced_speed"] == pytest.approx(line["speed_kmh"] / 3.6, abs=0.001)
        assert point["speed"] == pytest.approx(point["enhanced_speed"])
        assert point["distance"] == pytest.approx(line["distance_m"], abs=0.01)
        # a record without a reading (a strap not heard yet) has none in the file either
        assert point.get("heart_rate") == line.get("heart_rate_bpm")
        assert point["grade"] == pytest.approx(line["incline_pct"], abs=0.01)
        assert not {"position_lat", "position_long", "cadence"} & point.keys()
    for lap in messages["lap_mesgs"]:
        assert not {"start_position_lat", "end_position_lat"} & lap.keys()


@pytest.mark.parametrize("name", EXPORTED)
def test_tcx_laps_match_the_record(
    name: str, records: dict[str, Path], exported: dict[str, Any]
) -> None:
    _, document = exported[name]
    lines = _lines(records[name])
    end, steps = _end(lines), _steps(lines)
    [activity] = document.findall("t:Activities/t:Activity", NS)
    assert activity.get("Sport") == "Running"
    laps = activity.findall("t:Lap", NS)
    assert len(laps) == len(steps)
    notes = [lap.findtext("t:Notes", namespaces=NS) or "" for lap in laps]
    backward = [n for n in notes if n.endswith("(facing backward)")]
    assert len(backward) == sum(s["direction"] == "backward" for s in steps)
    total = sum(float(lap.findtext("t:TotalTimeSeconds", namespaces=NS) or 0) for lap in laps)
    distance = sum(float(lap.findtext("t:DistanceMeters", namespaces=NS) or 0) for lap in laps)
    assert distance == pytest.approx(end["distance_m"], abs=0.05)
    assert total == pytest.approx(end["duration_s"] - _paused_s(lines), abs=0.01)
    points = activity.findall(".//t:Trackpoint", NS)
    assert len(points) == sum(line["type"] == "telemetry" for line in lines)
    assert not activity.findall(".//t:Position", NS)
    assert all(p.find("t:Extensions/x:TPX/x:Speed", NS) is not None for p in points)
    for lap, step in zip(laps, steps, strict=True):
        assert lap.findtext("t:Intensity", namespaces=NS) == (
            "Resting" if step["turnaround"] else "Active"
        )


def test_a_pause_stops_the_timer(records: dict[str, Path], exported: dict[str, Any]) -> None:
    messages, _ = exported["demo-paused"]
    lines = _lines(records["demo-paused"])
    assert _paused_s(lines) > 5
    timers = [(e["event"], e["event_type"]) for e in messages["event_mesgs"]]
    assert timers == [
        ("timer", "start"),
        ("timer", "stop_all"),
        ("timer", "start"),
        ("timer", "stop_all"),
    ]
    [session] = messages["session_mesgs"]
    expected = _end(lines)["duration_s"] - _paused_s(lines)
    assert session["total_timer_time"] == pytest.approx(expected, abs=0.01)
    assert sum(lap["total_timer_time"] for lap in messages["lap_mesgs"]) == pytest.approx(expected)


def test_a_session_ended_early_says_so_in_its_last_lap(exported: dict[str, Any]) -> None:
    messages, document = exported["demo-stopped"]
    assert [lap["lap_trigger"] for lap in messages["lap_mesgs"]][-2:] == ["time", "session_end"]
    triggers = document.findall(".//t:Lap/t:TriggerMethod", NS)
    assert [t.text for t in triggers][-2:] == ["Time", "Manual"]
    notes = document.findtext("t:Activities/t:Activity/t:Notes", namespaces=NS) or ""
    assert "ended: user stop" in notes


def test_the_treadmill_and_retrorun_are_named(exported: dict[str, Any]) -> None:
    messages, document = exported["demo"]
    creator, treadmill = messages["device_info_mesgs"]
    assert (creator["device_index"], creator["product_name"]) == ("creator", "retrorun")
    assert treadmill["product_name"] == "Generic FTMS (simulated)"
    assert document.findtext(".//t:Creator/t:Name", namespaces=NS) == "retrorun with Generic FTMS"
    names = [f["field_name"] for f in messages["field_description_mesgs"]]
    assert names == ["direction", "step_label"]


def test_write_exports_writes_beside_the_record(records: dict[str, Path], tmp_path: Path) -> None:
    record = tmp_path / "morning.jsonl"
    record.write_bytes(records["demo"].read_bytes())
    assert write_exports(record, {"both"}) == [tmp_path / "morning.fit", tmp_path / "morning.tcx"]
    decode_fit((tmp_path / "morning.fit").read_bytes())
    validate_tcx((tmp_path / "morning.tcx").read_bytes())
    assert write_exports(record, {"tcx"}) == [tmp_path / "morning.tcx"]
    assert write_exports(record, set()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "morning.fit",
        "morning.jsonl",
        "morning.tcx",
    ]
