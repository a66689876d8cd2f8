"""One set of output options for every listing: --json, --nl, --csv, --tsv and --limit.

Why: each command had grown its own --json (some pretty, some an array, some refusing --nl);
a script should be able to rely on the same five options everywhere. ``listing_options`` adds
them and hands the command one ``Output`` that knows how to write items in the chosen form.
Tables on a terminal stay each command's own (``Output.table`` is True): only the command
knows its columns. JSON is compact unless stdout is a terminal (then a document is indented).
"""

from __future__ import annotations

import functools
import itertools
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import click

from ..errors import BadInput
from ..sanitise import safe
from .params import Count
from .render import VERTICAL, emit_events, emit_json_items, emit_json_object, json_text, stdout_is_terminal

FORMATS = ("json", "nl", "csv", "tsv")


@dataclass(frozen=True)
class Output:
    """The form a listing is written in (``table`` or one of FORMATS) and at most how many items."""

    mode: str = "table"
    limit: int | None = None

    @property
    def table(self) -> bool:
        return self.mode == "table"

    def limited(self, items: Iterable[Any]) -> Iterable[Any]:
        """The first ``limit`` items (all when there is no limit), read lazily."""
        return items if self.limit is None else itertools.islice(items, self.limit)

    def items(self, items: Iterable[dict[str, Any]]) -> int:
        """Write ``items`` (dicts) as a JSON array, JSON lines, CSV or TSV; returns how many."""
        items = self.limited(items)
        if self.mode in ("csv", "tsv"):
            return write_rows(items, "\t" if self.mode == "tsv" else ",")
        return emit_json_items(items, "nl" if self.mode == "nl" else "json")

    def events(self, events: Iterable[Any], *, empty: str | None = None, pager: bool = True) -> int:
        """Recorded events: the event table (paged at a terminal unless ``pager`` is False), or
        their dicts in the chosen form."""
        if self.table:
            return emit_events(self.limited(events), "table", empty=empty, pager=pager)
        return self.items(e.as_dict() for e in events)

    def document(self, value: Any, lines: Iterable[dict[str, Any]] | None = None) -> None:
        """One document: --json writes ``value`` (indented on a terminal, compact otherwise);
        --nl writes ``lines`` one object per line, or ``value`` on one line."""
        if self.mode == "nl":
            if lines is None:
                click.echo(json_text(value))
            else:
                emit_json_items(self.limited(lines), "nl")
            return
        emit_json_object(value)


def write_rows(items: Iterable[dict[str, Any]], delimiter: str, headers: list[str] | None = None) -> int:
    """Items as CSV/TSV with a header row (the first item's keys); a nested value is one JSON
    cell, None an empty one. On a terminal, text is shown safely; files get exact values."""
    import csv

    writer = csv.writer(sys.stdout, delimiter=delimiter, lineterminator="\n")
    shown = stdout_is_terminal()

    def header(names: list[str]) -> None:
        writer.writerow([safe(h) for h in names] if shown else names)

    if headers is not None:
        header(headers)
    n = 0
    for item in items:
        if headers is None:
            headers = list(item)
            header(headers)
        writer.writerow([_cell(item.get(h), shown) for h in headers])
        n += 1
    sys.stdout.flush()
    return n


def _cell(value: Any, shown: bool) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        value = json_text(value)
    if isinstance(value, str) and shown:
        return safe(value, lines=True)
    return value


def listing_options(*, rows: bool = True, limit: bool = True, what: str = "items", json_help: str | None = None,
                    nl_help: str | None = None) -> Callable[..., Any]:
    """Adds --json, --nl, (--csv, --tsv, --vertical when ``rows`` fit a table) and (--limit) to a command,
    which receives them as one ``out: Output`` keyword. ``what`` names the items (for --limit);
    ``json_help`` and ``nl_help`` say what a document or a line is, where "an array of the
    items" and "one item per line" would not."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = [m for m in (*FORMATS, "vertical") if kwargs.pop(f"as_{m}", False)]
            if len(chosen) > 1:
                raise BadInput(f"--{chosen[0]} and --{chosen[1]} both say how to write the output: give one")
            vertical = chosen == ["vertical"]
            kwargs["out"] = Output("table" if vertical or not chosen else chosen[0], kwargs.pop("out_limit", None))
            meta = click.get_current_context().meta  # read by the table helper (render.stream_table)
            before = meta.get(VERTICAL)
            meta[VERTICAL] = vertical
            try:
                return fn(*args, **kwargs)
            finally:
                meta[VERTICAL] = before

        options = [click.option("--json", "as_json", is_flag=True, help=json_help or f"JSON: one array of the {what}."),
                   click.option("--nl", "as_nl", is_flag=True, help=nl_help or "JSON lines: one object per line.")]
        if rows:
            options += [click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row."),
                        click.option("--tsv", "as_tsv", is_flag=True, help="Tab-separated values with a header row."),
                        click.option("--vertical", "-x", "as_vertical", is_flag=True,
                                     help="One line per column, records one under the other (the layout used"
                                          " when the columns do not fit the terminal).")]
        if limit:
            options.append(click.option("--limit", "out_limit", type=Count(min=0), default=None, metavar="N",
                                        help=f"At most N {what}."))
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate
