"""The plan's picture: what a coach reads on it, and the picture itself, frozen.

The figure's parts (title, legend, captions, the limit line) are read from the
matplotlib figure; the whole picture is compared with an approved snapshot in
``snapshots/`` (tolerant of antialiasing, by the suite's one rule:
``snapshot_support.compare_png``). ``RETRORUN_UPDATE_SNAPSHOTS=1`` approves a new
one after a deliberate change.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from programs_support import back, fwd, program

from retrorun.events import Direction
from retrorun.limits import RunnerProfile, kmh, to_kmh
from retrorun.programs import Plan, load_program, plan, render_png
from retrorun.programs._chart import _figure, drawn_spans, limit_kmh, step_caption
from snapshot_support import compare_png

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture(scope="module")
def intro() -> Plan:
    """Forward, a turn, backward reps, a turn, forward: every part of the picture."""
    return plan(
        load_program("retro-intro"), profile=RunnerProfile("novice"), ceiling=kmh(2.2), week=2
    )


def legend(fig: Any) -> list[str]:
    return [text.get_text() for text in fig.legends[0].get_texts()]


def captions(fig: Any) -> list[str]:
    return [text.get_text() for text in fig.axes[0].texts]


def test_the_picture_matches_the_approved_snapshot(intro: Plan, tmp_path: Path) -> None:
    out = render_png(intro, tmp_path / "intro.png", subtitle="week 2")
    problem = compare_png(out.read_bytes(), SNAPSHOTS / "plan-retro-intro-week2.png")
    assert problem is None, problem


def test_the_same_plan_gives_the_same_file_whatever_the_users_matplotlibrc(
    intro: Plan, tmp_path: Path
) -> None:
    import matplotlib

    first = render_png(intro, tmp_path / "a.png", subtitle="week 2").read_bytes()
    user = {"font.size": 16.0, "font.family": "serif", "lines.linewidth": 4.0, "axes.grid": True}
    with matplotlib.rc_context(user):
        second = render_png(intro, tmp_path / "b.png", subtitle="week 2").read_bytes()
    assert first == second
    assert b"Matplotlib" not in first  # no "Software: Matplotlib version ..." line
    assert Image.open(io.BytesIO(first)).size == (1500, 780)  # 10 x 5.2 in at 150 DPI


def test_the_title_names_the_week_and_the_runner_profile(intro: Plan) -> None:
    fig = _figure(intro, "week 2")
    assert fig.get_suptitle() == "Retro Intro — week 2, runner profile novice"
    assert "backward ceiling 2.2 km/h" in fig.axes[0].get_title(loc="left")


def test_each_step_has_its_number_and_label_and_each_turn_says_which_way(intro: Plan) -> None:
    shown = captions(_figure(intro, "week 2"))
    assert shown[:4] == [
        "1. Forward warm-up",
        "2. turn → backward",
        "3. Backward walk",
        "4. Easy backward walk",
    ]
    assert "15. turn → forward" in shown
    assert shown[-1] == "16. Forward cool-down"


def test_a_long_label_is_cut_and_a_dollar_is_no_mathematics(tmp_path: Path) -> None:
    label = "Backward $\\badcommand$ walk, small steps, eyes on the rail ahead"
    the_plan = plan(program(back(120, label=label)))
    caption = step_caption(the_plan.steps[0])
    assert caption.startswith("1. Backward $\\badcommand$ walk")
    assert caption.endswith("…")
    assert len(caption) == 34
    render_png(the_plan, tmp_path / "dollar.png")  # mathtext would refuse \badcommand


def test_the_legend_names_only_what_the_picture_shows() -> None:
    balance = _figure(plan(load_program("balance-steps")), "week 1")
    assert legend(balance) == ["speed", "limit: 2.5 km/h ceiling backward", "facing backward"]
    forward_only = _figure(plan(program(fwd(300))), "")
    assert legend(forward_only) == ["speed"]


def test_the_intro_legend_has_the_turns_and_the_limit_in_both_phases(intro: Plan) -> None:
    assert legend(_figure(intro, "week 2")) == [
        "speed",
        "limit: 2.2 km/h ceiling backward, the turn's speed turning",
        "facing backward",
        "turn around (hold the rails)",
    ]


def test_the_limit_is_drawn_backward_and_turning_never_forward(intro: Plan) -> None:
    fig = _figure(intro, "week 2")
    (line,) = [line for line in fig.axes[0].lines if line.get_label().startswith("limit")]
    drawn = list(line.get_ydata())[:-1]  # one value per step (steps-post repeats the last)
    for step, value in zip(intro.steps, drawn, strict=True):
        if step.direction is Direction.FORWARD:
            assert math.isnan(value), step
        elif step.turnaround:
            assert value == to_kmh(step.speed), step  # the turn's own speed
        else:
            assert value == 2.2, step
    assert [limit_kmh(s, intro.ceiling) for s in intro.steps[:3]] == [None, 2.0, 2.2]


def test_a_turn_on_a_stopped_belt_has_a_limit_of_nothing_moving() -> None:
    rehab = plan(program(fwd(300, kmh=3.0), back(300, kmh=1.5)), profile=RunnerProfile("rehab"))
    turn = rehab.steps[1]
    assert turn.turnaround
    assert limit_kmh(turn, rehab.ceiling) == 0.0


def test_turn_arounds_are_drawn_wide_enough_to_see_and_the_steps_beside_make_room() -> None:
    long = plan(program(fwd(1800), back(1800), fwd(600)))
    spans = drawn_spans(long)
    total = long.total_s / 60
    turns = [i for i, step in enumerate(long.steps) if step.turnaround]
    assert turns == [1, 3]
    for i in turns:
        low, high = spans[i]
        assert high - low == pytest.approx(0.015 * total)  # 12 s alone would be 0.3 %
        assert spans[i - 1][1] <= low
        assert spans[i + 1][0] >= high
    assert spans[0][0] == 0.0
    assert spans[-1][1] == pytest.approx(total)
    starts = [low for low, _ in spans]
    assert starts == sorted(starts)
