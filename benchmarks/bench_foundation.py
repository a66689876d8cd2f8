"""Foundation benchmarks: import, commands, aggregate loading, start-up and seeding.

Run:  python benchmarks/bench_foundation.py [--events 1000000] [--commands 20000] [--skip-seed]

Each target is compared as a ratio with a baseline measured in the same run (the machines are
shared and noisy), or as an absolute figure where the issue names one:
- import of N events from JSON lines >= 0.5 x plain sqlite3 executemany of the same rows;
- commands in-process >= 1.3 x the `eventsourcing` library (same synchronous setting);
- loading a 10,000-event aggregate <= 50 ms;
- `evsh read STREAM` start-up <= 100 ms wall;
- `evsh seed` of 1,000,000 events < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

BENCH_DOMAIN = '''
from evsh import Aggregate, applies, command, event

@event
class CounterStarted:
    name: str

@event
class CounterIncremented:
    by: int

class Counter(Aggregate):
    name: str = ""
    total: int = 0

    @command
    def start(self, name: str):
        yield CounterStarted(name)

    @command
    def increment(self, by: int = 1):
        yield CounterIncremented(by)

    @applies
    def _started(self, e: CounterStarted) -> None:
        self.name = e.name

    @applies
    def _incremented(self, e: CounterIncremented) -> None:
        self.total += e.by
'''


_ES: dict = {}


def es_classes() -> dict:
    """The eventsourcing library's aggregates, defined once (it refuses to register a topic twice)."""
    if not _ES:
        from eventsourcing.domain import Aggregate, event

        class Counter(Aggregate):
            @event("Started")
            def __init__(self, name: str) -> None:
                self.name = name

            @staticmethod
            def create_id(name: str) -> uuid.UUID:  # an id a command can name before loading
                return uuid.uuid5(uuid.NAMESPACE_URL, f"/counters/{name}")

        class Tally(Aggregate):
            @event("Started")
            def __init__(self) -> None:
                self.total = 0

            @event("Incremented")
            def increment(self, by: int) -> None:
                self.total += by

        _ES.update(Counter=Counter, Tally=Tally)
    return _ES



def es_create_counters(app, names: list[str], *, load_first: bool = True) -> None:
    """What evsh's `start` command does, done with `eventsourcing`: look each counter up (it must
    not exist; ``load_first=False`` skips that read), create it, save it."""
    from eventsourcing.application import AggregateNotFoundError

    Counter = es_classes()["Counter"]
    for name in names:
        if load_first:
            try:
                app.repository.get(Counter.create_id(name))
                raise AssertionError(f"counter {name} already exists")
            except AggregateNotFoundError:
                pass
        app.save(Counter(name=name))

def median_of(fn, repeat: int = 3) -> float:
    return statistics.median(fn() for _ in range(repeat))


# ----------------------------------------------------------------------------- import
def bench_import(tmp: str, n: int) -> dict:
    from evsh.store import codec

    path = os.path.join(tmp, "events.jsonl")
    t0 = "2026-01-01T00:00:00.000000Z"
    rows = []
    with open(path, "w") as fh:
        for i in range(n):
            sid = f"order-o{i // 5}"
            d = {
                "event_id": str(uuid.uuid4()), "stream_id": sid, "version": i % 5 + 1, "type": "OrderCreated",
                "data": {"order_id": f"o{i // 5}", "customer_id": "c1", "total": "19.00"},
                "metadata": {"correlation_id": str(uuid.uuid4()), "schema_version": 1}, "recorded_at": t0,
                "evsh_format": 1,
            }
            fh.write(json.dumps(d) + "\n")

    # baseline: plain executemany of pre-built tuples into a table with the same unique indexes
    def baseline() -> float:
        db = os.path.join(tmp, "plain.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,"
            " stream_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,"
            " metadata TEXT NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (stream_id, version))"
        )
        tuples = []
        with open(path, "rb") as fh:
            for line in fh:
                d = codec.parse(line)
                tuples.append((d["event_id"], d["stream_id"], d["version"], d["type"], codec.dumps(d["data"]),
                               codec.dumps(d["metadata"]), d["recorded_at"]))
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at)"
                         " VALUES (?,?,?,?,?,?,?)", tuples)
        conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        del tuples
        return n / elapsed

    def evsh_import() -> float:
        db = os.path.join(tmp, "imp.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        from evsh.cli.transfer import import_rows
        from evsh.store.sqlite import open_store

        store = open_store(db)
        start = time.perf_counter()
        with open(path, "rb") as fh:
            written, _ = store.import_rows(import_rows(iter(fh), None, t0))
        elapsed = time.perf_counter() - start
        store.close()
        assert written == n
        return n / elapsed

    base = baseline()
    ours = evsh_import()
    return {"plain executemany rows/s": base, "evsh import events/s": ours, "ratio": ours / base, "target": ">= 0.5"}


# ----------------------------------------------------------------------------- commands
def bench_commands(tmp: str, n: int, sync: str) -> dict:
    domain_file = os.path.join(tmp, "bench_domain.py")
    with open(domain_file, "w") as fh:
        fh.write(BENCH_DOMAIN)
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    domain = load_domain(domain_file)

    def ours() -> float:
        db = os.path.join(tmp, f"cmd-{uuid.uuid4().hex}.db")
        store = open_store(db, sync=sync)
        engine = build_engine(store, domain)
        counter = domain.aggregate("counter")
        start = time.perf_counter()
        for i in range(n):
            engine.execute(counter, f"c{i}", "start", {"name": f"c{i}"})
        elapsed = time.perf_counter() - start
        store.close()
        return n / elapsed

    def theirs(load_first: bool) -> float:
        """``eventsourcing`` at the same synchronous setting. ``load_first``: the same work as
        evsh's command (look the aggregate up, then create it and save); otherwise its bare
        create-and-save, which reads nothing."""
        from eventsourcing import sqlite as es_sqlite
        from eventsourcing.application import Application

        original = es_sqlite.SQLiteConnectionPool._create_connection

        def create_connection(self):  # same synchronous setting as evsh's
            conn = original(self)
            conn._sqlite_conn.execute(f"PRAGMA synchronous={sync.upper()}")
            return conn

        es_sqlite.SQLiteConnectionPool._create_connection = create_connection

        db = os.path.join(tmp, f"es-{uuid.uuid4().hex}.db")
        app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
        start = time.perf_counter()
        es_create_counters(app, [f"c{i}" for i in range(n)], load_first=load_first)
        elapsed = time.perf_counter() - start
        es_sqlite.SQLiteConnectionPool._create_connection = original
        return n / elapsed

    # rounds run back to back, so all sides of a ratio see the same machine (shared and noisy)
    rounds = [(ours(), theirs(load_first=True), theirs(load_first=False)) for _ in range(5)]
    same = sorted(a / b for a, b, _ in rounds)
    bare = sorted(a / c for a, _, c in rounds)
    return {"evsh commands/s": statistics.median(a for a, _, _ in rounds),
            "eventsourcing load + save /s": statistics.median(b for _, b, _ in rounds),
            "eventsourcing save only /s": statistics.median(c for _, _, c in rounds),
            "ratio, same work (median of 5 rounds)": same[2], "same-work range": f"{same[0]:.2f} .. {same[-1]:.2f}",
            "ratio, vs save only (median of 5 rounds)": bare[2], "save-only range": f"{bare[0]:.2f} .. {bare[-1]:.2f}",
            "target": ">= 1.3", "sync": sync}


# ----------------------------------------------------------------------------- load
def bench_load(tmp: str, events: int = 10_000) -> dict:
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.store.base import NewEvent

    domain = load_domain(os.path.join(tmp, "bench_domain.py"))
    store = open_store(os.path.join(tmp, "load.db"))
    engine = build_engine(store, domain)
    counter = domain.aggregate("counter")
    engine.execute(counter, "big", "start", {"name": "big"})
    batch = [NewEvent("CounterIncremented", {"by": 1}, {"schema_version": 1}) for _ in range(1000)]
    for _ in range(events // 1000):
        store.append("counter-big", batch)

    def ours() -> float:
        engine.forget_cached()  # a full replay, not the engine's cached state
        start = time.perf_counter()
        agg = engine.load(counter, "big")
        elapsed = time.perf_counter() - start
        assert agg.total == events // 1000 * 1000
        return elapsed * 1000

    def theirs() -> float:
        from eventsourcing.application import Application

        Tally = es_classes()["Tally"]
        app = Application(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                               "SQLITE_DBNAME": os.path.join(tmp, f"esload-{uuid.uuid4().hex}.db")})
        t = Tally()
        for i in range(events // 1000):
            for _ in range(1000):
                t.increment(by=1)
            app.save(t)
        start = time.perf_counter()
        got = app.repository.get(t.id)
        elapsed = time.perf_counter() - start
        assert got.total == events // 1000 * 1000
        return elapsed * 1000

    ms = median_of(ours, 5)
    es_ms = theirs()
    store.close()
    return {"evsh load ms": ms, "eventsourcing load ms": es_ms, "events": events, "target": "<= 50 ms"}


# ----------------------------------------------------------------------------- start-up
def bench_startup(tmp: str) -> dict:
    db = os.path.join(tmp, "small.db")
    evsh = [sys.executable, "-m", "evsh", "--db", db]
    # as a user runs it: bytecode cached (the first run writes it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([*evsh, "append", "order-o1", "OrderPlaced", '{"a": 1}'], check=True, capture_output=True, env=env)

    def once(*extra: str) -> float:
        start = time.perf_counter()
        subprocess.run([*evsh, "read", "order-o1", *extra], check=True, capture_output=True, env=env)
        return (time.perf_counter() - start) * 1000

    def on_terminal() -> float:
        """The same read with stdout on a pseudo-terminal: a Rich table, as a person sees it."""
        import pty

        start = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(sys.executable, [sys.executable, "-m", "evsh", "--db", db, "read", "order-o1"], env)
        while True:
            try:
                if not os.read(fd, 4096):
                    break
            except OSError:
                break
        os.waitpid(pid, 0)
        os.close(fd)
        return (time.perf_counter() - start) * 1000

    def python_only(code: str = "pass") -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return (time.perf_counter() - start) * 1000

    once()
    # the floor: a process that only imports the libraries a terminal read needs (the CLI
    # framework and the table renderer), doing nothing else
    libraries = "import click, rich.console, rich.table"
    return {"evsh read ms (piped)": median_of(once, 9), "evsh read --json ms": median_of(lambda: once("--json"), 9),
            "evsh read ms (terminal)": median_of(on_terminal, 9), "bare python ms": median_of(python_only, 9),
            "python importing click only ms": median_of(lambda: python_only("import click"), 9),
            f"python -c '{libraries}' ms": median_of(lambda: python_only(libraries), 9),
            "target": "<= 100 ms"}


# ----------------------------------------------------------------------------- seed
def bench_seed(tmp: str, orders: int) -> dict:
    db = os.path.join(tmp, "seed.db")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "evsh", "--db", db, "seed", "--orders", str(orders)],
                         check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    conn = sqlite3.connect(db)
    n = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    return {"events": n, "seconds": elapsed, "events/s": n / elapsed, "target": "1,000,000 in < 60 s",
            "output": out.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to import")
    parser.add_argument("--commands", type=int, default=20_000, help="commands per run")
    parser.add_argument("--seed-orders", type=int, default=210_000, help="orders for the seed benchmark (~1M events)")
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--only", choices=["import", "commands", "load", "startup", "seed"], default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="evsh-bench-")
    results = {}
    try:
        if args.only in (None, "startup"):
            results["startup"] = bench_startup(tmp)
        if args.only in (None, "commands", "load"):
            results["commands (normal)"] = bench_commands(tmp, args.commands, "normal")
        if args.only in (None, "load"):
            results["load 10k"] = bench_load(tmp)
        if args.only in (None, "import"):
            results["import"] = bench_import(tmp, args.events)
        if args.only in (None, "seed") and not args.skip_seed:
            results["seed"] = bench_seed(tmp, args.seed_orders)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, figures in results.items():
        print(f"## {name}")
        for k, v in figures.items():
            print(f"  {k:<28} {v:,.2f}" if isinstance(v, float) else f"  {k:<28} {v}")


if __name__ == "__main__":
    main()
