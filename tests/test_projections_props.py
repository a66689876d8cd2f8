"""Property tests: however a projection is built, its tables come out the same.

For generated shop histories (valid and invalid commands, event time moving on), the tables
built inline (inside each append), by a rebuild, and by catch-up in any batch sizes are equal,
and running again over handled events changes nothing.
"""

from __future__ import annotations

import copy
import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from evsh import load_domain, open_store
from evsh.engine import projections as P
from evsh.engine.subscriptions import checkpoint_name
from tests.conftest import table_rows
from evsh.engine.wiring import build_engine
from tests.strategies import FakeClock, run_history, shop_histories

SHOP = load_domain("shop")
PROJECTIONS = list(P.declared(SHOP).values())


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every projection table's rows, in primary-key order."""
    out = {}
    for p in PROJECTIONS:
        for t in p.tables:
            out[t.name] = sorted(table_rows(engine.store, t.name)[1], key=repr)
    return out


def inline_engine(path: str, clock: FakeClock):
    """An engine where every shop projection is inline (copies: the shop's own stay as declared)."""
    store = open_store(path, clock=clock)
    engine = build_engine(store, SHOP, clock=clock, inline_projections=False, mode="step")
    inline = []
    for p in PROJECTIONS:
        q = copy.copy(p)
        q.mode = "inline"
        inline.append(q)
    engine.append_hooks.append(P.InlineHook(engine, inline))
    return engine


def stop_after(batches: int):
    seen = {"n": 0}

    def stop() -> bool:
        seen["n"] += 1
        return seen["n"] > batches

    return stop


@given(
    history=shop_histories(min_size=1, max_size=25),
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=4),
    rebuild_batch=st.integers(min_value=1, max_value=50),
)
def test_inline_rebuild_and_catch_up_agree(history, sizes, rebuild_batch):
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        engine = inline_engine(os.path.join(tmp, "evsh.db"), clock)
        try:
            run_history(engine, history, clock)
            inline = snapshot(engine)

            for p in PROJECTIONS:
                assert P.rebuild(engine, p.name, batch_size=rebuild_batch) is not None
            assert snapshot(engine) == inline

            for p in PROJECTIONS:
                P.reset(engine, p.name)
            for size in sizes:  # a few batches at each size, then the rest at the last one
                P.run(engine, batch_size=size, stop=stop_after(2))
            results = P.run(engine, batch_size=sizes[-1])
            assert all(r.error is None and not r.skipped for r in results)
            assert snapshot(engine) == inline

            again = P.run(engine, batch_size=sizes[0])
            assert [r.handled for r in again] == [0] * len(PROJECTIONS)
            assert snapshot(engine) == inline
        finally:
            engine.store.close()


@given(history=shop_histories(min_size=1, max_size=25))
def test_processed_event_guard_makes_replays_harmless(history):
    """inventory_levels remembers event ids: replaying handled events (a lost checkpoint) changes nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        store = open_store(os.path.join(tmp, "evsh.db"), clock=clock)
        engine = build_engine(store, SHOP, clock=clock, mode="step")
        try:
            run_history(engine, history, clock)
            P.run(engine, ["inventory_levels"])
            before = snapshot(engine)["inventory_levels"]
            with store.transaction():  # as if the checkpoint had been saved apart and lost
                store.set_checkpoint(checkpoint_name("projection", "inventory_levels"), 0, clock())
            P.run(engine, ["inventory_levels"], batch_size=3)
            assert snapshot(engine)["inventory_levels"] == before
        finally:
            store.close()


def test_two_runners_at_once_apply_every_event_exactly_once(tmp_path):
    """Two processes' worth of runners (own connections, threads here) on the same projections."""
    import threading

    from tests.strategies import Step

    path = str(tmp_path / "evsh.db")
    clock = FakeClock()
    store = open_store(path, clock=clock)
    engine = build_engine(store, SHOP, clock=clock, mode="step")
    steps = []
    for i in range(40):
        items = [{"product_id": f"p{i % 3}", "quantity": 1 + i % 4, "unit_price": "2.50"}]
        steps += [Step("inventory", f"p{i % 3}", "add_stock", {"quantity": 3}),
                  Step("order", f"o{i}", "create", {"customer_id": f"c{i % 5}", "items": items}),
                  Step("inventory", f"p{i % 3}", "reserve", {"order_id": f"o{i}", "quantity": 1 + i % 4}),
                  Step("order", f"o{i}", "confirm" if i % 3 else "cancel", {} if i % 3 else {"reason": "r"})]
    assert run_history(engine, steps, clock).accepted > 100
    names = ["order_details", "inventory_levels", "order_statistics"]
    errors = []

    def runner() -> None:
        s = open_store(path)
        try:
            P.run(build_engine(s, SHOP, mode="step"), names, batch_size=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    by_runners = {k: v for k, v in snapshot(engine).items() if not k.startswith("customer_")}
    for name in names:
        P.rebuild(engine, name)
    assert {k: v for k, v in snapshot(engine).items() if not k.startswith("customer_")} == by_runners
    store.close()
