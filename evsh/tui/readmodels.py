"""The read models' tables for the TUI: which tables there are (the store's catalogue) and their
rows a page at a time, through the store's table API (keyset pages on the primary key, never
OFFSET over a big table). Called from worker threads."""

from __future__ import annotations

from typing import Any

from ..store.tables import TableSpec, quote

PAGE_ROWS = 100


def table_list(browser: Any) -> list[dict[str, Any]]:
    """Every declared table that may be read (private ones, key material, are left out): name,
    owner, columns, key, and rows (None: not built yet). The domain's tables not created yet
    are listed too, as not built."""
    with browser.lock:
        store = browser.store
        out = {t["name"]: {**t, "rows": store.count_rows(t["name"])} for t in store.tables() if not t["private"]}
    domain = browser.domain
    if domain is not None:
        owned = [(f"projection {p.name}", p.tables) for p in domain.projections.values()]
        owned += [(f"reactor {r.name}", r.tables) for r in domain.of_kind("reactor")]
        for owner, specs in owned:
            for spec in specs:
                if spec.name not in out and not spec.private:
                    out[spec.name] = {"name": spec.name, "owner": owner, "private": False, "rows": None,
                                      "columns": list(spec.columns), "pk": list(spec.pk)}
    return sorted(out.values(), key=lambda t: t["name"])


def spec_of(info: dict[str, Any]) -> TableSpec:
    """The table's declared shape, as the catalogue keeps it."""
    return TableSpec(info["name"], tuple((c, k) for c, k in info["columns"]), tuple(info["pk"]))


def page(browser: Any, info: dict[str, Any], after: tuple | None = None, skip: int = 0,
         limit: int = PAGE_ROWS) -> list[dict[str, Any]]:
    """Up to ``limit`` rows in key order after the key ``after`` (the last row of the page
    before). A table without a key is read from its start, ``skip`` rows skipped."""
    spec = spec_of(info)
    with browser.lock:
        table = browser.store.table(spec)
        if not spec.pk:
            return table.rows_where(limit=skip + limit)[skip:]
        order = ", ".join(quote(c) for c in spec.pk)
        if after is None:
            return table.rows_where(order_by=order, limit=limit)
        marks = ", ".join("?" * len(spec.pk))
        where = f"({order}) > ({marks})" if len(spec.pk) > 1 else f"{order} > ?"
        return table.rows_where(where, [table.ops.to_sql(v) for v in after], order_by=order, limit=limit)


def key_of(info: dict[str, Any], row: dict[str, Any]) -> tuple | None:
    return tuple(row[c] for c in info["pk"]) if info["pk"] else None
