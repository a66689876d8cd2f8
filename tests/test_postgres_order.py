"""A global order readers can trust, on a real PostgreSQL server.

Eight writer processes append with random pauses, while a reader tails the log the way every
evsh worker does: "everything after my checkpoint", moving the checkpoint to the last position
it saw. The pauses fall where commit order and position order can part: between writing the
events and letting go of the append lock (a hook inside the append's transaction), and between
letting go of it and the COMMIT (the window in which other appenders go ahead and commits are
flushed together). Two of the writers write a row before each append, which makes their
transactions wait for the appenders in flight instead. A second reader in the same run reads plainly (``position > checkpoint``,
no bound): it misses events, which shows the pauses reach that window. evsh's reader stops
before any event a running appender could still commit below (docs/postgresql.md): nothing
is missed, nothing is seen twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg

from tests.services import postgres_url

WRITERS = 8
EACH = 100  # events per writer, in batches of one to three

WRITER = r"""
import random, sys, time
from evsh.store.connect import open_store
from evsh.store.base import NewEvent

url, me, each = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(me)

def jitter(store, recorded):
    time.sleep(rng.random() * 0.002)  # positions are written; the commit comes later

store = open_store(url)
end = store._end_transaction

def late_commit(commit):
    # as the store ends a transaction, with a pause between the append lock's release and the COMMIT
    if commit and store._append_locked:
        store._append_locked = store._exclusive = False
        store._conn.execute(f"SELECT pg_advisory_unlock({store.lock_key})")
        # now and then a long pause, which the other writers' commits surely pass
        time.sleep(0.02 if rng.random() < 0.1 else rng.random() * 0.003)
        store._conn.execute("COMMIT")
        return
    end(commit)

store._end_transaction = late_commit
n = 0
while n < each:
    batch = min(rng.randint(1, 3), each - n)
    events = [NewEvent("Wrote", {"w": me, "n": n + i}) for i in range(batch)]
    if me % 4 == 3:  # writes before it appends: takes the appending lock exclusively
        with store.transaction():
            store.set_checkpoint(f"writer-{me}", n)
            store.append(f"w{me}-{n % 7}", events, hooks=[jitter])
    else:
        store.append(f"w{me}-{n % 7}", events, hooks=[jitter])
    n += batch
store.close()
"""


def test_a_tailing_reader_misses_nothing_and_sees_nothing_twice_with_8_jittery_writers():
    from evsh.store.connect import open_store

    with postgres_url() as url:
        open_store(url).close()  # the schema exists before the writers race to make it
        env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
        reader = open_store(url, read_only=True)
        plain = psycopg.connect(url.split("?")[0], autocommit=True)
        plain.execute(f"SET search_path TO {url.rsplit('schema=', 1)[1]}")
        seen: list[tuple[int, str]] = []
        plainly: list[tuple[int, str]] = []
        checkpoint = plain_checkpoint = 0

        def poll() -> None:
            nonlocal checkpoint, plain_checkpoint
            for e in reader.read_all(checkpoint + 1):
                seen.append((e.position, e.event_id))
                checkpoint = e.position
            for row in plain.execute("SELECT position, event_id FROM events WHERE position > %s ORDER BY position",
                                     (plain_checkpoint,)):
                plainly.append(row)
                plain_checkpoint = row[0]

        writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(w), str(EACH)], env=env)
                   for w in range(WRITERS)]
        deadline = time.monotonic() + 60
        try:
            while any(p.poll() is None for p in writers):
                assert time.monotonic() < deadline, "the writers did not finish in a minute"
                poll()
                time.sleep(0.001)
        finally:
            for p in writers:
                if p.poll() is None:
                    p.kill()
        assert [p.wait() for p in writers] == [0] * WRITERS
        poll()  # the last ones, by the same rule: after the checkpoint
        everything = [(e.position, e.event_id) for e in reader.read_all(1)]
        reader.close()
        plain.close()
    assert len(everything) == WRITERS * EACH
    ids = [eid for _, eid in seen]
    missed = set(everything) - set(seen)
    assert len(ids) - len(set(ids)) == 0, "an event was seen twice"
    assert not missed, f"the tailing reader missed {len(missed)} of {len(everything)} events"
    assert set(everything) - set(plainly), "the plain reader missed nothing: the pauses did not reach the window"
    assert seen == everything  # in position order, gap-free
    assert [p for p, _ in everything] == list(range(1, WRITERS * EACH + 1))
