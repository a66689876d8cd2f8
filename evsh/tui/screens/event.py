"""One event in full: payload and metadata as JSON, and its causal chain as links to follow."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from ...sanitise import rich_text
from ...store.base import RecordedEvent
from ..data import Browser
from ..widgets.detail import event_renderable, event_summary


class EventScreen(Screen):
    """Follow ``causation_id`` to the causing event and ``correlation_id`` along the chain."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("backspace", "back", "Back"),
        Binding("c", "follow_cause", "Cause"),
        Binding("g", "go_to", "Show in log"),
        Binding("tab", "focus_next", "Focus", show=False),
    ]

    def __init__(self, browser: Browser, rec: RecordedEvent) -> None:
        super().__init__()
        self.browser = browser
        self.rec = rec
        self.history: list[RecordedEvent] = []
        self.cause: RecordedEvent | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            with VerticalScroll(id="event-json"):
                yield Static(id="event-full")
            yield OptionList(id="links")
        yield Footer()

    def on_mount(self) -> None:
        self.show(self.rec)
        self.query_one("#links", OptionList).focus()

    def show(self, rec: RecordedEvent) -> None:
        self.rec = rec
        self.cause = None
        self.links_shown = False  # the causal links are read in a worker (a scan of the log)
        self.query_one("#event-full", Static).update(event_renderable(rec))
        links = self.query_one("#links", OptionList)
        links.clear_options()
        links.add_option(Option(Text("loading causal links…", style="dim"), disabled=True))
        self.load_links(rec)

    @work(thread=True, exclusive=True, group="links", exit_on_error=False)
    def load_links(self, rec: RecordedEvent) -> None:
        meta = rec.metadata or {}
        cause_id = meta.get("causation_id")
        cause = None
        if isinstance(cause_id, str) and cause_id != rec.event_id:
            cause = self.browser.event_by_id(cause_id)
        corr = meta.get("correlation_id")
        if not isinstance(corr, str):
            self.app.call_from_thread(self._show_links, rec, cause, [])
            return
        # the events around it first (a chain is mostly close together), then the whole log's
        # (a scan by metadata: seconds on millions of events)
        self.app.call_from_thread(self._show_links, rec, cause, self.browser.chain_near(corr, rec.position), True)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show_links, rec, cause, self.browser.chain(corr))

    def _show_links(self, rec: RecordedEvent, cause: RecordedEvent | None, chain: list[RecordedEvent],
                    partial: bool = False) -> None:
        if rec is not self.rec:
            return
        self.cause = cause
        self.links_shown = True
        links = self.query_one("#links", OptionList)
        links.clear_options()
        meta = rec.metadata or {}
        links.add_option(Option(Text("caused by", style="bold underline"), disabled=True))
        if cause is not None:
            t = Text("← ")
            t.append_text(event_summary(cause))
            links.add_option(Option(t, id=f"cause-{cause.position}"))
        else:
            if meta.get("causation_id") in (None, rec.event_id):
                t = Text("nothing: it starts its chain", style="dim")
            elif meta.get("command"):
                t = rich_text(f"command {meta['command']} (not an event)", style="dim")
            else:
                t = Text("something outside the log", style="dim")
            links.add_option(Option(t, disabled=True))
        corr = meta.get("correlation_id")
        title = Text("correlation chain", style="bold underline")
        if isinstance(corr, str):
            title.append(f"  {corr}", style="dim")
        links.add_option(Option(rich_text(title), disabled=True))
        for ev in chain:
            t = Text("● " if ev.event_id == rec.event_id else "  ")
            t.append_text(event_summary(ev))
            if ev.metadata.get("causation_id") == rec.event_id and ev.event_id != rec.event_id:
                t.append("  (caused by this)", style="yellow")
            links.add_option(Option(t, id=f"chain-{ev.position}", disabled=ev.event_id == rec.event_id))
        if partial:
            links.add_option(Option(Text("  … looking through the whole log", style="dim italic"), disabled=True))
            return
        if not chain:
            links.add_option(Option(Text("no other events share it", style="dim"), disabled=True))
        self.chain = chain

    @on(OptionList.OptionSelected, "#links")
    def follow(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id
        if oid:
            self.open_position(int(oid.rsplit("-", 1)[1]))

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_position(self, position: int) -> None:
        rec = self.browser.event_at(position)
        if rec is not None:
            self.app.call_from_thread(self._push, rec)

    def _push(self, rec: RecordedEvent) -> None:
        self.history.append(self.rec)
        self.show(rec)

    def action_follow_cause(self) -> None:
        if self.cause is not None:
            self._push(self.cause)
        else:
            self.notify("this event's cause is not an event in the log", severity="warning")

    def action_back(self) -> None:
        if self.history:
            self.show(self.history.pop())

    def action_close(self) -> None:
        self.dismiss()

    def action_go_to(self) -> None:
        app: Any = self.app
        position = self.rec.position
        self.dismiss()
        app.go_to_position(position)
