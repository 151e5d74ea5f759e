"""The event contract: one frozen class per kind, one wire form, and a round trip."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrorun.events import (
    EVENT_TYPES,
    Direction,
    EventKind,
    SessionEvent,
    StepInfo,
    StepStarted,
    TurnaroundPhase,
    event_from_json,
)

EVENT_CLASSES = typing.get_args(SessionEvent)


def test_every_kind_has_exactly_one_frozen_class() -> None:
    assert set(EVENT_TYPES) == set(EventKind)
    assert len(EVENT_CLASSES) == len(EventKind)
    step = StepInfo(0, Direction.FORWARD, 3.0, 30.0)
    for cls in EVENT_CLASSES:
        extra: dict[str, Any] = {"step": step} if cls is StepStarted else {}
        event = cls(t=1.0, message="x", **extra)
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.message = "y"  # type: ignore[misc]


def _steps() -> st.SearchStrategy[StepInfo]:
    finite = st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 2))
    return st.builds(
        StepInfo,
        index=st.integers(0, 50),
        direction=st.sampled_from(list(Direction)),
        speed_kmh=finite,
        duration_s=finite,
        label=st.text(max_size=10).map(str.strip),
        cue=st.text(max_size=10).map(str.strip),
        incline_pct=finite,
        turnaround=st.booleans(),
    )


def _events() -> st.SearchStrategy[Any]:
    text = st.text(max_size=12)
    finite = st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 2))
    strategies: dict[type, st.SearchStrategy[Any]] = {
        str: text,
        float: finite,
        int: st.integers(-1, 50),
        bool: st.booleans(),
        Direction: st.sampled_from(list(Direction)),
        StepInfo: _steps(),
    }
    builds = []
    for cls in EVENT_CLASSES:
        if cls is StepStarted:
            builds.append(
                st.builds(
                    StepStarted,
                    t=finite,
                    message=text,
                    step=_steps(),
                    next=st.none() | _steps(),
                    total=st.integers(0, 50),
                ).filter(lambda e: not (e.step.turnaround and e.next is not None))
            )
            continue
        kwargs: dict[str, st.SearchStrategy[Any]] = {"t": finite, "message": text}
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in kwargs:
                continue
            hint = hints[f.name]
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            if f.name == "phase":
                kwargs[f.name] = st.sampled_from([None, "slowing", "turn"])
            elif f.name == "steps":
                kwargs[f.name] = st.lists(_steps(), max_size=3).map(tuple)
            elif args:
                kwargs[f.name] = st.none() | strategies[args[0]]
            else:
                kwargs[f.name] = strategies[hint]
        builds.append(st.builds(cls, **kwargs))
    return st.one_of(builds)


@settings(max_examples=300, deadline=None)
@given(event=_events())
def test_the_wire_form_reads_back_as_the_same_event(event: Any) -> None:
    body = json.loads(json.dumps(event.to_json_dict()))
    again = event_from_json(body)
    if isinstance(event, TurnaroundPhase) and event.phase is None:
        body.pop("phase")
    assert again.to_json_dict() == event.to_json_dict()
    assert type(again) is type(event)
