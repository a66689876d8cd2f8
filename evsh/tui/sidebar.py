"""The left of the TUI's main screen: the filter box, the categories and the streams, and the
panes' sizes for the terminal (the streams pane as wide as its ids; the categories' rows)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Input, Static, Tree

from ..sanitise import rich_text
from ..wording import counted
from .data import ALL, RowIndex


class FilterInput(Input):
    """The streams filter: `escape` leaves it, so single keys reach the app's bindings again."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.leave_filter", "Leave filter", show=False)]


class Sidebar:
    """A mixin of the app: loading and showing categories and streams, and sizing the panes.
    (Its message handlers stay on the app: Textual collects ``@on`` from its own classes.)"""

    all_index: RowIndex | None
    browser: Any
    events: Any
    streams: Any

    def left_width(self) -> int:
        """The streams pane: as wide as its ids (with version and time) up to a third of the
        screen; at 80 columns ids and versions only, cut in the middle when longer."""
        width = self.size.width
        widest = self.streams.widest if self.is_mounted else 0
        if width < 100:
            return max(20, min(24, widest + 9))
        return max(28, min(width // 3, widest + 26))

    def relayout(self) -> None:
        """Size the panes for the terminal and the ids shown; the header follows the columns."""
        try:
            left = self.query_one("#left")
        except NoMatches:  # sent while the app was closing: its widgets are gone
            return
        want = self.left_width()
        if left.styles.width is None or left.styles.width.value != want:
            left.styles.width = want
        tree = self.query_one("#categories", Tree)
        rows = len(tree.root.children) or 1
        tree.styles.height = min(rows, 5 if self.size.height < 30 else 12) + 1  # and its bottom border
        self.query_one("#events-header", Static).update(self.events.header())

    @work(thread=True, exclusive=True, group="categories", exit_on_error=False)
    def load_categories(self) -> None:
        cats = self.browser.categories()
        self.call_from_thread(self._show_categories, cats)

    def _all_label(self) -> Text:
        line = Text(ALL, style="bold")
        if self.all_index is not None:
            line.append(f"  {counted(self.all_index.total, 'event')}", style="dim")
        return line

    def _relabel_all(self) -> None:
        tree = self.query_one("#categories", Tree)
        if tree.root.children:
            tree.root.children[0].set_label(self._all_label())

    def _show_categories(self, cats: list[tuple[str, int]]) -> None:
        tree = self.query_one("#categories", Tree)
        labels = [(ALL, self._all_label())]
        for cat, n in cats:
            label = rich_text(cat, style="green")
            label.append(f"  {counted(n, 'stream')}", style="dim")
            labels.append((cat, label))
        children = list(tree.root.children)
        if [c.data for c in children] == [d for d, _ in labels]:
            for node, (_, label) in zip(children, labels):
                node.set_label(label)
            return
        current = tree.cursor_node.data if tree.cursor_node else ALL
        tree.clear()
        nodes = [tree.root.add_leaf(label, data=data) for data, label in labels]
        for node in nodes:
            if node.data == current:
                tree.move_cursor(node)
                break
        self.relayout()

    @work(thread=True, exclusive=True, group="streams", exit_on_error=False)
    def load_streams(self, keep: bool = False) -> None:
        lst = self.streams
        total = self.browser.stream_count(lst.category, lst.text)
        self.call_from_thread(self._show_streams, total, keep)

    def _show_streams(self, total: int, keep: bool) -> None:
        lst = self.streams
        if keep:
            lst.grow(total)
            lst.invalidate()
        else:
            lst.reset(total)
        what = lst.category or "all categories"
        label = Text(f"streams of {what}" if lst.category else "streams")
        label.append(f"  {total:,}", style="dim")
        if lst.text:
            label.append("  filter: ", style="dim")
            label.append(lst.text, style="yellow")
        self.query_one("#streams-title", Static).update(rich_text(label))

    def action_leave_filter(self) -> None:
        """`escape` in the filter box: back to the streams, keys are the app's again."""
        self.streams.focus()
