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
    from rich.table import Table
    from rich.text import Text

    n = 0
    page: list[Sequence[Any]] = []
    widths: list[int] = [0] * len(columns)

    def flush(first: bool) -> None:
        cells = [[rich_text("" if c is None else c, lines=True) for c in row] for row in page]
        shown = _layout(columns, cells, widths, con.width)
        for i in shown:  # a column that must be cut keeps its start and its end: order-o10…99990
            if columns[i][1].get("keep"):
                for row in cells:
                    if row[i].cell_len > widths[i]:
                        row[i] = rich_text(middle(row[i].plain, widths[i]))
            elif columns[i][1].get("tail"):  # a sparkline: its newest end stays, its oldest goes
                for row in cells:
                    if row[i].cell_len > widths[i]:
                        row[i] = Text("…" + row[i].plain[len(row[i].plain) - widths[i] + 1:], style=row[i].style)
        table = Table(show_header=first, title=rich_text(title) if first and title else None, box=None,
                      pad_edge=False, header_style="bold", expand=False)
        for i in shown:
            name, opts = columns[i]
            table.add_column(rich_text(name), **_column_options(opts, widths[i]))
        for row in cells:
            table.add_row(*(row[i] for i in shown))
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
    return n


def middle(text: str, width: int) -> str:
    """``text`` cut in its middle to ``width`` characters, when it is longer."""
    if len(text) <= width:
        return text
    head = (width - 1 + 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _column_options(opts: dict[str, Any], width: int) -> dict[str, Any]:
    """Rich options for a column laid out at ``width``: one line, cut with "…" if it must be."""
    out = {k: v for k, v in opts.items() if k not in ("keep", "fill", "optional", "max_width", "min_width", "tail")}
    out.update(width=width, no_wrap=True, overflow="ellipsis")
    return out


def _layout(columns: Sequence[tuple[str, dict[str, Any]]], cells: list[list[Any]], widths: list[int],
            total: int) -> list[int]:
    """Column widths for one page at a terminal ``total`` characters wide (updating ``widths``,
    which only grow from page to page so columns stay aligned); returns the columns shown.

    A ``keep`` column (position, stream, version, type) is never cut: it is as wide as its
    widest cell. The ``fill`` column (the payload) takes what is left. Other columns are as wide
    as their content up to ``max_width``; an ``optional`` one (a time; the last first) is left out, and then any
    other is narrowed, when the fill column would get less than its ``min_width``; the fill
    column itself goes when the columns that are never cut take the whole line, and if even they
    are wider than it, the widest is cut in its middle (its start and end stay readable)."""
    for i, (name, opts) in enumerate(columns):
        content = max([len(name), opts.get("min_width", 0) if opts.get("keep") else 0]
                      + [c.cell_len for c in (row[i] for row in cells)])
        if not opts.get("keep") and not opts.get("fill") and opts.get("max_width"):
            content = min(content, opts["max_width"])
        widths[i] = max(widths[i], content)
    shown = list(range(len(columns)))
    fill = next((i for i, (_, o) in enumerate(columns) if o.get("fill")), None)
    gap = 2

    def room() -> int:
        used = sum(widths[i] for i in shown if i != fill) + gap * (len(shown) - 1)
        return total - used

    if fill is not None:
        need = columns[fill][1].get("min_width", 12)
        for i, (_, opts) in reversed(list(enumerate(columns))):  # the last optional column goes first
            if room() < need and opts.get("optional") and i in shown:
                shown.remove(i)
        for i in sorted(shown, key=lambda i: -widths[i]):  # still short: narrow the widest others
            if room() >= need:
                break
            opts = columns[i][1]
            if i != fill and not opts.get("keep"):
                widths[i] = max(len(columns[i][0]), widths[i] - (need - room()))
        left = room()
        if left < 4:  # the columns that are never cut fill the line: no room for the payload
            shown.remove(fill)
        else:
            widths[fill] = min(widths[fill], left)
    over = -room() if fill not in shown else 0
    if over > 0:  # even alone they are wider than the line: the widest is cut in its middle
        widest = max(shown, key=lambda i: widths[i])
        widths[widest] = max(len(columns[widest][0]), widths[widest] - over)
    return shown


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
    ("data", {"fill": True, "min_width": 16}),
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


