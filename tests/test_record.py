"""The session record survives a torn last line and folds into an honest summary."""

import json
import os
from pathlib import Path

import pytest

from retrorun.errors import UsageError
from retrorun.events import (
    CeilingClamped,
    Direction,
    StepInfo,
    StepStarted,
    UserStopped,
    event_from_json,
)
from retrorun.record import (
    Recorder,
    check_record_path,
    default_record_path,
    last_session,
    load_record,
    read_record,
    summarize,
)
from retrorun.report import report_lines


def _write_session(path: Path) -> Recorder:
    rec = Recorder(path)
    rec.write(
        "start",
        0,
        program="demo",
        profile="novice",
        ceiling_backward_kmh=5.0,
        device="Generic FTMS",
        simulated=True,
        started_at="2026-11-24T15:00:00+00:00",
    )
    for t, speed, direction, dist in [
        (1, 4.0, "forward", 1.0),
        (2, 2.0, "turning", 2.0),
        (3, 2.5, "backward", 2.7),
        (4, 3.0, "backward", 3.5),
        (5, 1.0, "turning", 4.0),
        (6, 4.0, "forward", 5.0),
    ]:
        rec.write(
            "telemetry",
            t,
            speed_kmh=speed,
            incline_pct=0.0,
            distance_m=dist,
            direction=direction,
            step=0,
        )
    rec.write("command", 3.5, op="set_target_speed", value=3.0, result="success")
    rec.event(CeilingClamped(t=3.6, message="asked 6.0, sent 5.0"))
    rec.event(event_from_json({"t": 3.7, "kind": "step_started", "message": "step 2"}))
    return rec


@pytest.mark.hazard("HZ-19")
def test_lines_are_flushed_as_written(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rec = _write_session(path)
    # Not closed: everything written so far is already on disk, one object per line.
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["type"] for x in lines[:2]] == ["start", "telemetry"]
    assert all("t" in x for x in lines)
    assert rec.lines == len(lines) == 10
    rec.close()
    rec.close()


@pytest.mark.hazard("HZ-19")
def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _write_session(path).close()
    with path.open("a") as f:
        f.write('{"type":"telemetry","t":7,"speed_')
    lines = list(read_record(path))
    assert len(lines) == 10
    assert lines[-1]["kind"] == "step_started"


@pytest.mark.hazard("HZ-19")
def test_summary_from_a_record_without_end(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    _write_session(path).close()
    summary = summarize(read_record(path))
    assert summary.program == "demo"
    assert summary.reason == "unknown"
    assert summary.belt_stopped is None
    # One definition, the session's too: spans that start facing backward (t=3 to
    # t=5); a turn-around is neither backward time nor backward distance.
    assert summary.backward_s == 2.0
    assert summary.backward_m == pytest.approx(4.0 - 2.7)
    assert summary.max_backward_kmh == 3.0
    assert [e["kind"] for e in summary.safety_events] == ["ceiling_clamped"]
    text = "\n".join(report_lines(summary))
    assert "ceiling of 5.0 km/h" in text
    assert "ceiling_clamped" in text
    assert "cut short (no end line)" in text


def test_summary_takes_totals_from_end(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rec = _write_session(path)
    rec.write(
        "end",
        6.5,
        reason="completed",
        belt_stopped=True,
        distance_m=5.0,
        duration_s=6.5,
        backward_s=3.0,
        energy_kcal=1.2,
    )
    rec.close()
    summary = summarize(read_record(path))
    assert (summary.reason, summary.belt_stopped, summary.energy_kcal) == ("completed", True, 1.2)
    assert "belt stopped" in report_lines(summary)[0]


def test_write_failure_is_remembered_not_raised(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "s.jsonl")
    rec.close()
    rec.write("telemetry", 1)  # after close: ignored quietly
    assert rec.error is None
    rec2 = Recorder(tmp_path / "t.jsonl")
    assert rec2._file is not None
    rec2._file.close()  # simulate the file going away under us
    rec2.write("telemetry", 1, speed_kmh=1.0)
    assert rec2.error is not None
    assert "t.jsonl" in rec2.error


def test_default_path_is_under_the_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = default_record_path("Retro Intro / week 2")
    assert path.parent == tmp_path / "retrorun" / "sessions"
    assert path.suffix == ".jsonl"
    assert "/" not in path.name.removesuffix(".jsonl").split("-", 2)[-1]


def test_every_line_names_its_session_and_sessions_never_mix(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = _write_session(path)
    first.write("event", 4.0, kind="ceiling_violation", message="over")
    first.close()
    second = _write_session(path)  # a clean second session, appended to the same file
    second.close()
    lines = list(read_record(path))
    assert {line["session"] for line in lines} == {first.session_id, second.session_id}
    assert first.session_id != second.session_id
    # What each session says about itself comes from what it wrote, never the file.
    assert [e["kind"] for e in second.summary.safety_events] == ["ceiling_clamped"]
    assert len(first.summary.safety_events) == 2
    assert [e["kind"] for e in summarize(last_session(lines)).safety_events] == ["ceiling_clamped"]


@pytest.mark.hazard("HZ-19")
def test_a_write_failure_is_reported_once_and_the_summary_survives(tmp_path: Path) -> None:
    warnings: list[str] = []
    rec = Recorder(Path("/dev/full"), on_error=warnings.append)
    rec.start(
        program="demo", profile="novice", ceiling_backward_kmh=5.0, device="x", simulated=True
    )
    rec.write("telemetry", 1.0, speed_kmh=2.0, distance_m=1.0, direction="backward", step=0)
    rec.close()
    assert rec.error is not None
    assert "incomplete" in rec.error
    assert len(warnings) == 1
    assert rec.summary.program == "demo"  # folded in memory, whatever the disk did


@pytest.mark.parametrize("case", ["folder", "missing-parent-file", "read-only"])
@pytest.mark.hazard("HZ-19")
def test_an_unwritable_record_path_is_refused_up_front(tmp_path: Path, case: str) -> None:
    if case == "folder":
        path = tmp_path
    elif case == "missing-parent-file":
        blocker = tmp_path / "file"
        blocker.write_text("")
        path = blocker / "sub" / "s.jsonl"
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o500)
        path = folder / "s.jsonl"
        if os.access(folder, os.W_OK):  # root writes anywhere: nothing to refuse
            pytest.skip("running as root: a read-only folder is still writable")
    with pytest.raises(UsageError, match="--record"):
        check_record_path(path)


def test_no_home_folder_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError)))
    with pytest.raises(UsageError, match="give --record"):
        default_record_path("demo")


def test_load_record_folds_each_session_and_counts_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    first = _write_session(path)
    first.close()
    with path.open("a") as f:
        f.write("not json at all\n[1, 2]\n")
    second = _write_session(path)
    second.close()
    with path.open("a") as f:
        f.write('{"type":"telemetry","t":7,"speed_')  # torn by a crash
    read = load_record(path)
    assert read.error is None
    assert read.bad_lines == 3
    assert [s.session for s in read.sessions] == [first.session_id, second.session_id]
    assert all(s.started and not s.ended for s in read.sessions)
    assert read.sessions[1].backward_s == second.summary.backward_s
    assert load_record(path, samples=False).sessions[0].samples == []
    assert len(read.sessions[0].samples) == 6


def test_load_record_of_a_folder_says_why_and_never_raises(tmp_path: Path) -> None:
    read = load_record(tmp_path)
    assert read.sessions == []
    assert read.error == "Is a directory"


def test_steps_take_the_spans_their_records_open(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "s.jsonl")
    step = StepInfo(0, Direction.BACKWARD, 2.0, 4.0, label="walk")
    rec.event(StepStarted(t=0.0, message="go", step=step, total=1))
    for t, speed in [(0, 0.0), (1, 1.0), (2, 2.0), (3, 2.1), (4, 2.0), (5, 0.0)]:
        rec.write("telemetry", t, speed_kmh=speed, distance_m=t, direction="backward", step=0)
    rec.write("telemetry", 6, speed_kmh=0.0, distance_m=6, direction="forward", step=0)
    rec.event(UserStopped(t=6.0, message="stop"))
    rec.end(
        6.0,
        reason="user_stop",
        belt_stopped=True,
        distance_m=6,
        duration_s=6,
        backward_s=6,
        energy_kcal=0,
        message="stopped",
    )
    rec.close()
    [record] = rec.summary.steps
    assert record.time_s == 6.0
    assert record.mean_kmh == pytest.approx((0 + 1 + 2 + 2.1 + 2 + 0) / 6)
    assert record.at_speed_s == 3.0  # 2.0, 2.1 and 2.0: within 0.2 km/h of the target
    assert (record.ended_t, record.done) == (6.0, False)  # the runner stopped in it
    assert rec.summary.user_stop_t == 6.0
    assert rec.summary.safety_events == []  # the runner's own stop is not one


@pytest.mark.parametrize(
    "line",
    [
        {"type": "event", "kind": "no_such_kind", "t": 1},
        {"type": "event", "kind": "step_started", "t": "x", "index": "y", "next": [1]},
        {"type": "event", "kind": "turnaround", "phase": 3, "to": None, "index": None},
        {"type": "event", "kind": "turnaround_confirmed", "t": None},
        {"type": "event", "kind": "session_started", "steps": "many"},
        {"type": "telemetry", "t": "late", "speed_kmh": None, "step": True, "heart_rate_bpm": 1.5},
        {"type": "end", "reason": None, "duration_s": "long"},
    ],
)
def test_the_fold_takes_a_hand_edited_line_without_raising(line: dict[str, object]) -> None:
    summary = summarize([{"type": "start", "program": "x"}, line, line])
    assert summary.program == "x"
    assert summary.lines == 3


def test_the_start_line_names_the_week_and_history_takes_it() -> None:
    from retrorun.programs import library
    from retrorun.report._history import week_of

    name, program = next((n, p) for n, p in library() if (p.weeks or 1) >= 3)
    summary = summarize(
        [
            {
                "type": "start",
                "t": 0,
                "session": "a",
                "program": program.name,
                "profile": program.profile,
                "week": 3,
            },
        ]
    )
    assert summary.week == 3, name
    match = week_of(summary)
    assert match is not None
    assert (match.first, match.last) == (3, 3)


def test_a_week_that_is_not_a_whole_number_is_no_week() -> None:
    for bad in ("3", 2.5, True, None, -1):
        summary = summarize([{"type": "start", "t": 0, "session": "a", "week": bad}])
        assert summary.week is None, bad
