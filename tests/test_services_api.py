"""The services API: one domain run in one store or as services (evsh.service, --service)."""

from __future__ import annotations

import textwrap

import pytest

from evsh import DomainError, load_domain
from evsh.domain.services import bindings, restrict, services


def test_each_service_sees_its_reactors_projections_and_bindings():
    shop = load_domain("shop_services")
    svcs = services(shop)
    assert sorted(svcs) == ["inventory", "orders", "payments"]
    assert {n: bindings(shop, s) for n, s in svcs.items()} == {
        "orders": ["inventory.#", "payment.#"],  # what its reactors listen to
        "payments": ["inventory.#", "order.#"],
        "inventory": ["order.#", "payment.#"],  # order: named in consumes= (its reactor loads orders)
    }
    payments = restrict(shop, "payments")
    assert [r.name for r in payments.of_kind("reactor")] == ["payments_on_orders"]
    assert payments.projections == {}
    assert sorted(restrict(shop, "orders").projections) == ["customer_orders", "order_details", "order_statistics"]
    assert sorted(payments.aggregates) == sorted(shop.aggregates)  # the others are replicas, loadable


def test_a_service_runs_commands_only_on_its_own_aggregates(cli):
    base = ("--domain", "shop_services", "--service", "payments")
    res = cli(*base, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", "[]")
    assert res.exit_code == 2 and "aggregate order belongs to service orders, not to payments" in res.stderr
    res = cli(*base, "exec", "payment", "o1", "process", "--order-id", "o1", "--amount", "10.00")
    assert res.exit_code == 0, res.stderr
    res = cli("--domain", "shop_services", "--service", "shipping", "state", "payment", "o1")
    assert res.exit_code == 2 and "no service 'shipping'" in res.stderr and "inventory, orders, payments" in res.stderr
    res = cli("--service", "payments", "state", "payment", "o1")
    assert res.exit_code == 2 and "--service needs a domain" in res.stderr


def test_without_service_the_split_shop_behaves_as_the_shop(cli):
    for domain in ("shop", "shop_services"):
        db = f"{domain}.db"
        cli("--domain", domain, "exec", "inventory", "p1", "add-stock", "--quantity", "3", db=db)
        for oid, qty, price in (("o1", 2, "5.00"), ("o2", 2, "5.00"), ("o3", 1, "5000.00")):
            items = f'[{{"product_id":"p1","quantity":{qty},"unit_price":"{price}"}}]'
            cli("--domain", domain, "exec", "order", oid, "create", "--customer-id", "c1", "--items", items, db=db)
    import json

    def states(db, domain):
        return [json.loads(cli("--domain", domain, "state", agg, i, "--json", db=db).stdout)
                for agg, i in (("order", "o1"), ("order", "o2"), ("order", "o3"), ("payment", "o2"),
                               ("inventory", "p1"))]

    assert states("shop.db", "shop") == states("shop_services.db", "shop_services")


def test_declarations_are_checked(tmp_path):
    bad = tmp_path / "twice.py"
    bad.write_text(textwrap.dedent("""
        from evsh import service
        from evsh.samples.shop import Order, Payment  # noqa: F401
        A = service("a", aggregates=["order"])
        B = service("b", aggregates=["order", "payment"])
    """))
    with pytest.raises(DomainError, match="owned by services a and b"):
        services(load_domain(str(bad)))
    with pytest.raises(DomainError, match="service name"):
        from evsh import service

        service("Bad Name", aggregates=["order"])
