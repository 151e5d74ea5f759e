"""The report says where heart rate came from (``heart_rate_source`` on each
telemetry line): a strap, the treadmill, or both; text, JSON and chart alike, and
the live summary at the end of a run says the same as the report of its file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.cli import main
from retrorun.record import Recorder, SessionSummary, load_record
from retrorun.report import render_report_png, report_dict, report_lines


def write_record(path: Path, sources: list[str | None]) -> None:
    """A small complete record whose telemetry lines carry ``sources`` in turn."""
    recorder = Recorder(path)
    recorder.start(
        program="Zones",
        profile="rehab",
        ceiling_backward_kmh=4.0,
        device="treadsim",
        simulated=True,
        device_profile="generic",
        notes=[],
        week=1,
    )
    for i, source in enumerate(sources):
        fields: dict[str, object] = {}
        if source is not None:
            fields = {"heart_rate_bpm": 100 + i, "heart_rate_source": source}
        recorder.write(
            "telemetry",
            float(i),
            speed_kmh=2.0,
            incline_pct=0.0,
            distance_m=float(i),
            direction="backward",
            step=0,
            **fields,
        )
    recorder.end(
        float(len(sources)),
        reason="completed",
        belt_stopped=True,
        distance_m=float(len(sources)),
        duration_s=float(len(sources)),
        backward_s=float(len(sources)),
        energy_kcal=1.0,
        message="done",
        stop_acknowledged=True,
        over_ceiling_s=0.0,
        backward_m=float(len(sources)),
    )
    recorder.close()


def folded(path: Path) -> SessionSummary:
    """The one session of a record file, folded."""
    [summary] = load_record(path).sessions
    return summary


def heart_line(lines: list[str]) -> str:
    [line] = [line for line in lines if "heart rate" in line]
    return line


@pytest.mark.parametrize(
    ("sources", "said", "readings"),
    [
        (["strap"] * 5, "from the strap", {"strap": 5}),
        (["treadmill"] * 4, "from the treadmill", {"treadmill": 4}),
        (["treadmill", "strap", "strap", None], "from the strap and treadmill", None),
        (["strap", "elsewhere", None], "from the strap", {"strap": 1}),
    ],
)
def test_the_report_names_the_heart_rates_source(
    tmp_path: Path, sources: list[str | None], said: str, readings: dict[str, int] | None
) -> None:
    path = tmp_path / "r.jsonl"
    write_record(path, sources)
    summary = folded(path)
    line = heart_line(report_lines(summary))
    assert line.endswith(said), line
    body = report_dict(summary)
    assert body["heart_rate_source"] == said.removeprefix("from the ")
    if readings is not None:
        assert body["heart_rate_readings"] == readings
    assert [s.heart_rate_source for s in summary.samples] == [
        s if s in {"strap", "treadmill"} else None for s in sources
    ]


def test_a_record_without_sources_says_none(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    write_record(path, ["strap", "strap"])
    # A record written before heart_rate_source existed: the field dropped.
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for line in lines:
        line.pop("heart_rate_source", None)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    summary = folded(path)
    assert heart_line(report_lines(summary)).endswith("maximum 101 bpm")
    assert report_dict(summary)["heart_rate_source"] is None


def test_the_chart_draws_a_strap_session(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_record(path, ["strap"] * 30)
    png = render_report_png(folded(path), tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.looptime
async def test_a_run_with_the_simulated_strap_is_reported_from_the_strap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "session.jsonl"
    options = RunOptions(
        program="demo",
        yes=True,
        plain=True,
        voice="off",
        record=record,
        sim_hr=True,
        max_hr=175,
    )
    out = io.StringIO()
    assert await run_prepared(prepare(options), stdout=out) == 0
    printed = out.getvalue()
    assert "from the strap" in heart_line(printed.splitlines())
    # The report of the file says what the live summary said.
    assert main(["report", str(record), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["heart_rate_source"] == "strap"
    assert body["heart_rate_readings"]["strap"] > 50
