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
