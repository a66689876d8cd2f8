"""Run every benchmark script once with its defaults (`make bench`); each prints its own figures.

The scripts can be run one by one too; docs/benchmarks.md gives each one's command and targets.
Some need a large store: `evsh --db /tmp/shop1m.db seed --orders 200000` makes one.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = ["bench_foundation.py", "bench_load.py", "bench_workflow.py", "bench_snapshots.py", "bench_scripts.py", "bench_verify.py"]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        print(f"\n=== {name}", flush=True)
        if subprocess.run([sys.executable, os.path.join(HERE, name)]).returncode != 0:
            failed.append(name)
    print("\nbenchmarks needing a big store: bench_projections.py --db STORE, bench_tui.py --db STORE")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
