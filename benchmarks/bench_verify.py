"""How long `evsh verify` takes per property and per example, on a domain (default: the shop,
whose properties all hold, so every property runs to the end without shrinking).

    python benchmarks/bench_verify.py [--domain shop] [--examples 50] [--seed 1]

Prints a Markdown table: property, examples, result, wall seconds, CPU seconds, ms per example.
"""

from __future__ import annotations

import argparse
import time

def main() -> None:
    from evsh import load_domain
    from evsh.verify.properties import PROPERTIES
    from evsh.verify.runner import verify

    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", default="shop", help="a domain file or module (default: the bundled shop)")
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    spec = args.domain
    domain = load_domain(spec)
    print(f"domain {domain.name}, {args.examples} examples, seed {args.seed}\n")
    print("| property | examples | result | wall s | CPU s | ms per example (wall) |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for prop in PROPERTIES:
        wall, cpu = time.perf_counter(), time.process_time()
        (result,), _ = verify(domain, spec, examples=args.examples, seed=args.seed, only=[prop.name], out_dir=None)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        per = 1000 * wall / result.examples if result.examples else 0
        print(f"| {prop.name} | {result.examples} | {result.status} | {wall:.2f} | {cpu:.2f} | {per:.0f} |")


if __name__ == "__main__":
    main()
