"""Benchmark: the engine's read path and a projection rebuild against the decode floor, in one run.

    python benchmarks/bench_readpath.py --db shop.db                 # seeds shop.db when missing (--orders)
    python benchmarks/bench_readpath.py --db shop.db --rounds 5      # more rounds, interleaved
    python benchmarks/bench_readpath.py --db shop.db --only floor    # one path once (for callgrind)

The decode floor is what no read of every event can go under: ``SELECT data, metadata FROM
events`` and ``orjson.loads`` of both texts of every row. Beside it, measured in the same
rounds on the same store:

- ``read``: ``engine.read_all(0)`` over every event (the shop's engine: decryption of the
  sealed fields and upcasting included), every event's data decoded; its metadata is decoded
  when first read (a page at a time), which this path never does;
- ``read-meta``: the same, reading every event's metadata too (every text the floor decodes);
- ``rebuild``: ``projections.rebuild(engine, "order_details")`` in this process;
- ``cli-rebuild``: ``evsh projections rebuild order_details`` as a whole process (start-up,
  progress display and all).

Each round runs every path once, in turn; the best of the rounds is reported as events/s and as
a share of the floor's events/s (higher is better; 1.0 is the floor's speed). ``--only`` runs
one path once and prints its count, for instruction counts (``valgrind --tool=callgrind``), where
``--only none`` opens the same store and engine and reads nothing: subtract it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

PATHS = ("floor", "read", "read-meta", "rebuild", "cli-rebuild")


def floor(db: str) -> int:
    import sqlite3

    import orjson

    loads = orjson.loads
    conn = sqlite3.connect(db)
    n = 0
    for data, metadata in conn.execute("SELECT data, metadata FROM events"):
        loads(data)
        loads(metadata)
        n += 1
    conn.close()
    return n


def open_engine(db: str):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    return build_engine(open_store(db, create=False), load_domain("shop"), mode="step")


def read(engine) -> int:
    n = 0
    for _ in engine.read_all(0):
        n += 1
    return n


def read_meta(engine) -> int:
    n = 0
    for rec in engine.read_all(0):
        rec.metadata  # read: the first of a page decodes the page's metadata
        n += 1
    return n


def rebuild(engine) -> int:
    from evsh.engine import projections as P

    return P.rebuild(engine, "order_details").events


def cli_rebuild(db: str) -> int:
    subprocess.run([sys.executable, "-m", "evsh", "--db", db, "--domain", "shop", "projections", "rebuild",
                    "order_details"], check=True, capture_output=True)
    return -1  # counted by the caller (the store's events)


def run(path: str, db: str, engine) -> int:
    if path == "floor":
        return floor(db)
    if path == "read":
        return read(engine)
    if path == "read-meta":
        return read_meta(engine)
    if path == "rebuild":
        return rebuild(engine)
    return cli_rebuild(db)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a shop store (seeded when missing)")
    ap.add_argument("--orders", type=int, default=40_000, help="orders to seed a missing store with (~5 events each)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=(*PATHS, "none"), help="run one path once and print its count")
    args = ap.parse_args()
    if not os.path.exists(args.db):
        print(f"seeding {args.db} with {args.orders:,} orders...", flush=True)
        subprocess.run([sys.executable, "-m", "evsh", "--db", args.db, "seed", "--orders", str(args.orders)],
                       check=True, capture_output=True)
    if args.only:
        engine = open_engine(args.db) if args.only in ("read", "read-meta", "rebuild", "none") else None
        n = 0 if args.only == "none" else run(args.only, args.db, engine)
        print(f"{args.only}: {n:,} events")
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "shop.db")  # rebuilds write to the store: the original stays as it was
        shutil.copy(args.db, db)
        engine = open_engine(db)
        events = engine.store.head_position()
        best = {p: float("inf") for p in PATHS}
        for _ in range(args.rounds):
            for p in PATHS:
                start = time.perf_counter()
                n = run(p, db, engine)
                best[p] = min(best[p], time.perf_counter() - start)
                if n not in (-1, events):
                    raise SystemExit(f"{p} went over {n:,} events, the store has {events:,}")
        engine.store.close()
    base = events / best["floor"]
    print(f"store: {events:,} events; best of {args.rounds} rounds, interleaved")
    for p in PATHS:
        rate = events / best[p]
        print(f"{p:12} {best[p]:8.3f} s {rate:12,.0f} events/s  {rate / base:5.2f}x the floor")


if __name__ == "__main__":
    main()
