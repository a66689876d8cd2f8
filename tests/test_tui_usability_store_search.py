"""The store's payload text search (``log_rows(text=...)``), the same on SQLite and PostgreSQL:
case of ASCII letters ignored, LIKE's special characters literal, bounded by key, with the
candidates a read path may change."""

from __future__ import annotations

from evsh.store.base import NewEvent
from tests import test_store_contract as contract

make_store = contract.make_store  # the fixtures over both backends
store = contract.store

TEXTS = ["50%_off\\now", "plain", "MiXeD CaSe", "evsh:pii:1:k:zzz"]


def positions(rows):
    return [r[0] for r in rows]


def test_text_search_in_sql(store):
    store.append("note-a", [NewEvent("NoteAdded", {"text": t}) for t in TEXTS])
    store.append("old-a", [NewEvent("OldType", {"text": "nothing"})])
    assert positions(store.log_rows(None, 1, 10, text="%_o")) == [1]
    assert positions(store.log_rows(None, 1, 10, text="\\")) == [1]
    assert positions(store.log_rows(None, 1, 10, text="_")) == [1]
    assert positions(store.log_rows(None, 1, 10, text="mixed case")) == [3]
    assert positions(store.log_rows(None, 1, 10, text="zzz-none")) == []
    assert positions(store.log_rows(None, 1, 10, text="zzz-none", or_containing=["evsh:pii:1:"])) == [4]
    assert positions(store.log_rows(None, 1, 10, text="zzz-none", or_types=["OldType"])) == [5]
    # bounded by key, either way
    assert positions(store.log_rows(None, 1, 10, text="e", bound=3)) == [1, 2, 3]
    assert positions(store.log_rows(None, 5, 10, text="e", backwards=True, bound=3)) == [5, 4, 3]
    assert positions(store.log_rows("note-a", 1, 10, text="plain")) == [2]


def test_read_model_pages_on_both_backends(store):
    """The browser's keyset pages of a declared table, single and composite keys, through the
    store's table API."""
    import threading
    from decimal import Decimal
    from types import SimpleNamespace

    from evsh.engine.catalog import table
    from evsh.tui import readmodels

    totals = table("tui_totals", {"order_id": str, "total": Decimal}, pk="order_id")
    lines = table("tui_lines", {"order_id": str, "line": int, "sku": str}, pk=("order_id", "line"))
    with store.transaction():
        store.ensure_tables([totals, lines], owner="projection tui")
        for spec, rows in ((totals, ({"order_id": f"o{n:03d}", "total": Decimal(n)} for n in range(250))),
                           (lines, ({"order_id": f"o{n // 3:03d}", "line": n % 3, "sku": "[b]x"} for n in range(250)))):
            t = store.table(spec)
            t.insert_all(rows)
            t.flush()
    browser = SimpleNamespace(store=store, lock=threading.RLock(), domain=None)
    infos = {t["name"]: t for t in readmodels.table_list(browser)}
    assert infos["tui_totals"]["rows"] == 250 and infos["tui_totals"]["owner"] == "projection tui"
    for name, key in (("tui_totals", lambda r: r["order_id"]), ("tui_lines", lambda r: (r["order_id"], r["line"]))):
        info, seen, after = infos[name], [], None
        while True:
            rows = readmodels.page(browser, info, after)
            if not rows:
                break
            seen += rows
            after = readmodels.key_of(info, rows[-1])
        assert len(seen) == 250 and [key(r) for r in seen] == sorted(key(r) for r in seen)
