"""Benchmark: rebuild shop projections over a large shop store (target: order_details over
1,000,000 events at >= 100,000 events/s).

    python benchmarks/bench_projections.py                      # seeds /tmp/evsh-bench-1m.db once (200,000 orders)
    python benchmarks/bench_projections.py --db shop.db --projection order_details --projection customer_orders
    python benchmarks/bench_projections.py --orders 2000        # a smoke-sized run

Prints, per projection: events in the log, events handled, seconds, events/s, and beside it the
time of only reading its events through the engine's read path (the floor a rebuild cannot go
under), so runs on a busy machine can be compared by their ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def seed(db: str, orders: int) -> None:
    print(f"seeding {db} with {orders:,} orders (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "evsh", "--db", db, "seed", "--orders", str(orders)], check=True)


def read_only(engine, types: tuple[str, ...], batch: int) -> tuple[int, float]:
    from evsh.engine.subscriptions import read_batch

    start = time.perf_counter()
    pos = n = 0
    while True:
        events, last, full = read_batch(engine, pos, types, (), batch)
        n += len(events)
        pos = last
        if not full:
            break
    return n, time.perf_counter() - start


def calibrate() -> float:
    """Plain executemany of 200,000 prebuilt rows into an in-memory table, rows/s: about 680k on
    an idle 2-core machine of the kind the field notes describe; a busy machine shows less."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
    rows = [(f"k{i}", i, "x" * 20) for i in range(200_000)]
    start = time.perf_counter()
    conn.executemany("INSERT INTO t VALUES (?,?,?)", rows)
    conn.commit()
    return len(rows) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="a shop store (seeded when missing)")
    ap.add_argument("--orders", type=int, default=200_000, help="orders to seed (about 5 events each)")
    ap.add_argument("--projection", action="append", default=None, help="projection(s) to rebuild (default order_details)")
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3, help="rebuilds per projection; the best is reported")
    args = ap.parse_args()
    db = args.db or f"/tmp/evsh-bench-{args.orders}.db"
    if not os.path.exists(db):
        seed(db, args.orders)

    from evsh import load_domain, open_store
    from evsh.engine import projections as P
    from evsh.engine.wiring import build_engine

    store = open_store(db, create=False)
    engine = build_engine(store, load_domain("shop"), mode="step")
    head = store.head_position()
    print(f"store {db}: {head:,} events; machine calibration: {calibrate():,.0f} plain rows/s (idle: ~680,000)")
    for name in args.projection or ["order_details"]:
        p = P.find(engine, name)
        n, read_s = read_only(engine, p.types, args.batch_size)
        best = None
        best_cpu = float("inf")
        for _ in range(args.repeat):
            cpu = time.process_time()
            r = P.rebuild(engine, name, batch_size=args.batch_size)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best = r if best is None or r.seconds < best.seconds else best
        rate = best.events / best.seconds
        # CPU time: what the rebuild itself used, without the time spent waiting for a busy CPU
        print(f"{name}: rebuilt {best.events:,} events ({best.handled:,} handled, {best.rows:,} rows)"
              f" in {best.seconds:.2f} s = {rate:,.0f} events/s"
              f" (CPU time {best_cpu:.2f} s = {best.events / best_cpu:,.0f} events per CPU-second)"
              f" | reading its {n:,} events alone: {read_s:.2f} s ({head / read_s:,.0f} events/s)"
              f" | rebuild / read = {best.seconds / read_s:.2f}")
    store.close()


if __name__ == "__main__":
    main()
