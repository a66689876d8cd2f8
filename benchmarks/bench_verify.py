"""How long `evsh verify` takes per property and per example, on a domain (default: the shop,
whose properties all hold, so every property runs to the end without shrinking), and how long a
default run takes (every property, its exploration phase and replay worker included): the
target for the shop is under 30 s on the project's 2-core machine.

    python benchmarks/bench_verify.py [--domain shop] [--examples 50] [--seed 1] [--default-run]

Prints a Markdown table: property, examples, result, wall seconds, CPU seconds, ms per example;
with --default-run, one line for a whole run at --examples (CPU includes the replay worker's).
"""

from __future__ import annotations

import argparse
import os
import time


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    from evsh import load_domain
    from evsh.verify.properties import PROPERTIES
    from evsh.verify.runner import verify

    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", default="shop", help="a domain file or module (default: the bundled shop)")
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--default-run", action="store_true", help="time one whole run instead of each property")
    args = ap.parse_args()
    spec = args.domain
    domain = load_domain(spec)
    print(f"domain {domain.name}, {args.examples} examples, seed {args.seed}, load average {os.getloadavg()[0]:.1f}\n")
    if args.default_run:
        wall, cpu = time.perf_counter(), _cpu()
        results, _, _ = verify(domain, spec, examples=args.examples, seed=args.seed, out_dir=None)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        held = sum(r.status == "holds" for r in results)
        print(f"default run: {len(results)} properties ({held} hold), {wall:.1f} s wall, {cpu:.1f} s CPU")
        return
    print("| property | examples | result | wall s | CPU s | ms per example (wall) |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for prop in PROPERTIES:
        wall, cpu = time.perf_counter(), _cpu()
        (result,), _, _ = verify(domain, spec, examples=args.examples, seed=args.seed, only=[prop.name], out_dir=None)
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        per = 1000 * wall / result.examples if result.examples else 0
        print(f"| {prop.name} | {result.examples} | {result.status} | {wall:.2f} | {cpu:.2f} | {per:.0f} |")


if __name__ == "__main__":
    main()
