"""`evsh seed` builds the read models alongside the history, in its transaction: the rows are the
ones catching up writes, a projection that fails is left where catch-up would find it failing,
and tables that keep their keys answer the same as tables that ask."""

from __future__ import annotations

import json
import sqlite3

import pytest

SHOP = ("--domain", "shop")
READ_MODELS = ("order_details", "customer_orders", "customer_order_refs", "inventory_levels",
               "inventory_levels_processed", "order_statistics", "order_statistics_orders")


def rows_of(db: str, table: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()


def test_seeded_read_models_are_the_rows_a_rebuild_writes(cli, db_path):
    r = cli("seed", "--orders", "300", "--seed", "3")
    assert r.exit_code == 0, r.stderr
    assert "read models up to date: 4 projections" in r.stdout
    seeded = {t: rows_of(db_path, t) for t in READ_MODELS}
    assert all(seeded.values())
    head = json.loads(cli("sql", "select max(position) head from events", "--nl").stdout)["head"]
    listed = [json.loads(line) for line in cli(*SHOP, "projections", "--nl").stdout.splitlines()]
    assert {p["name"]: (p["checkpoint"], p["lag"], p["error"]) for p in listed} == {
        n: (head, 0, None) for n in ("customer_orders", "inventory_levels", "order_details", "order_statistics")}
    with sqlite3.connect(db_path) as conn:  # the handled counts, as catch-up records them
        handled = dict(conn.execute("SELECT name, sum(handled) FROM metrics WHERE kind='projection' GROUP BY name"))
        types = dict(conn.execute("SELECT type, count(*) FROM events GROUP BY type"))
    assert handled["order_details"] == types["OrderCreated"] + types["OrderConfirmed"] + types.get("OrderCancelled", 0)
    for name in ("order_details", "customer_orders", "inventory_levels", "order_statistics"):
        r = cli(*SHOP, "projections", "rebuild", name)
        assert r.exit_code == 0, r.stderr
    assert {t: rows_of(db_path, t) for t in READ_MODELS} == seeded


FRAGILE = '''
from sample_data.shop import *  # noqa: F401,F403 the shop, and one projection more
from sample_data.shop import OrderConfirmed
from evsh import Projection, table

fragile = Projection("fragile", version=1, tables=[table("fragile", {"order_id": str, "position": int}, pk="order_id")])


@fragile.on(OrderConfirmed)
def _confirmed(event, rows):
    if event.data["order_id"] == "o1100":
        raise RuntimeError("o1100 is not welcome")
    rows.table("fragile").insert({"order_id": event.data["order_id"], "position": event.position})
'''


def test_a_projection_failing_during_a_seed_is_left_to_catch_up(cli, db_path, tmp_path):
    (tmp_path / "fragile_shop.py").write_text(FRAGILE)
    r = cli("--domain", str(tmp_path / "fragile_shop.py"), "seed", "--orders", "1200")  # two chunks and more
    assert r.exit_code == 0, r.stderr
    assert "not built: fragile" in r.stdout
    fragile = {p["name"]: p for p in (json.loads(line) for line in cli(
        "--domain", str(tmp_path / "fragile_shop.py"), "projections", "--nl").stdout.splitlines())}
    with sqlite3.connect(db_path) as conn:
        at = conn.execute("SELECT position FROM events WHERE type='OrderConfirmed'"
                          " AND json_extract(data, '$.order_id')='o1100'").fetchone()[0]
        confirmed = [r[0] for r in conn.execute("SELECT position FROM events WHERE type='OrderConfirmed' ORDER BY 1")]
    f = fragile["fragile"]
    assert f["error"]["position"] == at and "o1100 is not welcome" in f["error"]["message"]
    # its rows are exactly the events up to its checkpoint, which stops short of the failure
    assert 0 < f["checkpoint"] < at
    assert sorted(r[1] for r in rows_of(db_path, "fragile")) == [p for p in confirmed if p <= f["checkpoint"]]
    assert all(fragile[n]["lag"] == 0 and fragile[n]["error"] is None
               for n in ("customer_orders", "inventory_levels", "order_details", "order_statistics"))


@pytest.fixture
def store(tmp_path):
    from evsh.store.connect import open_store

    s = open_store(str(tmp_path / "t.db"), create=True)
    yield s
    s.close()


def test_tables_that_keep_their_keys_answer_as_tables_that_ask(store):
    from evsh.store.tables import Tables, table

    spec = table("kept", {"k": str, "n": int}, pk="k")
    with store.transaction():
        store.ensure_tables([spec], owner="test")
    asked = []
    with store.transaction():
        kept = Tables(store, [spec])
        kept.keep_keys()
        t = kept["kept"]
        get = t.ops.get
        t.ops.get = lambda key: asked.append(key) or get(key)  # type: ignore[method-assign]
        assert not t.exists("a") and t.get("b", None) is None
        t.insert({"k": "a", "n": 1})
        t.upsert({"k": "c", "n": 3})
        kept.flush()
        assert asked == []  # keys it never wrote: no query
        assert t.get("a") == {"k": "a", "n": 1} and t.exists("c") and not t.exists("d")
        assert asked == [("a",), ("c",)]  # keys it wrote are read back from the table
        t.delete("a")
        kept.flush()
        assert not t.exists("a")
        t.update_where({"k": "z"}, "k=?", ("c",))  # a key changed by SQL: the table asks again
        assert t.exists("z") and asked[-1] == ("z",)
    with store.transaction():
        plain = Tables(store, [spec])["kept"]
        assert [plain.exists(k) for k in "acdz"] == [False, False, False, True]


def test_seeded_read_models_carry_the_positions_postgresql_hands_out(cli):
    """On PostgreSQL positions come from a sequence, which a rolled-back append moves on: the
    rows built alongside name the positions the events were stored at, and the checkpoints the
    head."""
    import psycopg

    from evsh.store.base import NewEvent
    from evsh.store.connect import open_store
    from tests.services import postgres_url

    with postgres_url() as url:
        store = open_store(url, create=True)
        with pytest.raises(RuntimeError), store.transaction():  # takes position 1, then gives it back unused
            store.append("x-1", [NewEvent("Noted", {}, {})], expected_version="any")
            raise RuntimeError("rolled back")
        store.close()
        r = cli("seed", "--orders", "200", db=url)
        assert r.exit_code == 0, r.stderr
        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
            first, head = conn.execute(f'SELECT min(position), max(position) FROM "{schema}".events').fetchone()
            matched, kept = conn.execute(
                f'SELECT count(e.position), count(*) FROM "{schema}".inventory_levels_processed p'
                f' LEFT JOIN "{schema}".events e ON e.event_id = p.event_id AND e.position = p.position').fetchone()
            checkpoints = dict(conn.execute(f'SELECT name, position FROM "{schema}".checkpoints'
                                            " WHERE name LIKE 'projection:%'").fetchall())
    assert first > 1 and kept > 0 and matched == kept
    assert set(checkpoints.values()) == {head} and len(checkpoints) == 4


CAUSES = '''
from sample_data.shop import *  # noqa: F401,F403 the shop, and one projection more
from sample_data.shop import OrderConfirmed
from evsh import Projection, table

causes = Projection("causes", version=1, tables=[
    table("causes", {"position": int, "command": str, "correlation_id": str, "causation_id": str}, pk="position")])


@causes.on(OrderConfirmed)
def _confirmed(event, rows):
    m = event.metadata
    rows.table("causes").insert({"position": event.position, "command": m["command"],
                                 "correlation_id": m["correlation_id"], "causation_id": m["causation_id"]})
'''


def test_a_read_model_built_alongside_a_seed_reads_each_events_own_metadata(cli, db_path, tmp_path):
    """The records a seed hands its read models share their chunk's metadata text, decoded when a
    handler first reads it: each row must hold its own event's metadata, as a rebuild writes."""
    (tmp_path / "causes_shop.py").write_text(CAUSES)
    domain = ("--domain", str(tmp_path / "causes_shop.py"))
    r = cli(*domain, "seed", "--orders", "1200", "--seed", "5")  # chunks of 1,000 events and more
    assert r.exit_code == 0, r.stderr
    seeded = rows_of(db_path, "causes")
    with sqlite3.connect(db_path) as conn:
        stored = conn.execute("SELECT position, json_extract(metadata, '$.command'), json_extract(metadata,"
                              " '$.correlation_id'), json_extract(metadata, '$.causation_id') FROM events"
                              " WHERE type = 'OrderConfirmed' ORDER BY position").fetchall()
    assert len(seeded) > 1000 and seeded == stored
    assert cli(*domain, "projections", "rebuild", "causes").exit_code == 0
    assert rows_of(db_path, "causes") == seeded
