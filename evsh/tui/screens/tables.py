"""The read-model browser: the tables projections and reactors keep, and their rows a page at a
time (as KurrentDB shows a projection's result, or datasette a table)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from ...errors import EvshError
from ...sanitise import rich_text
from ...wording import counted
from .. import readmodels
from .ops import OpsScreen, cell


class TablesScreen(OpsScreen):
    """Tables on the left (owner, rows; recounted while shown); the chosen one's rows on the
    right, in key order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "next_page", "Next page"),
        Binding("left_square_bracket", "previous_page", "Previous page"),
    ]
    DEFAULT_CSS = """
    TablesScreen #table-list { width: 40%; max-width: 50; height: 1fr; }
    TablesScreen #rows { height: 1fr; }
    """

    def __init__(self, app_: Any, start: str | None = None) -> None:
        super().__init__(app_)
        self.start = start  # the table to show first (a projection's)
        self.tables: dict[str, dict[str, Any]] = {}
        self.current: str | None = None
        self.pages: list[tuple | None] = [None]  # where each page shown so far starts (keys)
        self.rows: list[dict[str, Any]] = []
        self.status = ""
        self.refreshes = 0  # recounts of the tables shown (tests wait on it)

    def compose(self) -> ComposeResult:
        yield Static(Text("Read models: tables of projections and reactors", style="bold"), classes="title")
        with Horizontal():
            yield DataTable(id="table-list", cursor_type="row", zebra_stripes=True)
            with Vertical():
                yield Static(id="rows-title", classes="title")
                yield DataTable(id="rows", cursor_type="row", zebra_stripes=True)
        yield Static(id="ops-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#table-list", DataTable).add_columns("table", "owner", "rows")
        super().on_mount()

    def read(self) -> list[dict[str, Any]]:
        return readmodels.table_list(self.browser)

    def show(self, tables: list[dict[str, Any]]) -> None:
        self.refreshes += 1
        self.tables = {t["name"]: t for t in tables}
        lst = self.query_one("#table-list", DataTable)
        self.fill(lst, [(t["name"], [cell(t["name"], "bold"), cell(t["owner"], "dim"),
                                     cell("not built yet" if t["rows"] is None else f"{t['rows']:,}")])
                        for t in tables])
        if not tables:
            self.query_one("#rows-title", Static).update(
                Text("no tables yet: projections and reactors create theirs when they first run", style="dim"))
            return
        if self.current is None:  # the first time: the projection's table, or the first one
            first = self.start if self.start in self.tables else tables[0]["name"]
            lst.move_cursor(row=lst.get_row_index(first))
            self.open(first)

    @on(DataTable.RowHighlighted, "#table-list")
    def table_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row != event.data_table.cursor_row:
            return  # a passing highlight while the list was refilled (the recount), not the user's
        name = event.row_key.value
        if name is not None and name != self.current and name in self.tables:
            self.open(name)

    def open(self, name: str) -> None:
        self.current = name
        self.pages = [None]
        self.load_page(name, 0)

    def action_next_page(self) -> None:
        info = self.tables.get(self.current or "")
        if info is None or len(self.rows) < readmodels.PAGE_ROWS:
            self.notify("this is the last page", severity="warning")
            return
        self.pages.append(readmodels.key_of(info, self.rows[-1]))
        self.load_page(info["name"], len(self.pages) - 1)

    def action_previous_page(self) -> None:
        if self.current is None or len(self.pages) < 2:
            self.notify("this is the first page", severity="warning")
            return
        self.pages.pop()
        self.load_page(self.current, len(self.pages) - 1)

    @work(thread=True, exclusive=True, group="rows", exit_on_error=False)
    def load_page(self, name: str, number: int) -> None:
        info = self.tables[name]
        try:
            rows = readmodels.page(self.browser, info, self.pages[number], skip=number * readmodels.PAGE_ROWS)
        except EvshError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.show_rows, name, number, rows)

    def show_rows(self, name: str, number: int, rows: list[dict[str, Any]]) -> None:
        if name != self.current:
            return
        info = self.tables[name]
        self.rows = rows
        table = self.query_one("#rows", DataTable)
        table.clear(columns=True)
        key = set(info["pk"])
        for c, kind in info["columns"]:
            table.add_column(rich_text(f"{c}{' (key)' if c in key else ''}", style="bold" if c in key else ""))
        for row in rows:
            table.add_row(*(cell(row.get(c)) for c, _ in info["columns"]))
        first = number * readmodels.PAGE_ROWS + 1
        title = rich_text(name, style="bold green")
        total = info["rows"]
        if total is None:
            title.append("  not built yet", style="dim")
        elif rows:
            title.append(f"  rows {first:,}–{first + len(rows) - 1:,} of {counted(total, 'row')}", style="dim")
        else:
            title.append("  no rows", style="dim")
        title.append("   [ ] previous / next page", style="dim")
        self.status = title.plain
        self.query_one("#rows-title", Static).update(title)


def open_tables(app: Any, start: str | None = None) -> None:
    app.push_screen(TablesScreen(app, start))
