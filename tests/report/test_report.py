"""``retrorun report``: the live summary and the report read back are one, on real records.

Every library program, a session with repeated key presses at the ceiling, a
console speed-up and the runner's own stop, and one that ends in a safety stop,
all recorded from the simulator (tests/report/conftest.py); then cut and
corrupt copies of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from report_support import LIBRARY, PRESSES, Run

from retrorun.cli import main
from retrorun.record import SessionSummary, load_record
from retrorun.report import WeekMatch, report_dict, report_lines, week_of
from retrorun.report._figures import limits_in_force

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _summary(run: Run) -> SessionSummary:
    read = load_record(run.record)
    assert read.error is None
    assert read.bad_lines == 0
    [summary] = read.sessions
    return summary


@pytest.mark.parametrize("name", [*LIBRARY, "eventful", "safety-stop"])
def test_the_live_summary_is_the_report_of_the_file(runs: dict[str, Run], name: str) -> None:
    run = runs[name]
    expected = report_lines(_summary(run))
    printed = run.printed.splitlines()
    assert printed[-1] == f"  record: {run.record}"
    assert printed[-1 - len(expected) : -1] == expected


@pytest.mark.parametrize("name", LIBRARY)
@pytest.mark.hazard("HZ-01", "HZ-08")
def test_every_library_program_reports_every_step_done(runs: dict[str, Run], name: str) -> None:
    """Every library program runs to completion on the strict simulator, never over
    its ceiling facing backward, the belt seen at rest at the end; and its report
    says each step was done."""
    run = runs[name]
    assert run.code == 0, run.printed
    [end] = [line for line in run.lines() if line["type"] == "end"]
    assert end["reason"] == "completed"
    assert end["belt_stopped"] is True
    backward = [
        line["speed_kmh"]
        for line in run.lines()
        if line["type"] == "telemetry" and line["direction"] == "backward"
    ]
    assert backward, "a backward program records backward telemetry"
    summary = _summary(run)
    body = report_dict(summary)
    assert body["complete_record"] is True
    assert body["ending"] == "completed"
    assert body["steps"]
    assert {step["state"] for step in body["steps"]} == {"done"}
    plan_steps = [s for s in summary.plan if not s.turnaround]
    assert [step["index"] for step in body["steps"]] == [s.index for s in plan_steps]
    for step in body["steps"]:
        # The step ran at least its planned time and the belt was at its target
        # for most of it (ramps and turn-around run-downs take the rest).
        assert step["time_s"] >= step["planned_s"] - 1
        assert step["at_target_s"] >= 0.8 * step["planned_s"] - 3
    turns = [s for s in summary.plan if s.turnaround]
    assert len(body["turnarounds"]) == len(turns)
    assert all(turn["took_s"] >= 10 for turn in body["turnarounds"])  # the hold, at least
    assert body["max_backward_kmh"] <= body["ceiling_kmh"]
    assert body["heart_rate_max_bpm"] >= body["heart_rate_mean_bpm"] > 0
    assert body["pace_s_per_km"] == pytest.approx(
        body["duration_s"] / body["distance_m"] * 1000, rel=0.01
    )
    assert body["safety_events"] == []
    text = "\n".join(report_lines(summary))
    assert f"steps: {len(plan_steps)} of {len(plan_steps)} done" in text
    assert "no safety events" in text


@pytest.mark.parametrize("name", LIBRARY)
def test_report_of_every_library_program_from_the_command_line(
    runs: dict[str, Run], name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = runs[name]
    png = tmp_path / "chart.png"
    assert main(["report", str(run.record), "--json", "--png", str(png)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["program"] == _summary(run).program
    assert err == f"wrote {png}\n"  # standard output holds the JSON alone
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_weeks_are_found_from_the_plan_the_session_announced(runs: dict[str, Run]) -> None:
    assert week_of(_summary(runs["balance-steps"])) == WeekMatch(2, 2, 4)  # run at week 2
    assert week_of(_summary(runs["retro-intro"])) == WeekMatch(1, 1, 2)
    assert week_of(_summary(runs["demo"])) == WeekMatch(1, 1, None)
    edited = _summary(runs["retro-intro"])
    edited.program = "Somebody's own program"
    assert week_of(edited) is None


@pytest.mark.hazard("HZ-19")
def test_repeats_are_counted_and_the_runners_stop_is_no_safety_event(
    runs: dict[str, Run],
) -> None:
    run = runs["eventful"]
    summary = _summary(run)
    body = report_dict(summary)
    kinds = [group["kind"] for group in body["safety_events"]]
    assert "user_stop" not in kinds
    assert "session_ended" not in kinds
    [clamped] = [g for g in body["safety_events"] if g["kind"] == "ceiling_clamped"]
    assert clamped["count"] == PRESSES - 1
    assert "console_change" in kinds
    assert "ceiling_violation" in kinds
    assert body["ending"] == "stopped by the runner"
    assert body["user_stop_t"] is not None
    assert [step["state"] for step in body["steps"]] == [
        "done",
        "cut short",
        "not reached",
        "not reached",
    ]
    text = "\n".join(report_lines(summary))
    assert f"ceiling_clamped, {PRESSES - 1} times" in text
    assert text.count("Not faster") == 1
    assert "Demo: stopped by the runner, belt stopped" in text
    assert "user_stop" not in text
    assert "over the ceiling for 0:0" in text


def test_times_read_m_ss(runs: dict[str, Run]) -> None:
    lines = report_lines(_summary(runs["eventful"]))
    assert not re.search(r"\d+\.\d+ s\b", "\n".join(lines))  # no "47.9 s"
    [head] = [i for i, line in enumerate(lines) if line.startswith("  safety events (")]
    events = lines[head + 1 :]
    assert len(events) == 4  # 18 events: 15 identical presses counted as one line
    for line in events:
        assert re.match(r"^\s+\d+:\d\d  [a-z_]+", line), line
    turns = [line for line in lines if "to face backward" in line]
    assert turns
    assert re.match(r"^\s+0:\d\d  to face backward at 2\.0 km/h: took 0:1\d$", turns[0])


@pytest.mark.hazard("HZ-19")
def test_a_safety_stop_is_said_and_listed(runs: dict[str, Run]) -> None:
    body = report_dict(_summary(runs["safety-stop"]))
    assert body["ending"] == "safety stop"
    assert body["safety_events"][-1]["kind"] == "safety_stop"
    assert body["over_ceiling_s"] > 0


@pytest.mark.parametrize("name", ["demo", "knee-friendly-walk"])
def test_the_limit_is_drawn_only_where_it_applies(runs: dict[str, Run], name: str) -> None:
    summary = _summary(runs[name])
    limits = limits_in_force(summary)
    turn_speeds = {turn.limit_kmh for turn in summary.turnarounds}
    seen = set()
    for sample, limit in zip(summary.samples, limits, strict=True):
        seen.add(sample.direction)
        if sample.direction == "forward":
            assert limit is None
        elif sample.direction == "backward":
            assert limit == summary.ceiling_kmh
        else:
            assert limit in turn_speeds
    assert "turning" in seen
    if name == "knee-friendly-walk":  # rehab: every turn on a stopped belt
        assert turn_speeds == {0.0}
    else:
        assert turn_speeds == {2.0}


def test_the_chart_of_an_eventful_session(runs: dict[str, Run], tmp_path: Path) -> None:
    png = tmp_path / "eventful.png"
    assert main(["report", str(runs["eventful"].record), "--png", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1500, 780)  # 10 x 5.2 in at 150 dpi: a handout


def _cut(source: Path, target: Path, fraction: float) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


@pytest.mark.hazard("HZ-19")
def test_a_record_cut_short_is_reported_as_such(
    runs: dict[str, Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = _cut(runs["retro-intro"].record, tmp_path / "cut.jsonl", 0.5)
    png = tmp_path / "cut.png"
    assert main(["report", str(cut), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Retro Intro: cut short (no end line)\n")
    assert "cut short" in out.splitlines()[0]
    assert "not reached" in out
    assert "  note: 1 unreadable line skipped" in out
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert main(["report", str(cut), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["complete_record"] is False
    assert body["reason"] is None
    assert body["notes"] == ["1 unreadable line skipped"]


def test_a_record_without_its_beginning(
    runs: dict[str, Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = runs["demo"].record.read_text().splitlines()
    headless = tmp_path / "headless.jsonl"
    headless.write_text("\n".join(lines[len(lines) // 2 :]) + "\n")
    assert main(["report", str(headless)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("(no program: the record has no start line): completed")
    assert "note: no start line" in out


def test_a_file_of_several_sessions_reports_the_last(
    runs: dict[str, Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = tmp_path / "both.jsonl"
    both.write_bytes(runs["demo"].record.read_bytes() + runs["eventful"].record.read_bytes())
    assert main(["report", str(both)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Demo: stopped by the runner")
    assert "note: 2 sessions in this file: the last one" in out


def _bad_file(path: Path, case: str) -> None:
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "binary":
        path.write_bytes(bytes(range(256)) * 40)
    elif case == "json-but-not-a-record":
        path.write_text('{"no": "type"}\n[1, 2]\n')


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "cannot read it: No such file or directory"),
        ("folder", "a folder, not a session record"),
        ("empty", "not a session record"),
        ("binary", "not a session record"),
        ("json-but-not-a-record", "not a session record"),
    ],
)
def test_a_file_that_is_no_record_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    _bad_file(path, case)
    assert main(["report", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("retrorun: ")
    assert message in err


def test_a_bad_png_is_refused_before_anything_is_printed(
    runs: dict[str, Run], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(runs["demo"].record), "--png", str(tmp_path / "x.jpg")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "must end in .png" in err
    assert err.count("\n") == 1
