"""The table API handlers use: declarations, typed values, read-your-writes within a batch,
conflicts named by the event that caused them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsh import DomainError, RowExists, RowNotFound, table
from evsh.store.sqlite import open_store
from evsh.store.tables import Tables


class _Raw:
    """The store, and its SQLite connection for looking at what is stored."""

    def __init__(self, store):
        self.store = store

    def execute(self, sql, params=()):
        return self.store.conn.execute(sql, params)


@pytest.fixture
def conn():
    s = open_store(":memory:")
    yield _Raw(s)
    s.close()


CUSTOMERS = table("customers", {"id": str, "orders": int, "total": Decimal, "tags": list, "vip": bool,
                                "extra": dict, "score": float}, pk="id", indexes=["orders"])
LINES = table("lines", {"order_id": str, "line": int, "sku": str}, pk=("order_id", "line"))
LOG = table("log", {"at": str, "what": str})


def make(conn, *specs):
    conn.store.ensure_tables(specs or (CUSTOMERS, LINES, LOG), owner="test")
    return Tables(conn.store, specs or (CUSTOMERS, LINES, LOG))


def test_values_round_trip_typed(conn):
    rows = make(conn)
    t = rows.table("customers")
    row = {"id": "c1", "orders": 2, "total": Decimal("10.50"), "tags": ["a", "b"], "vip": True,
           "extra": {"k": [1, 2]}, "score": 1.5}
    t.insert(row)
    rows.flush()
    assert conn.execute("SELECT total, tags, vip FROM customers").fetchone() == ("10.50", '["a","b"]', 1)
    fresh = Tables(conn.store, [CUSTOMERS]).table("customers")
    assert fresh.get("c1") == row
    assert fresh.rows_where("orders = ?", [2]) == [row]


def test_reads_see_the_batch_own_changes_before_flush(conn):
    rows = make(conn)
    t = rows.table("customers")
    t.insert({"id": "c1", "orders": 1, "total": Decimal("1")})
    for _ in range(3):  # running totals, as customer_orders keeps them
        cur = t.get("c1")
        t.update("c1", {"orders": cur["orders"] + 1, "total": cur["total"] + Decimal("2.5")})
    assert t.get("c1")["orders"] == 4 and t.get("c1")["total"] == Decimal("8.5")
    assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)  # nothing written yet
    assert t.count() == 1  # a SQL query flushes first
    assert conn.execute("SELECT orders, total FROM customers").fetchone() == (4, "8.5")


def test_insert_conflicts(conn):
    rows = make(conn)
    t = rows.table("customers")
    t.insert({"id": "c1", "orders": 1})
    with pytest.raises(RowExists):
        t.insert({"id": "c1", "orders": 2})  # known in this batch: refused at once
    t.insert({"id": "c1", "orders": 3}, ignore=True)
    assert t.get("c1")["orders"] == 1
    t.insert({"id": "c1", "orders": 4}, replace=True)
    assert t.get("c1")["orders"] == 4
    rows.flush()
    later = Tables(conn.store, [CUSTOMERS])
    later.current = "event 7"
    later.table("customers").insert({"id": "c1", "orders": 5})  # only the table knows: found at flush
    with pytest.raises(RowExists) as info:
        later.flush()
    assert info.value.origin == "event 7"


def test_update_delete_and_missing_rows(conn):
    rows = make(conn)
    t = rows.table("customers")
    with pytest.raises(RowNotFound):
        t.update("nobody", {"orders": 1})
    with pytest.raises(RowNotFound):
        t.get("nobody")
    assert t.get("nobody", None) is None
    t.upsert({"id": "c2", "orders": 1})
    t.upsert({"id": "c2", "total": Decimal("3")})
    assert t.get("c2")["orders"] == 1 and t.get("c2")["total"] == Decimal("3")
    t.delete("c2")
    t.delete("never-there")
    assert not t.exists("c2")
    rows.flush()
    assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)
    with pytest.raises(ValueError):
        t.insert({"id": "c3", "no_such_column": 1})
    with pytest.raises(ValueError):
        t.insert({"orders": 1})  # no primary key


def test_compound_keys_and_keyless_tables(conn):
    rows = make(conn)
    lines = rows.table("lines")
    lines.insert({"order_id": "o1", "line": 1, "sku": "a"})
    lines.insert({"order_id": "o1", "line": 2, "sku": "b"})
    lines.update(("o1", 2), {"sku": "B"})
    assert lines.get(("o1", 2))["sku"] == "B"
    log = rows["log"]
    log.insert({"at": "t1", "what": "x"})
    log.insert({"at": "t1", "what": "x"})  # no key: an append-only log
    with pytest.raises(TypeError):
        log.get("t1")
    rows.flush()
    assert lines.rows_where(order_by="line") == [{"order_id": "o1", "line": 1, "sku": "a"},
                                                  {"order_id": "o1", "line": 2, "sku": "B"}]
    assert log.count() == 2
    assert log.delete_where("what = ?", ["x"]) == 2


def test_declarations_are_checked():
    with pytest.raises(DomainError):
        table("events", {"a": str})  # evsh's own
    with pytest.raises(DomainError):
        table("bad name", {"a": str})
    with pytest.raises(DomainError):
        table("t", {"a; drop table events": str})
    with pytest.raises(DomainError):
        table("t", {"a": set})
    with pytest.raises(DomainError):
        table("t", {"a": str}, pk="b")
    with pytest.raises(DomainError):
        table("t__x", {"a": str})  # shadow tables use '__'


ops = st.lists(st.tuples(st.sampled_from(["insert", "upsert", "update", "delete", "get"]),
                         st.sampled_from(["k1", "k2", "k3"]), st.integers(0, 9)), max_size=40)


@given(ops=ops, flush_every=st.integers(1, 8))
def test_buffered_table_behaves_like_a_dict(ops, flush_every):
    """Whatever the flush points, the table ends as a plain dict model says, errors included."""
    conn = _Raw(open_store(":memory:"))
    spec = table("kv", {"k": str, "v": int}, pk="k")
    conn.store.ensure_tables([spec], owner="test")
    rows = Tables(conn.store, [spec])
    t = rows.table("kv")
    model: dict[str, int] = {}
    for i, (op, k, v) in enumerate(ops):
        if op == "insert":
            if k in model:
                with pytest.raises(RowExists):
                    t.insert({"k": k, "v": v})
                    rows.flush()
                rows.discard()  # a failed batch rolls back: start from the table again
                model = dict(conn.execute("SELECT k, v FROM kv").fetchall())
                continue
            t.insert({"k": k, "v": v})
            model[k] = v
        elif op == "upsert":
            t.upsert({"k": k, "v": v})
            model[k] = v
        elif op == "update":
            if k in model:
                t.update(k, {"v": v})
                model[k] = v
            else:
                with pytest.raises(RowNotFound):
                    t.update(k, {"v": v})
        elif op == "delete":
            t.delete(k)
            model.pop(k, None)
        else:
            assert t.get(k, None) == ({"k": k, "v": model[k]} if k in model else None)
        if i % flush_every == 0:
            rows.flush()
    rows.flush()
    assert dict(conn.execute("SELECT k, v FROM kv").fetchall()) == model
    conn.store.close()


def test_projection_declarations_are_checked():
    from evsh import Projection
    from evsh.domain.projection import collect

    p = Projection("p", tables=[table("p_rows", {"a": str}, pk="a")])
    p.on("Happened")(lambda e, r: None)
    with pytest.raises(DomainError):
        p.on("Happened")(lambda e, r: None)  # one handler per type
    with pytest.raises(DomainError):
        Projection("p", mode="sometimes")
    with pytest.raises(DomainError):
        Projection("p", version=0)
    with pytest.raises(DomainError):
        Projection("p", tables=["not a table"])

    q = Projection("q", tables=[table("p_rows", {"a": str}, pk="a")])
    with pytest.raises(DomainError, match="p_rows"):
        collect([p, q])  # two projections may not own one table
    assert list(collect([p])) == ["p"]
