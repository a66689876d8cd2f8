"""The shop over three services (RabbitMQ) against the shop in one store: orders per second.

Both runs use ``shop_services`` (the same reactors): in one store, inline, in this process;
then as the orders, payments and inventory services, each a consumer and a relay process on a
store of its own (what `evsh demo services` starts). An order counts when it is confirmed or
cancelled; the clock runs from the first order placed to the last one settled.

    python benchmarks/bench_services.py [--orders 300] [--rounds 3] [--broker amqp://...]

Needs RabbitMQ (exit 2 without). The machine is shared: each round runs both back to back, the
median ratio is reported, and the exit code compares it with the target (>= 0.25).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

TARGET = 0.25


def _items(n: int) -> list[dict]:
    return [{"product_id": f"p{n % 10}", "quantity": 1, "unit_price": "9.50"},
            {"product_id": f"p{(n + 3) % 10}", "quantity": 2, "unit_price": "4.00"}]


def one_store(orders: int) -> float:
    """Orders/s of the shop in one store, inline reactors, in this process."""
    from evsh import build_engine, load_domain, open_store

    engine = build_engine(open_store(os.path.join(tempfile.mkdtemp(prefix="evsh-bench-"), "shop.db")),
                          load_domain("shop_services"))
    for p in range(10):
        engine.execute("inventory", f"p{p}", "add_stock", {"quantity": 10 * orders})
    started = time.perf_counter()
    for n in range(orders):
        engine.execute("order", f"o{n}", "create", {"customer_id": "c1", "items": _items(n)})
    elapsed = time.perf_counter() - started
    assert all(engine.load("order", f"o{n}").status == "confirmed" for n in range(0, orders, 17))
    engine.store.close()
    return orders / elapsed


def services(orders: int, broker: str) -> float:
    """Orders/s of the same shop as three services over RabbitMQ."""
    from evsh.broker.urls import parse_url
    from evsh.cli.demo_services import SERVICES, Demo

    demo = Demo(parse_url(broker), tempfile.mkdtemp(prefix="evsh-bench-services-"), lambda text: None)
    try:
        for svc in SERVICES:
            demo.start(svc)
        inv = demo.engine("inventory")
        for p in range(10):
            inv.execute("inventory", f"p{p}", "add_stock", {"quantity": 10 * orders})
        eng = demo.engine("orders")
        started = time.perf_counter()
        for n in range(orders):
            eng.execute("order", f"o{n}", "create", {"customer_id": "c1", "items": _items(n)})
        last = f"o{orders - 1}"
        demo._wait(lambda: all(demo.status(f"o{n}") != "created" for n in (orders - 1, orders // 2, 0)),
                   f"order {last}", timeout=600)
        demo._wait(lambda: all(demo.status(f"o{n}") != "created" for n in range(orders)), "every order", timeout=600)
        elapsed = time.perf_counter() - started
        assert all(demo.status(f"o{n}") == "confirmed" for n in range(orders))
        return orders / elapsed
    finally:
        demo.stop_all()
        demo.cleanup()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--broker", default=os.environ.get("EVSH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/"))
    args = ap.parse_args()
    from evsh.broker.amqp_consume import connect
    from evsh.broker.urls import parse_url
    from evsh.errors import BrokerError

    try:
        connect(parse_url(args.broker)).close()
    except BrokerError as exc:
        print(f"bench_services: {exc}", file=sys.stderr)
        return 2
    ratios, singles, splits = [], [], []
    for r in range(args.rounds):
        single = one_store(args.orders)
        split = services(args.orders, args.broker)
        singles.append(single)
        splits.append(split)
        ratios.append(split / single)
        print(f"round {r + 1}: one store {single:8.1f} orders/s   three services {split:8.1f} orders/s"
              f"   ratio {split / single:.2f}")
    ratio = statistics.median(ratios)
    print(f"median: one store {statistics.median(singles):.1f} orders/s, three services"
          f" {statistics.median(splits):.1f} orders/s, ratio {ratio:.2f} (target >= {TARGET}),"
          f" range {min(ratios):.2f}-{max(ratios):.2f}, {args.orders} orders")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
