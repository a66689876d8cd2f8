"""Benchmark: what recording a projection's metrics (handled counts and latencies, issue 18)
costs a rebuild: the same rebuild with the recording on and off (metrics.Buffer replaced by a
no-op), alternating in one process, best CPU time of each; the ratio is the figure.

    python benchmarks/bench_projection_metrics.py                 # seeds /tmp/evsh-bench-40000.db once
    python benchmarks/bench_projection_metrics.py --orders 2000   # a smoke-sized run
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_projections import seed  # noqa: E402


class _Off:
    """metrics.Buffer that records nothing."""

    def __bool__(self) -> bool:
        return False

    def handled(self, *args: object) -> None:
        pass

    def flush(self, *args: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=40_000)
    ap.add_argument("--projection", default="order_details")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    db = f"/tmp/evsh-bench-{args.orders}.db"
    if not os.path.exists(db):
        seed(db, args.orders)

    from evsh import load_domain, open_store
    from evsh.engine import metrics
    from evsh.engine import projections as P
    from evsh.engine.projections import apply

    from evsh.engine.wiring import build_engine

    store = open_store(db, create=False)
    engine = build_engine(store, load_domain("shop"), mode="step")
    best = {"on": float("inf"), "off": float("inf")}
    handled = 0
    try:
        for _ in range(args.repeat):
            for mode in ("on", "off"):
                apply.metrics.Buffer = metrics.Buffer if mode == "on" else _Off  # type: ignore[misc]
                cpu = time.process_time()
                handled = P.rebuild(engine, args.projection, batch_size=5000).handled
                best[mode] = min(best[mode], time.process_time() - cpu)
    finally:
        apply.metrics.Buffer = metrics.Buffer  # type: ignore[misc]
        store.close()
    print(f"{args.projection}: {handled:,} events handled; CPU best with metrics {best['on']:.2f} s,"
          f" without {best['off']:.2f} s; with / without = {best['on'] / best['off']:.3f}")


if __name__ == "__main__":
    main()
