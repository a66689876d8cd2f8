"""Everything a user does on SQLite works on PostgreSQL: the CLI, the shell, scripts,
forgetting, backup, and connection problems, each test in a schema of its own
(tests/services.py; skipped with one line, or failed under EVSH_REQUIRE_SERVICES=1, without a
server). Demos and moving a store: test_postgres_portability.py; the order readers trust:
test_postgres_order.py; the TUI: test_postgres_tui.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.services import PG_URL, need_postgres, postgres_url

SHOP = ("--domain", "shop")
ITEMS = '[{"product_id": "keyboard", "quantity": 2, "unit_price": "49.90"}]'


class PG:
    """`evsh --db URL ARGS` in-process, on a schema of the test's own."""

    def __init__(self, cli, url: str) -> None:
        self.cli, self.url = cli, url

    def __call__(self, *args: str, **kw):
        return self.cli(*args, db=self.url, **kw)

    def ok(self, *args: str, **kw):
        r = self(*args, **kw)
        assert r.exit_code == 0, (args, r.stdout, r.stderr)
        return r

    def json(self, *args: str):
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def pg(cli):
    with postgres_url() as url:
        yield PG(cli, url)


def one_line(r, code: int, *words: str) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def psql(sql: str, params=(), dbname: str | None = None):
    import psycopg

    url = PG_URL if dbname is None else PG_URL.rsplit("/", 1)[0] + "/" + dbname
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params or None)
        return cur.fetchall() if cur.description else None


# ----------------------------------------------------------------------------- the core commands

def test_init_append_read_log_streams(pg):
    assert "created store" in pg.ok("init").stdout
    assert "store already exists" in pg.ok("init").stdout  # a no-op on an existing store
    if "://postgres@" in pg.url:  # trust authentication ignores the password; evsh never shows it
        r = pg.cli("init", db=pg.url.replace("://postgres@", "://postgres:sekrit@"))
        assert r.exit_code == 0 and "already exists" in r.stdout and "sekrit" not in r.stdout + r.stderr
    pg.ok("append", "order-1", "OrderCreated", '{"n": 1, "price": 1.10, "big": 123456789012345678901234567890}')
    pg.ok("append", "order-1", "OrderConfirmed", '{"n": 2}', "-e", "1")
    one_line(pg("append", "order-1", "Late", "{}", "-e", "1"), 3, "conflict")
    pg.ok("append", "payment-1", "PaymentProcessed", '{"n": 3}')
    events = pg.json("read", "order-1")
    assert [e["type"] for e in events] == ["OrderCreated", "OrderConfirmed"]
    assert events[0]["data"] == {"n": 1, "price": 1.10, "big": 123456789012345678901234567890}
    assert [e["position"] for e in pg.json("log")] == [1, 2, 3]
    assert [e["type"] for e in pg.json("log", "--backwards", "--limit", "1")] == ["PaymentProcessed"]
    assert [s["stream_id"] for s in pg.json("streams")] == ["order-1", "payment-1"]
    assert [s["stream_id"] for s in pg.json("streams", "--category", "payment")] == ["payment-1"]


def test_evsh_toml_and_evsh_db_name_a_postgresql_store(pg, tmp_path):
    from click.testing import CliRunner

    from evsh.cli.main import cli as group

    (tmp_path / "evsh.toml").write_text(f'db = "{pg.url}"\n')  # the cli fixture runs in tmp_path
    r = CliRunner().invoke(group, ["append", "a-1", "X"], env={"EVSH_DB": None})
    assert r.exit_code == 0, r.output
    (tmp_path / "evsh.toml").unlink()
    r = CliRunner().invoke(group, ["read", "a-1", "--json"], env={"EVSH_DB": pg.url})
    assert r.exit_code == 0 and [e["type"] for e in json.loads(r.stdout)] == ["X"], r.output
    assert not (tmp_path / "evsh.db").exists()


def test_exec_state_projections_reactors_trace_stats_snapshots(pg):
    pg.ok(*SHOP, "exec", "inventory", "keyboard", "add-stock", "--quantity", "5")
    out = pg.ok(*SHOP, "exec", "order", "1001", "create", "--customer-id", "ann", "--items", ITEMS).stdout
    assert "OrderCreated" in out
    state = pg.json(*SHOP, "state", "order", "1001")
    assert state["status"] == "confirmed" and str(state["total_amount"]) == "99.80"
    assert pg.json(*SHOP, "state", "order", "1001", "--at-version", "1")["status"] == "created"
    one_line(pg(*SHOP, "exec", "order", "1001", "create", "--customer-id", "ann", "--items", ITEMS), 1, "already")
    # read models: catch up, status, rebuild, the same rows
    pg.ok(*SHOP, "projections", "run")
    status = {p["name"]: p for p in pg.json(*SHOP, "projections")}
    assert status["order_details"]["checkpoint"] == pg.json("log", "--last", "1")[0]["position"]
    rows = pg.json("sql", "SELECT order_id, status, total_amount FROM order_details")
    assert rows == [{"order_id": "1001", "status": "confirmed", "total_amount": "99.80"}]
    pg.ok(*SHOP, "projections", "rebuild", "order_details")
    assert pg.json("sql", "SELECT order_id, status, total_amount FROM order_details") == rows
    # reactors as an async worker catch up from their checkpoints
    pg.ok(*SHOP, "--mode", "async", "exec", "order", "1002", "create", "--customer-id", "bob", "--items", ITEMS)
    assert pg.json(*SHOP, "state", "order", "1002")["status"] == "created"
    pg.ok(*SHOP, "--mode", "async", "reactors", "run")
    assert pg.json(*SHOP, "state", "order", "1002")["status"] == "confirmed"
    assert all(r["lag"] == 0 for r in pg.json(*SHOP, "reactors"))
    assert pg.json(*SHOP, "dlq", "list") == []
    # the causal tree of the order's first event: the workflow's commands hang under it
    first = pg.json("read", "order-1002")[0]
    trace = pg.ok(*SHOP, "trace", first["event_id"]).stdout
    assert "OrderCreated" in trace and "PaymentProcessed" in trace and "OrderConfirmed" in trace
    assert pg.ok(*SHOP, "stats").stdout.strip()
    assert any(s["name"] == "order_workflow" for s in pg.json(*SHOP, "stats")["series"])
    # snapshots and upcasting
    pg.ok(*SHOP, "snapshot", "order", "1001")
    assert [s["stream_id"] for s in pg.json(*SHOP, "snapshots")] == ["order-1001"]
    assert pg.json(*SHOP, "state", "order", "1001") == state
    pg.ok(*SHOP, "upcast")
    pg.ok(*SHOP, "upcast", "--check")


def test_a_users_views_over_a_read_model_survive_its_rebuild(pg):
    """PostgreSQL binds a view to a table, not a name: the rebuild makes them again."""
    schema = pg.url.split("schema=")[1]
    pg.ok(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS)
    pg.ok(*SHOP, "projections", "run", "order_details")
    psql(f'CREATE VIEW "{schema}".big_orders AS SELECT order_id FROM "{schema}".order_details WHERE total_amount > 10')
    psql(f'CREATE VIEW "{schema}".big_ids AS SELECT upper(order_id) AS id FROM "{schema}".big_orders')
    pg.ok(*SHOP, "projections", "rebuild", "order_details")
    assert pg.json("sql", "SELECT id FROM big_ids") == [{"id": "O1"}]


def test_a_failing_reactor_parks_and_the_dlq_retries_without_duplicates(pg, tmp_path, monkeypatch):
    from tests.test_reactors import FLAKY

    (tmp_path / "flaky.py").write_text(FLAKY)
    fault = tmp_path / "fault.txt"
    monkeypatch.setenv("FLAKY_FAULT", str(fault))
    dom = ("--domain", str(tmp_path / "flaky.py"))
    fault.write_text("2")
    for n in (1, 2, 3):
        pg.ok(*dom, "exec", "ping", f"x{n}", "send", "--n", str(n))
    assert [r["n"] for r in pg.json("sql", "SELECT n FROM pongs ORDER BY n")] == [1, 3]
    parked = pg.json(*dom, "dlq", "list")
    assert len(parked) == 1 and parked[0]["reactor"] == "ponger" and "ping 2 is broken" in parked[0]["error"]
    assert pg.json(*dom, "dlq", "show", str(parked[0]["id"]))["event"]["data"] == {"n": 2}
    fault.write_text("")
    assert "retried" in pg.ok(*dom, "dlq", "retry", "--all").stdout
    pg.ok(*dom, "reactors", "run")
    assert [r["n"] for r in pg.json("sql", "SELECT n FROM pongs ORDER BY n")] == [1, 2, 3]
    assert pg.json(*dom, "dlq", "list") == []


def test_stream_lifecycle_and_scavenge_never_reuse_a_position(pg):
    for n in range(5):
        pg.ok("append", "log-a", "Line", json.dumps({"n": n}))
    pg.ok("append", "log-b", "Line", "{}")
    pg.ok("streams", "truncate", "log-a", "--before", "3")
    assert [e["data"]["n"] for e in pg.json("read", "log-a")] == [2, 3, 4]
    pg.ok("streams", "meta", "log-a", "--max-count", "2")
    assert [e["data"]["n"] for e in pg.json("read", "log-a")] == [3, 4]
    pg.ok("streams", "delete", "log-b")
    assert "log-b" not in [s["stream_id"] for s in pg.json("streams")]
    head = pg.json("log", "--last", "1")[0]["position"]
    stored = f'SELECT count(*) FROM "{pg.url.split("schema=")[1]}".events'
    before = psql(stored)[0][0]
    result = pg.json("scavenge")
    assert result["removed"] == 4  # three truncated or beyond max-count, one deleted
    assert psql(stored)[0][0] == before - 4
    assert [e["data"]["n"] for e in pg.json("read", "log-a")] == [3, 4]
    r = pg.ok("append", "log-c", "Line", "{}")
    assert f"position {head + 1}" in r.stdout  # never handed out twice


def test_forget_leaves_no_plaintext_in_any_table(pg):
    schema = pg.url.split("schema=")[1]
    secret, name = "grace.hopper@navy.example", "amazing_grace"
    pg.ok(*SHOP, "exec", "user", "u1", "register", "--email", secret, "--username", name)
    pg.ok(*SHOP, "exec", "user", "u2", "register", "--email", "alan@example.org", "--username", "enigma")
    psql(f'CREATE TABLE "{schema}".audit (line text, n int)')  # a copy the user made
    psql(f'INSERT INTO "{schema}".audit VALUES (%s, 1)', (f"user {name} wrote from {secret}",))
    pg.ok(*SHOP, "projections", "run")
    assert [k["subject"] for k in pg.json("keys")] == ["u1", "u2"]
    files_before = dict(psql("SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n"
                             " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,)))
    report = pg.json(*SHOP, "--busy-timeout", "20", "forget", "u1", "--yes")
    assert report["keys"] == 1 and report["scrubbed"]["audit.line"] >= 1
    tables = [r[0] for r in psql("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                 " WHERE n.nspname = %s AND c.relkind = 'r'", (schema,))]
    for table in tables:
        for value in (secret, name):
            hits = psql(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE strpos(t::text, %s) > 0', (value,))
            assert hits[0][0] == 0, (table, value)
    assert pg.json("sql", "SELECT count(*) AS n FROM sent_emails WHERE strpos(email, 'alan@') > 0") == [{"n": 1}]
    assert pg.json(*SHOP, "state", "user", "u2")["email"] == "alan@example.org"
    # dead tuples too: VACUUM FULL wrote every table anew (the old files, with the dead rows, go)
    files_after = dict(psql("SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_namespace n"
                            " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,)))
    assert all(files_after[t] != files_before[t] for t in files_before), (files_before, files_after)
    assert pg.json(*SHOP, "state", "user", "u1")["email"] == "[redacted]"
    # and the table files hold neither value: VACUUM FULL wrote them anew, straight to disk (the
    # other subject's e-mail, kept in sent_emails, shows that the check reads what they hold)
    kept = files_holding(schema, b"alan@example.org")
    # (a transaction another client on a shared server kept open meanwhile keeps old versions: said)
    if kept is not None and not report["held_back_by"]:
        assert kept, "the check sees the values the table files hold"
        assert files_holding(schema, secret.encode()) == [] and files_holding(schema, name.encode()) == []


def test_forget_waits_for_older_transactions_and_names_one_still_open(pg):
    """A rewrite keeps the row versions an older transaction may read: forget waits for it (up
    to the busy timeout), then says which one kept them and how to finish."""
    import psycopg

    pg.ok(*SHOP, "exec", "user", "u1", "register", "--email", "zed@example.org", "--username", "zed")
    with psycopg.connect(PG_URL, application_name="old-reader") as holder:
        holder.execute("SELECT txid_current()")  # a transaction, begun before the forgetting, left open
        r = pg(*SHOP, "--busy-timeout", "0.5", "forget", "u1", "--yes")
        assert r.exit_code == 0 and r.stdout.startswith("forgot u1"), r.stderr
        line = one_line(r, 0, "old-reader (pid", "forget u1 --yes")
        assert line.startswith("evsh: warning:")
    r = pg(*SHOP, "--busy-timeout", "20", "forget", "u1", "--yes", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["already_forgotten"], r.stderr


def files_holding(schema: str, needle: bytes) -> list[str] | None:
    """The store's table, index and TOAST files that hold ``needle``; None when the server's data
    directory cannot be read from here (another machine, another user)."""
    try:
        base = psql("SHOW data_directory")[0][0]
    except Exception:
        return None
    if not os.access(base, os.R_OK | os.X_OK):
        return None
    paths = [r[0] for r in psql(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'i', 't', 'm')"
        " UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n"
        " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.reltoastrelid <> 0", (schema, schema)) if r[0]]
    found = []
    for rel in paths:
        segment, n = os.path.join(base, rel), 0
        while os.path.exists(segment):
            with open(segment, "rb") as fh:
                if needle in fh.read():
                    found.append(segment)
            n += 1
            segment = os.path.join(base, f"{rel}.{n}")
    return found


def test_keys_export_and_import_between_stores(pg, cli, tmp_path):
    pg.ok(*SHOP, "exec", "user", "u1", "register", "--email", "ann@example.org", "--username", "ann")
    pg.ok("keys", "export", "-o", str(tmp_path / "keys.json"))
    events = pg.ok("export").stdout
    with postgres_url() as other:
        assert cli("import", "-", input=events, db=other).exit_code == 0
        assert cli("keys", "import", str(tmp_path / "keys.json"), db=other).exit_code == 0
        state = json.loads(cli(*SHOP, "state", "user", "u1", "--json", db=other).stdout)
        assert state["email"] == "ann@example.org"


def test_sql_is_read_only_with_a_timeout(pg):
    pg.ok("append", "a-1", "X", "{}")
    assert pg.json("sql", "SELECT current_setting('transaction_read_only') AS ro") == [{"ro": "on"}]
    for write in ("DELETE FROM events", "UPDATE events SET type = 'Y'", "DROP TABLE events",
                  "CREATE TABLE mine (x int)", "SELECT 1; COMMIT; DELETE FROM events",
                  "WITH gone AS (DELETE FROM events RETURNING 1) SELECT count(*) FROM gone",
                  "INSERT INTO checkpoints VALUES ('x', 1, 'now')"):
        line = one_line(pg("sql", write), 2)
        assert "read-only" in line or "one query at a time" in line, line
    assert pg.json("sql", "SELECT count(*) AS n FROM events") == [{"n": 1}]
    one_line(pg("sql", "SELECT pg_sleep(5)", "--timeout", "0.3"), 2, "longer than")
    one_line(pg("sql", "SELECT * FROM nowhere"), 2, "no such table: nowhere")


def test_seed_export_import_backup(pg, cli, tmp_path):
    pg.ok(*SHOP, "seed", "--orders", "6", "--seed", "7")
    exported = pg.ok("export").stdout
    assert len(exported.splitlines()) > 20
    # without pg_dump: one line saying what to do
    r = pg("backup", str(tmp_path / "other.dump"), env={"PATH": str(tmp_path)})
    one_line(r, 4, "pg_dump", "evsh export")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        return  # PostgreSQL's client tools are not installed here: the rest needs them
    dump = tmp_path / "store.dump"
    assert "backed up" in pg.ok("backup", str(dump)).stdout
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True).stdout
    assert "TABLE DATA" in listing and " events " in listing
    # the store is lost; the dump brings it back, the same store to evsh
    schema = pg.url.split("schema=")[1]
    psql(f'DROP SCHEMA "{schema}" CASCADE')
    one_line(pg("export"), 4, "not an evsh store yet")
    done = subprocess.run(["pg_restore", "--no-owner", f"--dbname={PG_URL}", str(dump)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert pg.ok("export").stdout == exported


def test_the_shell_piped_and_a_script_with_expectations(pg, tmp_path):
    r = pg.ok(*SHOP, "shell", input="append note-1 Noted '{\"k\": 1}'\nread note-1\nstreams\n")
    assert "Noted" in r.stdout and "note-1" in r.stdout
    script = tmp_path / "s.evsh"
    script.write_text(f"""exec inventory keyboard add-stock --quantity 5
exec order 7 create --customer-id ann --items '{ITEMS}'
expect state order 7 status=confirmed total_amount=99.80
expect stream order-7 count=2
expect query "SELECT orders, total_amount FROM customer_orders WHERE customer_id = 'ann'" = '[[1, "99.80"]]'
expect query "SELECT count(*) FROM events WHERE stream_id = 'order-7'" = 2
expect rejected exec order 7 create --customer-id ann --items '{ITEMS}'
""")
    pg.ok(*SHOP, "run", str(script))
    script.write_text("expect state order 7 status=cancelled\n")
    r = pg(*SHOP, "run", str(script))
    assert r.exit_code == 1 and "expected: cancelled" in r.stderr


# ----------------------------------------------------------------------------- connection problems

def _evsh(db: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evsh", "--db", db, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def _one_line_exit_4(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 4, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert done.stdout == ""


def test_server_down_wrong_role_and_no_such_database_exit_4_in_one_line():
    need_postgres()
    base = PG_URL.split("://", 1)[1].split("/", 1)[0].split("@")[-1]
    host = base.split(":")[0]
    _one_line_exit_4(_evsh(f"postgresql://postgres@{host}:1/test", "log"), "cannot reach")
    wrong = _evsh(f"postgresql://no_such_role_{uuid.uuid4().hex[:6]}:pw@{base}/test", "log")
    _one_line_exit_4(wrong, "refused the login", "does not exist")
    assert "createdb" not in wrong.stderr and ":pw@" not in wrong.stderr
    _one_line_exit_4(_evsh(f"postgresql://postgres@{base}/no_such_db_{uuid.uuid4().hex[:6]}", "init"),
                     "does not exist", "createdb")


def test_a_postgresql_url_without_the_driver_names_the_install_command(tmp_path):
    hide = ("import sys, runpy\n"
            "class Hide:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'psycopg' or name.startswith('psycopg.'):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, Hide())\n"
            "sys.argv = ['evsh', '--db', 'postgresql://postgres@127.0.0.1:5432/test', 'log']\n"
            "runpy.run_module('evsh', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    _one_line_exit_4(done, "pip install 'evsh[postgres]'")
