"""`evsh seed` against a baseline tree, interleaved run by run, so both see the same machine load.

Run:  python benchmarks/bench_seed.py --base PATH [--orders 20000] [--runs 3] [--db URL_OR_DIR]

``--base`` is another checkout of evsh (``git worktree add`` or ``git archive`` of the commit to
compare with), run with ``PYTHONPATH`` pointing at it; the code this script sits in is the other
side. Each run seeds a new store (a file in a temporary folder; with ``--db
postgresql://...`` a new schema per run) and the whole process is timed: wall seconds, and the
CPU seconds the child used (user + system, steadier than wall time on a shared machine).
Medians, and the ratio of the code here to the base.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seed_once(tree: str, db: str, orders: int, cwd: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, the command's output) of one seed with the code of ``tree``
    (run from ``cwd``, a folder holding no evsh: `python -m` looks in the current folder first)."""
    env = {**os.environ, "PYTHONPATH": tree}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "evsh", "--db", db, "seed", "--orders", str(orders)],
                         env=env, cwd=cwd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, " / ".join(out.stdout.strip().splitlines())


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the checkout to compare with")
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", default=None, help="a folder for the store files, or a postgresql:// URL")
    args = ap.parse_args()
    folder = args.db if args.db and not args.db.startswith("postgresql://") else tempfile.mkdtemp(prefix="bench_seed_")
    sides = {"base": os.path.abspath(args.base), "this": HERE}
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
    for run in range(args.runs):
        for name, tree in sides.items():
            if args.db and args.db.startswith("postgresql://"):
                sep = "&" if "?" in args.db else "?"
                db = f"{args.db}{sep}schema=bench_seed_{name}_{run}_{os.getpid()}"
            else:
                db = os.path.join(folder, f"seed_{name}_{run}.db")
            try:
                wall, cpu, said = seed_once(tree, os.path.abspath(db) if "://" not in db else db, args.orders, folder)
            finally:
                if db.startswith("postgresql://"):
                    drop_schema(args.db, db.rsplit("schema=", 1)[1])
            times[name].append((wall, cpu))
            print(f"run {run + 1} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU ({said})", flush=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"seed --orders {args.orders}, medians of {args.runs}: base {med['base'][0]:.1f} s wall, "
          f"{med['base'][1]:.1f} s CPU; this {med['this'][0]:.1f} s wall, {med['this'][1]:.1f} s CPU; "
          f"ratio {med['this'][0] / med['base'][0]:.2f}x wall, {med['this'][1] / med['base'][1]:.2f}x CPU")


if __name__ == "__main__":
    main()
