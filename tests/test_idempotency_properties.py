"""Idempotency of the shop's read side and reactions, for generated histories.

- The same events delivered in another interleaving across streams (each stream's own order
  kept) build the same projection tables, and the same e-mails and notifications.
- A crash at any event of a catch-up (in-process: a handler that raises a BaseException, as a
  dying process would stop there), then a restart, ends with the tables of one clean run.
- Every event handed a second time to a projection's or a reactor's handler (at-least-once
  delivery, as `evsh verify` checks it) changes no row and causes no event.
"""

from __future__ import annotations

import copy
import os
import tempfile
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evsh import load_domain, open_store
from evsh.engine import projections as P
from evsh.engine.wiring import build_engine
from evsh.store import codec
from evsh.verify.properties import Context, PropertyFailed, _projection_redelivery, _reactor_redelivery
from evsh.verify.strategies import Step as VerifyStep
from tests.conftest import table_rows
from tests.strategies import FakeClock, Step, run_history, shop_histories

SHOP = load_domain("shop")


def capped(n: int) -> int:
    """Whole stores per example: at most ``n`` examples, except under the deep profile."""
    wanted = settings().max_examples
    return wanted if wanted >= 1000 else min(wanted, n)
PROJECTIONS = list(P.declared(SHOP).values())
REACTOR_TABLES = ("sent_emails", "notifications")


def tables(engine, names, *, without_times: bool = False, interleaved: bool = False) -> dict[str, list]:
    """Rows of the tables, sorted; ``without_times`` drops ``*_at`` columns (wall-clock stamps),
    ``interleaved`` drops ``position`` columns (another interleaving gives events other positions)
    and customer_orders' ``last_order_at``."""
    out = {}
    for name in names:
        columns, rows = table_rows(engine.store, name)
        keep = [i for i, c in enumerate(columns)
                if not (without_times and c.endswith("_at"))
                and not (interleaved and c in ("position", "last_order_at"))]
        out[name] = sorted(repr(tuple(row[i] for i in keep)) for row in rows)
    return out


def projection_tables(engine, **kw) -> dict[str, list]:
    return tables(engine, [t for p in PROJECTIONS for t in p.table_names], **kw)


def history_store(path: str, history) -> list:
    """Run a history on a fresh store; returns its log as import rows."""
    clock = FakeClock()
    engine = build_engine(open_store(path, clock=clock), SHOP, clock=clock)
    try:
        run_history(engine, history, clock)
        return [(e.position, e.event_id, e.stream_id, e.version, e.type, codec.dumps(e.data), codec.dumps(e.metadata),
                 e.recorded_at) for e in engine.store.read_all()]
    finally:
        engine.store.close()


@st.composite
def interleavings(draw, rows: list) -> list:
    """The rows in another order that keeps each stream's own order."""
    queues: dict[str, list] = {}
    for row in rows:
        queues.setdefault(row[2], []).append(row)
    out = []
    while queues:
        sid = draw(st.sampled_from(sorted(queues)))
        out.append(queues[sid].pop(0))
        if not queues[sid]:
            del queues[sid]
    return out


def reacted(path: str, rows: list, batch: int) -> tuple[dict, dict]:
    """Import the log as it is ordered, then let the projections and the side-effect reactors
    (e-mail, notification) catch up: their tables."""
    store = open_store(path)
    engine = build_engine(store, SHOP, inline_projections=False, mode="step")
    try:
        store.import_rows([[(n, *row[1:]) for n, row in enumerate(rows, 1)]])
        P.run(engine, batch_size=batch)
        for name in ("welcome_email", "user_notifications"):
            engine.reactors.run_one(engine.reactors.get(name))
        return projection_tables(engine, interleaved=True), tables(engine, REACTOR_TABLES, without_times=True)
    finally:
        store.close()


@settings(max_examples=capped(20))
@given(history=shop_histories(min_size=1, max_size=10), data=st.data(), batch=st.integers(1, 7))
def test_another_interleaving_across_streams_builds_the_same_tables(history, data, batch):
    with tempfile.TemporaryDirectory() as tmp:
        rows = history_store(os.path.join(tmp, "a.db"), history)
        other = data.draw(interleavings(rows), label="interleaving")
        assert reacted(os.path.join(tmp, "b.db"), rows, batch) == reacted(os.path.join(tmp, "c.db"), other, batch)


class Crash(BaseException):
    """The process dies here: a BaseException, so no handler's `except Exception` hides it."""


def crashing(p, at: list[int], calls: list[int]):
    """A copy of projection ``p`` whose handlers die at the chosen calls (``calls`` counts the
    calls of every projection, across restarts)."""
    q = copy.copy(p)

    def wrap(fn):
        def handler(event, rows):
            calls[0] += 1
            if calls[0] in at:
                raise Crash(calls[0])
            return fn(event, rows)
        return handler

    q.handlers = {t: wrap(fn) for t, fn in p.handlers.items()}
    return q


@settings(max_examples=capped(20))
@given(history=shop_histories(min_size=1, max_size=10), at=st.lists(st.integers(1, 40), max_size=4),
       batch=st.integers(1, 6))
def test_a_crash_at_any_event_then_a_restart_ends_like_a_clean_run(history, at, batch):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.db")
        history_store(path, history)
        clean_engine = build_engine(open_store(path), SHOP)
        try:
            for p in PROJECTIONS:
                P.rebuild(clean_engine, p.name)
            clean = projection_tables(clean_engine)
            for p in PROJECTIONS:
                P.reset(clean_engine, p.name)
        finally:
            clean_engine.store.close()
        crashes = 0
        calls = [0]
        doomed = {p.name: crashing(p, at, calls) for p in PROJECTIONS}
        while True:  # restart after each crash, on the same file, until a run completes
            engine = build_engine(open_store(path), SHOP, inline_projections=False, mode="step")
            engine.domain = copy.copy(SHOP)
            engine.domain._evsh_projections = doomed
            try:
                P.run(engine, batch_size=batch)
                final = projection_tables(engine)
                break
            except Crash:
                crashes += 1
            finally:
                engine.store.close()
        assert crashes <= len(set(at))
        assert final == clean


def _shop_steps(history) -> list[VerifyStep]:
    return [VerifyStep(s.aggregate, s.id, s.command, tuple(s.params.items())) for s in history if isinstance(s, Step)]


GUARDED = ("inventory_levels", "order_details")  # the shop's projections that hold under redelivery


def only_projections(names) -> object:
    domain = copy.copy(SHOP)
    domain._evsh_projections = {n: p for n, p in P.declared(SHOP).items() if n in names}
    return domain


@given(history=shop_histories(min_size=1, max_size=10))
def test_a_projection_handler_given_an_event_twice_changes_no_row(tmp_path_factory, history):
    ctx = Context(only_projections(GUARDED), str(tmp_path_factory.mktemp("redeliver")))
    try:
        _projection_redelivery(ctx, _shop_steps(history), None)
    except PropertyFailed as exc:
        raise AssertionError(exc.message) from None


def without_reactor(name: str) -> object:
    """The shop, its reactor ``name`` declared as relying on exactly-once delivery."""
    import types

    domain = copy.copy(SHOP)
    domain.module = types.SimpleNamespace(**vars(SHOP.module), VERIFY_EXACTLY_ONCE=[name])
    return domain


@given(history=shop_histories(min_size=1, max_size=10))
def test_a_reactor_handler_given_an_event_twice_causes_nothing(tmp_path_factory, history):
    """The e-mail and notification reactors (idempotent by event id) do nothing on a duplicate."""
    ctx = Context(without_reactor("order_workflow"), str(tmp_path_factory.mktemp("redeliver")))
    try:
        _reactor_redelivery(ctx, _shop_steps(history), None)
    except PropertyFailed as exc:
        raise AssertionError(exc.message) from None


ONE_ORDER_CANCELLED = [
    Step("order", "o1", "create", {"customer_id": "c1", "items": [{"product_id": "p1", "quantity": 1,
                                                                   "unit_price": Decimal("5.00")}]}),
    Step("order", "o1", "cancel", {"reason": "changed my mind"}),
]


# customer_orders and order_statistics keep running counts; their per-order tables make them
# idempotent by natural key, so they stay right under at-least-once delivery too.
@pytest.mark.parametrize("name", ["customer_orders", "order_statistics"])
def test_shop_counting_projections_count_a_redelivered_event_once(tmp_path, name):
    ctx = Context(only_projections([name]), str(tmp_path))
    steps = [VerifyStep(s.aggregate, s.id, s.command, tuple(s.params.items())) for s in ONE_ORDER_CANCELLED]
    _projection_redelivery(ctx, steps, None)


def test_last_order_at_does_not_depend_on_the_interleaving(tmp_path):
    history = [
        Step("order", "o1", "create", {"customer_id": "c1", "items": [{"product_id": "p1", "quantity": 1,
                                                                       "unit_price": Decimal("1.00")}]}),
        Step("order", "o2", "create", {"customer_id": "c1", "items": [{"product_id": "p1", "quantity": 1,
                                                                       "unit_price": Decimal("2.00")}]}),
    ]
    rows = history_store(str(tmp_path / "a.db"), history)
    o2_first = sorted(rows, key=lambda r: (r[2] != "order-o2", r[0]))  # each stream keeps its order
    got = []
    for name, order in (("b", rows), ("c", o2_first)):
        engine = _import_and_read(str(tmp_path / f"{name}.db"), order)
        try:
            got.append(tables(engine, ["customer_orders"]))
        finally:
            engine.store.close()
    assert got[0] == got[1]


def _import_and_read(path: str, rows: list):
    store = open_store(path)
    store.import_rows([[(n, *row[1:]) for n, row in enumerate(rows, 1)]])
    engine = build_engine(store, SHOP, inline_projections=False, mode="step")
    P.run(engine)
    return engine


def test_order_workflow_sends_nothing_more_on_a_duplicate(tmp_path):
    ctx = Context(SHOP, str(tmp_path))
    steps = [VerifyStep("order", "a", "create", (("customer_id", "a"), ("items", [SHOP.module.Item(
        "a", 1, Decimal("0.01"))])))]
    _reactor_redelivery(ctx, steps, None)
