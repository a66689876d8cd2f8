#!/usr/bin/env python3
"""Start-up of single-file builds of evsh next to the installed `evsh`: size, first run, warm.

    python benchmarks/dist_startup.py --installed .venv/bin/evsh pex=dist/evsh \
        [shiv=/tmp/evsh.pyz] [pyinstaller=/tmp/pyi/dist/evsh] [--warm 15 --cold 5]

A candidate is NAME=PATH; NAME picks how its extraction cache is emptied for a first run:
pex (PEX_ROOT), shiv (SHIV_ROOT), pyinstaller (unpacks on every run: its first run is every
run). Each candidate gets a private cache folder, so your own caches are never touched.
Figures are medians: wall time, then CPU time (user + system) in brackets. The machine may be
busy, so compare ratios within one run; CPU time is the steadier figure there.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CACHE_VAR = {"pex": "PEX_ROOT", "shiv": "SHIV_ROOT"}


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def med(runs: list[tuple[float, float]]) -> str:
    """'wall ms (cpu ms)' medians: wall is what a person waits; CPU is steadier on a busy machine."""
    if not runs:
        return "-"
    return (f"{statistics.median(r[0] for r in runs) * 1000:.0f} ms "
            f"({statistics.median(r[1] for r in runs) * 1000:.0f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--installed", required=True, help="the installed evsh executable (a venv's bin/evsh)")
    ap.add_argument("candidates", nargs="+", metavar="NAME=PATH")
    ap.add_argument("--warm", type=int, default=15, help="warm runs per command (after one warm-up)")
    ap.add_argument("--cold", type=int, default=5, help="first runs per command (cache emptied before each)")
    ap.add_argument("--orders", type=int, default=200, help="orders in the store that `read` reads")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="evsh-dist-bench-"))
    try:
        db = work / "bench.db"
        subprocess.run([args.installed, "--db", str(db), "seed", "--orders", str(args.orders)],
                       check=True, stdout=subprocess.DEVNULL)
        commands = {"--version": ["--version"], "read": ["--db", str(db), "read", "$all", "--limit", "20"]}
        rows = []
        entries = [("installed", args.installed)] + [tuple(c.split("=", 1)) for c in args.candidates]
        entries = [(name, str(Path(path).resolve()) if os.sep in path else path) for name, path in entries]
        for name, path in entries:
            kind = name.split("-")[0]
            cache = work / f"cache-{name}"
            env = dict(os.environ)
            env.pop("EVSH_DB", None)
            if kind in CACHE_VAR:
                env[CACHE_VAR[kind]] = str(cache)
            size = "" if kind == "installed" else f"{Path(path).stat().st_size / 1e6:.1f} MB"
            row = {"name": name, "size": size}
            for label, extra in commands.items():
                cmd = [path, *extra]
                cold = []
                if kind in CACHE_VAR:
                    for _ in range(args.cold):
                        shutil.rmtree(cache, ignore_errors=True)
                        cold.append(timed(cmd, env, work))
                timed(cmd, env, work)  # warm-up (also fills the cache)
                warm = [timed(cmd, env, work) for _ in range(args.warm)]
                row[f"{label} first"] = med(cold)
                row[f"{label} warm"] = med(warm)
                print(f"  {name} {label}: first {row[f'{label} first']}, warm {row[f'{label} warm']}",
                      file=sys.stderr, flush=True)
            rows.append(row)
        cols = ["name", "size", "--version first", "--version warm", "read first", "read warm"]
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for row in rows:
            print("| " + " | ".join(row[c] for c in cols) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
