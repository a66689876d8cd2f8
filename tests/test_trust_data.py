"""Nothing a user wrote is lost or leaked by evsh's own commands.

Output files never overwrite the store; demos never delete events they did not write; hiding
the start of an aggregate's stream needs a snapshot holding it; personal values never reach
the shell's history and `forget` scrubs it; seeded users are encrypted and can be forgotten.
Every test runs the real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from .test_snapshots import COUNTER  # a counter aggregate; snapshot_every is set per test

ITEMS = '[{"product_id": "keyboard", "quantity": 1, "unit_price": "49.90"}]'


def evsh_shell(tmp_path, options: list[str], history: str | None = None, **env: str):
    """`evsh OPTIONS shell [--history FILE]` in a real terminal (pexpect)."""
    pexpect = pytest.importorskip("pexpect")
    evsh = shutil.which("evsh", path=os.path.dirname(sys.executable)) or "evsh"
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", **env}
    return pexpect.spawn(evsh, [*options, "shell", *(["--history", history] if history else [])], env=env,
                         cwd=str(tmp_path), encoding="utf-8", timeout=30, dimensions=(40, 200))


def recall_and_leave(c, presses: int, expected: str, prompt: str) -> None:
    """Up arrow ``presses`` times, see ``expected``, run it, then leave the shell."""
    import pexpect

    c.send("\x1b[A" * presses)
    c.expect_exact(expected)
    c.sendline("")
    c.expect_exact(prompt)
    c.sendline("exit")
    c.expect(pexpect.EOF)
    c.close()


def count_events(path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def here(tmp_path, monkeypatch):
    """`evsh ARGS` in an empty folder, with no --db unless given: what a user types."""
    from evsh.cli.main import cli as group

    monkeypatch.chdir(tmp_path)
    for var in ("EVSH_DB", "EVSH_DOMAIN", "EVSH_MODE", "EVSH_CLOCK", "EVSH_IDS", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)

    def run(*args, input=None):
        return CliRunner().invoke(group, list(args), input=input, env={"COLUMNS": "200"}, catch_exceptions=False)

    return run


# ----------------------------------------------------------------------------- 1. outputs never overwrite the store

@pytest.fixture
def store(here, tmp_path):
    assert here("--db", "shop.db", "--domain", "shop", "exec", "user", "u1", "register", "--email", "a@b.c",
                "--username", "ann").exit_code == 0
    os.symlink("shop.db", tmp_path / "link.db")
    os.link(tmp_path / "shop.db", tmp_path / "hard.db")
    return tmp_path / "shop.db"


SPELLINGS = ["shop.db", "./shop.db", "{abs}", "link.db", "hard.db", "sub/../shop.db", "shop.db-wal", "shop.db-shm"]


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("command", [["export", "-o"], ["backup"], ["keys", "export", "-o"]])
def test_no_output_file_is_the_store_in_any_spelling(here, store, tmp_path, command, spelling):
    (tmp_path / "sub").mkdir()
    path = spelling.replace("{abs}", str(store))
    before = count_events(store)
    r = here("--db", "shop.db", *command, path)
    assert r.exit_code == 2, r.output
    role = "write-ahead log" if "-wal" in path else "shared-memory index" if "-shm" in path else "the store"
    assert role in r.stderr and "(shop.db)" in r.stderr and "choose another path" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert count_events(store) == before
    assert here("--db", "shop.db", "read", "user-u1").exit_code == 0


def test_the_store_named_through_a_link_is_protected_too(here, store):
    r = here("--db", "link.db", "export", "-o", "shop.db")
    assert r.exit_code == 2 and "that is the store (link.db)" in r.stderr
    r = here("--db", "link.db", "backup", "shop.db-wal")  # SQLite keeps the WAL beside the file linked to
    assert r.exit_code == 2 and "that is the store's write-ahead log (link.db)" in r.stderr
    assert count_events(store) == 1


def test_other_outputs_are_still_written(here, store, tmp_path):
    assert here("--db", "shop.db", "export", "-o", "events.jsonl").exit_code == 0
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 1
    assert here("--db", "shop.db", "backup", "copy.db").exit_code == 0
    assert count_events(tmp_path / "copy.db") == 1
    assert here("--db", "shop.db", "keys", "export", "-o", "keys.jsonl").exit_code == 0


def test_verify_never_writes_its_scripts_over_the_store(here, tmp_path):
    from evsh import load_domain
    from evsh.verify.runner import PROPERTIES, script_path

    assert here("append", "note-1", "Noted", "{}").exit_code == 0  # ./evsh.db
    r = here("verify", "--domain", "shop", "--out", "evsh.db")
    assert r.exit_code == 2 and "verify --out evsh.db: that is the store (evsh.db)" in r.stderr
    # a store named like a script verify may write in its folder
    os.makedirs("f")
    db = script_path("f", load_domain("shop"), PROPERTIES[0].name)
    assert here("--db", db, "append", "note-1", "Noted", "{}").exit_code == 0
    r = here("--db", db, "verify", "--domain", "shop", "--out", "f", "--examples", "1")
    assert r.exit_code == 2 and f"verify --out {db}" in r.stderr
    assert count_events(tmp_path / db) == 1


def test_a_demo_never_writes_into_the_store_the_project_names(here, tmp_path):
    (tmp_path / "evsh.toml").write_text('db = "evsh-demo.db"\n')
    assert here("append", "note-1", "Noted", "{}").exit_code == 0
    r = here("demo")
    assert r.exit_code == 2 and "evsh-demo.db is the store (evsh-demo.db)" in r.stderr and "--db NEW.db" in r.stderr
    assert count_events(tmp_path / "evsh-demo.db") == 1


def test_the_shell_never_keeps_its_history_in_the_store(tmp_path):
    import pexpect

    db = tmp_path / "s.db"
    evsh = shutil.which("evsh", path=os.path.dirname(sys.executable)) or "evsh"
    subprocess.run([evsh, "--db", str(db), "append", "note-1", "Noted", "{}"], check=True, capture_output=True)
    c = evsh_shell(tmp_path, ["--db", str(db)], history=str(db) + "-wal")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 2
    assert "shell --history" in c.before and "write-ahead log" in c.before
    assert count_events(db) == 1


# ----------------------------------------------------------------------------- 2. demos never delete what they did not write

def test_a_named_demo_run_again_keeps_the_users_events(here, tmp_path):
    assert here("demo", "outage").exit_code == 0
    path = tmp_path / "evsh-demo-outage.db"
    demo_events = count_events(path)
    r = here("--db", str(path), "--domain", "shop", "exec", "order", "mine", "create", "--customer-id", "me",
             "--items", ITEMS)
    assert r.exit_code == 0, r.stderr
    mine = count_events(path)
    assert mine > demo_events
    for args in (("demo", "outage"), ("demo", "outage", "--fresh")):
        r = here(*args)
        assert r.exit_code == 2
        line = r.stderr.strip()
        assert "holds events that no demo wrote" in line and f"after position {demo_events}" in line
        assert "--db NEW.db" in line and "delete evsh-demo-outage.db yourself" in line
        assert count_events(path) == mine
    assert here("--db", str(path), "read", "order-mine").stdout.count("OrderCreated") == 1


def test_the_story_is_shown_again_with_the_users_events_but_never_retold_over_them(here, tmp_path):
    assert here("demo").exit_code == 0
    assert here("--db", "evsh-demo.db", "append", "note-1", "Noted", "{}").exit_code == 0
    n = count_events(tmp_path / "evsh-demo.db")
    again = here("demo")
    assert again.exit_code == 0 and "already holds the shop story" in again.stdout
    r = here("demo", "--fresh")
    assert r.exit_code == 2 and "holds events that no demo wrote" in r.stderr
    assert count_events(tmp_path / "evsh-demo.db") == n


def _interrupted_demo(tmp_path, name: str = "concurrency") -> None:
    """`evsh demo NAME | head -20`: the reader goes away while the demo is writing."""
    evsh = shutil.which("evsh", path=os.path.dirname(sys.executable)) or "evsh"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    subprocess.run(f"{evsh} demo {name} | head -20", shell=True, cwd=tmp_path, env=env, capture_output=True,
                   timeout=300)


def test_an_interrupted_demo_is_started_again_with_or_without_fresh(here, tmp_path):
    path = tmp_path / "evsh-demo-concurrency.db"
    for args in (("demo", "concurrency", "--fresh"), ("demo", "concurrency")):
        _interrupted_demo(tmp_path)
        con = sqlite3.connect(path)
        claims = con.execute("SELECT name, position FROM checkpoints WHERE name LIKE 'demo%'").fetchall()
        head = con.execute("SELECT max(position) FROM events").fetchone()[0]
        con.close()
        assert claims == [("demo-writing:concurrency", head)] and head > 0  # it was cut off half-way
        r = here(*args)
        assert r.exit_code == 0, r.stderr
        assert "✓ conflict" in r.stdout
        con = sqlite3.connect(path)
        assert con.execute("SELECT name FROM checkpoints WHERE name LIKE 'demo%'").fetchall() == [("demo:concurrency",)]
        con.close()


def test_an_interrupted_demo_with_the_users_events_is_kept(here, tmp_path):
    _interrupted_demo(tmp_path)
    path = tmp_path / "evsh-demo-concurrency.db"
    assert here("--db", str(path), "append", "note-1", "Noted", "{}").exit_code == 0
    n = count_events(path)
    r = here("demo", "concurrency", "--fresh")
    assert r.exit_code == 2 and "holds events that no demo wrote" in r.stderr
    assert count_events(path) == n


def test_a_store_made_by_an_older_demo_is_still_recognised(here, tmp_path):
    assert here("demo", "concurrency").exit_code == 0
    path = tmp_path / "evsh-demo-concurrency.db"
    con = sqlite3.connect(path)  # as older versions left it: one row, written at the end
    assert con.execute("SELECT count(*) FROM checkpoints WHERE name = 'demo:concurrency'").fetchone()[0] == 1
    con.close()
    assert here("demo", "concurrency", "--fresh").exit_code == 0
    assert here("--db", str(path), "append", "note-1", "Noted", "{}").exit_code == 0
    assert here("demo", "concurrency").exit_code == 2


def test_demo_help_says_what_it_deletes(here):
    out = " ".join(here("demo", "--help").stdout.split())
    assert "deletes only a store whose every event a demo wrote" in out
    assert "--fresh included" in out


# ----------------------------------------------------------------------------- 3. hiding an aggregate's history

@pytest.fixture
def counter(tmp_path):
    def make(snap) -> str:
        path = tmp_path / f"counter_{snap}.py"
        path.write_text(COUNTER.replace("snapshot_every = 3", f"snapshot_every = {snap}").replace("STATE_VERSION", "1"))
        return str(path)
    return make


def test_a_max_count_that_would_change_decisions_is_refused(cli):
    shop = ("--domain", "shop")
    assert cli(*shop, "exec", "inventory", "p1", "add-stock", "--quantity", "20").exit_code == 0
    for n in range(1, 12):
        assert cli(*shop, "--mode", "step", "exec", "inventory", "p1", "reserve", "--order-id", f"o{n}",
                   "--quantity", "1").exit_code == 0
    r = cli(*shop, "streams", "meta", "inventory-p1", "--max-count", "10")
    assert r.exit_code == 2
    assert "inventory p1 aggregate's stream" in r.stderr and "snapshot_every <= 10" in r.stderr and "--force" in r.stderr
    assert json.loads(cli("streams", "meta", "inventory-p1", "--json").stdout)["max_count"] is None
    state = json.loads(cli(*shop, "state", "inventory", "p1", "--json").stdout)
    assert state["on_hand"] == 20 and state["held"] == 11
    r = cli(*shop, "--mode", "step", "exec", "inventory", "p1", "reserve", "--order-id", "o99", "--quantity", "9")
    assert "InventoryReserved" in r.stdout
    # forced: done, and the user is told what it does
    r = cli(*shop, "streams", "meta", "inventory-p1", "--max-count", "10", "--force")
    assert r.exit_code == 0 and "warning: forced" in r.stderr and "decisions change" in r.stderr
    assert json.loads(cli(*shop, "state", "inventory", "p1", "--json").stdout)["on_hand"] == 0


def test_without_the_domain_a_stream_written_by_commands_is_still_an_aggregates(cli):
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "20")
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2")
    cli("append", "inventory-p1", "StockAdded", '{"product_id": "p1", "quantity": 1}')  # the last one by hand
    for args in (("streams", "meta", "inventory-p1", "--max-count", "1"),
                 ("streams", "meta", "inventory-p1", "--max-age", "1s"),
                 ("streams", "truncate", "inventory-p1", "--before", "2")):
        r = cli(*args)
        assert r.exit_code == 2 and "written by commands of the inventory aggregate" in r.stderr
        assert "pass --domain" in r.stderr
    assert json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)["on_hand"] == 23
    # a stream nothing rebuilds state from is cut without a word
    for _ in range(3):
        cli("append", "log-1", "Ticked", "{}")
    r = cli("streams", "meta", "log-1", "--max-count", "1")
    assert r.exit_code == 0 and r.stderr == ""
    r = cli("streams", "truncate", "log-1", "--before", "3")
    assert r.exit_code == 0 and r.stderr == ""


def test_a_truncation_needs_a_snapshot_holding_what_it_hides(cli):
    shop = ("--domain", "shop")
    for q in (20, 2):
        cli(*shop, "exec", "inventory", "p1", "add-stock", "--quantity", str(q))
    r = cli(*shop, "streams", "truncate", "inventory-p1", "--before", "2")
    assert r.exit_code == 2 and "`evsh snapshot inventory p1`" in r.stderr
    assert cli(*shop, "snapshot", "inventory", "p1").exit_code == 0
    cli(*shop, "exec", "inventory", "p1", "add-stock", "--quantity", "3")
    r = cli(*shop, "streams", "truncate", "inventory-p1", "--before", "3")
    assert r.exit_code == 0 and "keeps its state" in r.stderr
    assert [e["version"] for e in json.loads(cli("read", "inventory-p1", "--json").stdout)] == [3]
    assert json.loads(cli(*shop, "state", "inventory", "p1", "--json").stdout)["on_hand"] == 25
    r = cli(*shop, "streams", "truncate", "inventory-p1", "--before", "4")  # past the snapshot at version 2
    assert r.exit_code == 2
    assert json.loads(cli(*shop, "state", "inventory", "p1", "--json").stdout)["on_hand"] == 25


def test_a_max_count_is_allowed_when_snapshots_follow_the_stream(cli, counter):
    dom = ("--domain", counter(3))
    for _ in range(5):
        cli(*dom, "exec", "counter", "c1", "count")
    r = cli(*dom, "streams", "meta", "counter-c1", "--max-count", "2")
    assert r.exit_code == 2 and "snapshot_every <= 2" in r.stderr and "(it has 3)" in r.stderr
    r = cli(*dom, "streams", "meta", "counter-c1", "--max-count", "4")
    assert r.exit_code == 0 and "keeps its state" in r.stderr
    for _ in range(20):
        cli(*dom, "exec", "counter", "c1", "count")
    assert len(json.loads(cli("read", "counter-c1", "--json").stdout)) == 4  # only the newest four are read
    assert json.loads(cli(*dom, "state", "counter", "c1", "--json").stdout)["total"] == 25  # all 25 counted


def test_a_max_count_needs_a_snapshot_covering_the_cut_today(cli, counter):
    for _ in range(6):
        cli("--domain", counter("None"), "exec", "counter", "c1", "count")  # written before snapshots were declared
    dom = ("--domain", counter(2))
    r = cli(*dom, "streams", "meta", "counter-c1", "--max-count", "3")
    assert r.exit_code == 2 and "`evsh snapshot counter c1`" in r.stderr
    assert cli(*dom, "snapshot", "counter", "c1").exit_code == 0
    assert cli(*dom, "streams", "meta", "counter-c1", "--max-count", "3").exit_code == 0
    assert json.loads(cli(*dom, "state", "counter", "c1", "--json").stdout)["total"] == 6


def test_a_max_age_needs_a_snapshot_after_every_command(cli, counter):
    for _ in range(3):
        cli("--domain", counter(2), "exec", "counter", "c1", "count")
    r = cli("--domain", counter(2), "streams", "meta", "counter-c1", "--max-age", "1s")
    assert r.exit_code == 2 and "snapshot_every = 1" in r.stderr
    dom = ("--domain", counter(1))
    cli(*dom, "exec", "counter", "c1", "count")  # snapshotted at once
    r = cli(*dom, "streams", "meta", "counter-c1", "--max-age", "1s")
    assert r.exit_code == 0, r.stderr
    assert json.loads(cli(*dom, "state", "counter", "c1", "--json").stdout)["total"] == 4


# ----------------------------------------------------------------------------- 4. the shell's history and forget

def test_personal_values_never_reach_the_history_file(tmp_path):
    history = tmp_path / "history"
    c = evsh_shell(tmp_path, ["--db", str(tmp_path / "s.db"), "--domain", "shop"], EVSH_HISTORY=str(history))
    prompt = "(s.db · shop)>"
    lines = [
        "exec user u1 register --email bob@example.com --username bobby",  # options named like personal fields
        "exec user u2 register --email=eve@example.com --username=evelyn",
        'append user-u3 UserRegistered \'{"user_id": "u3", "email": "zed@example.com", "username": "zed"}\'',
        "sql \"SELECT count(*) FROM sent_emails WHERE email = 'bob@example.com'\"",  # a value seen earlier
        "expect state user u2 username=evelyn",
        "exec inventory p1 add-stock --quantity 3",
    ]
    for line in lines:
        c.expect_exact(prompt)
        c.sendline(line)
    c.expect_exact(prompt)
    recall_and_leave(c, 1, "add-stock --quantity 3", prompt)  # the Up arrow has the session's last line
    text = history.read_text()
    for value in ("bob@example.com", "bobby", "eve@example.com", "evelyn", "zed@example.com", "zed"):
        assert value not in text, value
    assert text.count("+exec inventory p1 add-stock --quantity 3") == 1  # a repeated line is kept once


def test_forget_in_the_shell_scrubs_that_shells_own_history_file(tmp_path):
    history = tmp_path / "mine.history"  # given with --history: no other command knows of it
    history.write_text("\n# 2026-01-01 09:00:00.000000\n+say hello bob@example.com\n"
                       "\n# 2026-01-01 09:00:01.000000\n+say hello world\n")
    c = evsh_shell(tmp_path, ["--db", str(tmp_path / "s.db"), "--domain", "shop"], history=str(history))
    prompt = "(s.db · shop)>"
    c.expect_exact(prompt)
    c.sendline("exec user u1 register --email bob@example.com --username bobby")
    c.expect_exact(prompt)
    c.sendline("forget u1 --yes")
    c.expect_exact("removed 1 entry mentioning them from the shell history")
    c.expect_exact(prompt)
    recall_and_leave(c, 2, "say hello world", prompt)  # back past `forget`: the register line left memory too
    text = history.read_text()
    assert "bob" not in text and "+forget u1 --yes" in text


def test_forget_scrubs_the_history_and_the_docs_list_what_it_cannot_reach(cli, tmp_path):
    assert cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "bob@example.com",
               "--username", "bobby").exit_code == 0
    history = tmp_path / "history"
    history.write_text(  # written before personal values were kept out of it
        "\n# 2026-01-01 09:00:00.000000\n+exec user u1 register --email bob@example.com --username bobby\n"
        "\n# 2026-01-01 09:00:01.000000\n+read user-u1\n"
        "\n# 2026-01-01 09:00:02.000000\n+sql \"SELECT * FROM sent_emails WHERE\n+  email = 'bob@example.com'\"\n"
        "\n# 2026-01-01 09:00:03.000000\n+say bobbysocks\n")
    os.chmod(history, 0o600)
    r = cli("--domain", "shop", "forget", "u1", "--yes", env={"EVSH_HISTORY": str(history)})
    assert r.exit_code == 0, r.stderr
    # "bobby" inside "bobbysocks" counts too: a line too many is lost from the history, never a value kept
    assert f"removed 3 entries mentioning them from the shell history ({history})" in r.stdout
    text = history.read_text()
    assert "bob" not in text and text.startswith("\n# 2026-01-01 09:00:01.000000\n+read user-u1\n")
    assert os.stat(history).st_mode & 0o777 == 0o600
    r = cli("--domain", "shop", "forget", "u1", "--yes", "--json", env={"EVSH_HISTORY": str(history)})
    assert json.loads(r.stdout)["history_entries_removed"] == {}
    docs = " ".join(open(os.path.join(os.path.dirname(__file__), "..", "docs", "long-lived-stores.md")).read().split())
    for place in ("history file", "backups", "exports", "key files", "scroll-back", "sent_emails"):
        assert place in docs, place


# ----------------------------------------------------------------------------- 5. seeded users can be forgotten

def test_seeded_personal_fields_are_encrypted_and_can_be_forgotten(cli, db_path):
    assert cli("seed", "--orders", "25", "--customers", "4").exit_code == 0
    con = sqlite3.connect(db_path)
    rows = [json.loads(d) for (d,) in con.execute("SELECT data FROM events WHERE type = 'UserRegistered'")]
    assert len(rows) == 4
    assert all(r["email"].startswith("evsh:pii:1:") and r["username"].startswith("evsh:pii:1:") for r in rows)
    assert con.execute("SELECT count(*) FROM subject_keys WHERE key IS NOT NULL").fetchone()[0] == 4
    con.close()
    user = json.loads(cli("--domain", "shop", "read", "user-u1", "--json").stdout)[0]
    assert user["data"]["email"] == "user1@example.com" and user["data"]["username"] == "user1"
    r = cli("--domain", "shop", "forget", "u1", "--yes")
    assert r.exit_code == 0 and "1 event now read as [redacted]" in r.stdout and r.stderr == ""
    user = json.loads(cli("--domain", "shop", "read", "user-u1", "--json").stdout)[0]
    assert user["data"]["email"] == "[redacted]"
    assert json.loads(cli("--domain", "shop", "read", "user-u2", "--json").stdout)[0]["data"]["username"] == "user2"
    raw = b"".join(open(p, "rb").read() for p in (db_path, db_path + "-wal") if os.path.exists(p))
    assert b"user1@example.com" not in raw and b"user2@example.com" not in raw  # u2's is sealed
