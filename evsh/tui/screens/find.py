"""Find events (type, payload text, time range) and go to a position or version."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from ...errors import BadInput
from ...sanitise import SAFE_INPUT, rich_text
from ..data import Source
from ..search import Criteria, time_bound


class FindScreen(ModalScreen[Criteria | None]):
    """A small form; Enter finds from the cursor on, then `n` / `N` step through matches."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, criteria: Criteria, domain: Any = None) -> None:
        super().__init__()
        self.criteria = criteria
        self.types = sorted(domain.events) if domain is not None else []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Find events", style="bold"), classes="dialog-title")
            yield Label("event type (exact)")
            yield Input(self.criteria.type, id="type", placeholder="OrderCreated", restrict=SAFE_INPUT,
                        suggester=SuggestFromList(self.types, case_sensitive=False) if self.types else None)
            yield Label("text in the payload")
            yield Input(self.criteria.text, id="text", placeholder="any text", restrict=SAFE_INPUT)
            yield Label("recorded from / until (UTC, YYYY-MM-DD HH:MM:SS)")
            with Horizontal(classes="row"):
                yield Input(self.criteria.since, id="since", placeholder="from", restrict=SAFE_INPUT)
                yield Input(self.criteria.until, id="until", placeholder="until", restrict=SAFE_INPUT)
            yield Static(id="find-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Find", id="go", variant="primary")
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")

    def _criteria(self) -> Criteria | None:
        c = Criteria(*(self.query_one(f"#{n}", Input).value.strip() for n in ("type", "text", "since", "until")))
        try:
            for t in (c.since, c.until):
                if t:
                    time_bound(t)
        except BadInput as exc:
            self.query_one("#find-error", Static).update(rich_text(str(exc)))
            return None
        return c

    @on(Input.Submitted)
    @on(Button.Pressed, "#go")
    def go(self) -> None:
        c = self._criteria()
        if c is not None:
            self.dismiss(c)

    @on(Button.Pressed, "#clear")
    def clear(self) -> None:
        self.dismiss(Criteria())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_target(text: str, source: Source) -> tuple[str, int]:
    """``123`` is a position in $all and a version in a stream; ``#123``/``p123`` a position, ``v12`` a version."""
    t = text.strip().lower().replace(",", "").replace("_", "")
    kind = "position" if source.stream_id is None else "version"
    if t[:1] in ("#", "p"):
        kind, t = "position", t[1:].lstrip("osition").strip()
    elif t[:1] == "v":
        kind, t = "version", t[1:].lstrip("ersion").strip()
    # "²" passes isdigit() alone; past 18 digits no store holds it (and SQLite's integers end)
    if not (t.isascii() and t.isdigit()) or len(t) > 18 or int(t) < 1:
        raise BadInput(f"{text!r}: give a number (a position in $all, a version in a stream), #N or vN")
    return kind, int(t)


class GotoScreen(ModalScreen[tuple[str, int] | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.error = ""

    def compose(self) -> ComposeResult:
        hint = "position" if self.source.stream_id is None else "version (or #position)"
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(f"Go to a {hint}", style="bold"), classes="dialog-title")
            yield Input(id="target", placeholder="1234", restrict=SAFE_INPUT)
            yield Static(id="goto-error", classes="error")

    @on(Input.Submitted, "#target")
    def go(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(parse_target(event.value, self.source))
        except BadInput as exc:
            self.error = str(exc)
            self.query_one("#goto-error", Static).update(rich_text(self.error))

    def action_cancel(self) -> None:
        self.dismiss(None)
