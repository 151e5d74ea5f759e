"""The display's own widgets: the big direction word and the program bar."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widget import Widget

from retrorun.events import Direction, StepInfo
from retrorun.sinks._tui_font import big_text

__all__ = ["BigWord", "ProgramBar"]

_COLOURS = {"backward": "#ff3d7f", "forward": "#4cc764", "turn": "#ffc21a"}
_REMAINING = {"backward": "#6b2040", "forward": "#24502e", "turn": "#66531a"}


class BigWord(Widget):
    """One word in the five-row block font, centred; its colours come from CSS classes."""

    DEFAULT_CSS = """
    BigWord { height: 6; content-align: center middle; text-style: bold; }
    """

    def __init__(self, word: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._word = word

    @property
    def word(self) -> str:
        """The word shown."""
        return self._word

    def show(self, word: str, style_class: str, classes: Sequence[str]) -> None:
        """Show ``word`` with ``style_class`` (one of ``classes``, which are removed first)."""
        self.remove_class(*classes)
        self.add_class(style_class)
        if word != self._word:
            self._word = word
            self.refresh()

    def render(self) -> Text:
        """The word, five rows high."""
        return Text("\n".join(big_text(self._word)))


class ProgramBar(Widget):
    """The whole program as one bar: backward parts in the strong colour, done parts solid.

    Each cell stands for an equal share of the program's time and takes the
    colour of the step running then; a second row names the colours.
    """

    DEFAULT_CSS = """
    ProgramBar { height: 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._plan: list[StepInfo] = []
        self._done = 0.0
        self._total = 0.0

    def update_plan(self, plan: Sequence[StepInfo], done_s: float, total_s: float) -> None:
        """Show ``plan`` with ``done_s`` of ``total_s`` seconds behind the runner."""
        plan = list(plan)
        if plan != self._plan or done_s != self._done or total_s != self._total:
            self._plan, self._done, self._total = plan, done_s, total_s
            self.refresh()

    def render(self) -> Text:
        """The bar and its legend."""
        width = max(1, self.size.width)
        bar = Text()
        if not self._plan or self._total <= 0:
            bar.append("─" * width, style="#444444")
        else:
            ends, t = [], 0.0
            for step in self._plan:
                t += step.duration_s
                ends.append(t)
            index = 0
            for cell in range(width):
                middle = (cell + 0.5) * self._total / width
                while index < len(ends) - 1 and middle > ends[index]:
                    index += 1
                kind = _kind(self._plan[index])
                if middle <= self._done:
                    bar.append("█", style=_COLOURS[kind])
                else:
                    bar.append("▄", style=_REMAINING[kind])
        bar.append("\n")
        for kind, name in (("backward", "backward"), ("forward", "forward"), ("turn", "turn")):
            bar.append("■ ", style=_COLOURS[kind])
            bar.append(f"{name}   ")
        if self._total > 0:
            bar.append(f"{100 * self._done / self._total:.0f} % done")
        return bar


def _kind(step: StepInfo) -> str:
    if step.turnaround:
        return "turn"
    return "forward" if step.direction is Direction.FORWARD else "backward"
