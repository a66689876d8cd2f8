"""How a table fits a terminal line: column widths, the columns left out (always said), and the
vertical layout (one ``column | value`` line per field, a separator between records) when the
columns that must show do not fit, as psql's expanded display or sqlite3's ``.mode line`` do.

The column options (``stream_table``'s second element of each column):

- ``keep``: a key (position, stream, type, a name): shown whole, never cut or wrapped.
- ``optional``: shown whole or, when the line is too short, left out with a note that says so
  (the last optional column goes first).
- ``fill``: the column that takes what is left (at least ``min_width``): wrapped over lines, or
  with ``cut`` ended with "…" (a payload preview), or with ``tail`` kept at its newest end.
- any other column is as wide as its content, and wrapped in its column when the line is short.

When even the keys and the narrowest wrapped columns do not fit, the records are shown vertically,
every column whole. ``--vertical`` asks for that layout whatever the width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import click

from ..sanitise import rich_text, safe

GAP = 2  # spaces between two columns
NARROWEST = 10  # a wrapped column is never made narrower than this (or its header)


Columns = Sequence[tuple[str, dict[str, Any]]]


@dataclass
class Fit:
    """The layout of one page: the columns shown and their widths, or ``vertical``."""

    shown: list[int] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    left_out: list[int] = field(default_factory=list)
    vertical: bool = False


def cell_width(text: Any) -> int:
    """Cells of the widest line of a rich Text."""
    from rich.cells import cell_len

    plain = text.plain
    return max(cell_len(line) for line in plain.split("\n")) if "\n" in plain else text.cell_len


def measure(columns: Columns, cells: list[list[Any]], natural: list[int]) -> None:
    """Grow ``natural`` (each column's whole width so far) to this page's widest cells."""
    for i, (name, opts) in enumerate(columns):
        widest = max([len(name), opts.get("min_width", 0) if opts.get("keep") else 0]
                     + [cell_width(row[i]) for row in cells])
        natural[i] = max(natural[i], widest)


def fit(columns: Columns, natural: list[int], total: int, left_out: Sequence[int] = ()) -> Fit:
    """Widths for a line ``total`` cells wide; columns in ``left_out`` (an earlier page's) stay out."""
    def floor(i: int) -> int:
        name, opts = columns[i]
        if opts.get("fill"):
            return min(natural[i], opts.get("min_width", 12))
        if opts.get("keep") or opts.get("optional"):
            return natural[i]
        return min(natural[i], max(len(name), opts.get("min_width", 0), NARROWEST))

    def used(shown: list[int]) -> int:
        return sum(floor(i) for i in shown) + GAP * (len(shown) - 1)

    shown = [i for i in range(len(columns)) if i not in left_out]
    for i in reversed(range(len(columns))):
        if used(shown) <= total:
            break
        if columns[i][1].get("optional") and i in shown:
            shown.remove(i)
    if used(shown) > total:
        return Fit(vertical=True)
    widths = {i: floor(i) for i in shown}
    room = total - used(shown)
    fill = [i for i in shown if columns[i][1].get("fill")]
    for i in [i for i in shown if i not in fill] + fill:  # wrapped columns first, the fill takes the rest
        grow = min(room, natural[i] - widths[i])
        widths[i] += grow
        room -= grow
    return Fit(shown, widths, [i for i in range(len(columns)) if i not in shown])


def column_options(opts: dict[str, Any], width: int) -> dict[str, Any]:
    """Rich options for a column laid out at ``width``."""
    out = {k: v for k, v in opts.items() if k not in ("keep", "fill", "optional", "min_width", "tail", "cut")}
    if opts.get("keep") or opts.get("optional") or opts.get("cut") or opts.get("tail"):
        out.update(width=width, no_wrap=True, overflow="ellipsis")
    else:
        out.update(width=width, no_wrap=False, overflow="fold")
    return out


def left_out_note(columns: Columns, left_out: Sequence[int]) -> Any:
    """One dim line naming the columns a table left out, and how to see them."""
    names = ", ".join(columns[i][0] for i in left_out)
    params = set()
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        params = {p.name for p in ctx.command.params}
    ways = [o for o, p in (("--vertical", "as_vertical"), ("--json", "as_json")) if p in params] or ["a wider terminal"]
    them = "it" if len(left_out) == 1 else "them"
    line = rich_text(f"not shown: {names} ({' or '.join(ways)} shows {them})")
    line.stylize("dim")
    return line


def vertical_records(con: Any, columns: Columns, cells: list[list[Any]], start: int) -> None:
    """Records one under the other: a ``-[ RECORD n ]`` line, then ``column | value`` per field,
    the value wrapped in its column when it is longer than the line."""
    from rich.table import Table
    from rich.text import Text

    label = max(len(name) for name, _ in columns)
    for n, row in enumerate(cells, start):
        head = f"-[ RECORD {n} ]"
        con.print(Text(head + "-" * max(0, min(con.width, label + 40) - len(head)), style="dim"))
        table = Table.grid()
        table.add_column(style="bold", width=label, no_wrap=True)
        table.add_column(style="dim", width=3, no_wrap=True)
        table.add_column(overflow="fold", max_width=max(1, con.width - label - 3))
        for (name, opts), value in zip(columns, row):
            value = value.copy()
            if opts.get("style"):
                value.stylize(opts["style"])
            table.add_row(rich_text(name), " | ", value)
        con.print(table)


def plain_vertical(out: Any, columns: Columns, rows: Any, cell: Any) -> int:
    """The vertical layout as plain text (output that is not a terminal): never wrapped."""
    label = max(len(name) for name, _ in columns)
    n = 0
    for n, row in enumerate(rows, 1):
        out.write(f"-[ RECORD {n} ]" + "-" * 24 + "\n")
        for (name, _), value in zip(columns, row):
            out.write(f"{safe(name).ljust(label)} | {cell(value)}".rstrip() + "\n")
    out.flush()
    return n
