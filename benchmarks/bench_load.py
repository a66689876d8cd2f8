"""Loading one long aggregate by full replay: no snapshot, the engine's aggregate cache off.

Run:  python benchmarks/bench_load.py [--db load.db] [--domain bench|shop] [--events 10000] [--loads 3]

The first run builds the store (one aggregate of --events events; appended directly, so no
snapshot exists); later runs with the same --db reuse it, so two trees can be compared on the
same store (without --db, a temporary store is built and removed). Each load is a real replay: the engine keeps no aggregate in its cache.

- ``bench``: the foundation benchmarks' counter, one ``CounterStarted`` then ``CounterIncremented``
  events (one int field each);
- ``shop``: the sample shop's inventory of one product: ``StockAdded``, then reservations and
  releases of it for one order after another (2-3 text and int fields each).

For instruction counts, run it under ``valgrind --tool=callgrind`` with ``--loads 3`` and with
``--loads 0`` (the same imports, store opening and engine building, no load) and subtract.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(1, HERE)

from bench_foundation import BENCH_DOMAIN  # noqa: E402 - the counter every foundation benchmark uses


def domain_and_stream(kind: str, db: str):
    """The domain module, the aggregate class and id to load."""
    from evsh import load_domain

    if kind == "shop":
        domain = load_domain("shop")
        return domain, domain.aggregate("inventory"), "p1"
    path = os.path.join(os.path.dirname(os.path.abspath(db)), "bench_load_domain.py")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(BENCH_DOMAIN)
    domain = load_domain(path)
    return domain, domain.aggregate("counter"), "big"


def history(kind: str, events: int) -> list:
    """The stored events of the one aggregate, in the current schema."""
    from evsh.store.base import NewEvent

    meta = {"schema_version": 1}
    if kind == "shop":
        out = [NewEvent("StockAdded", {"product_id": "p1", "quantity": 1_000_000}, meta)]
        i = 0
        while len(out) < events:
            order = f"o{i // 2}"
            if i % 2 == 0:
                out.append(NewEvent("InventoryReserved", {"product_id": "p1", "order_id": order, "quantity": 3}, meta))
            else:
                out.append(NewEvent("InventoryReleased", {"product_id": "p1", "order_id": order, "quantity": 3}, meta))
            i += 1
        return out
    return [NewEvent("CounterStarted", {"name": "big"}, meta)] + [
        NewEvent("CounterIncremented", {"by": 1}, meta) for _ in range(events - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="the store (built on the first run; default: a temporary one)")
    parser.add_argument("--domain", choices=["bench", "shop"], default="bench")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=3, help="loads to time (0: set up only)")
    args = parser.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.mkdtemp(prefix="evsh-bench-load-")
        args.db = os.path.join(tmp, "load.db")
    try:
        run(args)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    from evsh import open_store
    from evsh.engine.wiring import build_engine

    fresh = not os.path.exists(args.db)
    store = open_store(args.db)
    domain, cls, agg_id = domain_and_stream(args.domain, args.db)
    stream = cls.stream_id(agg_id)
    if fresh:
        batch = history(args.domain, args.events)
        for start in range(0, len(batch), 1000):
            store.append(stream, batch[start:start + 1000])
    engine = build_engine(store, domain)
    engine.cache_size = 0  # every load replays the stream

    times = []
    agg = None
    for _ in range(args.loads):
        start = time.perf_counter()
        agg = engine.load(cls, agg_id)
        times.append((time.perf_counter() - start) * 1000)
    store.close()
    if agg is not None:
        assert agg.version == args.events, agg.version
        print(f"{args.domain}: {args.loads} loads of {agg.version:,} events, "
              f"median {statistics.median(times):.2f} ms, min {min(times):.2f} ms")


if __name__ == "__main__":
    main()
