"""The key bindings, in one place."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Moving", [
        ("tab / shift+tab", "next / previous pane (the focused one is tinted)"),
        ("s, e", "focus streams, events"),
        ("↑ ↓ j k, pgup pgdn", "move the cursor"),
        ("home / end", "first / last row (on the last row the live tail follows new events)"),
        ("enter, o", "open the event (payload, metadata, causal chain)"),
        ("v", "the State tab: the aggregate's state at this version, with the diff (v again: the event)"),
        ("a", "show $all, the global log"),
        ("g", "go to a position (or version, in a stream)"),
    ]),
    ("Filter box (streams)", [
        ("type", "narrow the streams to ids containing the text"),
        ("enter", "go to the filtered streams"),
        ("escape", "leave the filter box (keys are the app's again)"),
    ]),
    ("Finding", [
        ("/ or ctrl+f", "find by type, payload text, time range"),
        ("n / N", "next / previous match"),
        ("escape", "stop a search that is running"),
    ]),
    ("Event screen", [
        ("c", "follow causation_id to the causing event"),
        ("enter", "open the highlighted event of the chain"),
        ("backspace", "back along the followed links"),
        ("g", "show this event in the log"),
    ]),
    ("Command form (x)", [
        ("tab / shift+tab", "from the command to its parameters and back"),
        ("ctrl+s, or enter in a field", "run the command"),
        ("escape", "close the form"),
    ]),
    ("Projections screen (p)", [
        ("b", "rebuild the highlighted projection"),
        ("s", "stop the rebuild (the old tables stay)"),
        ("t", "browse the read model's tables and rows"),
        ("ctrl+r", "refresh now"),
        ("escape / q", "back"),
    ]),
    ("Read models (d, or t on projections)", [
        ("↑ ↓", "choose a table: its rows show on the right, in key order"),
        ("tab", "between the tables and the rows"),
        ("] / [", "next / previous page of rows"),
        ("escape / q", "back"),
    ]),
    ("Reactors screen (r)", [
        ("tab", "between reactors and dead letters"),
        ("y / d", "retry / discard the highlighted parked event"),
        ("escape / q", "back"),
    ]),
    ("Doing", [
        ("x", "run a command on the selected aggregate"),
        ("t", "pause / resume the live tail"),
        ("p", "projections: status, lag, errors, rebuild"),
        ("r", "reactors and dead letters: retry, discard"),
        ("m", "metrics: events per minute, handlers"),
        ("d", "read models: the tables of projections and reactors, and their rows"),
        ("ctrl+r", "reload everything"),
        ("ctrl+p", "command palette"),
        ("? / f1", "this help (↑ ↓ pgup pgdn scroll it)"),
        ("q", "quit"),
    ]),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]
    DEFAULT_CSS = "HelpScreen #dialog { max-width: 100%; height: 1fr; max-height: 100%; }"

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for section, rows in KEYS:
            table.add_row(Text(section, style="bold underline"), "")
            for key, what in rows:
                table.add_row(Text(key), Text(what))
            table.add_row("", "")
        with VerticalScroll(id="dialog", classes="dialog wide"):
            yield Static(Text("evsh tui: keys (the mouse works too)", style="bold"), classes="dialog-title")
            yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#dialog").focus()  # the arrows and pgup/pgdn scroll the keys

    def action_close(self) -> None:
        self.dismiss(None)
