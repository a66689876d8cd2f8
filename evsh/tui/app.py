"""`evsh tui`: browse streams, events and aggregate state through time.

The main screen: categories and streams on the left, the events of the chosen stream (or
``$all``) on the right, and below them the selected event and the aggregate's state at that
version. Every database call runs in a thread worker; the UI thread only renders caches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, ClassVar, Iterable

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane, Tree
from textual.timer import Timer
from textual.worker import get_current_worker

from ..engine.engine import Engine
from ..errors import EvshError
from ..sanitise import SAFE_INPUT, rich_text, safe
from ..wording import counted
from .data import ALL, Browser, Row, RowIndex, Source, diff
from .search import Criteria
from .finding import Finding, describe_criteria
from .sidebar import FilterInput, Sidebar
from .tail import LiveTail
from .widgets.detail import EventDetail, StateView
from .widgets.lists import EventList, StreamList
from .widgets.virtual_list import VirtualList


class EvshApp(Sidebar, Finding, LiveTail, App):
    """The event-store browser."""

    CSS_PATH = "evsh.tcss"
    TITLE = "evsh"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("slash,ctrl+f", "find", "Find"),
        Binding("n", "find_next", "Next", show=False),
        Binding("escape", "stop_search", "Stop search", show=False),
        Binding("N", "find_previous", "Previous", show=False),
        Binding("g", "goto", "Go to"),
        Binding("a", "show_all", "$all", show=False),  # $all is the first category
        Binding("o", "open_event", "Open", show=False),  # as enter
        Binding("x", "run_command", "Command"),
        Binding("t", "toggle_tail", "Tail"),
        Binding("p", "projections", "Projections"),
        Binding("r", "reactors", "Reactors"),
        Binding("m", "metrics", "Metrics"),
        Binding("d", "read_models", "Tables"),
        Binding("v", "toggle_state", "State"),
        Binding("s", "focus('streams')", "Streams", show=False),
        Binding("e", "focus('events')", "Events", show=False),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    def __init__(self, engine: Engine, *, poll_interval: float = 0.5, tail: bool = True,
                 open_engine: Callable[[], Engine] | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.browser = Browser(engine, self._side_store if getattr(engine.store, "path", ":memory:") != ":memory:"
                               else None)
        self.poll_interval = poll_interval
        self.tail = tail
        self.open_engine = open_engine  # () -> an Engine on its own connection, for long jobs
        self.criteria = Criteria()
        self.searching = False
        self.search_done = 0.0  # how far the running search has got, 0..1
        self.search_window = 50_000  # keys searched between progress reports and checks for escape
        self.all_index: RowIndex | None = None  # $all's rows, for its count and the live tail
        self.counts_interval = 2.0  # seconds between recounts of categories and streams while events arrive
        self._counts_head = 0
        self._counts_at = 0.0
        self.known_head = 0
        self.detail_delay = 0.05
        self._detail_timer: Timer | None = None
        self._pending_detail: Row | None = None
        self.sub_title = safe(engine.store.path)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification (the screens' and widgets' too come here) is plain text, never markup:
        messages carry stream ids and errors, where ``[/oops]`` would raise MarkupError and
        ``[red]`` would colour; their control characters are shown as escapes."""
        super().notify(safe(message, lines=True), title=safe(title), severity=severity, timeout=timeout,
                       markup=False)

    # actions of the browser itself: off (and out of the footer) while another screen is on top
    MAIN_ACTIONS = frozenset({
        "find", "find_next", "find_previous", "goto", "show_all", "open_event", "run_command", "toggle_tail",
        "projections", "reactors", "metrics", "focus", "reload", "toggle_state", "leave_filter", "stop_search", "read_models",
    })

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MAIN_ACTIONS and len(self.screen_stack) > 1:
            return False
        if action == "stop_search" and not self.searching:
            return False  # escape is free for whatever else wants it
        if action == "quit" and isinstance(self.screen, ModalScreen):
            return False  # `q` typed in a dialog never quits; escape closes the dialog
        return True

    def make_engine(self) -> Engine:
        """An engine on its own connection to the same store (rebuilds run there)."""
        if self.open_engine is not None:
            return self.open_engine()
        from ..engine.wiring import build_engine
        from ..store.connect import open_store

        store = self.engine.store
        return build_engine(open_store(store.opened_as, create=False, busy_timeout=store.busy_timeout), self.engine.domain)

    def _side_store(self) -> Any:
        """A read-only store on the same data, for slow listings off the main connection."""
        from ..store.connect import open_store

        store = self.engine.store
        return open_store(store.opened_as, create=False, busy_timeout=store.busy_timeout, read_only=True)

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield FilterInput(placeholder="filter streams (esc: leave)", id="filter", restrict=SAFE_INPUT)
                tree: Tree[str | None] = Tree(Text("categories"), id="categories")
                tree.show_root = False
                yield tree
                yield Static(Text("streams"), id="streams-title", classes="title")
                yield StreamList(self.browser, id="streams")
            with Vertical(id="right"):
                yield Static(Text(ALL), id="events-title", classes="title")
                yield Static(id="events-header")
                yield EventList(self.browser, id="events")
                with TabbedContent(id="panel"):
                    with TabPane("Event", id="tab-event"):
                        yield EventDetail(id="detail")
                    with TabPane("State", id="tab-state"):
                        yield StateView(id="state")
        yield Footer()

    @property
    def events(self) -> EventList:
        return self.query_one("#events", EventList)

    @property
    def streams(self) -> StreamList:
        return self.query_one("#streams", StreamList)

    def on_mount(self) -> None:
        self.query_one("#events-header", Static).update(self.events.header())
        self.load_source(Source())  # first: the log is what the user waits for
        self.load_categories()
        self.load_streams()
        self.events.focus()
        self.set_interval(self.poll_interval, self.poll, name="live-tail")
        if self.tail and getattr(self.engine.store, "backend", "") == "postgresql":
            self.wake_on_append()

    def on_unmount(self) -> None:
        self.browser.close()

    # ------------------------------------------------------------------ layout by terminal size
    def on_resize(self) -> None:
        self.call_after_refresh(self.relayout)

    @on(StreamList.Widened)
    def _streams_widened(self) -> None:
        self.relayout()

    @on(EventList.Widened)
    @on(VirtualList.Resized)
    def _events_widened(self) -> None:
        self.relayout()

    # ------------------------------------------------------------------ categories and streams
    @on(Tree.NodeSelected, "#categories")
    def category_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        self.streams.category = None if data == ALL else data
        self.load_streams()
        if data == ALL:
            self.load_source(Source())

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.streams.text = event.value.strip()
        self.load_streams()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self) -> None:
        self.streams.focus()

    @on(VirtualList.Moved, "#streams")
    @on(VirtualList.Selected, "#streams")
    def stream_chosen(self, event: VirtualList.Moved) -> None:
        if not isinstance(event, VirtualList.Selected) and not self.streams.has_focus:
            return  # the cursor was placed by a reload, not moved by the user
        sid = event.item[0]
        if self.events.source.stream_id != sid:
            self.load_source(Source(sid))
        if isinstance(event, VirtualList.Selected):
            self.events.focus()

    # ------------------------------------------------------------------ the events list
    @work(thread=True, exclusive=True, group="source", exit_on_error=False)
    def load_source(self, source: Source, row: int | None = None, position: int | None = None) -> None:
        index = self.browser.index(source, quick=True)
        if position is not None:
            row = self.browser.row_of_key(index, position)
        self.call_from_thread(self._show_source, index, row)
        if not index.verified:
            exact = self.browser.verify(index)
            if exact is not None:
                self.call_from_thread(self._verified, exact)

    def _verified(self, exact: RowIndex) -> None:
        """The quick index of $all had holes (a scavenge): switch to the exact one, same event."""
        self.all_index = replace(exact, blocks=list(exact.blocks))
        self._relabel_all()
        lst = self.events
        if lst.source != exact.source:
            return
        row = lst.current
        lst.index = exact
        lst.reset(exact.total, 0)
        self._title()
        if row is not None:  # back to the same event, unless the user has moved on meanwhile
            self.jump_key(row.record.position, unless_moved_from=0)

    def _show_source(self, index: RowIndex, row: int | None) -> None:
        lst = self.events
        lst.index = index
        if index.source.stream_id is None:
            self.all_index = replace(index, blocks=list(index.blocks))
            self._relabel_all()
        lst.reset(index.total, row or 0)
        self.known_head = max(self.known_head, index.last_key if index.source.stream_id is None else 0)
        self.query_one("#events-header", Static).update(lst.header())
        self._title()
        if not index.total:
            self.query_one("#detail", EventDetail).show_empty()
            self.query_one("#state", StateView).show_message("No events here yet.")

    def _title(self) -> None:
        lst = self.events
        t = Text()
        t.append(lst.source.label, style="bold green")
        t.append(f"  {counted(lst.total, 'event')}", style="dim")
        if self.tail:
            t.append("  ● live", style="bold red")
        else:
            t.append("  ○ paused", style="dim")
        if not self.criteria.empty():
            t.append(f"  searching… {self.search_done:.0%} (escape stops) " if self.searching else "  find: ",
                     style="dim")
            t.append(describe_criteria(self.criteria), style="yellow")
        self.query_one("#events-title", Static).update(rich_text(t))

    @on(VirtualList.Moved, "#events")
    def event_moved(self, event: VirtualList.Moved) -> None:
        # while keys repeat (page down held), the panel below follows once the cursor rests
        self._pending_detail = event.item
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(self.detail_delay, self._show_detail)

    def _show_detail(self) -> None:
        self._detail_timer = None
        row: Row | None = self._pending_detail
        if row is None:
            return
        try:
            detail = self.query_one("#detail", EventDetail)
        except NoMatches:  # the timer fired while the app was closing: its widgets are gone
            return
        detail.show(row.view)
        if row.view is not None:
            self.load_state(row.view.stream_id, row.view.version)
        else:
            self.query_one("#state", StateView).show_message("hidden event")

    @on(VirtualList.Selected, "#events")
    def event_selected(self, event: VirtualList.Selected) -> None:
        self.action_open_event()

    @work(thread=True, exclusive=True, group="state", exit_on_error=False)
    def load_state(self, stream_id: str, version: int) -> None:
        view = self.query_one("#state", StateView)
        if self.browser.aggregate_for(stream_id) is None:
            why = ("no domain loaded: pass --domain to see aggregate state" if self.browser.domain is None
                   else f"no aggregate of the domain owns stream {stream_id}")
            self.call_from_thread(view.show_message, why)
            return
        try:
            before, now = self.browser.states(stream_id, version)
        except EvshError as exc:
            self.call_from_thread(view.show_message, f"cannot rebuild {stream_id}@{version}: {exc}")
            return
        if get_current_worker().is_cancelled:
            return
        self.call_from_thread(view.show_state, stream_id, version, now, diff(before, now))

    def action_reload(self) -> None:
        lst = self.events
        self.load_source(lst.source, lst.cursor)
        self.load_categories()
        self.load_streams()

    # ------------------------------------------------------------------ navigation
    def action_show_all(self) -> None:
        self.load_source(Source())

    def action_toggle_state(self) -> None:
        """`v`: the aggregate's state at the highlighted version, with its diff (again: the event)."""
        panel = self.query_one("#panel", TabbedContent)
        panel.active = "tab-event" if panel.active == "tab-state" else "tab-state"

    def action_focus(self, target: str) -> None:
        self.query_one(f"#{target}").focus()

    def selected_event(self):
        row = self.events.current
        return row.view if isinstance(row, Row) else None

    def action_open_event(self) -> None:
        from .screens.event import EventScreen

        rec = self.selected_event()
        if rec is not None:
            self.push_screen(EventScreen(self.browser, rec))

    def go_to_position(self, position: int) -> None:
        """Show the event at ``position`` in ``$all``."""
        self.load_source(Source(), position=position)

    def action_goto(self) -> None:
        from .screens.find import GotoScreen

        def done(result: tuple[str, int] | None) -> None:
            if result is None:
                return
            kind, value = result
            if kind == "position":
                if self.events.source.stream_id is None:
                    self.jump_key(value)
                else:
                    self.go_to_position(value)
            else:
                if self.events.source.stream_id is None:
                    self.notify("go to a version needs a stream: choose one on the left", severity="warning")
                else:
                    self.jump_key(value)

        self.push_screen(GotoScreen(self.events.source), done)

    @work(thread=True, exclusive=True, group="jump", exit_on_error=False)
    def jump_key(self, key: int, unless_moved_from: int | None = None) -> None:
        index = self.events.index
        row = self.browser.row_of_key(index, key)
        self.call_from_thread(self._jump_to_row, row, unless_moved_from)

    def _jump_to_row(self, row: int, unless_moved_from: int | None) -> None:
        if unless_moved_from is None or self.events.cursor == unless_moved_from:
            self.events.move_to(row)

    def action_run_command(self) -> None:
        from .screens.command import CommandScreen

        sid = self.events.source.stream_id
        rec = self.selected_event()
        if rec is not None:
            sid = rec.stream_id
        if sid is None:
            sid = self.streams.current[0] if self.streams.current else None
        if sid is None or self.browser.aggregate_for(sid) is None:
            self.notify("select an event or stream of an aggregate of the domain (pass --domain)",
                        severity="warning")
            return
        self.push_screen(CommandScreen(self.browser, sid), lambda _: self.check_tail())

    # ------------------------------------------------------------------ other screens
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_projections(self) -> None:
        from .screens.ops import open_projections

        open_projections(self)

    def action_reactors(self) -> None:
        from .screens.ops import open_reactors

        open_reactors(self)

    def action_read_models(self) -> None:
        from .screens.tables import open_tables

        open_tables(self)

    def action_metrics(self) -> None:
        from .screens.ops import open_metrics

        open_metrics(self)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Find events", "By type, payload text, time range (/)", self.action_find)
        yield SystemCommand("Go to position or version", "Jump in the events list (g)", self.action_goto)
        yield SystemCommand("Show $all", "The global log (a)", self.action_show_all)
        yield SystemCommand("Open event", "Payload, metadata, causal chain (o / enter)", self.action_open_event)
        yield SystemCommand("Run a command", "Against the selected aggregate (x)", self.action_run_command)
        yield SystemCommand("Toggle live tail", "Show appends by other processes (t)", self.action_toggle_tail)
        yield SystemCommand("Projections", "Status, lag, errors, rebuild (p)", self.action_projections)
        yield SystemCommand("Reactors and dead letters", "Status, lag, parked events (r)", self.action_reactors)
        yield SystemCommand("Metrics", "Events per minute, handlers (m)", self.action_metrics)
        yield SystemCommand("Read models", "Tables of projections and reactors, their rows (d)", self.action_read_models)
        yield SystemCommand("Help", "Key bindings (?)", self.action_help)
