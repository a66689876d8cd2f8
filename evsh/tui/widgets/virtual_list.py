"""A cursor list of any length on Textual's line API (the toolong approach).

Only the rows near the visible window are fetched, a page at a time, in a thread worker; pages
and rendered lines live in LRU caches. Subclasses say how to fetch a page (``fetch``, run in a
worker thread) and how to render one row (``render_row``, returning a ``rich.text.Text``, so
user data never goes through markup). Every drawn segment passes through the sanitiser, so no
control character of the data reaches the terminal even if a row forgot to escape it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...sanitise import safe

PAGE_SIZE = 100


class VirtualList(ScrollView, can_focus=True):
    """Rows ``0 .. total-1``; ``cursor`` is the highlighted row."""

    DEFAULT_CSS = """
    VirtualList { overflow-x: hidden; overflow-y: scroll; height: 1fr; }
    VirtualList > .virtual-list--cursor { background: $accent 40%; }
    VirtualList:focus > .virtual-list--cursor { background: $accent; color: $text; text-style: bold; }
    VirtualList > .virtual-list--loading { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"virtual-list--cursor", "virtual-list--loading"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("enter", "select", "Open", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, init=False)

    class Moved(Message):
        """The cursor is on a row whose item is loaded."""

        def __init__(self, sender: "VirtualList", row: int, item: Any) -> None:
            super().__init__()
            self.list = sender
            self.row = row
            self.item = item

        @property
        def control(self) -> "VirtualList":
            return self.list

    class Selected(Moved):
        """Enter (or a click on the highlighted row) on a loaded row."""

    class Resized(Message):
        """The list's width changed: what depends on its columns follows."""

    def __init__(self, *, page_size: int = PAGE_SIZE, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.page_size = page_size
        self.total = 0
        self._pages: LRUCache[int, list[Any]] = LRUCache(64)
        self._lines: LRUCache[tuple, Strip] = LRUCache(512)
        self._pending: set[int] = set()
        self._generation = 0
        self._announce_row: int | None = None
        self.fetches = 0  # pages fetched since the last reset (tests and benchmarks read it)

    # ------------------------------------------------------------------ for subclasses
    def fetch(self, start: int, limit: int, before: Any) -> list[Any]:
        """Rows ``start ..`` (worker thread). ``before`` is the last item of the previous page, if loaded."""
        raise NotImplementedError

    def render_row(self, item: Any, width: int) -> Text:
        raise NotImplementedError

    # ------------------------------------------------------------------ contents
    def reset(self, total: int, cursor: int = 0) -> None:
        """New contents: drop caches, set the row count, put the cursor on ``cursor``."""
        self._generation += 1
        self._pages.clear()
        self._lines.clear()
        self._pending.clear()
        self.fetches = 0
        self.total = total
        self._resize()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.cursor = max(0, min(cursor, total - 1))

    def grow(self, total: int) -> None:
        """More rows at the end (live tail): cursor and scroll position stay where they are."""
        if total <= self.total:
            return
        old = self.total
        self._lines.clear()
        self.total = total
        self._resize()
        if old:
            # the old last page may have been short: fetch it again, showing it meanwhile
            last_page = (old - 1) // self.page_size
            self._pending.discard(last_page)
            self._request(last_page)
        self.refresh()
        if old == 0:
            self.cursor = 0

    def invalidate(self) -> None:
        """Fetch visible rows again (their contents changed)."""
        self._generation += 1
        self._pages.clear()
        self._lines.clear()
        self._pending.clear()
        self.refresh()

    def item(self, row: int) -> Any | None:
        page = self._pages.get(row // self.page_size)
        if page is None:
            return None
        off = row % self.page_size
        return page[off] if off < len(page) else None

    @property
    def current(self) -> Any | None:
        return self.item(self.cursor) if self.total else None

    def _resize(self) -> None:
        self.virtual_size = Size(max(1, self.scrollable_content_region.width), self.total)

    def on_resize(self, event: events.Resize) -> None:
        self._lines.clear()
        self._resize()
        self.post_message(self.Resized())

    # ------------------------------------------------------------------ fetching
    def _request(self, page: int) -> None:
        if page in self._pending or page < 0 or page * self.page_size >= self.total:
            return
        self._pending.add(page)
        before_page = self._pages.get(page - 1)
        before = before_page[-1] if before_page else None
        gen = self._generation
        start = page * self.page_size
        limit = self.page_size

        def work() -> None:
            try:
                items = self.fetch(start, limit, before)
            except Exception as exc:  # a store problem: show it, keep the app alive
                self.app.call_from_thread(self.app.notify, str(exc), title="read failed", severity="error")
                items = []
            try:
                self.app.call_from_thread(self._page_ready, gen, page, items)
            except RuntimeError:  # the app is closing
                pass

        self.run_worker(work, thread=True, group="fetch", exit_on_error=False)

    def _page_ready(self, gen: int, page: int, items: list[Any]) -> None:
        if gen != self._generation:
            return
        self._pending.discard(page)
        self.fetches += 1
        self._pages.discard(page)  # LRUCache.set keeps an existing key's old value
        self._pages.set(page, items)
        first = page * self.page_size
        for row in range(first, first + self.page_size):
            self._lines.discard((row, False))
            self._lines.discard((row, True))
        self.refresh()
        if self._announce_row is not None and page == self._announce_row // self.page_size:
            self._announce()

    def loaded(self, row: int) -> bool:
        return self.item(row) is not None

    # ------------------------------------------------------------------ rendering
    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if row >= self.total:
            return Strip.blank(width, self.rich_style)
        is_cursor = row == self.cursor
        key = (row, is_cursor)
        cached = self._lines.get(key)
        if cached is not None and cached.cell_length == width:
            return cached
        item = self.item(row)
        if item is None:
            page = row // self.page_size
            self._request(page)
            # fetch the neighbour pages too, so scrolling a few lines never waits
            self._request(page + 1)
            text = Text("…", style=self.get_component_rich_style("virtual-list--loading"))
            strip = self._strip(text, width, is_cursor)
            return strip
        strip = self._strip(self.render_row(item, width), width, is_cursor)
        self._lines.discard(key)
        self._lines.set(key, strip)
        return strip

    def _strip(self, text: Text, width: int, is_cursor: bool) -> Strip:
        text.no_wrap = True
        base = self.rich_style
        segments = [Segment(safe(s.text.replace("\n", " ")), base + s.style if s.style else base, s.control)
                    for s in text.render(self.app.console)]
        strip = Strip(segments).crop_extend(0, width, base)
        if is_cursor:
            strip = strip.apply_style(self.get_component_rich_style("virtual-list--cursor"))
        return strip

    # ------------------------------------------------------------------ the cursor
    def watch_cursor(self, old: int, new: int) -> None:
        self._lines.discard((old, True))
        self._lines.discard((old, False))
        self._lines.discard((new, True))
        self._lines.discard((new, False))
        self._scroll_to_cursor()
        self.refresh()
        self._announce_row = new
        if self.loaded(new):
            self._announce()
        else:
            self._request(new // self.page_size)

    def _announce(self) -> None:
        row = self._announce_row
        self._announce_row = None
        if row is not None and row == self.cursor and self.loaded(row):
            self.post_message(self.Moved(self, row, self.item(row)))

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height or 1
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def move_to(self, row: int) -> None:
        if self.total:
            self.cursor = max(0, min(row, self.total - 1))

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move_to(self.cursor + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self.total - 1)

    def action_select(self) -> None:
        item = self.current
        if item is not None:
            self.post_message(self.Selected(self, self.cursor, item))

    def on_click(self, event: events.Click) -> None:
        row = self.scroll_offset.y + event.y
        if 0 <= row < self.total:
            again = row == self.cursor
            self.move_to(row)
            if again or event.chain > 1:
                self.action_select()
