"""Projections through the CLI: listing, catch-up, inline, failures, version bumps, reset, --follow."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

# reactors wait for `evsh step`: these tests watch projections only, not the order workflow
SHOP = ("--domain", "shop", "--mode", "step")
ITEMS = '[{"product_id":"p1","quantity":2,"unit_price":"9.99"}]'

NOTES = textwrap.dedent('''
    from evsh import Aggregate, Projection, command, event, table

    @event
    class Noted:
        text: str

    class Note(Aggregate):
        @command
        def add(self, text: str):
            yield Noted(text)

    def _notes(name):
        return table(name, {"position": int, "text": str}, pk="position")

    good = Projection("good", version=GOOD_VERSION, tables=[_notes("good_notes")])

    @good.on(Noted)
    def _good(event, rows):
        rows.table("good_notes").insert({"position": event.position, "text": event.data["text"]})

    bad = Projection("bad", tables=[_notes("bad_notes")])

    @bad.on(Noted)
    def _bad(event, rows):
        rows.table("bad_notes").insert({"position": event.position, "text": event.data["text"]})
        if event.data["text"] == "boom":
            raise ValueError("cannot take boom")

    strict = Projection("strict", mode="inline", tables=[_notes("strict_notes")])

    @strict.on(Noted)
    def _strict(event, rows):
        if event.data["text"] == "forbidden":
            raise RuntimeError("no forbidden notes")
        rows.table("strict_notes").insert({"position": event.position, "text": event.data["text"]})
''')


@pytest.fixture
def notes(tmp_path):
    """Write the notes domain (GOOD_VERSION as given) and return its path."""

    def make(good_version: int = 1) -> str:
        path = tmp_path / "notes.py"
        path.write_text(NOTES.replace("GOOD_VERSION", str(good_version)))
        for cached in tmp_path.glob("__pycache__"):
            for f in cached.iterdir():
                f.unlink()
        import sys as _sys

        _sys.modules.pop("evsh_domain_notes", None)
        return str(path)

    return make


def listing(cli, *args: str) -> dict[str, dict]:
    res = cli(*args, "projections", "--json")
    assert res.exit_code == 0, res.stderr
    return {p["name"]: p for p in json.loads(res.stdout)}


def rows(db_path: str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def create_order(cli, oid: str, customer: str = "c1", items: str = ITEMS) -> None:
    res = cli(*SHOP, "exec", "order", oid, "create", "--customer-id", customer, "--items", items)
    assert res.exit_code == 0, res.stderr


# ----------------------------------------------------------------------------- the shop

def test_listing_shows_every_shop_projection_with_the_documented_keys(cli):
    assert cli("init").exit_code == 0
    listed = listing(cli, *SHOP)
    assert set(listed) == {"order_details", "customer_orders", "inventory_levels", "order_statistics"}
    for p in listed.values():
        assert {"name", "mode", "checkpoint", "lag", "error", "version", "rows", "last_run", "needs_rebuild"} <= set(p)
    assert listed["customer_orders"]["mode"] == "inline"
    assert listed["order_details"]["mode"] == "catch-up"
    table = cli(*SHOP, "projections")
    assert table.exit_code == 0 and "order_details" in table.stdout and "catch-up" in table.stdout


def test_inline_projection_is_current_right_after_a_command(cli, db_path):
    create_order(cli, "o1")
    create_order(cli, "o2", items='[{"product_id":"p2","quantity":1,"unit_price":"5.00"}]')
    assert rows(db_path, "SELECT customer_id, orders, cancelled, total_amount FROM customer_orders") == [
        ("c1", 2, 0, "24.98")]
    assert cli(*SHOP, "exec", "order", "o2", "cancel", "--reason", "nope").exit_code == 0
    assert rows(db_path, "SELECT orders, cancelled, total_amount FROM customer_orders") == [(2, 1, "19.98")]
    listed = listing(cli, *SHOP)
    assert listed["customer_orders"]["lag"] == 0
    assert listed["order_details"]["lag"] == 3  # catch-up ones wait for `projections run`


def test_run_catches_up_and_running_again_changes_nothing(cli, db_path):
    create_order(cli, "o1")
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "5").exit_code == 0
    assert cli(*SHOP, "exec", "order", "o1", "confirm").exit_code == 0
    res = cli(*SHOP, "projections", "run")
    assert res.exit_code == 0, res.stderr
    assert "order_details: handled 2 events" in res.stdout
    assert rows(db_path, "SELECT order_id, status, total_amount, item_count FROM order_details") == [
        ("o1", "confirmed", "19.98", 2)]
    assert rows(db_path, "SELECT product_id, on_hand, available FROM inventory_levels") == [("p1", 5, 5)]
    assert rows(db_path, "SELECT orders, total_amount FROM order_statistics") == [(1, "19.98")]
    listed = listing(cli, *SHOP)
    assert all(p["lag"] == 0 and p["checkpoint"] == 3 and p["error"] is None for p in listed.values())
    before = rows(db_path, "SELECT * FROM order_details")
    again = cli(*SHOP, "projections", "run", "order_details")
    assert "handled 0 events" in again.stdout
    assert rows(db_path, "SELECT * FROM order_details") == before


def test_order_statistics_uses_tumbling_windows_of_event_time(tmp_path):
    from evsh import load_domain, open_store
    from evsh.engine import projections as P
    from evsh.engine.wiring import build_engine
    from tests.strategies import FakeClock

    clock = FakeClock("2026-03-01T10:00:30Z")
    store = open_store(str(tmp_path / "w.db"), clock=clock)
    engine = build_engine(store, load_domain("shop"), clock=clock, mode="step")
    items = [{"product_id": "p1", "quantity": 1, "unit_price": "2.00"}]
    for i, wait in enumerate([0, 20, 20, 3600]):  # 10:00:30, 10:00:50, 10:01:10, 11:01:10
        clock.advance(wait)
        engine.execute("order", f"o{i}", "create", {"customer_id": "c1", "items": items})
    P.run(engine, ["order_statistics"])
    got = store.conn.execute("SELECT window_start, window_end, orders, total_amount FROM order_statistics"
                             " ORDER BY window_start").fetchall()
    store.close()
    assert got == [("2026-03-01T10:00:00Z", "2026-03-01T10:01:00Z", 2, "4.00"),
                   ("2026-03-01T10:01:00Z", "2026-03-01T10:02:00Z", 1, "2.00"),
                   ("2026-03-01T11:01:00Z", "2026-03-01T11:02:00Z", 1, "2.00")]


def test_window_length_is_a_parameter():
    from sample_data.shop import order_statistics_projection

    hourly = order_statistics_projection(60, "order_statistics_hourly")
    assert hourly.table_names == ("order_statistics_hourly", "order_statistics_hourly_orders")
    assert "60-minute" in hourly.description


def test_inline_projection_behind_catches_up_inside_the_next_append(cli, db_path, engine):
    from evsh import NewEvent

    # written without hooks (as an import does): the inline projection falls behind
    engine.store.append("order-o1", [NewEvent("OrderCreated", {
        "order_id": "o1", "customer_id": "c9", "items": [{"product_id": "p1", "quantity": 1, "unit_price": "3"}],
        "total_amount": "3"})])
    engine.store.close()
    create_order(cli, "o2", customer="c9")
    assert rows(db_path, "SELECT customer_id, orders, total_amount FROM customer_orders") == [("c9", 2, "22.98")]


def test_reset_drops_tables_and_checkpoint(cli, db_path):
    create_order(cli, "o1")
    assert cli(*SHOP, "projections", "run", "order_details").exit_code == 0
    res = cli(*SHOP, "projections", "reset", "order_details")
    assert res.exit_code == 0 and "order_details" in res.stdout
    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name='order_details'") == []
    assert listing(cli, *SHOP)["order_details"]["checkpoint"] == 0
    assert cli(*SHOP, "projections", "run", "order_details").exit_code == 0
    assert rows(db_path, "SELECT order_id FROM order_details") == [("o1",)]


def test_unknown_projection_is_bad_input(cli):
    assert cli("init").exit_code == 0
    res = cli(*SHOP, "projections", "rebuild", "nope")
    assert res.exit_code == 2
    assert "no projection 'nope'" in res.stderr and "order_details" in res.stderr
    assert cli("projections").exit_code == 2  # projections live in a domain module


# ----------------------------------------------------------------------------- failures

def test_failing_catch_up_handler_is_recorded_and_others_advance(cli, db_path, notes):
    dom = notes()
    for text in ["a", "b", "boom", "c"]:
        assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", text).exit_code == 0
    res = cli("--domain", dom, "projections", "run", "--batch-size", "2")
    assert res.exit_code == 5
    assert "projection bad failed on event 3 (Noted in note-n1)" in res.stderr
    assert "cannot take boom" in res.stderr
    # the failing batch (events 3-4) rolled back; the batch before it (1-2) is kept
    assert rows(db_path, "SELECT position FROM bad_notes ORDER BY position") == [(1,), (2,)]
    assert rows(db_path, "SELECT position FROM good_notes ORDER BY position") == [(1,), (2,), (3,), (4,)]
    listed = listing(cli, "--domain", dom)
    assert listed["bad"]["checkpoint"] == 2
    assert listed["bad"]["error"]["position"] == 3
    assert listed["bad"]["error"]["type"] == "Noted"
    assert "cannot take boom" in listed["bad"]["error"]["message"]
    assert listed["good"]["checkpoint"] == 4 and listed["good"]["error"] is None
    shown = cli("--domain", dom, "projections")
    assert "failed at 3 (Noted)" in shown.stdout


def test_failing_batch_keeps_nothing(cli, db_path, notes):
    dom = notes()
    for text in ["a", "b", "boom"]:
        assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", text).exit_code == 0
    assert cli("--domain", dom, "projections", "run", "bad").exit_code == 5
    assert rows(db_path, "SELECT count(*) FROM bad_notes") == [(0,)]
    assert listing(cli, "--domain", dom)["bad"]["checkpoint"] == 0


def test_failing_inline_projection_rolls_back_the_command(cli, db_path, notes):
    dom = notes()
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "fine").exit_code == 0
    res = cli("--domain", dom, "exec", "note", "n1", "add", "--text", "forbidden")
    assert res.exit_code == 5
    assert "projection strict failed on event 2 (Noted in note-n1)" in res.stderr
    assert "no forbidden notes" in res.stderr
    assert rows(db_path, "SELECT count(*) FROM events") == [(1,)]
    assert rows(db_path, "SELECT position, text FROM strict_notes") == [(1, "fine")]


def test_version_bump_needs_a_rebuild(cli, db_path, notes):
    dom = notes(1)
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "a").exit_code == 0
    assert cli("--domain", dom, "projections", "run", "good").exit_code == 0
    dom = notes(2)
    listed = listing(cli, "--domain", dom)
    assert listed["good"]["needs_rebuild"] is True
    assert cli("--domain", dom, "projections").stdout.count("needs rebuild") == 1
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "b").exit_code == 0
    res = cli("--domain", dom, "projections", "run", "good")
    assert res.exit_code == 0 and "needs a rebuild" in res.stdout
    assert listing(cli, "--domain", dom)["good"]["checkpoint"] == 1  # stale logic is not fed new events
    res = cli("--domain", dom, "projections", "rebuild", "good")
    assert res.exit_code == 0, res.stderr
    assert "rebuilt good: 2 events" in res.stdout
    after = listing(cli, "--domain", dom)["good"]
    assert after["needs_rebuild"] is False and after["version"] == 2 and after["lag"] == 0
    assert rows(db_path, "SELECT text FROM good_notes ORDER BY position") == [("a",), ("b",)]


def test_failing_rebuild_leaves_the_old_tables(cli, db_path, notes):
    dom = notes()
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "a").exit_code == 0
    assert cli("--domain", dom, "projections", "run", "bad").exit_code == 0
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "boom").exit_code == 0
    res = cli("--domain", dom, "projections", "rebuild", "bad")
    assert res.exit_code == 5 and "cannot take boom" in res.stderr
    assert rows(db_path, "SELECT position, text FROM bad_notes") == [(1, "a")]
    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name LIKE '%rebuild%'") == []


def test_a_rebuild_puts_the_collectors_thresholds_back_whether_it_succeeds_or_fails(cli, db_path, notes):
    """A rebuild collects garbage less often while it replays (a process-wide setting): a shell
    or TUI that rebuilt, or failed to, goes on with the thresholds it had."""
    import gc

    dom = notes()
    before = gc.get_threshold()
    gc.set_threshold(900, 11, 12)
    try:
        assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "a").exit_code == 0
        assert cli("--domain", dom, "projections", "rebuild", "good").exit_code == 0
        assert gc.get_threshold() == (900, 11, 12)
        assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "boom").exit_code == 0
        assert cli("--domain", dom, "projections", "rebuild", "bad").exit_code == 5
        assert gc.get_threshold() == (900, 11, 12)
    finally:
        gc.set_threshold(*before)


# ----------------------------------------------------------------------------- --follow

def test_run_follow_keeps_up_and_stops_on_ctrl_c(tmp_path):
    db = str(tmp_path / "f.db")
    env = {**os.environ, "EVSH_DB": db, "EVSH_DOMAIN": "shop", "EVSH_POLL_INTERVAL": "0.05", "EVSH_MODE": "step"}
    subprocess.run([sys.executable, "-m", "evsh", "init"], env=env, check=True, capture_output=True)
    child = subprocess.Popen([sys.executable, "-m", "evsh", "projections", "run", "order_details", "--follow"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        from evsh import load_domain, open_store
        from evsh.engine.wiring import build_engine

        store = open_store(db)
        engine = build_engine(store, load_domain("shop"), mode="step")
        for i in range(3):
            engine.execute("order", f"o{i}", "create",
                           {"customer_id": "c1", "items": [{"product_id": "p1", "quantity": 1, "unit_price": "1"}]})
        deadline = time.monotonic() + 60
        seen = []
        while time.monotonic() < deadline:
            if store.conn.execute("SELECT name FROM sqlite_master WHERE name='order_details'").fetchone():
                seen = store.conn.execute("SELECT order_id FROM order_details ORDER BY order_id").fetchall()
                if len(seen) == 3:
                    break
            time.sleep(0.02)
        store.close()
        assert seen == [("o0",), ("o1",), ("o2",)]
        assert child.poll() is None  # still following
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert "stopping after the current batch" in err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_old_events_reach_projections_upcast(cli, db_path):
    """Events stored by the shop's first release (OrderPlaced, StockReceived) count as today's types."""
    sample = os.path.join(os.path.dirname(__file__), "..", "sample_data", "shop_v1_events.jsonl")
    assert cli(*SHOP, "import", sample).exit_code == 0
    placed = rows(db_path, "SELECT count(*) FROM events WHERE type='OrderPlaced'")[0][0]
    received = rows(db_path, "SELECT count(*) FROM events WHERE type='StockReceived'")[0][0]
    assert placed and received
    assert cli(*SHOP, "projections", "run").exit_code == 0
    assert rows(db_path, "SELECT count(*) FROM order_details")[0][0] == placed
    assert rows(db_path, "SELECT count(*) FROM inventory_levels")[0][0] >= 1
    by_run = rows(db_path, "SELECT * FROM order_details ORDER BY order_id")
    assert cli(*SHOP, "projections", "rebuild", "order_details").exit_code == 0
    assert rows(db_path, "SELECT * FROM order_details ORDER BY order_id") == by_run
    # the inline projection was behind (an import runs no hooks): the next command catches it up
    create_order(cli, "o-new", customer="c-new")
    assert rows(db_path, "SELECT sum(orders) FROM customer_orders")[0][0] == placed + 1


def test_a_users_view_over_a_projection_survives_its_rebuild(cli, db_path):
    create_order(cli, "o1")
    assert cli(*SHOP, "projections", "run", "order_details").exit_code == 0
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE VIEW big_orders AS SELECT order_id FROM order_details WHERE CAST(total_amount AS REAL) > 10")
    conn.commit()
    conn.close()
    res = cli(*SHOP, "projections", "rebuild", "order_details")
    assert res.exit_code == 0, res.stderr
    assert rows(db_path, "SELECT order_id FROM big_orders") == [("o1",)]


def test_rebuild_drops_a_table_the_new_version_no_longer_declares(cli, db_path, notes):
    dom = notes(1)
    assert cli("--domain", dom, "exec", "note", "n1", "add", "--text", "a").exit_code == 0
    assert cli("--domain", dom, "projections", "run", "good").exit_code == 0
    path = notes(2)
    text = open(path).read().replace('tables=[_notes("good_notes")]', 'tables=[_notes("good_notes_v2")]')
    text = text.replace('rows.table("good_notes")', 'rows.table("good_notes_v2")')
    open(path, "w").write(text)
    assert cli("--domain", path, "projections", "rebuild", "good").exit_code == 0
    names = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "good_notes_v2" in names and "good_notes" not in names


def test_run_and_rebuild_set_off_no_reactor_or_side_effect(cli, db_path):
    """With the shop's reactors inline (the default), replaying the log still sends nothing."""
    for oid in ("o1", "o2"):
        assert cli("--domain", "shop", "exec", "order", oid, "create", "--customer-id", "c1",
                   "--items", ITEMS).exit_code == 0
    assert cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "a@b.io",
               "--username", "ann").exit_code == 0

    def effects():
        tables = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
        counted = ["events", "commands", "reactor_processed", "dead_letters", "sent_emails", "notifications"]
        return {t: rows(db_path, f"SELECT count(*) FROM {t}")[0][0] for t in counted if t in tables}

    before = effects()
    assert before["events"] > 3  # the workflow reacted to the commands themselves
    assert cli("--domain", "shop", "projections", "run").exit_code == 0
    for name in ("order_details", "customer_orders", "inventory_levels", "order_statistics"):
        assert cli("--domain", "shop", "projections", "rebuild", name).exit_code == 0
    assert effects() == before
