"""Async workers: real processes on one store never handle one event twice; leases expire."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal

from evsh import load_domain, open_store
from evsh.engine.wiring import build_engine

SHOP = load_domain("shop")


def _orders(engine, start: int, count: int) -> None:
    for n in range(start, start + count):
        qty = 1 if n % 3 else 50  # every third order asks for more than is in stock
        price = Decimal("9.50") if n % 7 else Decimal("2000")  # every seventh is declined
        engine.execute("order", f"o{n}", "create", {
            "customer_id": f"c{n % 4}",
            "items": [{"product_id": f"p{n % 3}", "quantity": qty, "unit_price": price},
                      {"product_id": "p9", "quantity": 1, "unit_price": Decimal("1")}],
        })


def _settled(db: str, orders: int) -> bool:
    conn = sqlite3.connect(db)
    try:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0]
        cps = conn.execute("SELECT position FROM checkpoints WHERE name LIKE 'reactor:%'").fetchall()
        ended = conn.execute(
            "SELECT count(*) FROM events WHERE type IN ('OrderConfirmed', 'OrderCancelled')").fetchone()[0]
        return ended == orders and len(cps) == 3 and all(cp == head for (cp,) in cps)
    finally:
        conn.close()


def test_two_worker_processes_never_handle_one_event_twice(tmp_path):
    db = str(tmp_path / "w.db")
    store = open_store(db)
    engine = build_engine(store, SHOP, mode="async")
    for p in ("p0", "p1", "p2", "p9"):
        engine.execute("inventory", p, "add_stock", {"quantity": 100})
    _orders(engine, 0, 30)
    env = {**os.environ, "EVSH_DB": db, "EVSH_DOMAIN": "shop", "EVSH_MODE": "async"}
    cmd = [sys.executable, "-m", "evsh", "reactors", "run", "--follow", "--poll", "0.02", "--lease", "0.3",
           "--batch-size", "7"]
    workers = [subprocess.Popen([*cmd, "--worker", f"w{i}"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    try:
        for w in workers:  # both are following (a Ctrl-C before that would abort a worker)
            assert "following" in w.stderr.readline()
        _orders(engine, 30, 30)  # more arrive while the workers run
        deadline = time.monotonic() + 180
        while not _settled(db, 60):
            assert time.monotonic() < deadline, "the workers did not finish the orders"
            assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
            time.sleep(0.05)
    finally:
        for w in workers:
            w.send_signal(signal.SIGINT)
        outs = [w.communicate(timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    conn = store.conn
    # every command a reactor sent: those that wrote events (known from their metadata) and those
    # that left none (recorded); an event handled twice would show as two commands with one cause
    sent = ("SELECT json_extract(metadata, '$.causation_id') AS cause, json_extract(metadata, '$.command') AS name,"
            " stream_id, json_extract(metadata, '$.command_id') AS command_id FROM events"
            " WHERE json_extract(metadata, '$.actor') LIKE 'reactor:%'"
            " UNION SELECT causation_id, name, stream_id, command_id FROM commands WHERE reactor IS NOT NULL")
    twice = conn.execute(
        f"SELECT cause, name, stream_id, count(DISTINCT command_id) FROM ({sent})"
        " GROUP BY cause, name, stream_id HAVING count(DISTINCT command_id) > 1").fetchall()
    assert twice == []
    created = conn.execute("SELECT count(*) FROM events WHERE type='OrderCreated'").fetchone()[0]
    payments = conn.execute(f"SELECT count(DISTINCT command_id) FROM ({sent}) WHERE name='payment.process'").fetchone()[0]
    assert created == payments == 60
    statuses = {engine.load("order", f"o{n}").status for n in range(60)}
    assert statuses == {"confirmed", "cancelled"}
    assert conn.execute("SELECT count(*) FROM reactor_leases").fetchone()[0] == 0  # released on Ctrl-C
    store.close()


def test_a_live_lease_keeps_other_workers_away_and_an_expired_one_is_taken_over(tmp_path):
    store = open_store(str(tmp_path / "l.db"))
    engine = build_engine(store, SHOP, mode="async")
    engine.execute("user", "u1", "register", {"email": "a@example.com", "username": "ann"})
    rt = engine.reactors
    now = [1000.0]
    rt.wallclock = lambda: now[0]
    assert rt.acquire("welcome_email", "dead-worker", 5.0)
    done = rt.work(["welcome_email"], owner="w2")
    assert done == {"welcome_email": 0}  # held by a live worker: not touched
    assert rt.status()[2]["lag"] == 1
    now[0] += 6.0  # the holder died: its lease ran out
    done = rt.work(["welcome_email"], owner="w2")
    assert done["welcome_email"] == 1
    assert store.conn.execute("SELECT count(*) FROM sent_emails").fetchone()[0] == 1
    store.close()
