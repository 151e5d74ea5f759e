"""Helpers for the export tests: the sessions they export, and the official readers
(Garmin's FIT decoder, the TCX schema).

The records are the suite's shared sessions (``recorded_sessions``, recorded once per
test run by the ``recorded_runs`` fixture of tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garmin_fit_sdk import Decoder, Stream
from lxml import etree

from recorded_sessions import LIBRARY

DATA = Path(__file__).parent / "data"
TCX_SCHEMA = etree.XMLSchema(etree.parse(DATA / "TrainingCenterDatabasev2.xsd"))

# The sessions exported: every library program whole ("demo" among them), the demo
# paused and restarted at the console, stopped at the console, with the runner's
# presses at the ceiling and their stop, and ended by a safety stop.
EXPORTED = [*LIBRARY, "demo-paused", "demo-stopped", "eventful", "safety-stop"]


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
