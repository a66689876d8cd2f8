"""Output for the CLI: Rich tables on a terminal, JSON arrays with --json, JSON lines with --nl.

A Console is made per invocation (a module-level one would fix its width at import and escape
CliRunner's capture). User data goes in through ``rich_text`` (evsh.sanitise), never as markup:
its control and bidi characters are shown as escapes. The console itself reads no markup or
emoji codes in plain strings, and passes every segment it draws through the same sanitiser, a
backstop for text that reached it another way. JSON output escapes them too (``json_safe``).
Long listings are streamed: JSON item by item, tables page by page, so memory stays constant.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

import click

from ..sanitise import json_safe, rich_text, safe
from ..store import codec

PAGE_ROWS = 200
# Whether the running command was given --vertical: set in its click context's ``meta`` by
# ``output.listing_options`` (and taken out after), read by stream_table; one flag for the dozen
# listings that draw tables, without a parameter through each.
VERTICAL = "evsh.vertical"


def vertical_asked() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(VERTICAL))


# Output that is not a terminal is never wrapped (a command line printed for copying must stay
# on one line): its console is this wide, and soft-wraps nothing.
UNWRAPPED = 100_000


def console(stderr: bool = False):
    stream = sys.stderr if stderr else sys.stdout
    terminal = stream.isatty() or _forced_terminal()
    return _safe_console()(
        file=stream,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=not terminal,
        width=None if terminal else UNWRAPPED,
    )


_SafeConsole: Any = None


def _safe_console() -> Any:
    """The Console class whose drawn text always goes through the sanitiser (made on first use:
    rich is imported only by commands that draw with it)."""
    global _SafeConsole
    if _SafeConsole is None:
        from rich.console import Console
        from rich.segment import Segment

        class SafeConsole(Console):
            def render(self, renderable: Any, options: Any = None) -> Any:
                for segment in super().render(renderable, options):
                    text = segment.text
                    if segment.control or text.isprintable():
                        yield segment
                    else:
                        yield Segment(safe(text, lines=True), segment.style)

        _SafeConsole = SafeConsole
    return _SafeConsole


def json_text(value: Any, indent: bool = False) -> str:
    """JSON of ``value``: valid, exact, and with no control or bidi character left raw."""
    if indent:
        import json

        return json_safe(json.dumps(value, indent=2, ensure_ascii=False, default=str))
    return json_safe(codec.dumps(value).lstrip())


def emit_json_items(items: Iterable[dict[str, Any]], mode: str) -> int:
    """Stream objects as a JSON array (``json``) or as JSON lines (``nl``); returns the count."""
    out = sys.stdout
    n = 0
    if mode == "nl":
        for item in items:
            out.write(json_text(item) + "\n")
            n += 1
        out.flush()
        return n
    out.write("[")
    for item in items:
        out.write(("\n" if n == 0 else ",\n") + json_text(item))
        n += 1
    out.write("\n]\n" if n else "]\n")
    out.flush()
    return n


def emit_json_object(value: Any) -> None:
    """One JSON document: indented for a person at a terminal, compact for a pipe or a file."""
    click.echo(json_text(value, indent=stdout_is_terminal()))


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json_text(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def stream_table(
    columns: Sequence[tuple[str, dict[str, Any]]],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str | None = None,
    pager: bool = True,
) -> int:
    """Print rows as a Rich table, page by page (constant memory), header on the first page.

    When stdout is not a terminal the same columns are written as plain aligned text, which
    is what pipes want and spares a short command the cost of importing Rich. At a real
    terminal a listing longer than the screen goes through the pager (``less -FRX``, or
    $PAGER; ``PAGER=cat`` turns it off), fed as it is read: a million events start at once
    and `q` stops reading them.
    """
    if not stdout_is_terminal():
        if vertical_asked():
            from .layout import plain_vertical

            return plain_vertical(sys.stdout, columns, rows, _cell)
        return _plain_table(columns, rows, title=title, empty=empty)
    if pager and sys.stdin.isatty() and sys.stdout.isatty():
        with paged_console() as con:
            return _rich_table(con, columns, rows, title=title, empty=empty)
    return _rich_table(console(), columns, rows, title=title, empty=empty)


@contextmanager
def paged_console() -> Iterator[Any]:
    """A console writing into the pager (less: quit at once when it fits one screen, keep the
    colours, leave the text on the screen after `q`)."""
    import shutil

    os.environ.setdefault("LESS", "-FRX")
    width = shutil.get_terminal_size().columns
    with click.get_pager_file() as out:
        yield _safe_console()(file=out, force_terminal=True, width=width, highlight=False, markup=False,
                              emoji=False, no_color=bool(os.environ.get("NO_COLOR")) or None)


def _rich_table(con: Any, columns: Sequence[tuple[str, dict[str, Any]]], rows: Iterable[Sequence[Any]], *,
                title: str | None, empty: str | None) -> int:
    """Rows as a table fitted to the line (evsh.cli.layout), or as vertical records when the
    columns that must show do not fit (or --vertical asked for them)."""
    from rich.table import Table
    from rich.text import Text

    from . import layout

    n = 0
    page: list[Sequence[Any]] = []
    natural: list[int] = [0] * len(columns)
    state: dict[str, Any] = {"shown": None, "left_out": [], "vertical": vertical_asked()}

    def flush(first: bool) -> None:
        cells = [[rich_text("" if c is None else c, lines=True) for c in row] for row in page]
        if first and title:
            con.print(rich_text(title))
        if not state["vertical"]:
            layout.measure(columns, cells, natural)
            fit = layout.fit(columns, natural, con.width, state["left_out"])
            state["vertical"] = fit.vertical
        if state["vertical"]:  # and it stays so: the records of every later page are shown alike
            layout.vertical_records(con, columns, cells, n - len(page) + 1)
            return
        for i in fit.shown:
            w, opts = fit.widths[i], columns[i][1]
            if opts.get("tail"):  # a sparkline: its newest end stays, its oldest goes
                for row in cells:
                    if row[i].cell_len > w:
                        row[i] = Text("…" + row[i].plain[len(row[i].plain) - w + 1:], style=row[i].style)
        table = Table(show_header=fit.shown != state["shown"], box=None, pad_edge=False, header_style="bold",
                      expand=False)
        state["shown"], state["left_out"] = fit.shown, fit.left_out
        for i in fit.shown:
            name, opts = columns[i]
            table.add_column(rich_text(name), **layout.column_options(opts, fit.widths[i]))
        for row in cells:
            table.add_row(*(row[i] for i in fit.shown))
        con.print(table)

    first = True
    for row in rows:
        page.append(row)
        n += 1
        if len(page) >= PAGE_ROWS:
            flush(first)
            first = False
            page = []
    if page:
        flush(first)
    elif n == 0:
        if empty:
            con.print(Text(empty, style="dim"))
        elif empty is None:  # empty="" prints nothing at all (reading a stream that does not exist)
            flush(True)
    if state["left_out"]:  # named even when a later page turned to records
        con.print(layout.left_out_note(columns, state["left_out"]))
    return n


def _forced_terminal() -> bool:
    """FORCE_COLOR and TTY_COMPATIBLE make Rich (and evsh) treat output as a terminal."""
    return bool(os.environ.get("FORCE_COLOR")) or os.environ.get("TTY_COMPATIBLE") == "1"


def stdout_is_terminal() -> bool:
    """Whether Rich would treat stdout as a terminal."""
    return sys.stdout.isatty() or _forced_terminal()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = getattr(value, "plain", None)  # a rich Text
    return safe(" ".join((text if text is not None else str(value)).splitlines()))


def _plain_table(columns: Sequence[tuple[str, dict[str, Any]]], rows: Iterable[Sequence[Any]], *,
                 title: str | None, empty: str | None) -> int:
    """The table as plain text, never wrapped or cut: column widths fixed by the header and the
    first page (a longer cell later pushes its row's next columns along)."""
    out = sys.stdout
    n = 0
    first: list[list[str]] = []
    it = iter(rows)
    for row in it:
        first.append([_cell(c) for c in row])
        n += 1
        if n >= PAGE_ROWS:
            break
    if not first and empty is not None:
        if empty:
            out.write(safe(empty) + "\n")
        return 0
    widths = []
    for i, (name, opts) in enumerate(columns):
        cap = opts.get("max_width") or 10**6
        widths.append(min(cap, max([len(name), opts.get("min_width", 0)] + [len(r[i]) for r in first])))
    right = [opts.get("justify") == "right" for _, opts in columns]

    def line(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            w = widths[i] if i < len(widths) else len(cell)
            if i == len(cells) - 1 and not (i < len(right) and right[i]):
                parts.append(cell)  # the last column runs on: a pipe gets every character, never cut
                continue
            parts.append(cell.rjust(w) if i < len(right) and right[i] else cell.ljust(w))
        return "  ".join(parts).rstrip() + "\n"

    if title:
        out.write(safe(title) + "\n")
    out.write(line([safe(name) for name, _ in columns]))
    for cells in first:
        out.write(line(cells))
    for row in it:
        out.write(line([_cell(c) for c in row]))
        n += 1
    out.flush()
    return n


# On a terminal, position, stream, version and type are never cut; the payload takes what is
# left (ending with "…"), and the time goes first when there is not room for both.
EVENT_COLUMNS = [
    ("position", {"justify": "right", "keep": True}),
    ("stream", {"keep": True}),
    ("version", {"justify": "right", "keep": True}),
    ("type", {"style": "cyan", "keep": True}),
    ("recorded_at", {"style": "dim", "optional": True}),
    ("data", {"fill": True, "min_width": 10, "cut": True}),
]
DATA_SHOWN = 200  # characters of a payload a table row carries (the terminal shows what fits)


def event_row(e: Any) -> tuple:
    return (e.position, e.stream_id, e.version, e.type, e.recorded_at, short(e.data, DATA_SHOWN))


def emit_events(events: Iterable[Any], mode: str, *, empty: str | None = None, pager: bool = True) -> int:
    if mode in ("json", "nl"):
        return emit_json_items((e.as_dict() for e in events), mode)
    return stream_table(EVENT_COLUMNS, (event_row(e) for e in events), empty=empty, pager=pager)


def print_state(state: dict[str, Any], title: str) -> None:
    """Fields and values of an aggregate, a dead letter or a stream's metadata; the title names it."""
    from rich.table import Table

    table = Table(title=rich_text(title), box=None, show_header=False, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in state.items():
        table.add_row(rich_text(key), rich_text(value if isinstance(value, str) else json_text(value), lines=True))
    console().print(table)


def is_tty() -> bool:
    return sys.stdout.isatty()


class _NoProgress:
    """What ``progress`` gives when stderr is not a terminal: the same calls, nothing drawn, and
    Rich's progress module (about a tenth of a piped rebuild's start) never imported."""

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: object, **kwargs: object) -> int:
        return 0

    def update(self, *args: object, **kwargs: object) -> None:
        return None

    advance = stop = update


def progress(total: int | None, description: str):
    """A Rich progress bar (events done, rate, time left) on a terminal; silent otherwise."""
    if not (sys.stderr.isatty() or _forced_terminal()):  # what Rich would conclude, without importing it
        return _NoProgress()
    con = console(stderr=True)
    if not con.is_terminal:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    class _Rate(TextColumn):
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task):  # noqa: ANN001
            from rich.text import Text

            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "", style="dim")

    class _Description(TextColumn):  # names of projections and categories: user text, never markup
        def __init__(self) -> None:
            super().__init__("")

        def render(self, task):  # noqa: ANN001
            return rich_text(task.description)

    return Progress(
        _Description(), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), _Rate(),
        TimeRemainingColumn(), console=con, transient=False,
    )


