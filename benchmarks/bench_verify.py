"""How long `evsh verify` takes per property and per example, on a domain (default: the shop
with its exactly-once handlers declared, so every property runs to the end without shrinking).

    python benchmarks/bench_verify.py [--domain shop] [--examples 50] [--seed 1]

Prints a Markdown table: property, examples, result, wall seconds, CPU seconds, ms per example.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time

SHOP_EXACTLY_ONCE = """
from evsh.samples.shop import *  # noqa: F401,F403
from evsh.samples.shop import (customer_orders, inventory_levels, order_details, order_statistics,
                               order_workflow, user_notifications, welcome_email)
VERIFY_EXACTLY_ONCE = ["customer_orders", "order_statistics", "order_workflow"]
"""


def main() -> None:
    from evsh import load_domain
    from evsh.verify.properties import PROPERTIES
    from evsh.verify.runner import verify

    ap = argparse.ArgumentParser()
    ap.add_argument("--domain", default=None, help="default: the shop with exactly-once handlers declared")
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    spec = args.domain
    if spec is None:
        folder = tempfile.mkdtemp()
        spec = os.path.join(folder, "shop_exactly_once.py")
        with open(spec, "w") as fh:
            fh.write(textwrap.dedent(SHOP_EXACTLY_ONCE))
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
