"""The keys of ``--plain`` in a terminal match the display's (README, During a session)."""

from __future__ import annotations

import pytest

from retrorun.app import plain_key


@pytest.mark.parametrize(
    ("line", "paused", "action"),
    [
        (" \n", False, "pause"),  # space and Enter: the display's space
        (" \n", True, "resume"),
        ("p\n", False, "pause"),
        ("P\r\n", True, "resume"),
        ("s\n", False, "pause"),  # stops the belt, the session stays open ...
        ("s\n", True, "pause"),  # ... and pressed again never restarts it
        ("q\n", False, "stop"),
        ("q\n", True, "stop"),
        ("+\n", False, "+"),
        ("-\n", False, "-"),
        ("\n", False, "confirm"),  # Enter alone confirms a turn-around or a rest
        ("\n", True, "confirm"),
        ("what\n", False, "confirm"),
    ],
)
def test_a_typed_line_asks_what_the_display_key_would(line: str, paused: bool, action: str) -> None:
    assert plain_key(line, paused=paused) == action
