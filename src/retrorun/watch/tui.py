"""The fleet on one screen: a Textual table of every treadmill, live.

A row per treadmill (name and id, site, program, step, direction, speed, ceiling,
heart rate, time left, last safety event, online); red after a safety event that
the rules had to catch (until its next session starts), grey while offline. The
table is redrawn from the :class:`Fleet` at most every :data:`REFRESH_S` (a busy
fleet changes 200 times a second; the eye needs four), so the keys stay quick.

Keys: ``s`` stop the selected treadmill (asks first), ``p`` pause it, ``r``
resume it (asks first: a resume brings the belt back up to the step's speed, as
its runner confirms), ``A`` stop every treadmill (type STOP to confirm), ``o``
sort by the next column, ``/`` filter, Escape clear the filter, ``q`` quit. Each
command is ``PRESS`` on the treadmill's ``cmd/*`` topic; its ``command_ack`` (or
refusal, or silence) shows in the detail pane. Nothing here can raise a speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Static

from retrorun.events import RemoteCommand
from retrorun.watch._model import Change, Fleet, Treadmill, step_words
from retrorun.watch.client import Watcher

__all__ = ["COLUMNS", "REFRESH_S", "WatchApp"]

REFRESH_S: Final = 0.25
ANSWER_TIMEOUT_S: Final = 5.0
STOP_ALL_WORD: Final = "STOP"

COLUMNS: Final = (
    ("treadmill", "Treadmill"),
    ("site", "Site"),
    ("program", "Program"),
    ("step", "Step"),
    ("direction", "Direction"),
    ("speed", "km/h"),
    ("ceiling", "Ceiling"),
    ("hr", "HR"),
    ("left", "Left"),
    ("safety", "Last safety event"),
    ("online", "Online"),
)
_ALERT_STYLE: Final = "bold white on dark_red"
_OFFLINE_STYLE: Final = "grey50"

_CSS = """
#table { height: 1fr; }
#filter { display: none; }
#filter.-on { display: block; }
#detail { height: 12; border-top: solid $accent; padding: 0 1; }
ConfirmScreen, StopAllScreen { align: center middle; }
#dialog { width: 64; height: auto; border: thick $error; background: $panel; padding: 1 2; }
"""


def _number(state: dict[str, Any], name: str, form: str) -> str:
    value = state.get(name)
    return format(value, form) if isinstance(value, int | float) else "-"


def cells(row: Treadmill) -> list[str]:
    """What the table shows for ``row``, in :data:`COLUMNS` order."""
    state = row.state
    online = {True: "online", False: "offline", None: "?"}[row.online]
    return [
        row.label,
        row.site,
        str(state.get("program", "-")),
        step_words(state),
        str(state.get("direction", "-")),
        _number(state, "speed_kmh", ".2f"),
        _number(state, "ceiling_kmh", ".2f"),
        str(state.get("heart_rate_bpm") or "-"),
        _number(state, "step_remaining_s", ".0f"),
        row.alert.kind if row.alert is not None else "",
        online,
    ]


def row_style(row: Treadmill) -> str:
    """Grey while offline, red after a safety event, plain otherwise."""
    if row.online is False:
        return _OFFLINE_STYLE
    return _ALERT_STYLE if row.alert is not None else ""


def _sort_key(column: str) -> Callable[[Treadmill], tuple[Any, ...]]:
    index = [key for key, _ in COLUMNS].index(column)
    numeric = {"speed": "speed_kmh", "ceiling": "ceiling_kmh", "left": "step_remaining_s"}

    def key(row: Treadmill) -> tuple[Any, ...]:
        if column in numeric:
            value = row.state.get(numeric[column])
            return (0 if isinstance(value, int | float) else 1, value or 0.0, row.base)
        if column == "safety":  # alerts first
            return (row.alert is None, cells(row)[index], row.base)
        return (cells(row)[index].lower(), row.base)

    return key


class ConfirmScreen(ModalScreen[bool]):
    """``y`` or Enter confirms, ``n`` or Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Label("y: yes   n / Esc: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class StopAllScreen(ModalScreen[bool]):
    """Confirmed only by typing :data:`STOP_ALL_WORD` and Enter; Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Stop all {self.count} treadmills? Type {STOP_ALL_WORD} and Enter.")
            yield Input(placeholder=STOP_ALL_WORD, id="typed")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        self.dismiss(message.value.strip() == STOP_ALL_WORD)

    def action_cancel(self) -> None:
        self.dismiss(result=False)


class WatchApp(App[None]):
    """Every treadmill under the watcher's prefix; keys for one or all of them."""

    CSS = _CSS
    TITLE = "retrorun watch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "stop", "stop"),
        Binding("p", "pause", "pause"),
        Binding("r", "resume", "resume"),
        Binding("A", "stop_all", "stop ALL"),
        Binding("o", "sort", "sort"),
        Binding("slash", "filter", "filter"),
        Binding("escape", "clear_filter", "clear filter", show=False),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, make_watcher: Callable[[Callable[[Change], None]], Watcher]) -> None:
        super().__init__()
        self.watcher = make_watcher(self._changed)
        self.fleet: Fleet = self.watcher.fleet
        self.sort_column = "treadmill"
        self.filter_text = ""
        self.warning = ""
        self._dirty = True
        self.order: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def compose(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(id="table", cursor_type="row", zebra_stripes=False)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Input(placeholder="filter: id, name, site, program, status", id="filter")
        yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="watch")
        self.set_interval(REFRESH_S, self.refresh_table)
        self.query_one(DataTable).focus()

    async def _watch(self) -> None:
        try:
            await self.watcher.run()
        except Exception as exc:  # noqa: BLE001 - shown, then the app quits with it
            self.exit(message=f"retrorun watch: {exc}")

    async def on_unmount(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _changed(self, change: Change) -> None:
        del change
        self._dirty = True

    # -- drawing -----------------------------------------------------------------------

    def shown_rows(self) -> list[Treadmill]:
        """The rows that pass the filter, in the chosen order."""
        words = self.filter_text.lower().split()
        rows = [
            row
            for row in self.fleet.rows.values()
            if all(
                any(
                    word in str(text).lower()
                    for text in (
                        row.client_id,
                        row.name or "",
                        row.site,
                        row.state.get("program", ""),
                        row.state.get("status", ""),
                    )
                )
                for word in words
            )
        ]
        return sorted(rows, key=_sort_key(self.sort_column))

    def refresh_table(self) -> None:
        for row in self.fleet.unanswered(ANSWER_TIMEOUT_S):
            self.notify(f"{row.label}: {row.answer}", severity="warning")
            self._dirty = True
        if not self._dirty:
            return
        self._dirty = False
        table: DataTable[Text] = self.query_one(DataTable)
        rows = self.shown_rows()
        order = [row.base for row in rows]
        keys = [key for key, _ in COLUMNS]
        if order != self.order:
            selected = self.selected()
            table.clear()
            for row in rows:
                style = row_style(row)
                table.add_row(*(Text(c, style=style) for c in cells(row)), key=row.base)
            self.order = order
            if selected is not None and selected.base in order:
                table.move_cursor(row=order.index(selected.base))
        else:
            for row in rows:
                style = row_style(row)
                for key, value in zip(keys, cells(row), strict=True):
                    table.update_cell(row.base, key, Text(value, style=style))
        self._show_detail()

    def selected(self) -> Treadmill | None:
        table: DataTable[Text] = self.query_one(DataTable)
        if not self.order or not 0 <= table.cursor_row < len(self.order):
            return None
        return self.fleet.rows.get(self.order[table.cursor_row])

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        del message
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.selected()
        detail = self.query_one("#detail", Static)
        if row is None:
            detail.update(self.warning or "No treadmill yet: waiting for their state.")
            return
        state = row.state
        lines = [
            f"{row.label}  (site {row.site or '-'}, topic {row.base})",
            (
                f"status {state.get('status', '-')}, target "
                f"{_number(state, 'target_kmh', '.2f')} km/h, incline "
                f"{_number(state, 'incline_pct', '.1f')} %, distance "
                f"{_number(state, 'distance_m', '.0f')} m, elapsed "
                f"{_number(state, 'elapsed_s', '.0f')} s"
            ),
            f"last command: {row.answer or '-'}",
        ]
        if self.warning:
            lines.append(self.warning)
        for seen in list(row.events)[-6:][::-1]:
            stamp = time.strftime("%H:%M:%S", time.localtime(seen.at))
            lines.append(f"{stamp} {seen.kind}: {seen.message}")
        detail.update(Text("\n".join(lines)))

    # -- keys ----------------------------------------------------------------------------

    async def _send(self, command: RemoteCommand, row: Treadmill | None = None) -> None:
        """``command`` to ``row`` (the selected one if not given)."""
        row = row if row is not None else self.selected()
        if row is None:
            self.notify("No treadmill selected", severity="warning")
            return
        if await self.watcher.send(row, command):
            self.notify(f"{command} sent to {row.label}")
        else:
            self.notify(f"{row.label}: {row.answer}", severity="error")
        self._dirty = True
        self._show_detail()

    def _confirm_then(self, row: Treadmill, question: str, command: RemoteCommand) -> None:
        """Ask ``question``; on yes, ``command`` goes to ``row``, the treadmill it named
        (never to whichever row the cursor is on by then: the table re-sorts live)."""

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._send(command, row)

        self.push_screen(ConfirmScreen(question), answered)

    def action_stop(self) -> None:
        row = self.selected()
        if row is None:
            self.notify("No treadmill selected", severity="warning")
            return
        self._confirm_then(row, f"Stop {row.label}'s belt?", "stop")

    async def action_pause(self) -> None:
        await self._send("pause")

    def action_resume(self) -> None:
        row = self.selected()
        if row is None:
            self.notify("No treadmill selected", severity="warning")
            return
        self._confirm_then(
            row, f"Resume {row.label}? Its belt comes back up to the step's speed.", "resume"
        )

    def action_stop_all(self) -> None:
        count = sum(1 for row in self.fleet.rows.values() if row.online is not False)

        async def answered(yes: bool | None) -> None:
            if yes:
                sent = await self.watcher.stop_all()
                self.notify(f"stop sent to {sent} of {count} treadmills", severity="warning")
                self._dirty = True

        self.push_screen(StopAllScreen(count), answered)

    def action_sort(self) -> None:
        keys = [key for key, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.notify(f"sorted by {dict(COLUMNS)[self.sort_column]}")
        self._dirty = True
        self.refresh_table()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-on")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-on")
        self.filter_text = ""
        self.query_one(DataTable).focus()
        self._dirty = True

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id == "filter":
            self.filter_text = message.value
            self._dirty = True

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id == "filter":
            self.query_one(DataTable).focus()

    def warn(self, message: str) -> None:
        """A broker warning: shown in the detail pane and as a notification."""
        self.warning = message
        self.notify(message, severity="warning")
