"""What a user trusts the engine with: a failing command writes nothing (not even a subject key),
imported or seeded history is never news to a reactor, read models keep every value the domain
accepted (and a projection that cannot apply an event has a way on), and a saga step refused as
bad input is compensated."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

from tests.test_projections import NOTES as PROJECTION_NOTES

SHOP = ("--domain", "shop")
BIG = 2**70  # beyond SQLite's 64-bit integers; the event codec keeps it exactly


def count(db_path: str, table: str) -> int:
    """Rows in a table (0 when it was never created: features create theirs on first use)."""
    conn = sqlite3.connect(db_path)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name=?", (table,)).fetchone():
            return 0
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def rows(db_path: str, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def as_json(result) -> object:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def write_domain(tmp_path, name: str, source: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    sys.modules.pop(f"evsh_domain_{name}", None)
    return str(path)


# ============================================================================= 1. an error writes nothing

def test_an_e_mail_of_bytes_that_are_not_utf8_is_refused_before_anything_is_written(tmp_path):
    """The real command line: bash's $'a\\xff@b.c' reaches evsh as bytes that are not UTF-8."""
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")
    db = tmp_path / "shop.db"
    env = {**os.environ, "EVSH_DB": str(db), "EVSH_DOMAIN": "shop"}
    cmd = [evsh.encode(), b"exec", b"user", b"u9", b"register", b"--email", b"a\xff@b.c", b"--username", b"x"]
    r = subprocess.run(cmd, capture_output=True, env=env, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count(b"\n") == 1 and b"email" in r.stderr and b"Traceback" not in r.stderr
    assert not db.exists()  # refused before the store was even created

    assert subprocess.run([evsh, "init"], capture_output=True, env=env).returncode == 0
    r = subprocess.run(cmd, capture_output=True, env=env, cwd=tmp_path)
    assert r.returncode == 2
    for table in ("events", "subject_keys", "commands"):
        assert count(str(db), table) == 0, table


def test_a_command_failing_after_its_subject_key_was_made_leaves_no_key(cli, db_path):
    register = ("exec", "user", "u9", "register", "--email", "a@b.org", "--username", "ann")
    r = cli(*SHOP, *register[:1], "--actor", "\udcff", *register[1:])  # metadata that cannot be stored
    assert r.exit_code == 2 and r.stderr.startswith("evsh: error:")
    for table in ("events", "subject_keys", "commands"):
        assert count(db_path, table) == 0, table

    assert cli(*SHOP, *register).exit_code == 0  # the same command, fine this time
    (key,) = rows(db_path, "SELECT subject FROM subject_keys")
    assert key == ("u9",)
    (stored,) = rows(db_path, "SELECT data FROM events WHERE type='UserRegistered'")
    assert "a@b.org" not in stored[0]  # encrypted with the key written beside it
    (event,) = as_json(cli(*SHOP, "read", "user-u9", "--json"))
    assert event["data"]["email"] == "a@b.org"


def test_a_rejected_command_is_on_record_and_a_failing_one_is_not(cli, db_path):
    assert cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@b.org", "--username", "ann").exit_code == 0
    r = cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@b.org", "--username", "ann")
    assert r.exit_code == 1  # a business "no": kept for traces
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1",  # the shop's arithmetic overflows
            "--items", '[{"product_id": "p1", "quantity": 1, "unit_price": "1e99999999"}]')
    assert r.exit_code == 5
    assert rows(db_path, "SELECT name, outcome FROM commands") == [("user.register", "rejected")]


PERSONAL = """
    from evsh import Aggregate, Projection, command, event, table

    @event(personal=("name",), subject="person")
    class Signed:
        person: str
        name: str

    class Sheet(Aggregate):  # many people sign one sheet: the subject is not the stream
        @command
        def sign(self, person: str, name: str):
            yield Signed(person, name)

    picky = Projection("picky", mode="inline", tables=[table("names", {"person": str, "name": str}, pk="person")])

    @picky.on(Signed)
    def _signed(event, rows):
        if event.data["name"] == "boom":
            raise ValueError("no boom")
        rows.table("names").upsert({"person": event.data["person"], "name": event.data["name"]})
"""


@pytest.fixture
def personal(tmp_path, db_path):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    domain = load_domain(write_domain(tmp_path, "personal", PERSONAL))
    stores = []

    def make():
        store = open_store(db_path)
        stores.append(store)
        return build_engine(store, domain)

    yield make
    for s in stores:
        s.close()


def keys(db_path: str) -> list[tuple]:
    return rows(db_path, "SELECT subject FROM subject_keys WHERE key IS NOT NULL ORDER BY subject")


def test_a_key_written_in_a_rolled_back_command_is_forgotten_with_it(personal, db_path):
    from evsh.errors import ProjectionFailed

    engine = personal()
    with pytest.raises(ProjectionFailed):  # the inline projection refuses: the whole command rolls back
        engine.execute("sheet", "s1", "sign", {"person": "p1", "name": "boom"})
    assert keys(db_path) == [] and rows(db_path, "SELECT count(*) FROM events") == [(0,)]
    engine.execute("sheet", "s1", "sign", {"person": "p1", "name": "Ann"})  # the same engine, at once
    assert keys(db_path) == [("p1",)]
    assert [e.data["name"] for e in engine.read_stream("sheet-s1")] == ["Ann"]
    assert [e.data["name"] for e in personal().read_stream("sheet-s1")] == ["Ann"]  # a new connection reads it


def test_a_key_made_for_a_command_that_never_wrote_is_not_written_by_another(personal, db_path):
    from evsh.errors import BadInput

    engine = personal()
    with pytest.raises(BadInput):  # encrypted, then refused by the store before its transaction
        engine.execute("sheet", "s1", "sign", {"person": "p1", "name": "Ann"}, metadata={"note": "\udcff"})
    engine.execute("sheet", "s1", "sign", {"person": "p2", "name": "Bob"})
    assert keys(db_path) == [("p2",)]
    engine.execute("sheet", "s1", "sign", {"person": "p1", "name": "Ann"})
    assert keys(db_path) == [("p1",), ("p2",)]
    assert [e.data["name"] for e in personal().read_stream("sheet-s1")] == ["Bob", "Ann"]


def test_a_subject_given_a_key_by_another_writer_meanwhile_is_encrypted_with_that_key(personal, db_path):
    from evsh.engine.shredding import shredder

    late, early = personal(), personal()
    shredder(late).keys.active("p1", create=True)  # `late` made its own key first, not written yet
    early.execute("sheet", "s1", "sign", {"person": "p1", "name": "Ann"})
    late.execute("sheet", "s2", "sign", {"person": "p1", "name": "Ann B."})  # its key clashes: tried again
    assert keys(db_path) == [("p1",)]
    for engine in (personal(), late, early):
        assert [e.data["name"] for e in engine.read_stream("sheet-s1")] == ["Ann"]
        assert [e.data["name"] for e in engine.read_stream("sheet-s2")] == ["Ann B."]


# ============================================================================= 2. history is not news

def registrations_dump(cli, tmp_path, users: int = 4) -> str:
    src = str(tmp_path / "src.db")
    for n in range(1, users + 1):
        r = cli(*SHOP, "exec", "user", f"u{n}", "register", "--email", f"u{n}@example.com", "--username", f"u{n}",
                db=src)
        assert r.exit_code == 0, r.stderr
    dump = str(tmp_path / "dump.jsonl")
    assert cli("export", "-o", dump, db=src).exit_code == 0
    return dump


def e_mails(db_path: str) -> list[str]:
    return [r[0] for r in rows(db_path, "SELECT user_id FROM sent_emails ORDER BY user_id")]


@pytest.mark.parametrize("mode", ["inline", "async"])
def test_history_imported_without_the_domain_is_no_news_to_the_next_command(cli, tmp_path, db_path, mode):
    dump = registrations_dump(cli, tmp_path)
    r = cli("import", dump)  # no --domain: no reactor is known while importing
    assert r.exit_code == 0 and "imported" in r.stdout
    assert cli(*SHOP, "--mode", mode, "exec", "user", "new", "register", "--email", "n@example.com",
               "--username", "new").exit_code == 0
    if mode == "async":
        assert cli(*SHOP, "--mode", mode, "reactors", "run").exit_code == 0
    assert e_mails(db_path) == ["new"]
    assert rows(db_path, "SELECT user_id FROM notifications") == [("new",)]
    listed = {r["name"]: r for r in as_json(cli(*SHOP, "reactors", "--json"))}
    assert listed["welcome_email"]["lag"] == 0 and listed["welcome_email"]["handled"] == 1


def test_react_makes_imported_history_news(cli, tmp_path, db_path):
    dump = registrations_dump(cli, tmp_path, users=2)
    assert cli("import", dump, "--react").exit_code == 0
    assert cli(*SHOP, "exec", "user", "new", "register", "--email", "n@example.com", "--username", "n").exit_code == 0
    assert e_mails(db_path) == ["new", "u1", "u2"]


def test_a_reactor_behind_before_an_import_keeps_its_own_events_and_skips_the_history(cli, tmp_path, db_path):
    async_ = ("--mode", "async")
    dump = registrations_dump(cli, tmp_path, users=3)
    assert cli(*SHOP, *async_, "exec", "user", "first", "register", "--email", "f@example.com",
               "--username", "f").exit_code == 0  # pending: no worker ran yet
    assert cli(*SHOP, *async_, "import", dump).exit_code == 0
    assert cli(*SHOP, *async_, "exec", "user", "last", "register", "--email", "l@example.com",
               "--username", "l").exit_code == 0
    assert cli(*SHOP, *async_, "reactors", "run").exit_code == 0
    assert e_mails(db_path) == ["first", "last"]
    # history was skipped without a processed record per imported event
    assert rows(db_path, "SELECT count(*) FROM reactor_processed WHERE reactor='welcome_email'") == [(2,)]


def test_step_mode_never_offers_imported_history(cli, tmp_path, db_path):
    step = ("--mode", "step")
    dump = registrations_dump(cli, tmp_path, users=2)
    assert cli("import", dump).exit_code == 0
    r = cli(*SHOP, *step, "step", "--json")
    assert r.exit_code == 0 and "UserRegistered" not in r.stdout
    assert cli(*SHOP, *step, "exec", "user", "new", "register", "--email", "n@example.com",
               "--username", "n").exit_code == 0
    stepped = json.loads(cli(*SHOP, *step, "step", "--json").stdout)
    assert "user-new" in json.dumps(stepped)
    assert e_mails(db_path) == ["new"]


LATER = """
    from evsh import reactor, table
    from evsh.samples.shop import *  # noqa: F401,F403 - the shop, and one reactor more

    @reactor("audit", on=["UserRegistered"], tables=[table("audited", {"user_id": str}, pk="user_id")])
    def audit(event, ctx):
        ctx.table("audited").insert({"user_id": event.user_id})
"""


def test_a_reactor_declared_after_a_seed_does_not_react_to_the_seeded_history(cli, tmp_path, db_path):
    assert cli("seed", "--orders", "5", "--customers", "3").exit_code == 0
    head = rows(db_path, "SELECT max(position) FROM events")[0][0]
    assert rows(db_path, "SELECT first_position, last_position FROM imported_ranges") == [(1, head)]
    later = write_domain(tmp_path, "later", LATER)
    assert cli("--domain", later, "--mode", "async", "reactors", "run").exit_code == 0
    assert cli("--domain", later, "exec", "user", "new", "register", "--email", "n@example.com",
               "--username", "n").exit_code == 0
    assert rows(db_path, "SELECT user_id FROM audited") == [("new",)]


def test_history_ranges_are_looked_up_as_ranges():
    from evsh.engine.history import IMPORTED_RANGES, TABLES, Ranges, covered
    from evsh.store.sqlite import open_store

    store = open_store(":memory:")
    store.ensure_tables(TABLES, owner="history")
    for first, last in [(3, 5), (6, 9), (20, 20)]:
        store.table(IMPORTED_RANGES).add({"first_position": first, "last_position": last, "recorded_at": ""})
    ranges = Ranges()
    assert ranges.within(store, 1, 2) == [] and ranges.within(store, 21, 99) == []
    assert ranges.within(store, 5, 6) == [(3, 5), (6, 9)]
    assert ranges.within(store, 10, 30) == [(20, 20)]
    assert covered(ranges.within(store, 1, 30), 4) and not covered(ranges.within(store, 1, 30), 10)
    assert ranges.past(store, 3) == 9  # touching ranges run together
    assert ranges.past(store, 10) == 9 and ranges.past(store, 20) == 20


# ============================================================================= 3. read models keep every value

def table_row(db_path: str, table_name: str, key) -> dict:
    """A row read back through the table API, as handlers read it."""
    from evsh import load_domain, open_store
    from evsh.engine.projections import declared
    from evsh.store.tables import Tables

    specs = [t for p in declared(load_domain("shop")).values() for t in p.tables if t.name == table_name]
    with open_store(db_path) as store:
        return Tables(store, specs).table(table_name).get(key)


def test_integers_beyond_64_bits_and_huge_decimals_reach_the_read_models_exactly(cli, db_path):
    assert cli(*SHOP, "exec", "inventory", "p9", "add-stock", "--quantity", str(BIG)).exit_code == 0
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "5").exit_code == 0
    for oid, quantity, price in (("o1", BIG, "1"), ("o2", 1, "1e999999")):
        items = json.dumps([{"product_id": "p1", "quantity": quantity, "unit_price": price}])
        r = cli(*SHOP, "exec", "order", oid, "create", "--customer-id", "c1", "--items", items)
        assert r.exit_code == 0, r.stderr
    r = cli(*SHOP, "projections", "run")
    assert r.exit_code == 0, r.stderr
    assert all(p["error"] is None and p["lag"] == 0 for p in as_json(cli(*SHOP, "projections", "--json")))
    assert table_row(db_path, "inventory_levels", "p9")["on_hand"] == BIG
    assert table_row(db_path, "order_details", "o1")["item_count"] == BIG
    assert table_row(db_path, "order_details", "o1")["total_amount"] == Decimal(BIG)
    assert table_row(db_path, "order_details", "o2")["total_amount"] == Decimal("1e999999")
    # a handler reading the value back computes with it exactly
    assert cli(*SHOP, "exec", "inventory", "p9", "add-stock", "--quantity", "1").exit_code == 0
    assert cli(*SHOP, "projections", "run", "inventory_levels").exit_code == 0
    assert table_row(db_path, "inventory_levels", "p9")["available"] == BIG + 1
    # and SQL reads the digits as a number
    assert rows(db_path, "SELECT on_hand > 1e20 FROM inventory_levels WHERE product_id='p9'") == [(1,)]


def test_big_integers_in_every_kind_of_column_and_key(tmp_path):
    from evsh import table
    from evsh.store.sqlite import open_store
    from evsh.store.tables import Tables

    spec = table("t", {"k": int, "n": int, "d": Decimal, "j": dict, "s": str, "f": float}, pk="k")
    conn = open_store(str(tmp_path / "t.db"))
    conn.ensure_tables([spec], owner="test")
    t = Tables(conn, [spec]).table("t")
    t.insert({"k": BIG, "n": -BIG, "d": BIG, "j": {"x": BIG}, "s": BIG, "f": BIG})
    t.insert({"k": 1, "n": 2})
    t.flush()
    fresh = Tables(conn, [spec]).table("t")
    got = fresh.get(BIG)
    assert (got["k"], got["n"], got["d"], got["j"], got["f"]) == (BIG, -BIG, Decimal(BIG), {"x": BIG}, BIG)
    assert got["s"] == str(BIG)
    assert [r["k"] for r in fresh.rows_where("n = ?", [-BIG])] == [BIG]
    assert fresh.count("k = ?", [BIG]) == 1
    fresh.update(BIG, {"n": BIG * 2})
    fresh.flush()
    assert Tables(conn, [spec]).table("t").get(BIG)["n"] == BIG * 2
    fresh.delete(BIG)
    fresh.flush()
    assert [r["k"] for r in Tables(conn, [spec]).table("t").rows_where()] == [1]


def test_a_row_the_table_refuses_names_the_event_that_made_it():
    from evsh import table
    from evsh.store.sqlite import open_store
    from evsh.store.tables import RowNotWritten, Tables

    spec = table("t", {"k": str, "v": str}, pk="k")
    conn = open_store(":memory:")
    conn.ensure_tables([spec], owner="test")
    for bad, stage in (({"k": "b", "v": {1, 2}}, "encoding"), ({"k": "b", "v": "\udcff"}, "writing")):
        tables = Tables(conn, [spec])
        for n, row in enumerate([{"k": "a", "v": "x"}, bad, {"k": "c", "v": "y"}], 1):
            tables.current = f"event {n}"
            tables.table("t").insert(row, replace=True)
        with pytest.raises(RowNotWritten) as info:
            tables.flush()
        assert info.value.origin == "event 2", stage


# the notes domain of the projection tests (good, bad: raises on "boom", strict: inline, refuses
# "forbidden"), and one projection more that hands its table a value no column can store
NOTES = PROJECTION_NOTES.replace("GOOD_VERSION", "1") + textwrap.dedent('''
    picky = Projection("picky", tables=[_notes("picky_notes")])

    @picky.on(Noted)
    def _picky(event, rows):
        value = {"a set"} if event.data["text"] == "unstorable" else event.data["text"]
        rows.table("picky_notes").insert({"position": event.position, "text": value})
''')


def add_notes(cli, dom: str, *texts: str) -> None:
    for text in texts:
        r = cli("--domain", dom, "exec", "note", "n1", "add", "--text", text)
        assert r.exit_code == 0, r.stderr


def test_a_row_refused_at_the_end_of_a_batch_names_its_own_event(cli, tmp_path):
    dom = write_domain(tmp_path, "notes", NOTES)
    add_notes(cli, dom, "a", "unstorable", "b", "c")
    r = cli("--domain", dom, "projections", "run", "picky")
    assert r.exit_code == 5
    assert "projection picky failed on event 2 (Noted in note-n1)" in r.stderr
    assert "evsh projections skip picky --position 2" in r.stderr
    listed = {p["name"]: p for p in as_json(cli("--domain", dom, "projections", "--json"))}
    assert listed["picky"]["error"]["position"] == 2 and listed["picky"]["checkpoint"] == 0


def test_skipping_the_event_a_projection_cannot_apply_lets_it_go_on(cli, tmp_path, db_path):
    dom = write_domain(tmp_path, "notes", NOTES)
    add_notes(cli, dom, "a", "boom", "b")
    assert cli("--domain", dom, "projections", "run", "bad").exit_code == 5
    r = cli("--domain", dom, "projections", "skip", "bad", "--position", "2")
    assert r.exit_code == 0 and "skipped event 2 (Noted in note-n1)" in r.stdout
    r = cli("--domain", dom, "projections", "run", "bad")
    assert r.exit_code == 0, r.stderr
    assert rows(db_path, "SELECT position FROM bad_notes ORDER BY position") == [(1,), (3,)]
    (listed,) = [p for p in as_json(cli("--domain", dom, "projections", "--json")) if p["name"] == "bad"]
    assert listed["error"] is None and listed["lag"] == 0
    (skip,) = listed["skipped"]
    assert (skip["position"], skip["event_type"], skip["stream_id"]) == (2, "Noted", "note-n1")
    assert "cannot take boom" in skip["error"]
    assert "1 skipped" in cli("--domain", dom, "projections").stdout
    # a rebuild leaves it out too; a reset forgets the skip
    r = cli("--domain", dom, "projections", "rebuild", "bad")
    assert r.exit_code == 0, r.stderr
    assert rows(db_path, "SELECT position FROM bad_notes ORDER BY position") == [(1,), (3,)]
    assert cli("--domain", dom, "projections", "reset", "bad").exit_code == 0
    assert cli("--domain", dom, "projections", "run", "bad").exit_code == 5


def test_skip_refuses_what_it_cannot_mean(cli, tmp_path):
    dom = write_domain(tmp_path, "notes", NOTES)
    add_notes(cli, dom, "a")
    assert cli("--domain", dom, "append", "other-1", "Unrelated", "{}").exit_code == 0
    for args, words in ((("picky", "--position", "9"), "no event at position 9"),
                        (("picky", "--position", "2"), "does not handle Unrelated"),
                        (("nope", "--position", "1"), "no projection 'nope'"),
                        (("picky", "--position", "0"), "--position")):
        r = cli("--domain", dom, "projections", "skip", *args)
        assert r.exit_code == 2 and words in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1


def test_an_inline_projection_stuck_on_imported_history_is_skipped_past(cli, tmp_path, db_path):
    dom = write_domain(tmp_path, "notes", NOTES)
    src = str(tmp_path / "src.db")
    assert cli("append", "note-n1", "Noted", '{"text": "forbidden"}', db=src).exit_code == 0
    dump = str(tmp_path / "dump.jsonl")
    assert cli("export", "-o", dump, db=src).exit_code == 0
    assert cli("import", dump).exit_code == 0
    for _ in range(2):  # every command fails on the same historical event, and says which
        r = cli("--domain", dom, "exec", "note", "n2", "add", "--text", "fine")
        assert r.exit_code == 5 and "projection strict failed on event 1" in r.stderr
    assert cli("--domain", dom, "projections", "skip", "strict", "--position", "1").exit_code == 0
    add_notes(cli, dom, "fine")
    assert rows(db_path, "SELECT position, text FROM strict_notes") == [(2, "fine")]


def test_the_tui_projections_screen_shows_a_skipped_event(tmp_path, db_path):
    from evsh import load_domain, open_store
    from evsh.engine import projections
    from evsh.engine.wiring import build_engine
    from evsh.tui.app import EvshApp

    from tests.tui_support import run, wait_for

    domain = load_domain(write_domain(tmp_path, "notes", NOTES))
    with open_store(db_path) as store:
        engine = build_engine(store, domain)
        for text in ("a", "boom"):
            engine.execute("note", "n1", "add", {"text": text})
        projections.run(engine, ["bad"])
        projections.skip(engine, "bad", 2)

    async def scenario():
        app = EvshApp(build_engine(open_store(db_path, create=False), domain), poll_interval=0.05)
        app.ops_refresh = 0.05
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.events.total == 2, "the log")
            await pilot.press("p")
            await wait_for(pilot, lambda: getattr(app.screen, "data", None), "the projections")
            table = app.screen.query_one("#projections")
            names = [p["name"] for p in app.screen.data]
            cells = [str(c) for c in table.get_row_at(names.index("bad"))]
            assert "ok, 1 skipped" in cells and any("cannot take boom" in c for c in cells)

    run(scenario())


# ============================================================================= 4. a refused saga step is compensated

def test_the_shop_refuses_a_product_id_that_cannot_name_an_inventory(cli, db_path):
    assert cli("init").exit_code == 0
    items = json.dumps([{"product_id": "p\x01", "quantity": 1, "unit_price": "5"}])
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", items)
    assert r.exit_code == 2 and "product_id" in r.stderr and "'p\\x01'" in r.stderr
    assert "\x01" not in r.stderr and r.stderr.count("\n") == 1
    for table in ("events", "commands"):
        assert count(db_path, table) == 0, table


@pytest.mark.parametrize("mode", ["inline", "async"])
def test_an_order_stored_with_a_bad_product_id_is_refunded_and_cancelled(cli, db_path, mode):
    """An order from before product ids were checked: its reservation is refused as bad input,
    and the saga compensates instead of parking the event."""
    m = ("--mode", mode)
    assert cli(*SHOP, *m, "exec", "inventory", "p1", "add-stock", "--quantity", "5").exit_code == 0
    order = {"order_id": "o1", "customer_id": "c1", "total_amount": "10",
             "items": [{"product_id": "p1", "quantity": 2, "unit_price": "2.50"},
                       {"product_id": "p\x01", "quantity": 1, "unit_price": "5"}]}
    assert cli(*SHOP, *m, "append", "order-o1", "OrderCreated", json.dumps(order)).exit_code == 0
    if mode == "inline":  # events appended by hand wait for the next command
        assert cli(*SHOP, *m, "exec", "inventory", "p2", "add-stock", "--quantity", "1").exit_code == 0
    else:
        assert cli(*SHOP, *m, "reactors", "run").exit_code == 0
    got = as_json(cli(*SHOP, "state", "order", "o1", "--json"))
    assert got["status"] == "cancelled" and "'p\\x01' cannot be reserved" in got["cancel_reason"]
    assert as_json(cli(*SHOP, "state", "payment", "o1", "--json"))["status"] == "refunded"
    stock = as_json(cli(*SHOP, "state", "inventory", "p1", "--json"))
    assert stock["held"] == 0 and stock["reserved"] == {}
    assert as_json(cli(*SHOP, "dlq", "list", "--json")) == []
    refused = rows(db_path, "SELECT name, outcome, reactor FROM commands WHERE outcome='error'")
    assert refused == [("inventory.reserve", "error", "order_workflow")]  # on record, for the trace


REFUSER = """
    from evsh import Aggregate, applies, command, event, reactor, table

    @event
    class Asked:
        target: str

    @event
    class Done:
        n: int

    class Asker(Aggregate):
        @command
        def ask(self, target: str):
            yield Asked(target)

    class Doer(Aggregate):
        @command
        def do(self, n: int):
            yield Done(n)

    OUTCOMES = table("outcomes", {"position": int, "outcome": str, "reason": str}, pk="position")

    @reactor("relay", on=["Asked"], tables=[OUTCOMES], attempts=1)
    def relay(event, ctx):
        if event.target == "unknown-command":
            ctx.send("doer", "d1", "dance")
        n = "many" if event.target == "bad-param" else 1
        out = ctx.send("doer", event.target, "do", n=n)
        ctx.table("outcomes").insert({"position": event.position, "outcome": out.outcome, "reason": out.reason})
"""


def test_a_command_a_reactor_sends_that_is_bad_input_comes_back_as_an_outcome(cli, tmp_path, db_path):
    dom = write_domain(tmp_path, "refuser", REFUSER)
    for target in ("d\x07", "bad-param", "d2"):
        r = cli("--domain", dom, "exec", "asker", "a1", "ask", "--target", target)
        assert r.exit_code == 0, r.stderr
    outcomes = rows(db_path, "SELECT outcome, reason FROM outcomes ORDER BY position")
    assert [o for o, _ in outcomes] == ["error", "error", "ok"]
    assert "control characters" in outcomes[0][1] and "n" in outcomes[1][1]
    assert rows(db_path, "SELECT stream_id FROM events WHERE type='Done'") == [("doer-d2",)]
    assert as_json(cli("--domain", dom, "dlq", "list", "--json")) == []
    # naming a command the domain does not have is the handler's own bug: parked
    assert cli("--domain", dom, "exec", "asker", "a1", "ask", "--target", "unknown-command").exit_code == 0
    (parked,) = as_json(cli("--domain", dom, "dlq", "list", "--json"))
    assert "dance" in parked["error"]
