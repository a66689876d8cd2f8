"""A default `evsh verify --domain shop` run (100 examples per property), timed; the target is
under 30 s on the project's 2-core machine. Baseline in the same process: one property only."""

from __future__ import annotations

import time

from evsh import load_domain
from evsh.verify.runner import verify


def main() -> None:
    domain = load_domain("shop")
    t0 = time.perf_counter()
    verify(domain, "shop", examples=100, seed=1, only=["accept"], out_dir=None)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    results, _, _ = verify(domain, "shop", examples=100, seed=1, out_dir=None)
    full = time.perf_counter() - t0
    print(f"one property: {base:.1f} s; default run ({len(results)} properties): {full:.1f} s; ratio {full / base:.1f}x")


if __name__ == "__main__":
    main()
