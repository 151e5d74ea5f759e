"""Program text on a terminal: control characters shown, never obeyed.

A label, a cue or a file name may hold an escape sequence (``\\x1b[2J`` clears a
screen), a carriage return, or a character a terminal treats as a line break
(``\\u2028``). ``printable`` writes each of them as a visible escape, so what a file
says is printed on one line, as text. The schema refuses such characters in
program text; this is the second guard, for every line the command line prints.
"""

from __future__ import annotations

import re

__all__ = ["CONTROL", "printable"]

#: C0 and C1 controls, DEL, the Unicode line and paragraph separators and the
#: bidirectional overrides and isolates (which reorder what a terminal shows).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character written as ``\\xNN`` or ``\\uNNNN``."""
    return CONTROL.sub(_escape, text)
