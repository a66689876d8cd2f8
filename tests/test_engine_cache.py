"""The engine's aggregate cache: a load reads only newer events, and never trusts a stale state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from evsh import open_store
from evsh.engine.wiring import build_engine

ITEMS = [{"product_id": "p1", "quantity": 2, "unit_price": Decimal("9.50")}]


def make(db_path, shop):
    return build_engine(open_store(db_path), shop, mode="step")


def test_a_load_sees_what_another_process_appended(db_path, shop):
    a, b = make(db_path, shop), make(db_path, shop)
    a.execute("inventory", "p1", "add_stock", {"quantity": 5})
    assert a.load("inventory", "p1").on_hand == 5  # now cached in a
    b.execute("inventory", "p1", "add_stock", {"quantity": 7})
    assert a.load("inventory", "p1").on_hand == 12
    a.execute("inventory", "p1", "reserve", {"order_id": "o1", "quantity": 12})
    assert b.load("inventory", "p1").available == 0


def test_a_rolled_back_command_leaves_no_trace_in_the_cache(db_path, shop):
    engine = make(db_path, shop)
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with engine.store.transaction():
            engine.execute("inventory", "p1", "add_stock", {"quantity": 100})  # cached at version 2 ...
            raise Boom  # ... which is rolled back
    assert engine.load("inventory", "p1").on_hand == 5
    other = make(db_path, shop)
    other.execute("inventory", "p1", "add_stock", {"quantity": 1})  # another version 2
    assert engine.load("inventory", "p1").on_hand == 6


def test_a_rejected_command_does_not_change_the_cached_state(db_path, shop):
    engine = make(db_path, shop)
    engine.execute("order", "o1", "create", {"customer_id": "c1", "items": ITEMS})
    engine.execute("order", "o1", "cancel", {"reason": "changed my mind"})
    with pytest.raises(Exception):
        engine.execute("order", "o1", "confirm", {})
    assert engine.load("order", "o1").status == "cancelled"
    fresh = make(db_path, shop)
    assert fresh.load("order", "o1").state() == engine.load("order", "o1").state()


def test_forget_drops_cached_plaintext(db_path, shop):
    from evsh.engine.forgetting import forget

    engine = make(db_path, shop)
    engine.execute("user", "u1", "register", {"email": "ann@example.com", "username": "ann"})
    assert engine.load("user", "u1").email == "ann@example.com"
    forget(engine, "u1")
    assert engine.load("user", "u1").email != "ann@example.com"


def test_appends_through_the_same_connection_reach_every_engine_on_it(db_path, shop):
    from evsh.engine.engine import Engine

    store = open_store(db_path)
    a, b = Engine(store, shop), Engine(store, shop)
    a.execute("inventory", "p1", "add_stock", {"quantity": 5})
    assert a.load("inventory", "p1").on_hand == 5  # cached in a, trusted without a read
    b.execute("inventory", "p1", "add_stock", {"quantity": 7})  # no other connection: no data_version change
    assert a.load("inventory", "p1").on_hand == 12
    b.append("inventory-p1", "StockAdded", {"product_id": "p1", "quantity": 1})  # a raw append, by hand
    assert a.load("inventory", "p1").on_hand == 13
    a.execute("inventory", "p1", "reserve", {"order_id": "o1", "quantity": 13})
    assert b.load("inventory", "p1").available == 0


def test_a_command_inside_another_connections_gap_sees_its_commit(db_path, shop):
    """Inside one write transaction the cache is trusted; the transaction's start still sees
    what another connection committed just before it."""
    a, b = make(db_path, shop), make(db_path, shop)
    a.execute("inventory", "p1", "add_stock", {"quantity": 5})
    b.execute("inventory", "p1", "add_stock", {"quantity": 7})
    with a.store.transaction():
        a.execute("inventory", "p1", "add_stock", {"quantity": 1})
        assert a.load("inventory", "p1").on_hand == 13
    assert b.load("inventory", "p1").on_hand == 13


def test_an_import_through_the_same_connection_is_seen(db_path, shop):
    import json

    engine = make(db_path, shop)
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})
    assert engine.load("inventory", "p1").on_hand == 5
    last = next(engine.read_stream("inventory-p1"))
    row = (1, "00000000-0000-4000-8000-000000000001", "inventory-p1", 2, "StockAdded",
           json.dumps({"product_id": "p1", "quantity": 2}), json.dumps({"schema_version": 1}), last.recorded_at)
    assert engine.store.import_rows([[row]]) == (1, 0)
    assert engine.load("inventory", "p1").on_hand == 7


def test_a_stream_created_again_after_a_soft_delete_is_cached_at_its_real_version(db_path, shop):
    engine = make(db_path, shop)
    for q in (5, 6, 7):
        engine.execute("inventory", "p1", "add_stock", {"quantity": q})
    engine.store.delete_stream("inventory-p1")  # soft: written again after version 3
    out = engine.execute("inventory", "p1", "add_stock", {"quantity": 1})
    assert out.version == 4
    assert engine.load("inventory", "p1").version == 4
    assert engine.execute("inventory", "p1", "add_stock", {"quantity": 1}).version == 5
    assert engine.load("inventory", "p1").on_hand == 2


def test_a_stream_with_a_max_age_is_never_served_from_the_cache(db_path, shop):
    from datetime import datetime, timedelta, timezone

    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]

    def clock() -> str:
        return now[0].isoformat(timespec="microseconds").replace("+00:00", "Z")

    engine = build_engine(open_store(db_path, clock=clock), shop, mode="step", clock=clock)
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})
    engine.store.set_stream_metadata("inventory-p1", max_count=None, max_age=5.0)
    assert engine.load("inventory", "p1").on_hand == 5
    now[0] += timedelta(seconds=60)  # every event of the stream is now past its max age
    assert engine.load("inventory", "p1").version == 0
