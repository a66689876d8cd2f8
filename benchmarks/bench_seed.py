"""`evsh seed` against a baseline tree, interleaved run by run, so both see the same machine load.

Run:  python benchmarks/bench_seed.py --base PATH [--orders 20000] [--runs 3] [--db URL_OR_DIR]

``--base`` is another checkout of evsh (``git worktree add`` or ``git archive`` of the commit to
compare with), run with ``PYTHONPATH`` pointing at it; the code this script sits in is the other
side. Each run seeds a new store (a file in a temporary folder; with ``--db
postgresql://...`` a new schema per run) and the whole process is timed: wall seconds, and the
CPU seconds the child used (user + system, steadier than wall time on a shared machine) and its
peak memory. Medians, and the ratio of the code here to the base.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seed_once(tree: str, db: str, orders: int, cwd: str) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak memory in MB, the command's output) of one seed with the
    code of ``tree`` (run from ``cwd``, a folder holding no evsh: `python -m` looks in the current
    folder first)."""
    env = {**os.environ, "PYTHONPATH": tree}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "evsh", "--db", db, "seed", "--orders", str(orders)],
                                env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak memory
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            sys.exit(f"seed failed ({proc.returncode}): {err.read()}")
        said = " / ".join(out.read().strip().splitlines())
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, said


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
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in sides}
    for run in range(args.runs):
        for name, tree in sides.items():
            if args.db and args.db.startswith("postgresql://"):
                sep = "&" if "?" in args.db else "?"
                db = f"{args.db}{sep}schema=bench_seed_{name}_{run}_{os.getpid()}"
            else:
                db = os.path.join(folder, f"seed_{name}_{run}.db")
                for suffix in ("", "-wal", "-shm"):  # a store left by an earlier run
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
            try:
                wall, cpu, mb, said = seed_once(tree, os.path.abspath(db) if "://" not in db else db, args.orders, folder)
            finally:
                if db.startswith("postgresql://"):
                    drop_schema(args.db, db.rsplit("schema=", 1)[1])
            times[name].append((wall, cpu, mb))
            print(f"run {run + 1} {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, {mb:.0f} MB peak ({said})", flush=True)
    med = {k: [statistics.median(r[i] for r in v) for i in range(3)] for k, v in times.items()}
    b, t = med["base"], med["this"]
    print(f"seed --orders {args.orders}, medians of {args.runs}: base {b[0]:.1f} s wall, {b[1]:.1f} s CPU,"
          f" {b[2]:.0f} MB; this {t[0]:.1f} s wall, {t[1]:.1f} s CPU, {t[2]:.0f} MB;"
          f" ratio {t[0] / b[0]:.2f}x wall, {t[1] / b[1]:.2f}x CPU")


if __name__ == "__main__":
    main()
