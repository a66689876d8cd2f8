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
from typing import Any, Callable, Iterable, Sequence

import click

from ..sanitise import json_safe, rich_text, safe
from ..store import codec

PAGE_ROWS = 200


def console(stderr: bool = False):
    stream = sys.stderr if stderr else sys.stdout
    return _safe_console()(
        file=stream,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=None if stream.isatty() else int(os.environ.get("COLUMNS", "120") or 120),
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


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--json (an array, or one object) and --nl (one JSON object per line)."""
    fn = click.option("--nl", "as_nl", is_flag=True, help="One JSON object per line.")(fn)
    fn = click.option("--json", "as_json", is_flag=True, help="JSON output.")(fn)
    return fn


def fmt(as_json: bool, as_nl: bool) -> str:
    return "nl" if as_nl else ("json" if as_json else "table")


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
    click.echo(json_text(value, indent=True))


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json_text(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def stream_table(
    columns: Sequence[tuple[str, dict[str, Any]]],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str | None = None,
) -> int:
    """Print rows as a Rich table, page by page (constant memory), header on the first page.

    When stdout is not a terminal the same columns are written as plain aligned text, which
    is what pipes want and spares a short command the cost of importing Rich.
    """
    if not stdout_is_terminal():
        return _plain_table(columns, rows, title=title, empty=empty)
    from rich.table import Table
    from rich.text import Text

    con = console()
    n = 0
    page: list[Sequence[Any]] = []

    def flush(first: bool) -> None:
        table = Table(show_header=first, title=rich_text(title) if first and title else None, box=None,
                      pad_edge=False, header_style="bold", expand=False)
        for name, opts in columns:
            table.add_column(rich_text(name), **opts)
        for row in page:
            table.add_row(*(rich_text("" if c is None else c, lines=True) for c in row))
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


def stdout_is_terminal() -> bool:
    """Whether Rich would treat stdout as a terminal (FORCE_COLOR and TTY_COMPATIBLE force it)."""
    return sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR")) or os.environ.get("TTY_COMPATIBLE") == "1"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = getattr(value, "plain", None)  # a rich Text
    return safe(" ".join((text if text is not None else str(value)).splitlines()))


def _plain_table(columns: Sequence[tuple[str, dict[str, Any]]], rows: Iterable[Sequence[Any]], *,
                 title: str | None, empty: str | None) -> int:
    """The table as plain text: column widths fixed by the header and the first page."""
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
            if len(cell) > w and i == len(cells) - 1:
                cell = cell[: max(1, w - 1)] + "…"
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


EVENT_COLUMNS = [
    ("position", {"justify": "right", "min_width": 8}),
    ("stream", {"min_width": 12, "overflow": "fold", "max_width": 28}),
    ("version", {"justify": "right", "min_width": 7}),
    ("type", {"style": "cyan", "min_width": 14}),
    ("recorded_at", {"style": "dim", "min_width": 27}),
    ("data", {"overflow": "ellipsis", "no_wrap": True, "max_width": 70}),
]


def event_row(e: Any) -> tuple:
    return (e.position, e.stream_id, e.version, e.type, e.recorded_at, short(e.data, 70))


def emit_events(events: Iterable[Any], mode: str, *, empty: str | None = None) -> int:
    if mode in ("json", "nl"):
        return emit_json_items((e.as_dict() for e in events), mode)
    return stream_table(EVENT_COLUMNS, (event_row(e) for e in events), empty=empty)


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


def progress(total: int | None, description: str):
    """A Rich progress bar (events done, rate, time left) on a terminal; silent otherwise."""
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

    con = console(stderr=True)
    return Progress(
        _Description(), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(), _Rate(),
        TimeRemainingColumn(), console=con, disable=not con.is_terminal, transient=False,
    )


