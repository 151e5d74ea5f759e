"""Helpers for the export tests: records of real simulator sessions on fake time, and
the official readers (Garmin's FIT decoder, the TCX schema)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import looptime
from garmin_fit_sdk import Decoder, Stream
from lxml import etree

from retrorun.app import RunOptions, prepare, run_prepared
from retrorun.events import Direction
from retrorun.programs import library, plan

DATA = Path(__file__).parent / "data"
TCX_SCHEMA = etree.XMLSchema(etree.parse(DATA / "TrainingCenterDatabasev2.xsd"))


def _first_backward_s(name: str) -> float:
    """When the program's first backward step starts, in plan seconds."""
    at = 0.0
    for step in plan(dict(library())[name], reference_kmh=8.0).steps:
        if step.direction is Direction.BACKWARD:
            return at
        at += step.duration_s
    return at


RUNS = [
    ("demo", "demo", ()),
    ("demo-paused", "demo", ("console-pause@60", "console-start@70")),
    ("demo-stopped", "demo", ("console-stop@60",)),
    *(
        (f"cut-{name}", name, (f"console-stop@{_first_backward_s(name) + 45:.0f}",))
        for name, _ in library()
    ),
]


async def _record(folder: Path, name: str, program: str, faults: tuple[str, ...]) -> Path:
    record = folder / f"{name}.jsonl"
    options = RunOptions(
        program=program,
        sim_faults=faults,
        yes=True,
        plain=True,
        voice="off",
        record=record,
        reference_kmh=8.0,
    )
    await run_prepared(prepare(options), stdout=io.StringIO())
    return record


def record_sessions(
    folder: Path, runs: Iterable[tuple[str, str, tuple[str, ...]]]
) -> dict[str, Path]:
    """Run each ``(name, program, faults)`` as a whole session against the embedded
    simulator on one fake-time loop (a module's fixture shares the records) and
    return the record of each by name."""
    loop = looptime.new_event_loop()  # fake time from the start

    async def main() -> dict[str, Path]:
        return {name: await _record(folder, name, p, f) for name, p, f in runs}

    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def decode_fit(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """The messages of a FIT file, read by Garmin's own decoder: the file must pass its
    integrity check (header, sizes, CRCs) and decode without one error."""
    assert Decoder(Stream.from_byte_array(bytearray(data))).check_integrity()
    messages, errors = Decoder(Stream.from_byte_array(bytearray(data))).read()
    assert errors == []
    return dict(messages)


def validate_tcx(data: bytes) -> etree._Element:
    """A TCX document checked against Garmin's TrainingCenterDatabase v2 schema (its
    ``Extensions`` are lax: the ActivityExtension elements are accepted as written)."""
    document = etree.fromstring(data)
    assert TCX_SCHEMA.validate(document), TCX_SCHEMA.error_log
    return document
