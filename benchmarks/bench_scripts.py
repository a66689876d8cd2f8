"""The cost of a line of a .evsh script against the cost of a separate `evsh` process per command.

`evsh run` hands each line to the click group in-process, on one open store and engine; a
shell loop pays for a Python start, the imports and opening the store on every command.

    python benchmarks/bench_scripts.py [--lines 2000] [--processes 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def evsh(*args: str, cwd: str, stdin: str | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "evsh", *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"evsh {' '.join(args)} failed: {proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=50)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="evsh-bench-scripts-")
    items = '\'[{"product_id": "p1", "quantity": 1, "unit_price": "9.50"}]\''

    appends = f"repeat {args.lines}\n  append note-${{i}} Noted '{{\"n\": ${{i}}}}'\nend\n"
    t_append = evsh("--db", "a.db", "run", "-", cwd=folder, stdin=appends)
    orders = f"repeat {args.lines}\n  exec order o${{i}} create --customer-id c1 --items {items}\nend\n"
    t_exec = evsh("--db", "b.db", "--domain", "shop", "--mode", "step", "run", "-", cwd=folder, stdin=orders)
    t_proc = 0.0
    for n in range(args.processes):
        t_proc += evsh("--db", "c.db", "append", f"note-{n}", "Noted", "{}", cwd=folder)
    t_start = evsh("--db", "d.db", "run", "-", cwd=folder, stdin="init\n")

    per_append = (t_append - t_start) / args.lines * 1000
    per_exec = (t_exec - t_start) / args.lines * 1000
    per_proc = t_proc / args.processes * 1000
    print(f"evsh run, {args.lines} append lines:           {t_append:6.2f} s  ({per_append:.2f} ms per line)")
    print(f"evsh run, {args.lines} exec order create lines: {t_exec:6.2f} s  ({per_exec:.2f} ms per line)")
    print(f"evsh run, one line (process start + store):  {t_start * 1000:6.0f} ms")
    print(f"one `evsh append` process per event, x{args.processes}:  {per_proc:6.1f} ms per command")
    print(f"a script line costs {per_proc / per_append:.0f}x less than a process per append")


if __name__ == "__main__":
    main()
