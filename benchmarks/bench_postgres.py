"""PostgreSQL benchmarks: commands, writers, bulk import, projection rebuild, start-up.

Run:  python benchmarks/bench_postgres.py [--url postgresql://postgres@127.0.0.1:5432/test]
          [--only commands,writers,import,rebuild,startup] [--commands 3000] [--writers 8]
          [--import-events 200000] [--orders 200000]

Each target is a ratio against a baseline measured in the same run (the machine is shared), or
the absolute figure the issue names:
- commands in one process >= 1.3 x the `eventsourcing` library's PostgreSQL module doing the
  same work (look the aggregate up, create it, save it; a new stream each time);
- total events/s of 8 writer processes >= 1.3 x the same with `eventsourcing`;
- bulk import >= 0.5 x a plain COPY of pre-built rows into the same table;
- projection rebuild (order_details) >= 50,000 events/s on a 1M-event store (seeded once into
  the schema evsh_bench_1m and kept: pass --orders to size it);
- `evsh read` on PostgreSQL starts in <= 150 ms, and SQLite's start-up does not import psycopg.

Both libraries serialise appends through the commit (evsh's advisory lock, eventsourcing's
`LOCK TABLE ... EXCLUSIVE`), so at the server's default `synchronous_commit=on` both wait for one
WAL flush per command and the ratio says little more than how fast the disk flushed that minute;
`--async-commit` runs both at `synchronous_commit=off`, which shows each library's own work.

`eventsourcing[postgres]` is a benchmark-only dependency: pip install 'eventsourcing[postgres]'.
Every schema this makes is dropped afterwards, except the rebuild's store.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from bench_foundation import BENCH_DOMAIN, es_create_counters  # noqa: E402

DEFAULT_URL = os.environ.get("EVSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def create_schema(url: str, schema: str) -> None:
    """`eventsourcing` creates its tables, not its schema."""
    import psycopg

    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def es_env(url: str, schema: str) -> dict[str, str]:
    parts = urllib.parse.urlsplit(url)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": parts.path.lstrip("/"),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1", "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": parts.username or "postgres", "POSTGRES_PASSWORD": parts.password or "",
            "POSTGRES_SCHEMA": schema, "POSTGRES_POOL_SIZE": "1"}


def domain_file(tmp: str) -> str:
    path = os.path.join(tmp, "bench_domain.py")
    with open(path, "w") as fh:
        fh.write(BENCH_DOMAIN)
    return path


# ----------------------------------------------------------------------------- commands
def evsh_commands(url: str, domain_path: str, prefix: str, n: int) -> tuple[float, float]:
    """(start, end) of n commands, each making a new stream."""
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    domain = load_domain(domain_path)
    store = open_store(url)
    engine = build_engine(store, domain)
    counter = domain.aggregate("counter")
    start = time.perf_counter()
    for i in range(n):
        engine.execute(counter, f"{prefix}{i}", "start", {"name": f"{prefix}{i}"})
    end = time.perf_counter()
    store.close()
    return start, end


def es_commands(url: str, schema: str, prefix: str, n: int, create: bool = True) -> tuple[float, float]:
    """The same work with `eventsourcing`: look the aggregate up (not found), create, save."""
    from eventsourcing.application import Application

    if create:
        create_schema(url, schema)
    app = Application(env={**es_env(url, schema), "CREATE_TABLE": "y" if create else "n"})
    start = time.perf_counter()
    es_create_counters(app, [f"{prefix}{i}" for i in range(n)])
    end = time.perf_counter()
    app.close()
    return start, end


def bench_commands(url: str, tmp: str, n: int, rounds: int = 3) -> dict:
    path = domain_file(tmp)
    pairs = []
    for r in range(rounds):  # back to back, so both sides of a ratio see the same machine
        ours_schema, theirs_schema = f"bench_evsh_{uuid.uuid4().hex[:8]}", f"bench_es_{uuid.uuid4().hex[:8]}"
        try:
            s, e = evsh_commands(with_schema(url, ours_schema), path, "c", n)
            ours = n / (e - s)
            s, e = es_commands(url, theirs_schema, "c", n)
            theirs = n / (e - s)
        finally:
            drop_schema(url, ours_schema)
            drop_schema(url, theirs_schema)
        pairs.append((ours, theirs))
        print(f"  round {r + 1}: evsh {ours:,.0f}/s, eventsourcing {theirs:,.0f}/s, {ours / theirs:.2f}x", flush=True)
    ratios = sorted(a / b for a, b in pairs)
    return {"evsh commands/s": statistics.median(a for a, _ in pairs),
            "eventsourcing look up + save /s": statistics.median(b for _, b in pairs),
            f"ratio (median of {rounds})": ratios[len(ratios) // 2], "range": f"{ratios[0]:.2f} .. {ratios[-1]:.2f}",
            "target": ">= 1.3"}


def _writer(kind: str, url: str, where: str, prefix: str, n: int, barrier, out) -> None:
    try:
        barrier.wait()
        if kind == "evsh":
            out.put(evsh_commands(url, where, prefix, n))
        else:  # the parent made the table: 8 processes creating it at once trip over each other
            out.put(es_commands(url, where, prefix, n, create=False))
    except BaseException as exc:  # noqa: BLE001 - said in the parent
        out.put(repr(exc))
        raise


def _writers(kind: str, url: str, where: str, procs: int, n: int) -> float:
    """Total events/s of ``procs`` processes, each running n commands on streams of its own."""
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=_writer, args=(kind, url, where, f"w{i}-", n, barrier, out)) for i in range(procs)]
    for p in ps:
        p.start()
    spans = [out.get(timeout=600) for _ in ps]
    failed = [s for s in spans if isinstance(s, str)]
    if failed:
        raise RuntimeError(f"{kind} writer failed: {failed[0]}")
    for p in ps:
        p.join()
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable across processes
    return procs * n / (max(e for _, e in spans) - min(s for s, _ in spans))


def bench_writers(url: str, tmp: str, procs: int, n: int, rounds: int = 3) -> dict:
    from evsh import open_store
    from eventsourcing.application import Application

    path = domain_file(tmp)
    pairs = []
    for r in range(rounds):
        ours_schema, theirs_schema = f"bench_evsh_{uuid.uuid4().hex[:8]}", f"bench_es_{uuid.uuid4().hex[:8]}"
        try:
            open_store(with_schema(url, ours_schema)).close()  # made once, before the writers start
            create_schema(url, theirs_schema)
            Application(env=es_env(url, theirs_schema)).close()
            ours = _writers("evsh", with_schema(url, ours_schema), path, procs, n)
            theirs = _writers("es", url, theirs_schema, procs, n)
        finally:
            drop_schema(url, ours_schema)
            drop_schema(url, theirs_schema)
        pairs.append((ours, theirs))
        print(f"  round {r + 1}: evsh {ours:,.0f} events/s, eventsourcing {theirs:,.0f} events/s,"
              f" {ours / theirs:.2f}x", flush=True)
    ratios = sorted(a / b for a, b in pairs)
    return {"writers": procs, "evsh events/s": statistics.median(a for a, _ in pairs),
            "eventsourcing events/s": statistics.median(b for _, b in pairs),
            f"ratio (median of {rounds})": ratios[len(ratios) // 2], "range": f"{ratios[0]:.2f} .. {ratios[-1]:.2f}",
            "target": ">= 1.3"}


# ----------------------------------------------------------------------------- import
def bench_import(url: str, tmp: str, n: int) -> dict:
    from evsh import open_store
    from evsh.cli.transfer import import_rows
    from evsh.store import codec

    path = os.path.join(tmp, "events.jsonl")
    t0 = "2026-01-01T00:00:00.000000Z"
    with open(path, "w") as fh:
        for i in range(n):
            d = {"event_id": str(uuid.uuid4()), "stream_id": f"order-o{i // 5}", "version": i % 5 + 1,
                 "type": "OrderCreated", "data": {"order_id": f"o{i // 5}", "customer_id": "c1", "total": "19.00"},
                 "metadata": {"correlation_id": str(uuid.uuid4()), "schema_version": 1}, "recorded_at": t0,
                 "evsh_format": 1}
            fh.write(json.dumps(d) + "\n")

    def plain_copy() -> float:
        """COPY of pre-built rows into a fresh evsh store's events table (same indexes)."""
        schema = f"bench_copy_{uuid.uuid4().hex[:8]}"
        try:
            store = open_store(with_schema(url, schema))
            rows = []
            with open(path, "rb") as fh:
                for pos, line in enumerate(fh, 1):
                    d = codec.parse(line)
                    rows.append((pos, d["event_id"], d["stream_id"], d["version"], d["type"], codec.dumps(d["data"]),
                                 codec.dumps(d["metadata"]), d["recorded_at"]))
            conn = store.conn
            start = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy("COPY events (position, event_id, stream_id, version, type, data, metadata,"
                              " recorded_at) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            elapsed = time.perf_counter() - start
            store.close()
            return n / elapsed
        finally:
            drop_schema(url, schema)

    def evsh_import() -> float:
        schema = f"bench_imp_{uuid.uuid4().hex[:8]}"
        try:
            store = open_store(with_schema(url, schema))
            start = time.perf_counter()
            with open(path, "rb") as fh:
                written, _ = store.import_rows(import_rows(iter(fh), None, t0))
            elapsed = time.perf_counter() - start
            store.close()
            assert written == n, written
            return n / elapsed
        finally:
            drop_schema(url, schema)

    pairs = [(evsh_import(), plain_copy()) for _ in range(2)]
    ratios = sorted(a / b for a, b in pairs)
    return {"events": n, "evsh import events/s": max(a for a, _ in pairs),
            "plain COPY rows/s": max(b for _, b in pairs), "ratio (each pair)": [round(r, 2) for r in ratios],
            "target": ">= 0.5"}


# ----------------------------------------------------------------------------- rebuild
def bench_rebuild(url: str, orders: int, schema: str, repeat: int = 2) -> dict:
    from evsh import load_domain, open_store
    from evsh.engine import projections as P
    from evsh.engine.wiring import build_engine

    store_url = with_schema(url, schema)
    store = open_store(store_url)
    if store.head_position() == 0:
        store.close()
        print(f"  seeding {schema} with {orders:,} orders (once; kept for later runs)...", flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "evsh", "--db", store_url, "seed", "--orders", str(orders)], check=True,
                       stdout=subprocess.DEVNULL)  # its errors still show
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        store = open_store(store_url)
    engine = build_engine(store, load_domain("shop"), mode="step")
    head = store.head_position()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        r = P.rebuild(engine, "order_details", batch_size=5000)
        runs.append(time.perf_counter() - start)
    store.close()
    best = min(runs)
    return {"events in the log": head, "handled": getattr(r, "handled", None), "seconds (best)": round(best, 2),
            "events/s": head / best, "target": ">= 50,000 events/s"}


# ----------------------------------------------------------------------------- start-up
def bench_startup(url: str, tmp: str, runs: int = 15) -> dict:
    from evsh import open_store
    from evsh.store.base import NewEvent

    schema = f"bench_start_{uuid.uuid4().hex[:8]}"
    pg = with_schema(url, schema)
    db = os.path.join(tmp, "start.db")
    for where in (pg, db):
        with open_store(where) as store:
            store.append("order-1", [NewEvent("OrderCreated", {"n": i}) for i in range(5)])
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")

    def timed(cmds: list[list[str]]) -> list[float]:
        """Median ms of each command, the commands interleaved run by run (the load moves)."""
        out: list[list[float]] = [[] for _ in cmds]
        for _ in range(runs):
            for cmd, times in zip(cmds, out):
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                times.append(time.perf_counter() - start)
        return [statistics.median(times) * 1000 for times in out]

    try:
        # an installed evsh runs from compiled bytecode (pip compiles it at install time): compile
        # this tree's once, even where PYTHONDONTWRITEBYTECODE is set (it would otherwise parse
        # every evsh module at every start, about 60 ms of the PostgreSQL figure here)
        warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for where in (db, pg):
            subprocess.run([evsh, "--db", where, "read", "order-1"], check=True, env=warm,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        bare, sqlite_ms, pg_ms, driver = timed([[sys.executable, "-c", "pass"], [evsh, "--db", db, "read", "order-1"],
                                               [evsh, "--db", pg, "read", "order-1"],
                                               [sys.executable, "-c", "import psycopg"]])
        trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "evsh", "--db", db, "read", "order-1"],
                               capture_output=True, text=True).stderr
        imported = "psycopg" in trace
    finally:
        drop_schema(url, schema)
    return {"python -c pass ms": round(bare, 1), "evsh read on SQLite ms": round(sqlite_ms, 1),
            "evsh read on PostgreSQL ms": round(pg_ms, 1), "python -c 'import psycopg' ms": round(driver, 1),
            "SQLite read imports psycopg": imported, "target": "PostgreSQL <= 150 ms"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--only", default="commands,writers,import,rebuild,startup")
    ap.add_argument("--commands", type=int, default=3000, help="commands per process")
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--import-events", type=int, default=200_000)
    ap.add_argument("--orders", type=int, default=200_000, help="orders of the rebuild's store (~5 events each)")
    ap.add_argument("--async-commit", action="store_true",
                    help="both libraries' sessions at synchronous_commit=off (PGOPTIONS): what each does per"
                         " command, without the WAL flush both wait for at every commit")
    ap.add_argument("--rebuild-schema", default="evsh_bench_1m", help="the rebuild's store (seeded when empty, kept)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    if args.async_commit:  # libpq reads it for every connection, evsh's and eventsourcing's alike
        os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c synchronous_commit=off").strip()
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("commands", lambda: bench_commands(args.url, tmp, args.commands)),
                         ("writers", lambda: bench_writers(args.url, tmp, args.writers, args.commands // 2)),
                         ("import", lambda: bench_import(args.url, tmp, args.import_events)),
                         ("rebuild", lambda: bench_rebuild(args.url, args.orders, args.rebuild_schema)),
                         ("startup", lambda: bench_startup(args.url, tmp))):
            if name in only:
                print(f"{name}:", flush=True)
                for k, v in fn().items():
                    print(f"  {k}: {v:,.1f}" if isinstance(v, float) else f"  {k}: {v}", flush=True)
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
