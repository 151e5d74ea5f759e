"""``retrorun history``: every past session, weekly backward time, readiness for the next week.

The folder is made of real records (tests/report/conftest.py) copied as sessions
of other days, next to cut, corrupt and foreign files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from report_support import Run, restamp

from retrorun.cli import main
from retrorun.report import build_history, history_lines

_DAYS = {  # name -> (record, started_at): two ISO weeks, 2026-W47 and 2026-W48
    "bal-1": ("balance-steps", "2026-11-23T09:00:00+00:00"),
    "bal-2": ("balance-steps", "2026-11-25T09:00:00+00:00"),
    "intro-1": ("retro-intro", "2026-11-24T18:30:00+00:00"),
    "demo-stop": ("eventful", "2026-11-26T07:15:00+00:00"),
    "demo-safety": ("safety-stop", "2026-11-19T07:15:00+00:00"),
    "quad-1": ("quad-builder", "2026-11-17T10:00:00+00:00"),
}


def _folder(runs: dict[str, Run], folder: Path) -> Path:
    folder.mkdir()
    for name, (source, started_at) in _DAYS.items():
        restamp(runs[source].record, folder / f"{name}.jsonl", started_at, name)
    # A second Quad Builder cut short by a crash: its date is in its start line.
    quad = folder / "quad-1.jsonl"
    cut = folder / "quad-cut.jsonl"
    restamp(quad, cut, "2026-11-18T10:00:00+00:00", "quad-cut")
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    (folder / "garbage.jsonl").write_bytes(bytes(range(256)) * 8)
    (folder / "empty.jsonl").write_text("")
    (folder / "notes.txt").write_text("not a record, not listed")
    return folder


@pytest.fixture
def folder(runs: dict[str, Run], tmp_path: Path) -> Path:
    return _folder(runs, tmp_path / "sessions")


@pytest.mark.usefixtures("utc")
def test_history_lists_every_session_newest_first(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--records", str(folder)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("date ")
    rows = lines[1 : lines.index("")]
    sessions = [row for row in rows if row.startswith("2026-")]
    dated = [row[:16] for row in sessions if "jsonl:" not in row]
    assert dated == sorted(dated, reverse=True)
    assert dated[0] == "2026-11-26 07:15"
    by_date = {row[:16]: row for row in sessions}
    assert "Demo" in by_date["2026-11-26 07:15"]
    assert by_date["2026-11-26 07:15"].endswith("  18  stopped by the runner")
    assert by_date["2026-11-19 07:15"].endswith("   6  safety stop")
    assert len(dated) == 7
    [cut] = [row for row in sessions if row.startswith("2026-11-18 10:00")]
    assert "Quad Builder" in cut
    assert "cut short (no end line)" in cut
    assert cut.endswith("cut short (no end line); 1 unreadable line")
    assert any("garbage.jsonl: not a session record" in row for row in rows)
    assert any("empty.jsonl: empty" in row for row in rows)
    assert "notes.txt" not in out
    assert "Traceback" not in out


@pytest.mark.usefixtures("utc")
def test_weekly_totals_and_readiness(folder: Path, runs: dict[str, Run]) -> None:
    history = build_history(folder)
    weeks = {f"{w.year}-W{w.week:02d}": w for w in history.weeks}
    assert list(weeks) == ["2026-W48", "2026-W47"]
    assert weeks["2026-W48"].sessions == 4
    assert weeks["2026-W47"].sessions == 3  # the cut Quad Builder counts: it has a start
    w48 = [e.summary for e in history.entries if e.when.isocalendar()[1] == 48]
    assert weeks["2026-W48"].backward_s == pytest.approx(
        sum(s.backward_s for s in w48 if s is not None)
    )
    text = "\n".join(history_lines(history))
    assert "2026-W48 (from Mon 23 Nov)    4 sessions" in text
    progress = {p.program: p for p in history.progress}
    balance = progress["Balance Steps"]
    assert (balance.ready, balance.next_week) == (True, 3)
    assert "ready for week 3" in balance.why
    intro = progress["Retro Intro"]
    assert not intro.ready
    assert "stay at week 1" in intro.why
    quad = progress["Quad Builder"]
    assert not quad.ready  # the newer of its two week-1 sessions was cut short
    assert quad.why == (
        "stay at week 1: the session of 2026-11-18 10:00 was cut short (its record has no end)"
    )
    assert progress["Demo"].why == "no weekly progression"
    assert "Balance Steps (week 2 of 4): ready for week 3" in text
    assert "  Demo: no weekly progression" in text


@pytest.mark.usefixtures("utc")
@pytest.mark.hazard("HZ-19")
def test_a_safety_stop_holds_the_runner_at_the_week(runs: dict[str, Run], tmp_path: Path) -> None:
    folder = tmp_path / "sessions"
    folder.mkdir()
    restamp(runs["balance-steps"].record, folder / "a.jsonl", "2026-11-23T09:00:00+00:00", "a")
    stopped = restamp(
        runs["balance-steps"].record, folder / "b.jsonl", "2026-11-25T09:00:00+00:00", "b"
    )
    lines = [json.loads(line) for line in stopped.read_text().splitlines()]
    end = lines.pop()
    assert end["type"] == "end"
    stop = {
        "type": "event",
        "t": end["t"],
        "session": "b",
        "kind": "safety_stop",
        "message": "heart rate far over the maximum",
    }
    end["reason"] = "safety_stop"
    stopped.write_text("\n".join(json.dumps(x) for x in [*lines, stop, end]) + "\n")
    [balance] = build_history(folder).progress
    assert not balance.ready
    assert balance.why == "stay at week 2: the session of 2026-11-25 09:00 had a safety stop"


@pytest.mark.usefixtures("utc")
def test_weeks_limits_the_list_not_the_progression(folder: Path) -> None:
    history = build_history(folder, weeks=1, today=dt.date(2026, 11, 29))
    assert {e.when.isocalendar()[1] for e in history.entries} == {48}
    assert [f"W{w.week}" for w in history.weeks] == ["W48"]
    assert any(p.program == "Quad Builder" for p in history.progress)  # from week 47


def test_history_as_json(
    folder: Path, runs: dict[str, Run], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--records", str(folder), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    sessions = body["sessions"]
    assert len(sessions) == 9  # seven sessions, the garbage file, the empty file
    whole = [s for s in sessions if "program" in s]
    assert {s["program"] for s in whole} == {
        "Balance Steps",
        "Retro Intro",
        "Demo",
        "Quad Builder",
    }
    [bal] = [s for s in whole if s["session"] == "bal-2"]
    assert bal["week"] == {"first": 2, "last": 2, "of": 4}
    assert bal["counts_for_progression"] is True
    assert bal["backward_s"] == pytest.approx(
        json.loads(runs["balance-steps"].record.read_text().splitlines()[-1])["backward_s"]
    )
    [stop] = [s for s in whole if s["session"] == "demo-stop"]
    assert stop["ending"] == "stopped by the runner"
    assert stop["safety_events"] == 18  # the runner's own stop is not one
    assert {p["program"]: p["ready"] for p in body["progression"]}["Balance Steps"] is True


def test_the_records_folder_follows_xdg_data_home(
    runs: dict[str, Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["history"]) == 0
    assert capsys.readouterr().out == f"no sessions in {tmp_path}/retrorun/sessions\n"
    sessions = tmp_path / "retrorun" / "sessions"
    sessions.mkdir(parents=True)
    restamp(runs["demo"].record, sessions / "d.jsonl", dt.datetime.now(dt.UTC).isoformat(), "d")
    assert main(["history", "--weeks", "1"]) == 0
    out = capsys.readouterr().out
    assert "Demo" in out
    assert "completed" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--weeks", "0"], "argument --weeks: must be from 1 to 52, not '0'"),
        (["history", "--weeks", "x"], "argument --weeks: expected a whole number"),
        (["history", "--records", "/nonexistent/folder"], "no such folder"),
        (["history", "--records", "/etc/hostname"], "not a folder"),
    ],
)
def test_bad_flags_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusal
        code = int(str(exc.code))
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert message in err
