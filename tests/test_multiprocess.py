"""Several real processes writing to one store at once.

Each worker appends batches to shared streams with the expected version it just read; the
store must end with no duplicate version, no gap in positions, no interleaved batch, every
accepted event readable and every rejected one absent. Workers start together: each says it is
ready and waits for a "go" line, so the writes really overlap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import defaultdict

import pytest

from evsh import open_store

WORKER = textwrap.dedent(
    """
    import json, random, sys, uuid
    from evsh import ConcurrencyError, NewEvent, open_store

    db, wid, ops, streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = open_store(db, busy_timeout=120)
    rng = random.Random(wid)
    accepted, rejected = [], []
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(ops):
        sid = f"shared-{rng.randrange(streams)}"
        seen = store.stream_version(sid)
        batch = [NewEvent("Ticked", {"w": wid, "i": i, "j": j}, {"worker": wid}, str(uuid.uuid4()))
                 for j in range(rng.randint(1, 4))]
        try:
            res = store.append(sid, batch, seen if seen else "no-stream")
        except ConcurrencyError:
            rejected.append([e.event_id for e in batch])
            continue
        accepted.append({"stream": sid, "seen": seen,
                         "events": [[e.event_id, e.version, e.position] for e in res.events]})
    store.close()
    print(json.dumps({"accepted": accepted, "rejected": rejected}), flush=True)
    """
)

COMMAND_WORKER = textwrap.dedent(
    """
    import json, sys
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    db, wid, ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = open_store(db, busy_timeout=120)
    engine = build_engine(store, load_domain("shop"), mode="async", retries=10_000)
    print("ready", flush=True)
    sys.stdin.readline()
    attempts = 0
    for i in range(ops):
        out = engine.execute("inventory", "p1", "add_stock", {"quantity": wid})
        attempts += out.attempts
    store.close()
    print(json.dumps({"attempts": attempts}), flush=True)
    """
)


def run_together(script: str, argvs: list[list[str]]) -> list[dict]:
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.mark.parametrize("workers, ops, streams", [(4, 150, 3)])
def test_concurrent_appends_with_expected_versions_keep_the_store_consistent(db_path, workers, ops, streams):
    open_store(db_path).close()
    results = run_together(WORKER, [[db_path, str(w), str(ops), str(streams)] for w in range(workers)])

    with open_store(db_path, create=False) as store:
        log = list(store.read_all())
        by_id = {e.event_id: e for e in log}

        # no gap in positions, nothing lost, nothing extra
        assert [e.position for e in log] == list(range(1, len(log) + 1))
        accepted = [b for r in results for b in r["accepted"]]
        rejected = [ids for r in results for ids in r["rejected"]]
        assert len(accepted) + len(rejected) == workers * ops
        assert len(log) == sum(len(b["events"]) for b in accepted)

        # every accepted event is readable where its writer was told it is
        for batch in accepted:
            for eid, version, position in batch["events"]:
                e = by_id[eid]
                assert (e.stream_id, e.version, e.position) == (batch["stream"], version, position)
            # the batch went exactly on top of the version its writer saw, as one block
            versions = [v for _, v, _ in batch["events"]]
            positions = [p for _, _, p in batch["events"]]
            assert versions == list(range(batch["seen"] + 1, batch["seen"] + 1 + len(versions)))
            assert positions == list(range(positions[0], positions[0] + len(positions)))

        # every rejected event is absent
        for ids in rejected:
            assert not any(i in by_id for i in ids)

        # per stream: versions 1..n, no duplicate, no gap, and the streams table agrees
        per_stream: dict[str, list[int]] = defaultdict(list)
        for e in log:
            per_stream[e.stream_id].append(e.version)
        for sid, versions in per_stream.items():
            assert versions == list(range(1, len(versions) + 1)), sid
            assert store.stream_version(sid) == len(versions)
            assert [e.version for e in store.read_stream(sid)] == versions
        assert {s.stream_id: s.version for s in store.streams()} == {k: len(v) for k, v in per_stream.items()}


def test_concurrent_commands_on_one_aggregate_all_land_through_retries(db_path):
    open_store(db_path).close()
    workers, ops = 3, 40
    results = run_together(COMMAND_WORKER, [[db_path, str(w), str(ops)] for w in range(1, workers + 1)])
    with open_store(db_path, create=False) as store:
        events = list(store.read_stream("inventory-p1"))
        assert [e.version for e in events] == list(range(1, workers * ops + 1))
        assert sum(e.data["quantity"] for e in events) == ops * sum(range(1, workers + 1))
    assert sum(r["attempts"] for r in results) >= workers * ops


CREATOR = textwrap.dedent(
    """
    import json, sys
    from evsh import NewEvent, open_store

    db, wid = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    sys.stdin.readline()
    with open_store(db) as store:  # every worker finds no file and creates the store
        res = store.append(f"w-{wid}", [NewEvent("Started", {"w": wid})])
    print(json.dumps({"position": res.events[0].position}), flush=True)
    """
)


def test_several_processes_creating_the_same_store_at_once_all_succeed(tmp_path):
    import sqlite3

    from evsh.store.sqlite import schema

    db = str(tmp_path / "racy.db")
    results = run_together(CREATOR, [[db, str(w)] for w in range(4)])
    assert sorted(r["position"] for r in results) == [1, 2, 3, 4]
    with open_store(db, create=False) as store:
        assert sorted(s.stream_id for s in store.streams()) == ["w-0", "w-1", "w-2", "w-3"]
    c = sqlite3.connect(db)
    try:
        assert c.execute("PRAGMA user_version").fetchone()[0] == schema.latest_version()
        assert c.execute("SELECT count(*) FROM evsh_meta WHERE key = 'format'").fetchone() == (1,)
    finally:
        c.close()


IMPORTER = textwrap.dedent(
    """
    import sys, uuid
    from evsh import open_store
    from evsh.store import codec

    store = open_store(sys.argv[1])

    def chunks():
        rows = [(n + 1, str(uuid.uuid4()), "imported-1", n + 1, "Imported", codec.dumps({"n": n}), "{}",
                 "2026-01-01T00:00:00Z") for n in range(200)]
        yield rows[:100]
        print("holding the write lock", flush=True)
        sys.stdin.readline()  # the test decides when the import goes on
        yield rows[100:]

    print(store.import_rows(chunks()), flush=True)
    """
)

APPENDER = textwrap.dedent(
    """
    import sys
    from evsh import NewEvent, open_store

    store = open_store(sys.argv[1])  # the default busy timeout
    print("appending", flush=True)
    res = store.append("after-1", [NewEvent("Appended", {})])
    print(res.events[0].position, flush=True)
    """
)


def test_a_writer_waits_for_a_concurrent_import_instead_of_failing(db_path):
    open_store(db_path).close()
    procs = []
    try:
        importer = subprocess.Popen([sys.executable, "-c", IMPORTER, db_path], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(importer)
        assert importer.stdout.readline().strip() == "holding the write lock", importer.stderr.read()
        appender = subprocess.Popen([sys.executable, "-c", APPENDER, db_path], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        procs.append(appender)
        assert appender.stdout.readline().strip() == "appending", appender.stderr.read()
        assert appender.poll() is None  # it cannot have appended: the importer holds the lock
        importer.stdin.write("go\n")
        importer.stdin.flush()
        out, err = importer.communicate(timeout=120)
        assert importer.returncode == 0, err
        out, err = appender.communicate(timeout=120)
        assert appender.returncode == 0, err
        assert int(out.strip()) == 201  # after the whole import, never inside it
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    with open_store(db_path, create=False) as store:
        assert store.stream_version("imported-1") == 200 and store.stream_version("after-1") == 1
