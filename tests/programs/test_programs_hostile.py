"""Any document at the loader: a plan, or one ``InputError`` of printable lines; fast and small.

Documents are drawn valid and hostile alike: repeat blocks nested deep or repeated
a hundred times at every level, steps of a microsecond, infinities, NaN, booleans
and huge integers where numbers belong, strings with control characters, wrong
types, unknown keys, and TOML text that is mostly brackets and quotes. Whatever
comes in, loading and planning either give a plan within the product's bounds or
raise the project's input error, within a second and 32 MiB, and never anything
else.
"""

from __future__ import annotations

import json
import math
import re
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from retrorun.errors import InputError
from retrorun.limits import RunnerProfile
from retrorun.programs import MAX_STEPS, MAX_TOTAL_S, Plan, parse_program, plan, printable
from retrorun.programs._load import MAX_PROBLEMS

PEAK_BYTES = 32 << 20  # what loading and planning one document may allocate at its peak
SETTINGS = settings(
    max_examples=600,
    deadline=1000,  # milliseconds for one document, loaded and planned
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CONTROL_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("\x00\x1b\r\n\t\x7f\x9b\u2028\u202e"),
    ),
    max_size=24,
)
HOSTILE = st.one_of(
    st.booleans(),
    st.none(),
    st.just(math.inf),
    st.just(-math.inf),
    st.just(math.nan),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from(["", "90s", "1m30s", "1:30", "2min", "1h", "inf", "nan", "-1", "1e999"]),
    st.just("9" * 200),
    CONTROL_TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


TEXT = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=30)
KINDS = st.sampled_from(["warmup", "work", "recovery", "cooldown"])


@st.composite
def good_steps(draw: st.DrawFn) -> dict[str, Any]:
    """A step with one length and one speed, its values in range or nearly."""
    table: dict[str, Any] = {
        "direction": draw(st.sampled_from(["forward", "backward"])),
        "kind": draw(KINDS),
    }
    if draw(st.integers(0, 3)):
        table["duration"] = draw(
            st.one_of(
                st.integers(1, 600),
                st.floats(1e-6, 900),
                st.sampled_from(["90s", "2m", "1:30", "1h"]),
            )
        )
    else:
        table["distance_m"] = draw(st.floats(1e-3, 5_000))
    speed = draw(st.sampled_from(["speed_kmh", "speed_kmh", "pace", "reference_pct", "stop"]))
    if speed == "speed_kmh":
        table["speed_kmh"] = draw(st.floats(0.1, 5.5))
    elif speed == "pace":
        table["pace"] = draw(st.sampled_from(["12:00", "20:00", "30:00"]))
    elif speed == "reference_pct":
        table["reference_pct"] = draw(st.integers(1, 150))
    else:
        table.update(stop_belt=True, kind="recovery", duration=table.pop("distance_m", 30))
    if draw(st.booleans()):
        table["incline_pct"] = draw(st.sampled_from([0, 2.5, 5, 10, 12]))
    if draw(st.booleans()):
        table["label"] = draw(TEXT)
    if draw(st.booleans()):
        table["cue"] = draw(TEXT)
    return table


GOOD_RULES = st.sampled_from(
    [
        [],
        [{"target": "speed", "by": 0.5}],
        [{"target": "duration", "by": 30, "up_to": 400}, {"target": "incline", "by": 2.5}],
        [{"target": "reps", "by": 1, "up_to": 5}, {"target": "speed", "by": 1.0}],
        [{"target": "reps", "by": 100, "up_to": 100}],
        [{"target": "duration", "by": "1h"}],
    ]
)


def documents(*, hostile: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Program documents; with ``hostile``, any value may be replaced by a hostile one."""

    def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if not hostile:
            return valid
        return st.integers(0, 5).flatmap(lambda n: HOSTILE if n == 0 else valid)

    bad_steps = st.fixed_dictionaries(
        {"direction": field(st.sampled_from(["forward", "backward"]))},
        optional={
            "duration": field(st.one_of(st.integers(1, 600), st.floats(1e-6, 20_000))),
            "distance_m": field(st.floats(1e-3, 60_000)),
            "speed_kmh": field(st.floats(0.1, 30)),
            "pace": field(st.sampled_from(["6:30", "12:00", "0:00", "60:00"])),
            "reference_pct": field(st.integers(1, 200)),
            "stop_belt": field(st.booleans()),
            "incline_pct": field(st.floats(-12, 32)),
            "kind": field(KINDS),
            "label": field(CONTROL_TEXT),
            "cue": field(CONTROL_TEXT),
            "colour": HOSTILE,
        },
    )
    step = good_steps()
    if hostile:
        step = st.integers(0, 2).flatmap(lambda n: bad_steps if n == 0 else good_steps())

    def blocks(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.fixed_dictionaries(
            {
                "repeat": field(st.sampled_from([1, 2, 3, 10, 100])),
                "steps": st.lists(children, min_size=1, max_size=4),
            },
            optional={"label": field(TEXT)},
        )

    listed = st.lists(st.recursive(step, blocks, max_leaves=12), min_size=1, max_size=6)

    @st.composite
    def nested(draw: st.DrawFn) -> Any:
        """One step inside ``depth`` repeat blocks (or bare arrays) of ``times`` each."""
        inner: Any = draw(step)
        times = draw(st.sampled_from([1, 2, 100]))
        arrays = hostile and draw(st.integers(0, 4)) == 0
        depth = draw(st.integers(0, 300) if hostile else st.integers(0, 5))
        for _ in range(depth):
            inner = [inner] if arrays else {"repeat": times, "steps": [inner]}
        return [inner]

    any_rules = st.lists(
        st.fixed_dictionaries(
            {
                "target": field(st.sampled_from(["duration", "reps", "speed", "incline"])),
                "by": field(st.sampled_from([1, 2.5, 10, 30, "30s", 100, 1e308])),
            },
            optional={
                "up_to": field(st.sampled_from([2, 5, 20, 100, 600, 1e308])),
                "kinds": field(st.lists(KINDS, max_size=5)),
                "note": field(CONTROL_TEXT if hostile else TEXT),
            },
        ),
        max_size=12,
    )
    steps = st.integers(0, 5).flatmap(lambda n: nested() if n == 0 else listed)
    if hostile:
        steps = st.integers(0, 6).flatmap(lambda n: HOSTILE if n == 0 else steps)
    return st.fixed_dictionaries(
        {
            "name": field(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1)),
            "steps": steps,
        },
        optional={
            "profile": field(st.sampled_from([str(p) for p in RunnerProfile])),
            "weeks": field(st.integers(1, 60) if hostile else st.integers(1, 52)),
            "progression": field(st.one_of(GOOD_RULES, any_rules) if hostile else GOOD_RULES),
            "description": field(TEXT),
            "sources": field(st.lists(TEXT, max_size=3)),
            **({"repeat": HOSTILE} if hostile else {}),
        },
    )


DOCUMENTS = st.one_of(documents(hostile=False), documents(hostile=True))

OPTIONS = st.fixed_dictionaries(
    {
        "week": st.integers(1, 60),
        "reference_kmh": st.one_of(st.none(), st.floats(0.01, 25), st.floats(0.01, 25)),
        "profile": st.one_of(st.none(), st.sampled_from(list(RunnerProfile))),
        "ceiling": st.one_of(st.none(), st.integers(1, 1300)),
        "device_max": st.one_of(st.none(), st.integers(-5, 2500)),
    }
)

TOML_PIECES = st.sampled_from(
    [
        "[", "]", "{", "}", "[[steps]]\n", "[[steps.steps]]\n", '"', "'", '"""', "'''", "#",
        "\n", "\\", "a = ", "name = 'x'\n", "repeat = 100\n", 'direction = "forward"\n',
        "duration = 1e-5\n", "speed_kmh = 3\n", "steps = [", "inf", "nan", "true", ",",
        "9" * 30, "\x1b[2J", "\u2028",
    ]
)  # fmt: skip
TOML_TEXTS = st.one_of(
    st.lists(TOML_PIECES, max_size=60).map("".join),
    st.tuples(st.integers(0, 400), st.sampled_from(["[", "{a=", "[[", "x = ["])).map(
        lambda n_open: "name = 'x'\nsteps = " + n_open[1] * n_open[0]
    ),
)


def _check(text: str, *, toml: bool, options: dict[str, Any]) -> None:
    """Load and plan ``text``: a plan within bounds, or one input error of printable lines."""
    tracemalloc.start()
    try:
        result = plan(parse_program(text, "hostile", toml=toml), **options)
    except InputError as exc:
        event(f"{type(exc).__name__}: {_gist(str(exc))}")
        lines = str(exc).split("\n")
        assert 1 <= len(lines) <= MAX_PROBLEMS + 1
        assert all(line and printable(line) == line for line in lines), lines
    else:
        event(f"plan of {len(result.steps) // 100 * 100}+ steps")
        _assert_bounded(result)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{peak:,} bytes at the peak"


def _gist(message: str) -> str:
    first = message.split("\n", maxsplit=1)[0].removeprefix("hostile: ")
    return re.sub(r"\d[\d,.]*", "N", first.split(": ")[-1])[:50]


def _assert_bounded(result: Plan) -> None:
    assert 1 <= len(result.steps) <= 2 * MAX_STEPS  # a turn-around between any two steps
    assert result.total_s <= MAX_TOTAL_S
    assert all(math.isfinite(s.duration_s) and s.duration_s > 0 for s in result.steps)
    assert all(isinstance(s.speed, int) and 0 <= s.speed <= 2500 for s in result.steps)


@SETTINGS
@given(DOCUMENTS, OPTIONS)
def test_any_json_document_plans_or_is_one_input_error(
    document: dict[str, Any], options: dict[str, Any]
) -> None:
    _check(json.dumps(document), toml=False, options=options)


@settings(SETTINGS, max_examples=300)
@given(TOML_TEXTS, OPTIONS)
def test_any_toml_text_plans_or_is_one_input_error(text: str, options: dict[str, Any]) -> None:
    _check(text, toml=True, options=options)
