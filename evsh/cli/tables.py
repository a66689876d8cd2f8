"""`evsh tables`: the read models and reactors' tables at a glance: owner, columns, rows."""

from __future__ import annotations

from typing import Any

import click

from ..wording import number
from .context import app
from .output import Output, listing_options
from .render import stream_table


def table_list(store: Any) -> list[dict[str, Any]]:
    """Every declared table of the store: name, owner, columns (name and kind), key, rows."""
    out = []
    for t in store.tables():
        key = set(t["pk"])
        out.append({"name": t["name"], "owner": t["owner"], "rows": store.count_rows(t["name"]),
                    "columns": [{"name": c, "kind": k, "key": c in key} for c, k in t["columns"]]})
    return out


@click.command("tables")
@listing_options(what="tables")
def tables(out: Output) -> None:
    """List the tables projections and reactors keep (and evsh's own records): owner, columns, rows.

    Query one with `evsh sql "select * from NAME"`.
    """
    rows = list(out.limited(table_list(app().store())))
    if not out.table:
        out.items(rows)
        return
    stream_table(
        [("table", {"style": "bold", "keep": True}), ("owner", {"style": "dim", "keep": True}), ("rows", {"justify": "right"}),
         ("columns", {"fill": True, "min_width": 12})],
        ([r["name"], r["owner"], "" if r["rows"] is None else number(r["rows"]),
          ", ".join(f"{c['name']} ({c['kind']}{', key' if c['key'] else ''})" for c in r["columns"])] for r in rows),
        empty="no tables yet: projections and reactors create theirs when they first run",
    )
