"""When the store or the output fails, evsh says what is wrong in one line, with its exit code.

A read-only store, damaged pages, a full disk (at commit, and when opening a store), standard
output or an output file that cannot be written, a reader that goes away, and Ctrl-C: each is
tried on the real `evsh` process. SQLite's own errors are produced for real: by opening the store
read-only or capping its size (the file as it would be on a read-only or full disk), by
overwriting pages, and, where the machine allows it, on a small filesystem of its own.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import time

import pytest

from evsh import open_store
from evsh.store.base import NewEvent
from tests.cli_faults import event_line, events_in, evsh, fill, mount_tmpfs, one_line, umount

SHOP = ("--domain", "shop")
REGISTER = ("exec", "user", "u1", "register", "--email", "a@b.c", "--username", "al")


@pytest.fixture(scope="module")
def shop_template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop")
    for args in (("exec", "inventory", "p1", "add-stock", "--quantity", "5"), REGISTER,
                 ("--mode", "async", "exec", "inventory", "p1", "add-stock", "--quantity", "1")):
        r = evsh(*SHOP, *args, cwd=folder)
        assert r.returncode == 0, r.stderr
    return folder


@pytest.fixture
def shop_store(shop_template, tmp_path):
    """A shop store with stock, a user (with a key) and an event waiting for the reactors."""
    with open_store(str(shop_template / "evsh.db")) as store:
        store.backup(str(tmp_path / "evsh.db"))
    return tmp_path


def big_export(path, n: int = 3000) -> None:
    path.write_text("".join(event_line(i, data={"pad": "x" * 200}) + "\n" for i in range(1, n + 1)))


# ----------------------------------------------------------------------------- the store file

@pytest.mark.parametrize("args", [
    ("append", "a-1", "X"),
    ("exec", "inventory", "p1", "add-stock", "--quantity", "1"),
    ("reactors", "run"),
    ("forget", "u1", "--yes"),
    ("projections", "run"),
    ("streams", "delete", "inventory-p1"),
    ("snapshot", "inventory", "p1"),
])
def test_a_read_only_store_refuses_writes_in_one_line(shop_store, args):
    before = (shop_store / "evsh.db").read_bytes(), events_in(shop_store)
    one_line(evsh(*SHOP, *args, cwd=shop_store, fault="readonly"), 4, "evsh.db is read-only")
    assert ((shop_store / "evsh.db").read_bytes(), events_in(shop_store)) == before


def test_a_read_only_store_still_reads(shop_store):
    r = evsh("read", "inventory-p1", "--json", cwd=shop_store, fault="readonly")
    assert r.returncode == 0 and b"StockAdded" in r.stdout


@pytest.mark.parametrize("args", [("import", "big.jsonl"), ("append", "a-1", "X", '{"pad": "%s"}' % ("x" * 50_000)),
                                  ("projections", "rebuild", "order_details")])
def test_a_full_disk_at_commit_writes_nothing(shop_store, args):
    big_export(shop_store / "big.jsonl")
    before = events_in(shop_store)
    one_line(evsh(*SHOP, *args, cwd=shop_store, fault="full"), 4, "the disk is full")
    assert events_in(shop_store) == before


def _damaged_store(folder, table_or_index: str) -> None:
    """A store whose right-most page under ``table_or_index`` (where new rows go) is garbage."""
    db = str(folder / "evsh.db")
    with open_store(db) as s:
        for k in range(20):
            s.append(f"s-{k}", [NewEvent("X", {"pad": "y" * 500, "n": n}) for n in range(50)])
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name=?", (table_or_index,)).fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek(page_size * (root - 1))
        right_child = struct.unpack(">I", fh.read(12)[8:12])[0]
        fh.seek(page_size * (right_child - 1))
        fh.write(b"\xff" * page_size)


@pytest.mark.parametrize("damaged", ["sqlite_autoindex_events_1", "sqlite_autoindex_events_2", "events"])
@pytest.mark.parametrize("args", [("append", "s-19", "X"), ("append", "zz-1", "X"), ("log",)])
def test_damaged_pages_are_a_store_error(tmp_path, damaged, args):
    _damaged_store(tmp_path, damaged)
    r = evsh(*args, cwd=tmp_path, stdout=subprocess.DEVNULL)
    if r.returncode == 0:  # this read or write did not touch the damaged page
        return
    one_line(r, 4, "evsh.db is damaged", "malformed")


def test_a_store_on_a_small_disk_says_so(tmp_path):
    """On a real filesystem that fills up: at commit, and when the store cannot even be opened."""
    disk = str(tmp_path / "disk")
    if not mount_tmpfs(disk, "1m"):
        pytest.skip("needs root and mount to make a small filesystem")
    try:
        assert evsh(*SHOP, *REGISTER, cwd=disk).returncode == 0
        big_export(tmp_path / "big.jsonl", 6000)
        one_line(evsh("import", str(tmp_path / "big.jsonl"), cwd=disk), 4, "the disk is full")
        assert events_in(disk) == 1
        fill(disk, leave_kb=0)
        for name in ("evsh.db-wal", "evsh.db-shm"):
            if os.path.exists(os.path.join(disk, name)):
                os.remove(os.path.join(disk, name))
        line = one_line(evsh("read", "user-u1", cwd=disk), 4, "the disk is full")
        assert "not an evsh store" not in line
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        os.sync()
        line = one_line(evsh(*SHOP, *REGISTER, cwd=disk), 4)
        assert "read-only" in line or "not writable" in line
        assert "not an evsh store" not in line
    finally:
        umount(disk)


# ----------------------------------------------------------------------------- output

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("read", "b-1"), ("read", "b-1", "--json"), ("log", "--nl"),
                                  ("sql", "select * from events"), ("export",), ("streams",)])
def test_output_that_cannot_be_written_is_a_store_error(tmp_path, args):
    big_export(tmp_path / "big.jsonl", 300)
    assert evsh("import", "big.jsonl", cwd=tmp_path).returncode == 0
    with open("/dev/full", "w") as full:
        r = evsh(*args, cwd=tmp_path, stdout=full)
    one_line(r, 4, "cannot write standard output", "No space left on device")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_output_file_that_cannot_be_written_is_named(tmp_path):
    big_export(tmp_path / "big.jsonl", 300)
    assert evsh("import", "big.jsonl", cwd=tmp_path).returncode == 0
    one_line(evsh("export", "-o", "/dev/full", cwd=tmp_path), 4, "cannot write /dev/full")


@pytest.mark.parametrize("args", [("log",), ("log", "--nl"), ("read", "b-1", "--json"), ("export",),
                                  ("sql", "select * from events", "--csv")])
def test_a_reader_that_goes_away_ends_evsh_quietly(tmp_path, args):
    big_export(tmp_path / "big.jsonl")
    assert evsh("import", "big.jsonl", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    proc = subprocess.Popen([*evsh_command(), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""


def evsh_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "evsh"]


# ----------------------------------------------------------------------------- Ctrl-C

SLOW_DOMAIN = '''
import os, time
from evsh import Aggregate, command, event

@event
class Opened:
    n: int

class Thing(Aggregate):
    @command
    def open(self):
        yield Opened(1)
        open(os.environ["READY_FILE"], "w").close()
        while True:
            time.sleep(0.05)
'''


def test_ctrl_c_is_exit_130_and_writes_nothing(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW_DOMAIN)
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    proc = subprocess.Popen([*evsh_command(), "--domain", "slow.py", "exec", "thing", "t1", "open"], cwd=tmp_path,
                            env={**env, "READY_FILE": str(ready)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "evsh: interrupted"
    assert events_in(tmp_path) == 0
