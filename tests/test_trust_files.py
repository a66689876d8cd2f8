"""No command destroys a file it was not asked to make, and a damaged store is said to be one.

Found by attacking evsh with unlucky timing and hostile paths: a refused import deleted the
store file a concurrent append had just written to; `export -o` replaced another store with JSON
lines, and a failed export emptied its target; `forget` rewrote a "history" file that was
another store; damaged stored events ended in tracebacks. Every test runs the real CLI.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

EVSH = [sys.executable, "-m", "evsh"]


def evsh(*args: str, cwd, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("EVSH_DB", None)
    return subprocess.run([*EVSH, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture
def shop_export(cli, tmp_path):
    assert cli("seed", "--orders", "12").exit_code == 0
    out = tmp_path / "shop.jsonl"
    assert cli("export", "-o", str(out)).exit_code == 0
    return out


# ----------------------------------------------------------------------------- import

def test_a_refused_import_never_removes_a_store_another_process_wrote_to(tmp_path):
    """The import waits for its input; an append to the same path lands meanwhile; the import is
    refused. The appended event must still be there (a refused import once deleted the file)."""
    fifo = tmp_path / "in"
    os.mkfifo(fifo)
    importer = subprocess.Popen([*EVSH, "--db", "r.db", "import", str(fifo)], cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = open(fifo, "w")  # the import has opened its input: it is waiting for lines
    try:
        time.sleep(0.5)
        r = evsh("--db", "r.db", "append", "acct-1", "Deposited", '{"amount": 100}', cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        writer.write("not json\n")
    finally:
        writer.close()
    _, err = importer.communicate(timeout=60)
    assert importer.returncode == 2 and "line 1: not valid JSON" in err, err
    r = evsh("--db", "r.db", "read", "acct-1", "--json", cwd=tmp_path)
    assert r.returncode == 0 and '"amount":100' in r.stdout.replace(" ", ""), (r.returncode, r.stderr)


def test_a_refused_import_into_a_new_path_leaves_no_file_and_an_accepted_one_leaves_only_the_store(
        tmp_path, shop_export):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(shop_export.read_text().splitlines()[0] + "\nnot json\n")
    before = set(os.listdir(tmp_path))
    r = evsh("--db", "new.db", "import", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "line 2" in r.stderr, r.stderr
    assert set(os.listdir(tmp_path)) == before  # no store, no half-built file beside it
    r = evsh("--db", "new.db", "--domain", "shop", "import", str(shop_export), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(tmp_path)) - before == {"new.db"}
    r = evsh("--db", "new.db", "--domain", "shop", "state", "order", "o3", "--json", cwd=tmp_path)
    assert r.returncode == 0 and '"status"' in r.stdout, r.stderr
    assert sqlite3.connect(tmp_path / "new.db").execute("SELECT count(*) FROM order_details").fetchone()[0] == 12


# ----------------------------------------------------------------------------- export

def test_export_refuses_to_write_over_another_store(cli, tmp_path, db_path):
    assert cli("seed", "--orders", "3").exit_code == 0
    other = tmp_path / "other.db"
    other.write_bytes(open(db_path, "rb").read())
    r = cli("export", "-o", str(other))
    assert r.exit_code == 2 and "that is an SQLite database" in r.stderr, r.stderr
    assert other.read_bytes() == open(db_path, "rb").read()


def test_a_failed_export_leaves_the_file_it_would_have_replaced_as_it_was(cli, tmp_path, db_path):
    assert cli("seed", "--orders", "3").exit_code == 0
    out = tmp_path / "events.jsonl"
    out.write_text("yesterday's export\n")
    os.chmod(out, 0o640)
    link = tmp_path / "latest.jsonl"
    link.symlink_to(out.name)
    con = sqlite3.connect(db_path)
    con.execute("UPDATE events SET data = '{not json' WHERE position = 5")
    con.commit()
    con.close()
    before = set(os.listdir(tmp_path))
    r = cli("export", "-o", str(link))
    assert r.exit_code == 4 and "position 5" in r.stderr, r.stderr
    assert out.read_text() == "yesterday's export\n" and link.is_symlink()
    assert set(os.listdir(tmp_path)) == before  # nothing half-written left beside it
    con = sqlite3.connect(db_path)
    con.execute("""UPDATE events SET data = '{"product_id":"p1","quantity":1}' WHERE position = 5""")
    con.commit()
    con.close()
    r = cli("export", "-o", str(link))
    assert r.exit_code == 0, r.stderr
    assert link.is_symlink() and len(out.read_text().splitlines()) > 5  # written through the link, whole
    assert os.stat(out).st_mode & 0o777 == 0o640
    assert not any(n.endswith(".part") for n in os.listdir(tmp_path))


# ----------------------------------------------------------------------------- forget's history scrub

def test_forget_never_rewrites_a_history_path_that_is_not_a_shell_history(cli, tmp_path, db_path):
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x TEXT)")
    con.execute("INSERT INTO t VALUES ('+exec user u1 register --email zed1@example.com')")
    con.commit()
    con.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("call zed2@example.com about the order\n")
    for n, path in enumerate((other, notes), 1):
        assert cli("--domain", "shop", "exec", "user", f"u{n}", "register", "--email", f"zed{n}@example.com",
                   "--username", f"zed{n}").exit_code == 0
        before = path.read_bytes()
        r = cli("--domain", "shop", "forget", f"u{n}", "--yes", env={"EVSH_HISTORY": str(path)})
        assert r.exit_code == 0, r.stderr
        assert f"could not scrub the shell history {path}" in r.stderr and "shell history file;" in r.stderr
        assert path.read_bytes() == before


def test_the_shell_refuses_a_history_file_that_is_an_sqlite_database(cli, tmp_path, db_path):
    import pexpect

    from .test_trust_data import evsh_shell

    assert cli("seed", "--orders", "2").exit_code == 0
    other = tmp_path / "other.db"
    other.write_bytes(open(db_path, "rb").read())
    c = evsh_shell(tmp_path, ["--db", db_path], history=str(other))
    c.expect_exact("that is an SQLite database (another store?); choose another path")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 2
    assert other.read_bytes() == open(db_path, "rb").read()


# ----------------------------------------------------------------------------- a damaged store

@pytest.mark.parametrize("args", [
    ("read", "inventory-p2"), ("log",), ("log", "--json"), ("export",),
    ("--domain", "shop", "state", "inventory", "p2"),
    ("--domain", "shop", "projections", "rebuild", "inventory_levels"),
    ("--domain", "shop", "upcast", "--check"),
])
def test_an_event_whose_stored_data_is_not_json_is_named_with_exit_4(cli, db_path, args):
    assert cli("seed", "--orders", "3").exit_code == 0
    con = sqlite3.connect(db_path)
    stream, version, position = con.execute(
        "SELECT stream_id, version, position FROM events WHERE stream_id = 'inventory-p2'").fetchone()
    con.execute("UPDATE events SET data = '{not json' WHERE position = ?", (position,))
    con.commit()
    con.close()
    r = cli(*args)
    assert r.exit_code == 4, (r.exit_code, r.stderr)
    assert f"event {stream}@{version} (position {position}): its stored data is not JSON" in r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_a_stored_time_that_is_not_a_time_is_said_by_stats_with_exit_4(cli, db_path):
    assert cli("seed", "--orders", "3").exit_code == 0
    con = sqlite3.connect(db_path)
    con.execute("UPDATE events SET recorded_at = 'garbage' WHERE position = (SELECT max(position) FROM events)")
    con.commit()
    con.close()
    r = cli("--domain", "shop", "stats")
    assert r.exit_code == 4 and "a stored time, 'garbage', is not a time" in r.stderr, r.stderr


# ----------------------------------------------------------------------------- second look (review)

def test_export_to_a_pipe_or_standard_output_is_written_directly(tmp_path, shop_export):
    r = subprocess.run(f"{sys.executable} -m evsh --db evsh.db export -o /dev/stdout | wc -l", shell=True,
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and int(r.stdout.split()[0]) == len(shop_export.read_text().splitlines()), r.stderr
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    r = evsh("--db", "evsh.db", "export", "-o", str(fifo), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert reader.communicate(timeout=30)[0] == shop_export.read_text()
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_an_import_through_a_link_to_a_new_file_makes_the_store_there_and_a_refused_one_nothing(
        tmp_path, shop_export):
    link = tmp_path / "link.db"
    link.symlink_to("real.db")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    r = evsh("--db", "link.db", "import", str(bad), cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "real.db").exists(), r.stderr
    r = evsh("--db", "link.db", "import", str(shop_export), cwd=tmp_path)
    assert r.returncode == 0 and link.is_symlink() and (tmp_path / "real.db").is_file(), r.stderr
    r = evsh("--db", "folder/", "import", str(shop_export), cwd=tmp_path)
    assert r.returncode == 4 and "give a file name" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = evsh("--db", "nowhere/x.db", "import", str(shop_export), cwd=tmp_path)
    assert r.returncode == 4 and "there is no folder nowhere" in r.stderr, r.stderr


def test_forget_scrubs_a_history_whose_entries_hold_line_separators_other_than_newline(cli, tmp_path):
    assert cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "bob@example.com",
               "--username", "bobby").exit_code == 0
    history = tmp_path / "history"
    history.write_bytes('\n# 2026-01-01 09:00:00.000000\n+log --type "a\u2028b\u0085c"\n'
                        '\n# 2026-01-01 09:00:01.000000\n+exec user u1 register --email bob@example.com\n'.encode())
    r = cli("--domain", "shop", "forget", "u1", "--yes", env={"EVSH_HISTORY": str(history)})
    assert r.exit_code == 0 and "removed 1 entry" in r.stdout, (r.stdout, r.stderr)
    assert history.read_bytes() == '\n# 2026-01-01 09:00:00.000000\n+log --type "a\u2028b\u0085c"\n'.encode()


@pytest.mark.parametrize("stored", ["123", "[1, 2]", "null", '"text"'])
def test_event_data_that_is_json_but_not_an_object_is_a_damaged_store(cli, db_path, stored):
    assert cli("seed", "--orders", "3").exit_code == 0
    con = sqlite3.connect(db_path)
    position = con.execute("SELECT min(position) FROM events WHERE stream_id = 'order-o2'").fetchone()[0]
    con.execute("UPDATE events SET data = ? WHERE position = ?", (stored, position))
    con.commit()
    con.close()
    for args in (("read", "order-o2"), ("--domain", "shop", "trace", "order-o2"),
                 ("--domain", "shop", "projections", "rebuild", "order_details")):
        r = cli(*args)
        assert r.exit_code == 4, (args, r.exit_code, r.stderr)
        assert f"order-o2@1 (position {position}): its stored data is not a JSON object" in r.stderr, r.stderr
