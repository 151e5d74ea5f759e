"""A five-row block font for the few words the display shows large.

Terminal text is about 4 mm tall; a runner two metres away needs letters five
rows high. Only the letters of the display's words are drawn (BACKWARD, FORWARD,
TURN, PAUSED, STOPPED, READY, DONE, and two arrows); anything else is skipped.
"""

from __future__ import annotations

__all__ = ["HEIGHT", "big_text"]

HEIGHT = 5

_GLYPHS: dict[str, tuple[str, str, str, str, str]] = {
    "A": (".###.", "#...#", "#####", "#...#", "#...#"),
    "B": ("####.", "#...#", "####.", "#...#", "####."),
    "C": (".####", "#....", "#....", "#....", ".####"),
    "D": ("####.", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "####.", "#....", "#####"),
    "F": ("#####", "#....", "####.", "#....", "#...."),
    "K": ("#...#", "#..#.", "###..", "#..#.", "#...#"),
    "N": ("#...#", "##..#", "#.#.#", "#..##", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "####.", "#....", "#...."),
    "R": ("####.", "#...#", "####.", "#..#.", "#...#"),
    "S": (".####", "#....", ".###.", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", ".###."),
    "W": ("#...#", "#...#", "#.#.#", "##.##", "#...#"),
    "Y": ("#...#", ".#.#.", "..#..", "..#..", "..#.."),
    "<": ("..#..", ".##..", "#####", ".##..", "..#.."),
    ">": ("..#..", "..##.", "#####", "..##.", "..#.."),
    " ": ("...", "...", "...", "...", "..."),
}


def big_text(word: str) -> list[str]:
    """``word`` in the block font: :data:`HEIGHT` lines of equal width."""
    glyphs = [_GLYPHS[c] for c in word.upper() if c in _GLYPHS]
    return [
        " ".join(glyph[row] for glyph in glyphs).replace("#", "█").replace(".", " ")
        for row in range(HEIGHT)
    ]
