"""Kill a writer with SIGKILL mid-batch, at a point the test controls, and find the store intact.

The child process signals over its stdout when it has reached the chosen point (inside the
append's transaction after the rows are inserted, or after the commit, or between two chunks of
an import) and then blocks reading stdin, so the kill always lands exactly there: no sleeps.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from evsh import NewEvent, open_store

PRE = 5  # events committed before the batch under test
BATCH = 40

CHILD = textwrap.dedent(
    """
    import sys
    from evsh import NewEvent, open_store

    db, sync, where = sys.argv[1], sys.argv[2], sys.argv[3]
    store = open_store(db, sync=sync)
    store.append("pre-1", [NewEvent("Before", {"n": n}) for n in range(%(pre)d)])

    def stop(msg):
        print(msg, flush=True)
        sys.stdin.readline()  # blocks until the parent kills us
        raise SystemExit("parent never killed us")

    def inside(tx, recorded):
        assert len(recorded) == %(batch)d
        stop("inside")

    if where == "inside":
        store.append("batch-1", [NewEvent("InBatch", {"n": n}) for n in range(%(batch)d)], hooks=[inside])
    elif where == "committed":
        store.append("batch-1", [NewEvent("InBatch", {"n": n}) for n in range(%(batch)d)])
        stop("committed")
    elif where == "import":
        import uuid
        from evsh.store import codec

        def chunks():
            rows = [(n + 1, str(uuid.uuid4()), "imported-1", n + 1, "Imported", codec.dumps({"n": n}), "{}",
                     "2026-01-01T00:00:00Z") for n in range(%(batch)d)]
            yield rows[:20]
            stop("between-chunks")  # the first chunk is inserted, inside the import's transaction
            yield rows[20:]

        store.import_rows(chunks())
    """
) % {"pre": PRE, "batch": BATCH}


def kill_at(db_path: str, where: str, sync: str = "normal") -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_path, sync, where], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line in ("inside", "committed", "between-chunks"), child.stderr.read()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        assert child.returncode == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def check_intact(db_path: str) -> None:
    c = sqlite3.connect(db_path)
    try:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        c.close()


@pytest.mark.parametrize("sync", ["normal", "full"])
def test_killed_inside_the_append_transaction_the_batch_is_entirely_absent(db_path, sync):
    kill_at(db_path, "inside", sync)
    check_intact(db_path)
    with open_store(db_path, create=False) as store:
        assert list(store.read_stream("batch-1")) == []
        assert store.stream_version("batch-1") == 0
        assert [s.stream_id for s in store.streams()] == ["pre-1"]
        assert [e.data["n"] for e in store.read_all()] == list(range(PRE))
        assert store.head_position() == PRE
        # the lock died with the writer; the next append continues without a gap
        res = store.append("batch-1", [NewEvent("After", {})], "no-stream")
        assert (res.version, res.events[0].position) == (1, PRE + 1)


@pytest.mark.parametrize("sync", ["normal", "full"])
def test_killed_after_the_commit_the_batch_is_entirely_present(db_path, sync):
    kill_at(db_path, "committed", sync)
    check_intact(db_path)
    with open_store(db_path, create=False) as store:
        batch = list(store.read_stream("batch-1"))
        assert [e.data["n"] for e in batch] == list(range(BATCH))
        assert [e.version for e in batch] == list(range(1, BATCH + 1))
        assert [e.position for e in batch] == list(range(PRE + 1, PRE + BATCH + 1))
        assert store.stream_version("batch-1") == BATCH
        assert store.append("batch-1", [NewEvent("After", {})], BATCH).events[0].position == PRE + BATCH + 1


def test_killed_between_chunks_of_an_import_nothing_is_imported(db_path):
    kill_at(db_path, "import")
    check_intact(db_path)
    with open_store(db_path, create=False) as store:
        assert list(store.read_stream("imported-1")) == []
        assert store.stream_version("imported-1") == 0
        assert store.head_position() == PRE
