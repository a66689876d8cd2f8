"""Effectively-once reactions, as a property.

Any shop history, delivered to the reactors with random redeliveries (checkpoints rewound, as
if saved apart and lost) and with crashes between any two steps of reaction handling (a hook
that raises at a chosen step; the process "restarts" on the same store file), ends with the same
aggregates, events, read models, e-mails and notifications as one clean delivery.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from evsh import load_domain, open_store
from evsh.engine import projections as P
from evsh.engine.subscriptions import checkpoint_name
from evsh.engine.wiring import build_engine
from evsh.errors import CommandRejected
from tests.strategies import FakeClock, Tick, shop_histories

SHOP = load_domain("shop")


class Crash(BaseException):
    """The process dies here (a BaseException, like SystemExit: no handler may swallow it)."""


class Crasher:
    """Raises Crash at the chosen hook calls (counted across restarts)."""

    def __init__(self, at: list[int]) -> None:
        self.at = sorted(set(at))
        self.calls = 0
        self.crashes = 0

    def __call__(self, step: str) -> None:
        self.calls += 1
        if self.at and self.calls >= self.at[0]:
            self.at.pop(0)
            self.crashes += 1
            raise Crash(step)


def open_engine(path: str, clock: FakeClock, hook=None):
    store = open_store(path, clock=clock)
    engine = build_engine(store, SHOP, clock=clock, reactor_backoff=0)
    engine.reactors.crash_hook = hook
    return engine


def final_state(engine) -> dict:
    """Everything a user could look at, minus ids and times (they differ between runs)."""
    P.run(engine)
    conn = engine.store.conn
    streams = {}
    for info in engine.streams():
        cls = SHOP.aggregate_for_stream(info.stream_id)
        agg = engine.load(cls, info.stream_id.split("-", 1)[1])
        streams[info.stream_id] = (agg.state(), [(e.type, e.data) for e in engine.read_stream(info.stream_id)])
    tables = {}
    for name in ("sent_emails", "notifications", "order_details", "customer_orders", "inventory_levels"):
        try:
            cur = conn.execute(f"SELECT * FROM {name}")
        except Exception:  # noqa: BLE001 - not created: nothing of that kind happened
            tables[name] = []
            continue
        cols = [d[0] for d in cur.description]
        keep = [i for i, c in enumerate(cols) if not c.endswith("_at") and c not in ("event_id", "last_event_id")]
        tables[name] = sorted(tuple(row[i] for i in keep) for row in cur.fetchall())
    try:  # the command log's table is made by its first command
        sent = sorted(conn.execute(
            "SELECT name, stream_id, outcome, reason FROM commands WHERE reactor IS NOT NULL").fetchall())
    except Exception:  # noqa: BLE001 - not created: no command ran
        sent = []
    return {"streams": streams, "tables": tables, "reactor_commands": sent}


def run_clean(path: str, history) -> dict:
    clock = FakeClock()
    engine = open_engine(path, clock)
    try:
        for step in history:
            if isinstance(step, Tick):
                clock.advance(step.seconds)
                continue
            try:
                engine.execute(step.aggregate, step.id, step.command, dict(step.params))
            except CommandRejected:
                pass
        return final_state(engine)
    finally:
        engine.store.close()


def run_rough(path: str, history, crasher: Crasher, rewinds: dict[int, float]) -> dict:
    clock = FakeClock()
    engine = open_engine(path, clock, crasher)

    def restart():
        nonlocal engine
        engine.store.close()  # the transaction in flight was rolled back: as if the process died
        engine = open_engine(path, clock, crasher)
        while True:  # recovery itself may crash again
            try:
                engine.reactors.run_pending()
                return
            except Crash:
                engine.store.close()
                engine = open_engine(path, clock, crasher)

    try:
        for i, step in enumerate(history):
            if i in rewinds:  # redelivery: checkpoints rewound as if saved apart and lost
                with engine.store.transaction() as store:
                    for name in engine.reactors.subs:
                        cp = checkpoint_name("reactor", name)
                        store.set_checkpoint(cp, int(store.checkpoint(cp) * rewinds[i]), clock())
                try:
                    engine.reactors.run_pending()
                except Crash:
                    restart()
            if isinstance(step, Tick):
                clock.advance(step.seconds)
                continue
            try:
                engine.execute(step.aggregate, step.id, step.command, dict(step.params))
            except CommandRejected:
                pass
            except Crash:  # every hook fires after the user's own command committed
                restart()
        restart()  # and once more at the end: a last crash may have left work pending
        return final_state(engine)
    finally:
        engine.store.close()


@given(
    history=shop_histories(min_size=1, max_size=14),
    crash_at=st.lists(st.integers(min_value=1, max_value=120), max_size=4),
    rewinds=st.dictionaries(st.integers(min_value=0, max_value=60), st.sampled_from([0.0, 0.3, 0.7, 0.95]),
                            max_size=3),
)
def test_duplicates_and_crashes_end_like_one_clean_delivery(history, crash_at, rewinds):
    with tempfile.TemporaryDirectory() as tmp:
        clean = run_clean(os.path.join(tmp, "clean.db"), history)
        crasher = Crasher(crash_at)
        rough = run_rough(os.path.join(tmp, "rough.db"), history, crasher, rewinds)
        assert rough == clean


def test_the_crash_hook_really_interrupts_reactions(tmp_path):
    """The property above is not vacuous: a crash mid-saga leaves the order half-done until restart."""
    clock = FakeClock()
    crasher = Crasher([4])  # after_command, before_handle, after_send, then: after_handle
    path = str(tmp_path / "s.db")
    engine = open_engine(path, clock)
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})
    engine.reactors.crash_hook = crasher
    try:
        engine.execute("order", "o1", "create", {"customer_id": "c1",
                                                 "items": [{"product_id": "p1", "quantity": 1, "unit_price": "2"}]})
    except Crash:
        pass
    assert crasher.crashes == 1
    assert engine.load("order", "o1").status == "created"  # the order committed, the saga rolled back
    assert engine.load("payment", "o1").version == 0
    engine.store.close()
    engine = open_engine(path, clock)
    engine.reactors.run_pending()
    assert engine.load("order", "o1").status == "confirmed"
    assert engine.store.conn.execute(
        "SELECT count(*) FROM events WHERE json_extract(metadata, '$.command') = 'payment.process'").fetchone()[0] == 1
    engine.store.close()
