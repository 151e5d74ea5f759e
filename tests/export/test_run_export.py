"""``retrorun run --export``: the session's FIT and TCX beside its record at the end,
after an early end too, read back by the official decoder and schema."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from export_support import decode_fit, validate_tcx

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.cli import _build_parser
from retrorun.cli._run import options_from_args
from retrorun.record import read_record

pytestmark = pytest.mark.looptime

TCX = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2}"


async def test_an_early_end_is_exported_beside_the_record(tmp_path: Path) -> None:
    record = tmp_path / "morning.jsonl"
    options = RunOptions(
        program="demo",
        sim_faults=("console-stop@60",),  # the runner stops it at the console mid-way
        yes=True,
        plain=True,
        voice="off",
        record=record,
        reference_kmh=8.0,
        export=frozenset({"fit", "tcx"}),
    )
    out = io.StringIO()
    await run_prepared(prepare(options), stdout=out)
    fit, tcx = tmp_path / "morning.fit", tmp_path / "morning.tcx"
    assert f"exported: {fit}" in out.getvalue()
    assert f"exported: {tcx}" in out.getvalue()
    steps = [
        line
        for line in read_record(record)
        if line["type"] == "event" and line["kind"] == "step_started"
    ]
    laps = decode_fit(fit.read_bytes())["lap_mesgs"]
    assert len(laps) == len(steps) >= 2
    assert len(validate_tcx(tcx.read_bytes()).findall(f".//{TCX}Lap")) == len(steps)


async def test_without_export_nothing_but_the_record_is_written(tmp_path: Path) -> None:
    options = RunOptions(
        program="demo",
        sim_faults=("console-stop@20",),
        yes=True,
        plain=True,
        voice="off",
        record=tmp_path / "r.jsonl",
    )
    await run_prepared(prepare(options), stdout=io.StringIO())
    assert _names(tmp_path) == ["r.jsonl"]


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(("flag", "formats"), [("fit", {"fit"}), ("both", {"fit", "tcx"})])
def test_the_export_flag_names_the_formats(flag: str, formats: set[str]) -> None:
    args = _build_parser().parse_args(["run", "demo", "--yes", "--export", flag])
    assert options_from_args(args, stdin_is_tty=False).export == formats
