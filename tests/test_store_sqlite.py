"""The embedded SQLite store: schema and migrations, refusing foreign files untouched, WAL,
missing files, durability, busy timeout and the online backup."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import pytest

from evsh.errors import BadInput, ConcurrencyError, NewerStore, NotAStore, StoreError, StoreLocked, StoreMissing
from evsh.store.sqlite import schema
from evsh.store.base import NewEvent
from evsh.store.sqlite import DEFAULT_BUSY_TIMEOUT, open_store


def fingerprint(path: str) -> tuple[bytes, int, list[str]]:
    """Bytes, mtime and sibling files: everything a refused open must leave as it was."""
    with open(path, "rb") as fh:
        data = fh.read()
    folder = os.path.dirname(path)
    return data, os.stat(path).st_mtime_ns, sorted(os.listdir(folder))


def make_store(path: str, n: int = 3) -> None:
    with open_store(path) as s:
        s.append("a-1", [NewEvent("Happened", {"n": k}) for k in range(n)])


def raw(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# ----------------------------------------------------------------------------- a new store

def test_a_new_store_is_one_file_in_wal_mode_at_the_latest_schema(db_path):
    make_store(db_path)
    c = raw(db_path)
    try:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA user_version").fetchone()[0] == schema.latest_version()
        assert c.execute("SELECT value FROM evsh_meta WHERE key='format'").fetchone()[0] == "evsh-event-store"
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"events", "stream_rules", "checkpoints", "evsh_meta"} <= tables
        views = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='view'")}
        assert "streams" in views  # every stream, derived from the events, for `evsh sql`
    finally:
        c.close()


def test_opening_an_existing_store_keeps_its_events(db_path):
    make_store(db_path, 5)
    with open_store(db_path, create=False) as s:
        assert [e.data["n"] for e in s.read_stream("a-1")] == [0, 1, 2, 3, 4]


def test_a_missing_file_is_not_created_when_reading(db_path):
    with pytest.raises(StoreMissing, match="no store"):
        open_store(db_path, create=False)
    assert os.listdir(os.path.dirname(db_path)) == []


def test_an_empty_file_is_missing_for_readers_and_becomes_a_store_for_writers(db_path):
    open(db_path, "wb").close()
    with pytest.raises(StoreMissing):
        open_store(db_path, create=False)
    assert os.path.getsize(db_path) == 0
    make_store(db_path)
    with open_store(db_path, create=False) as s:
        assert s.stream_version("a-1") == 3


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(StoreError, match="folder"):
        open_store(str(tmp_path))


def test_a_store_in_a_missing_folder_is_a_store_error(tmp_path):
    with pytest.raises(StoreError):
        open_store(str(tmp_path / "no" / "such" / "evsh.db"))
    assert not (tmp_path / "no").exists()


# ----------------------------------------------------------------------------- migrations

def test_an_older_store_is_upgraded_and_keeps_its_events(db_path, monkeypatch):
    make_store(db_path, 4)
    before = schema.latest_version()

    def add_table(conn):
        conn.execute("CREATE TABLE upgrade_probe (x INTEGER)")
        conn.execute("INSERT INTO upgrade_probe VALUES (42)")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, add_table])
    with open_store(db_path, create=False) as s:
        assert [e.data["n"] for e in s.read_stream("a-1")] == [0, 1, 2, 3]
        assert s.conn.execute("SELECT x FROM upgrade_probe").fetchone() == (42,)
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == before + 1
    # a second open does not run the step again
    with open_store(db_path, create=False) as s:
        assert s.conn.execute("SELECT count(*) FROM upgrade_probe").fetchone() == (1,)


def test_a_failing_migration_leaves_the_store_at_its_old_version(db_path, monkeypatch):
    make_store(db_path, 2)
    before = schema.latest_version()

    def half_done(conn):
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, half_done])
    with pytest.raises(RuntimeError, match="migration bug"):
        open_store(db_path, create=False)
    monkeypatch.undo()
    c = raw(db_path)
    try:
        assert c.execute("PRAGMA user_version").fetchone()[0] == before
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "half_done" not in tables
        assert c.execute("SELECT count(*) FROM events").fetchone() == (2,)
    finally:
        c.close()


def test_a_newer_store_is_refused_and_not_modified(db_path):
    make_store(db_path)
    c = raw(db_path)
    c.execute(f"PRAGMA user_version = {schema.latest_version() + 3}")
    c.close()
    before = fingerprint(db_path)
    for create in (False, True):
        with pytest.raises(NewerStore, match="newer"):
            open_store(db_path, create=create)
        assert fingerprint(db_path) == before


@pytest.fixture
def foreign_sqlite(tmp_path):
    path = str(tmp_path / "other.db")
    c = raw(path)
    c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    c.execute("INSERT INTO customers (name) VALUES ('ada')")
    c.close()
    return path


def test_a_sqlite_file_that_is_not_an_evsh_store_is_refused_and_not_modified(foreign_sqlite):
    before = fingerprint(foreign_sqlite)
    for create in (False, True):
        with pytest.raises(NotAStore, match="not an evsh store"):
            open_store(foreign_sqlite, create=create)
        assert fingerprint(foreign_sqlite) == before
    c = raw(foreign_sqlite)
    try:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    finally:
        c.close()


def test_a_sqlite_file_with_a_foreign_meta_table_is_refused(tmp_path):
    path = str(tmp_path / "meta.db")
    c = raw(path)
    c.execute("CREATE TABLE evsh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    c.execute("INSERT INTO evsh_meta VALUES ('format', 'something-else')")
    c.close()
    before = fingerprint(path)
    with pytest.raises(NotAStore):
        open_store(path)
    assert fingerprint(path) == before


@pytest.mark.parametrize(
    "content",
    [b"hello, this is a text file\n" * 20, bytes(range(256)) * 64, b"SQLite format 3\x00" + b"\xff" * 2000],
    ids=["text", "binary", "fake-header"],
)
def test_a_file_that_is_not_sqlite_is_refused_and_not_modified(tmp_path, content):
    path = str(tmp_path / "random.bin")
    with open(path, "wb") as fh:
        fh.write(content)
    before = fingerprint(path)
    for create in (False, True):
        with pytest.raises(NotAStore):
            open_store(path, create=create)
        assert fingerprint(path) == before


def test_an_empty_sqlite_database_is_not_a_store_for_readers(tmp_path):
    path = str(tmp_path / "empty.db")
    c = raw(path)
    c.execute("CREATE TABLE t (x)")
    c.execute("DROP TABLE t")
    c.close()
    before = fingerprint(path)
    with pytest.raises(NotAStore, match="evsh init"):
        open_store(path, create=False)
    assert fingerprint(path) == before


# ----------------------------------------------------------------------------- durability and locks

@pytest.mark.parametrize("sync, level", [("normal", 1), ("full", 2)])
def test_durability_option_sets_sqlite_synchronous(db_path, sync, level):
    with open_store(db_path, sync=sync) as s:
        assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == level


def test_an_unknown_durability_mode_is_bad_input(db_path):
    with pytest.raises(BadInput, match="synchronous"):
        open_store(db_path, sync="sometimes")
    assert not os.path.exists(db_path)


def test_the_default_busy_timeout_is_long_enough_for_a_concurrent_import(db_path):
    assert DEFAULT_BUSY_TIMEOUT >= 30
    with open_store(db_path) as s:
        assert s.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000
    with open_store(db_path, busy_timeout=2.5) as s:
        assert s.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 2500


def test_a_writer_locked_out_beyond_the_timeout_gets_store_locked_and_writes_nothing(db_path):
    make_store(db_path, 1)
    holder = raw(db_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_store(db_path, busy_timeout=0.05) as s:
            with pytest.raises(StoreLocked, match="locked"):
                s.append("a-1", [NewEvent("X", {})])
            # readers are not blocked by a writer in WAL mode
            assert s.stream_version("a-1") == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with open_store(db_path) as s:
        assert s.head_position() == 1


def test_switching_a_new_store_to_wal_waits_for_other_connections_like_a_write(db_path):
    """Processes creating one store at once: while one writes its tables, the switch to WAL in
    another fails at once, since SQLite does not call the busy handler there. The open must wait
    as a write would, and give up with StoreLocked after the busy timeout."""
    import threading
    import time

    make_store(db_path, 1)
    c = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA journal_mode=DELETE")  # as the file is between its creation and the switch
    c.execute("BEGIN IMMEDIATE")  # another creator is writing its tables meanwhile
    releaser = threading.Timer(0.3, c.rollback)
    releaser.start()
    started = time.monotonic()
    try:
        with open_store(db_path, busy_timeout=10) as s:
            assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert s.head_position() == 1
    finally:
        releaser.join()
        c.close()
    assert time.monotonic() - started >= 0.25
    c = raw(db_path)
    c.execute("PRAGMA journal_mode=DELETE")
    c.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreLocked, match="busy timeout"):
            open_store(db_path, busy_timeout=0.1)
    finally:
        c.rollback()
        c.close()


def test_a_write_lock_is_taken_for_the_append_only(db_path):
    make_store(db_path, 1)
    with open_store(db_path, busy_timeout=0.05) as a, open_store(db_path, busy_timeout=0.05) as b:
        a.append("a-1", [NewEvent("X", {})])
        list(a.read_all())
        b.append("a-1", [NewEvent("Y", {})])  # would be StoreLocked if `a` still held the lock
        assert a.stream_version("a-1") == 3


# ----------------------------------------------------------------------------- backup

def test_backup_of_a_live_store_holds_events_still_in_the_wal(db_path, tmp_path):
    live = open_store(db_path)
    try:
        live.append("a-1", [NewEvent("X", {"n": k}) for k in range(50)])
        live.conn.execute("PRAGMA wal_autocheckpoint=0")
        live.append("b-1", [NewEvent("Y", {"n": k}) for k in range(50)])
        assert os.path.getsize(db_path + "-wal") > 0  # the events are in the WAL, not the main file
        dest = str(tmp_path / "copy.db")
        live.backup(dest)
        expected = [e.as_dict() for e in live.read_all()]
    finally:
        live.close()
    with open_store(dest, create=False) as copy:
        assert [e.as_dict() for e in copy.read_all()] == expected
        assert copy.stream_version("b-1") == 50
        assert copy.append("b-1", [NewEvent("Z", {})], 50).version == 51


def test_backup_never_overwrites_an_existing_file(db_path, tmp_path):
    make_store(db_path)
    dest = tmp_path / "keep.txt"
    dest.write_text("precious")
    with open_store(db_path) as s, pytest.raises(BadInput, match="exists"):
        s.backup(str(dest))
    assert dest.read_text() == "precious"


WRITER = """
import sys
from evsh import NewEvent, open_store
store = open_store(sys.argv[1])
print("ready", flush=True)
n = 0
while True:
    n += 1
    store.append(f"s-{n % 7}", [NewEvent("Tick", {"n": n, "k": k}) for k in range(n % 5 + 1)])
"""


def test_backups_taken_while_another_process_writes_are_consistent(db_path, tmp_path):
    import subprocess
    import sys

    make_store(db_path, 1)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db_path], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        sizes = []
        with open_store(db_path) as live:
            for i in range(5):
                while live.head_position() <= (sizes[-1] if sizes else 1):
                    assert writer.poll() is None, writer.stderr.read()  # wait for more writes
                dest = str(tmp_path / f"copy-{i}.db")
                live.backup(dest)
                with open_store(dest, create=False) as copy:
                    log = list(copy.read_all())
                    assert [e.position for e in log] == list(range(1, len(log) + 1))
                    versions: dict[str, int] = {}
                    for e in log:
                        assert e.version == versions.get(e.stream_id, 0) + 1
                        versions[e.stream_id] = e.version
                    assert {s.stream_id: s.version for s in copy.streams()} == versions
                    assert copy.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                    sizes.append(len(log))
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    finally:
        writer.kill()
        writer.wait()


def test_backup_into_a_missing_folder_is_a_store_error_and_leaves_nothing(db_path, tmp_path):
    make_store(db_path)
    with open_store(db_path) as s, pytest.raises(StoreError, match="backup"):
        s.backup(str(tmp_path / "no" / "such" / "copy.db"))
    assert not (tmp_path / "no").exists()


def test_a_failed_backup_removes_its_partial_file(db_path, tmp_path, monkeypatch):
    make_store(db_path)
    dest = tmp_path / "partial.db"

    class Failing:
        """A connection whose backup fails after the file was created (a full disk, say)."""

        def __init__(self, conn):
            self.conn = conn

        def backup(self, target):
            target.execute("CREATE TABLE half (x)")
            raise sqlite3.OperationalError("database or disk is full")

        def __getattr__(self, name):
            return getattr(self.conn, name)

    with open_store(db_path) as s:
        s.conn = Failing(s.conn)
        with pytest.raises(StoreError, match="disk is full"):
            s.backup(str(dest))
        s.conn = s.conn.conn
    assert not dest.exists()


def test_cli_backup_into_a_missing_folder_is_one_line(cli, tmp_path):
    assert cli("append", "a-1", "X").exit_code == 0
    r = cli("backup", str(tmp_path / "no" / "copy.db"))
    assert r.exit_code == 4 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_reading_a_corrupted_store_is_a_store_error_not_a_traceback(db_path, cli):
    with open_store(db_path) as s:
        for k in range(20):
            s.append(f"s-{k}", [NewEvent("X", {"pad": "y" * 500, "n": n}) for n in range(50)])
    c = raw(db_path)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    with open(db_path, "r+b") as fh:  # overwrite pages in the middle of the events table
        fh.seek(4096 * 60)
        fh.write(b"\xff" * 4096 * 20)
    with open_store(db_path, create=False) as s, pytest.raises(StoreError, match="malformed"):
        list(s.read_all())
    r = cli("log", "--nl")
    assert r.exit_code == 4 and "malformed" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("old_version", range(1, schema.latest_version()))
def test_a_store_made_by_an_older_evsh_is_upgraded_through_every_real_migration(db_path, monkeypatch, old_version, cli):
    """A store created when only the first migrations existed opens, upgrades and works."""
    full = list(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", full[:old_version])
    open_store(db_path).close()  # the schema as that evsh made it
    c = raw(db_path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == old_version
    # rows as that evsh wrote them (the first schema's columns; today's code may need newer ones)
    at = "2025-01-01T00:00:00.000000Z"
    c.executemany(
        "INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at) VALUES (?,?,?,?,?,?,?)",
        [(str(uuid.uuid4()), "note-1", n, "Noted", json.dumps({"n": n}), "{}", at) for n in (1, 2)],
    )
    if "streams" in {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
        c.execute("INSERT INTO streams (stream_id, category, version, created_at, updated_at) VALUES (?,?,?,?,?)",
                  ("note-1", "note", 2, at, at))
    c.close()
    monkeypatch.setattr(schema, "MIGRATIONS", full)
    r = cli("read", "note-1", "--json")  # a read-only command upgrades it too
    assert r.exit_code == 0, r.stderr
    assert [e["data"]["n"] for e in json.loads(r.stdout)] == [1, 2]
    c = raw(db_path)
    assert c.execute("PRAGMA user_version").fetchone()[0] == len(full)
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    c.close()
    assert cli("append", "note-1", "Noted", '{"n": 3}', "-e", "2").exit_code == 0
    assert json.loads(cli("streams", "--json").stdout)[0]["version"] == 3
    assert cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2").exit_code == 0


def test_the_head_inside_a_write_transaction_follows_appends_and_rollbacks(db_path):
    store = open_store(db_path)
    other = open_store(db_path)
    store.append("a-1", [NewEvent("Happened", {})])
    other.append("a-2", [NewEvent("Happened", {})])  # another connection, before the transaction
    with store.transaction():
        assert store.head_position() == 2
        store.append("a-1", [NewEvent("Happened", {}), NewEvent("Happened", {})])
        assert store.head_position() == 4
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.append("a-3", [NewEvent("Happened", {})])
                assert store.head_position() == 5
                raise RuntimeError("rolled back")
        assert store.head_position() == 4
        store.append("a-3", [NewEvent("Happened", {})])
        assert store.head_position() == 5
    other.append("a-2", [NewEvent("Happened", {})])
    with store.transaction():
        assert store.head_position() == 6


def test_a_deletion_inside_a_write_transaction_hides_the_stream_from_the_next_log_read(db_path):
    store = open_store(db_path)
    store.append("a-1", [NewEvent("Happened", {})])
    store.append("a-2", [NewEvent("Happened", {})])
    with store.transaction():
        assert [e.stream_id for e in store.read_all()] == ["a-1", "a-2"]  # no rules: remembered
        store.delete_stream("a-1")
        assert [e.stream_id for e in store.read_all() if not e.stream_id.startswith("$")] == ["a-2"]


def test_streams_kept_as_rows_by_an_older_evsh_keep_their_versions_and_rules(db_path, monkeypatch):
    """Stores from before streams were derived from their events: plain rows go, rules stay."""
    full = list(schema.MIGRATIONS)
    monkeypatch.setattr(schema, "MIGRATIONS", full[:4])  # before version 5 derived streams from their events
    open_store(db_path).close()
    c = raw(db_path)  # what that evsh left after deleting order-2, truncating order-3 and a scavenge
    at = "2025-01-01T00:00:00.000000Z"
    c.executemany(
        "INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at) VALUES (?,?,?,?,?,?,?)",
        [(str(uuid.uuid4()), sid, v, "Happened", "{}", "{}", at) for sid, v in
         (("order-1", 1), ("order-1", 2), ("order-3", 3), ("order-4", 3))],
    )
    c.executemany(
        "INSERT INTO streams (stream_id, category, version, created_at, updated_at, deleted, truncate_before)"
        " VALUES (?,?,?,?,?,?,?)",
        [("order-1", "order", 2, at, at, 0, 0), ("order-2", "order", 1, at, at, 1, 2),
         ("order-3", "order", 3, at, at, 0, 3),
         ("order-4", "order", 3, at, at, 0, 0)],  # scavenged under a max-age since cleared
    )
    c.commit()
    c.close()
    monkeypatch.setattr(schema, "MIGRATIONS", full)
    with open_store(db_path) as s:
        assert [(i.stream_id, i.version) for i in s.streams("order")] == [("order-1", 2), ("order-3", 3),
                                                                          ("order-4", 3)]
        with pytest.raises(ConcurrencyError):
            s.append("order-4", [NewEvent("Placed", {})], "no-stream")
        assert [e.version for e in s.read_stream("order-3")] == [3]
        assert s.stream_version("order-2") == 1
        res = s.append("order-2", [NewEvent("Placed", {})], "no-stream")  # written again after its last version
        assert res.version == 2
        assert s.append("order-1", [NewEvent("Shipped", {})], 2).version == 3
        rows = dict(s.conn.execute("SELECT stream_id, version FROM streams WHERE category = 'order'").fetchall())
        assert rows == {"order-1": 3, "order-2": 2, "order-3": 3, "order-4": 3}
        rules = {r[0] for r in s.conn.execute("SELECT stream_id FROM stream_rules")}
        assert rules == {"order-2", "order-3", "order-4"}


def test_a_plain_append_writes_its_events_and_nothing_else(db_path):
    with open_store(db_path) as s:
        s.append("order-1", [NewEvent("Placed", {})])
        before = s.conn.total_changes
        s.append("order-1", [NewEvent("Paid", {})], 1)
        assert s.conn.total_changes - before == 1
        assert [(i.stream_id, i.version) for i in s.streams()] == [("order-1", 2)]
        info = s.stream_info("order-1")
        assert info["version"] == 2 and info["state"] == "live" and info["created_at"] <= info["updated_at"]


def test_a_live_stream_whose_events_were_all_scavenged_is_still_listed(db_path):
    with open_store(db_path) as s:
        s.append("order-1", [NewEvent("Placed", {}), NewEvent("Paid", {})])
        s.truncate_stream("order-1", 3)  # every event hidden; the stream lives on at version 2
        s.append("order-2", [NewEvent("Placed", {})])
        s.scavenge(reclaim=False)
        assert [(i.stream_id, i.version) for i in s.streams("order")] == [("order-1", 2), ("order-2", 1)]
        assert [i.stream_id for i in s.streams("order", after="order-1")] == ["order-2"]
        assert s.append("order-1", [NewEvent("Shipped", {})], 2).version == 3


def test_an_imported_lifecycle_event_that_does_not_apply_leaves_the_stream_as_it_was(db_path):
    at = "2026-01-01T00:00:00.000000Z"
    ids = [str(uuid.uuid4()) for _ in range(4)]
    rows = [(1, ids[0], "order-1", 1, "Placed", "{}", "{}", at),
            (2, ids[1], "$streams", 1, "StreamNoted", json.dumps({"stream_id": "order-1"}), "{}", at),
            (3, ids[2], "order-1", 2, "Paid", "{}", "{}", at),
            (4, ids[3], "order-1", 3, "Shipped", "{}", "{}", at)]
    with open_store(db_path) as s:
        assert s.import_rows([rows]) == (4, 0)
        assert s.stream_version("order-1") == 3
        assert s.append("order-1", [NewEvent("Closed", {})], 3).version == 4


def test_streams_are_counted_per_category_as_listed(db_path):
    from evsh.store.recorded import category_of

    ids = ["order", "order!x", "order+x", "order-1", "order-2", "order.x", "orderx", "pay-1", "pay-2", "x"]
    with open_store(db_path) as s:
        for sid in ids:
            s.append(sid, [NewEvent("Happened", {})])
        s.delete_stream("order-2")
        s.delete_stream("pay-1")
        s.delete_stream("pay-2")  # a category with no live stream left
        s.truncate_stream("orderx", 2)
        s.scavenge(reclaim=False)  # orderx keeps only its rules row
        live = [i.stream_id for i in s.streams()]
        assert live == ["$streams", "order", "order!x", "order+x", "order-1", "order.x", "orderx", "x"]
        expected: dict[str, int] = {}
        for sid in live:
            expected[category_of(sid)] = expected.get(category_of(sid), 0) + 1
        assert s.categories() == sorted(expected.items())
        assert s.stream_count() == len(live)
        assert s.stream_count("order") == 2


# ----------------------------------------------------------------------------- binding values

def test_a_missing_column_value_is_stored_as_sql_null_and_reads_back_as_none(db_path):
    """A row without a value for a column (the shop's orders without a cancel reason) is written
    with None bound, which must reach SQLite as NULL: not as text, 0 or an empty string."""
    from evsh import table

    spec = table("notes", {"id": str, "reason": str, "count": int}, pk="id")
    with open_store(db_path) as s:
        with s.transaction():
            s.ensure_tables([spec], owner="test")
            t = s.table(spec)
            t.insert({"id": "a"})
            t.insert_all([{"id": "b", "reason": None, "count": None}, {"id": "c", "reason": "", "count": 0}])
            t.flush()  # one executemany, as a projection's batch writes
        assert s.table(spec).get("a") == {"id": "a", "reason": None, "count": None}
    kinds = raw(db_path).execute("SELECT id, typeof(reason), typeof(count) FROM notes ORDER BY id").fetchall()
    assert kinds == [("a", "null", "null"), ("b", "null", "null"), ("c", "text", "integer")]
    assert raw(db_path).execute("SELECT ? IS NULL", (None,)).fetchone() == (1,)
