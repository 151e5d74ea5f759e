"""``retrorun export``: what a runner types, on records whole, cut, corrupt, or not records.

The records are the package's simulator sessions (conftest.py); the cut and corrupt
ones are made from the demo's record the ways files break: torn mid-line, no
``end`` line, lines of garbage, values no reading can have.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from export_support import decode_fit, validate_tcx

from retrorun.cli import main
from retrorun.export import RecordError, read_activity, write_exports
from retrorun.record import read_record


def _export(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _refused(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    """The command's one error line, after exit code 2 and nothing on standard output."""
    try:
        code = main(["export", *map(str, args)])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_a_session_exports_both_ways(
    records: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit, tcx = tmp_path / "run.fit", tmp_path / "run.tcx"
    code, out, err = _export(capsys, records["demo"], "--fit", fit, "--tcx", tcx)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"wrote {fit} (Demo: 6 laps (2 backward), 2:13, 90 m)",
        f"wrote {tcx} (Demo: 6 laps (2 backward), 2:13, 90 m)",
    ]
    decode_fit(fit.read_bytes())
    validate_tcx(tcx.read_bytes())


def test_a_record_torn_mid_line_exports_what_it_holds(
    records: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = records["demo"].read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(whole[: len(whole) * 2 // 3 + 17])  # mid-line, most likely mid-value
    fit, tcx = tmp_path / "cut.fit", tmp_path / "cut.tcx"
    code, out, _ = _export(capsys, cut, "--fit", fit, "--tcx", tcx)
    assert code == 0
    assert out.splitlines()[-1] == (
        f"{cut}: partial record, exported what it holds: no end line (the record was cut short)"
    )
    lines = list(read_record(cut))
    telemetry = [line for line in lines if line["type"] == "telemetry"]
    steps = [line for line in lines if line.get("kind") == "step_started"]
    messages = decode_fit(fit.read_bytes())
    [session] = messages["session_mesgs"]
    assert session["total_distance"] == telemetry[-1]["distance_m"]
    assert session["total_elapsed_time"] == pytest.approx(max(telemetry[-1]["t"], steps[-1]["t"]))
    assert len(messages["lap_mesgs"]) == len(steps)
    document = validate_tcx(tcx.read_bytes())
    assert "partial record" in "".join(document.itertext())


def test_a_corrupt_record_keeps_its_readings_and_drops_the_rest(
    records: dict[str, Path], tmp_path: Path
) -> None:
    lines = records["demo"].read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    broken = []
    for i, text in enumerate(lines):
        line = json.loads(text)
        if line["type"] == "telemetry" and i % 7 == 0:
            line.update(speed_kmh=-3, heart_rate_bpm=900)
        elif line["type"] == "telemetry" and i % 7 == 1:
            line.update(distance_m="far", incline_pct=1e308 * 10, direction="sideways")
        elif line["type"] == "telemetry" and i % 7 == 2:
            line.update(heart_rate_bpm=900, incline_pct=-400)
        broken.append(json.dumps(line))
        if i % 11 == 0:
            broken += ["\x00\xff garbage", "[1, 2]", '{"type": "event", "kind": "no-such-kind"}']
    bad.write_text("\n".join(broken) + "\n")
    activity = read_activity(bad)
    good = [json.loads(t) for i, t in enumerate(lines) if i % 7 not in {0, 1}]
    assert len(activity.samples) == sum(line["type"] == "telemetry" for line in good)
    assert all(s.heart_rate_bpm is None or s.heart_rate_bpm < 255 for s in activity.samples)
    assert all(-100 <= s.incline_pct <= 100 for s in activity.samples)
    assert len(activity.laps) == 6
    assert not activity.partial
    paths = write_exports(bad, {"both"})
    decode_fit(paths[0].read_bytes())
    validate_tcx(paths[1].read_bytes())


def test_text_no_file_format_can_hold_is_made_safe(
    records: dict[str, Path], tmp_path: Path
) -> None:
    text = records["demo"].read_text().replace("Backward walk", "Back\\u0000ward \\u001b[31m walk")
    odd = tmp_path / "odd.jsonl"
    odd.write_text(text)
    fit, tcx = write_exports(odd, {"both"})
    laps = decode_fit(fit.read_bytes())["lap_mesgs"]
    assert laps[2]["developer_fields"][1] == "Back ward \x1b[31m walk"  # FIT ends text at NUL
    names = [step["wkt_step_name"] for step in decode_fit(fit.read_bytes())["workout_step_mesgs"]]
    assert names[2] == "Backward: Back ward \x1b[31m walk"  # the direction, said in the name
    assert "Back\ufffdward \ufffd[31m walk" in "".join(validate_tcx(tcx.read_bytes()).itertext())


def test_the_session_is_chosen_by_id(
    records: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = tmp_path / "both.jsonl"
    both.write_text(records["demo"].read_text() + records["demo-stopped"].read_text())
    first = next(read_record(records["demo"]))["session"]
    assert len(read_activity(both).laps) == 3  # the last session: stopped in its third step
    assert len(read_activity(both, session_id=first).laps) == 6
    code, out, _ = _export(capsys, both, "--fit", tmp_path / "a.fit", "--session", first)
    assert code == 0
    assert "6 laps" in out
    err = _refused(capsys, both, "--fit", tmp_path / "a.fit", "--session", "nope")
    assert err.startswith(f"retrorun: {both}: no session nope in this record (it holds: {first}, ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a retrorun session record"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a retrorun session record"),
        (b'{"a": 1}\n[1, 2]\n', "not a retrorun session record"),
        (b'{"type": "start", "session": "s", "program": "Demo"}\n', "holds no telemetry"),
    ],
)
def test_a_file_that_is_not_a_record_is_one_line(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    assert message in _refused(capsys, path, "--fit", tmp_path / "x.fit")
    assert not (tmp_path / "x.fit").exists()
    with pytest.raises(RecordError):
        write_exports(path, {"fit"})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --fit FILE, --tcx FILE or both"),
        (("--fit", "out.tcx"), "--fit out.tcx: the file name must end in .fit"),
        (("--tcx", "no/such/folder/x.tcx"), "no folder no/such/folder to write it in"),
        (("--fit", "x.fit", "--tcx", "x.fit"), "--tcx x.fit: the file name must end in .tcx"),
        (("--fit", "."), "the file name must end in .fit"),
        (("--fit",), "expected one argument"),
    ],
)
def test_bad_flags_are_one_line(
    args: tuple[str, ...],
    message: str,
    records: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert message in _refused(capsys, records["demo"], *args)


def test_a_record_that_is_missing_or_a_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.fit"
    assert "no such file" in _refused(capsys, tmp_path / "none.jsonl", "--fit", out)
    assert "is a folder" in _refused(capsys, tmp_path, "--fit", out)


def test_an_unwritable_output_is_one_line(
    records: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # /sys takes no new files, not even from root (the tests may run as root).
    err = _refused(capsys, records["demo"], "--fit", "/sys/retrorun-test.fit")
    assert err.startswith("retrorun: --fit /sys/retrorun-test.fit: cannot write: ")


def test_a_jittery_clock_and_impossible_totals_stay_within_what_fit_holds(
    records: dict[str, Path], tmp_path: Path
) -> None:
    """A real treadmill's readings come about once a second, not on the second; an end
    line may be hand-edited. FIT gets one record a second and totals it can hold."""
    lines = [json.loads(text) for text in records["demo"].read_text().splitlines()]
    for line in lines:
        if line["type"] == "telemetry" and int(line["t"]) % 2 == 0:
            line["t"] += 0.6  # 0.6, 1.0, 2.6, 3.0 ...: two readings round to one second
        if line["type"] == "end":
            line.update(energy_kcal=1e7, duration_s=1e12)
    odd = tmp_path / "odd.jsonl"
    odd.write_text("".join(json.dumps(line) + "\n" for line in lines))
    messages = decode_fit(write_exports(odd, {"fit"})[0].read_bytes())
    times = [point["timestamp"] for point in messages["record_mesgs"]]
    assert times == sorted(set(times))
    telemetry = [line["t"] for line in lines if line["type"] == "telemetry"]
    assert len(times) == len({round(t) for t in telemetry})
    [session] = messages["session_mesgs"]
    last_step = max(line["t"] for line in lines if line.get("kind") == "step_started")
    assert session["total_elapsed_time"] == pytest.approx(max(telemetry[-1], last_step))
    assert 3 < session["total_calories"] < 20  # the model's estimate, not a wrapped 1e7
