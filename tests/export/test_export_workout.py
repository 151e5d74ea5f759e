"""``retrorun programs export``: a plan as a FIT workout, read back by Garmin's decoder and
compared step by step with ``plan`` after its repeat steps are unfolded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from export_support import decode_fit

from retrorun.cli import main
from retrorun.events import Direction
from retrorun.export import repeats
from retrorun.programs import Plan, library, load_program, plan

INTENSITY = {
    "warmup": "warmup",
    "work": "active",
    "recovery": "recovery",
    "cooldown": "cooldown",
    "turnaround": "rest",
}

CASES = [
    (name, week)
    for name, program in library()
    for week in sorted({1, program.weeks or 1})  # the first week and the last
]


def unfold(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps a watch runs: each repeat step does its block ``repeat_steps`` times in all."""
    flat: list[dict[str, Any]] = []
    at: dict[int, int] = {}  # a step's message index -> where it first is in ``flat``
    for step in steps:
        if step["duration_type"] == "repeat_until_steps_cmplt":
            block = flat[at[step["duration_step"]] :]
            flat += block * (step["repeat_steps"] - 1)
        else:
            at[step["message_index"]] = len(flat)
            flat.append(step)
    return flat


def _export(tmp_path: Path, name: str, week: int) -> tuple[dict[str, Any], Plan]:
    out = tmp_path / f"{name}.fit"
    args = ["programs", "export", name, "--fit", str(out), "--reference", "8", "--week", str(week)]
    assert main(args) == 0
    return decode_fit(out.read_bytes()), plan(load_program(name), reference_kmh=8.0, week=week)


@pytest.mark.parametrize(("name", "week"), CASES)
def test_every_library_program_as_a_watch_workout_matches_its_plan(
    name: str, week: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    messages, expected = _export(tmp_path, name, week)
    [file_id] = messages["file_id_mesgs"]
    assert (file_id["type"], file_id["manufacturer"]) == ("workout", "development")
    [workout] = messages["workout_mesgs"]
    assert (workout["sport"], workout["sub_sport"]) == ("running", "treadmill")
    assert workout["wkt_name"] == expected.program
    steps = messages["workout_step_mesgs"]
    assert workout["num_valid_steps"] == len(steps)
    assert [s["message_index"] for s in steps] == list(range(len(steps)))
    flat = unfold(steps)
    assert len(flat) == len(expected.steps)
    for got, want in zip(flat, expected.steps, strict=True):
        assert got["duration_type"] == "time"
        assert got["duration_value"] == round(want.duration_s * 1000)  # milliseconds
        assert got["intensity"] == INTENSITY[want.kind]
        title = want.label
        if want.direction is Direction.BACKWARD and "backward" not in title.lower():
            title = f"Backward: {title}"  # FIT has no direction: the name says it
        assert got["wkt_step_name"] == title.encode()[:50].decode(errors="ignore").strip()
        assert got.get("notes") == want.cue
        if want.speed == 0:
            assert got["target_type"] == "open"
            continue
        assert got["target_type"] == "speed"
        high = round(want.speed / 100 / 3.6 * 1000)  # m/s x 1000, never over the plan's speed
        assert got["custom_target_value_high"] == high
        assert high - 85 <= got["custom_target_value_low"] < high
        assert got["custom_target_speed_high"] == pytest.approx(high / 1000)
    assert (
        f"wrote {tmp_path / name}.fit ({expected.program}, week {week}" in capsys.readouterr().out
    )


def test_repeats_are_folded_as_a_watch_shows_them() -> None:
    assert list(repeats("abababc")) == [(0, 2, 3), (6, 1, 1)]
    assert list(repeats("aaab")) == [(0, 1, 3), (3, 1, 1)]
    assert list(repeats("abcabcab")) == [(0, 3, 2), (6, 1, 1), (7, 1, 1)]
    assert list(repeats("")) == []
    assert list(repeats("x" * 50)) == [(0, 1, 50)]


def test_intervals_become_one_repeat_step(tmp_path: Path) -> None:
    messages, expected = _export(tmp_path, "retro-run-intervals", 1)
    [repeat] = [
        s
        for s in messages["workout_step_mesgs"]
        if s["duration_type"] == "repeat_until_steps_cmplt"
    ]
    backward = [s for s in expected.steps if s.direction is Direction.BACKWARD]
    assert repeat["repeat_steps"] == len(backward) // 2  # a fast and a slow step a round
    assert len(messages["workout_step_mesgs"]) < len(expected.steps)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "--fit", "x.fit"), "nope: no such program in the library"),
        (("demo", "--fit", "x.tcx"), "--fit x.tcx: the file name must end in .fit"),
        (("demo", "--fit", "none/x.fit"), "--fit none/x.fit: no folder none to write it in"),
        (("retro-intro", "--fit", "x.fit", "--week", "3"), "--week 3: Retro Intro runs for 2"),
        (("demo", "--fit", "x.fit", "--week", "0"), "must be from 1 to 52"),
        (("demo",), "the following arguments are required: --fit"),
    ],
)
def test_bad_input_is_one_line(
    args: tuple[str, ...],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["programs", "export", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err
    assert list(tmp_path.iterdir()) == []
