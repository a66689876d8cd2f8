"""The sample shop's business rules, aggregate by aggregate.

The engine runs with the shop's reactors in async mode, so each test sees what one command
decides (the order workflow has its own tests).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from evsh import CommandRejected


@pytest.fixture
def shop_engine(db_path, shop):
    from evsh import open_store
    from evsh.engine.wiring import build_engine

    store = open_store(db_path)
    yield build_engine(store, shop, mode="async")
    store.close()


@pytest.fixture
def run(shop_engine):
    def run(aggregate: str, id: str, command: str, **params):
        out = shop_engine.execute(aggregate, id, command, params)
        return [(e.type, e.data) for e in out.events]

    return run


def rejected(run, aggregate, id, command, match, **params):
    with pytest.raises(CommandRejected, match=match):
        run(aggregate, id, command, **params)


def item(product="p1", quantity=1, price="10.00"):
    return {"product_id": product, "quantity": quantity, "unit_price": price}


# ----------------------------------------------------------------------------- orders

def test_an_order_is_created_with_its_exact_total(run, shop_engine):
    ((etype, data),) = run("order", "o1", "create", customer_id="c1",
                           items=[item("p1", 3, "0.10"), item("p2", 2, "19.99")])
    assert etype == "OrderCreated"
    assert data["total_amount"] == "40.28"
    order = shop_engine.load("order", "o1")
    assert order.status == "created" and order.total_amount == Decimal("40.28") and order.customer_id == "c1"


def test_no_empty_orders(run):
    rejected(run, "order", "o1", "create", "at least one item", customer_id="c1", items=[])


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantities_must_be_positive(run, quantity):
    rejected(run, "order", "o1", "create", "quantity of p2 must be positive",
             customer_id="c1", items=[item("p1"), item("p2", quantity)])


def test_unit_prices_must_not_be_negative(run):
    rejected(run, "order", "o1", "create", "must not be negative", customer_id="c1", items=[item(price="-0.01")])
    assert run("order", "o2", "create", customer_id="c1", items=[item(price="0")])  # free is allowed


def test_an_order_needs_a_customer(run):
    rejected(run, "order", "o1", "create", "needs a customer", customer_id="", items=[item()])


def test_no_double_creation(run):
    run("order", "o1", "create", customer_id="c1", items=[item()])
    rejected(run, "order", "o1", "create", "already exists", customer_id="c2", items=[item()])


def test_confirming(run):
    rejected(run, "order", "o1", "confirm", "does not exist")
    run("order", "o1", "create", customer_id="c1", items=[item()])
    assert run("order", "o1", "confirm") == [("OrderConfirmed", {"order_id": "o1"})]
    rejected(run, "order", "o1", "confirm", "already confirmed")


def test_no_confirming_a_cancelled_order(run):
    run("order", "o1", "create", customer_id="c1", items=[item()])
    run("order", "o1", "cancel", reason="changed my mind")
    rejected(run, "order", "o1", "confirm", "cancelled and cannot be confirmed")


def test_cancelling(run, shop_engine):
    rejected(run, "order", "o1", "cancel", "does not exist", reason="x")
    run("order", "o1", "create", customer_id="c1", items=[item()])
    rejected(run, "order", "o1", "cancel", "needs a reason", reason="   ")
    assert run("order", "o1", "cancel", reason="too slow") == [
        ("OrderCancelled", {"order_id": "o1", "reason": "too slow"})]
    assert shop_engine.load("order", "o1").cancel_reason == "too slow"
    rejected(run, "order", "o1", "cancel", "already cancelled", reason="again")


# ----------------------------------------------------------------------------- payments

def test_a_payment_up_to_the_limit_is_processed(run, shop_engine):
    assert run("payment", "x1", "process", order_id="o1", amount="1000.00") == [
        ("PaymentProcessed", {"payment_id": "x1", "order_id": "o1", "amount": "1000.00"})]
    assert shop_engine.load("payment", "x1").status == "processed"


def test_a_payment_above_1000_is_declined_and_the_decline_recorded(run, shop_engine):
    ((etype, data),) = run("payment", "x1", "process", order_id="o1", amount="1000.01")
    assert etype == "PaymentDeclined"
    assert data["amount"] == "1000.01" and "1000.00" in data["reason"]
    assert shop_engine.load("payment", "x1").status == "declined"


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_a_payment_amount_must_be_positive(run, amount):
    rejected(run, "payment", "x1", "process", "must be positive", order_id="o1", amount=amount)


def test_a_payment_is_processed_once(run):
    run("payment", "x1", "process", order_id="o1", amount="10")
    rejected(run, "payment", "x1", "process", "already processed", order_id="o1", amount="10")


def test_refund_only_of_a_processed_payment(run, shop_engine):
    rejected(run, "payment", "x1", "refund", "only a processed payment")
    run("payment", "x2", "process", order_id="o2", amount="2000")
    rejected(run, "payment", "x2", "refund", "declined")
    run("payment", "x3", "process", order_id="o3", amount="12.34")
    assert run("payment", "x3", "refund", reason="broken") == [
        ("PaymentRefunded", {"payment_id": "x3", "order_id": "o3", "amount": "12.34", "reason": "broken"})]
    assert shop_engine.load("payment", "x3").status == "refunded"
    rejected(run, "payment", "x3", "refund", "refunded")


# ----------------------------------------------------------------------------- inventory

def test_stock_must_be_added_in_positive_quantities(run, shop_engine):
    rejected(run, "inventory", "p1", "add_stock", "positive", quantity=0)
    run("inventory", "p1", "add_stock", quantity=5)
    run("inventory", "p1", "add_stock", quantity=2)
    assert shop_engine.load("inventory", "p1").on_hand == 7


def test_reserving_within_stock(run, shop_engine):
    run("inventory", "p1", "add_stock", quantity=5)
    assert run("inventory", "p1", "reserve", order_id="o1", quantity=5) == [
        ("InventoryReserved", {"product_id": "p1", "order_id": "o1", "quantity": 5})]
    assert shop_engine.load("inventory", "p1").available == 0


def test_no_reserving_more_than_is_in_stock_records_a_failed_reservation(run, shop_engine):
    run("inventory", "p1", "add_stock", quantity=5)
    run("inventory", "p1", "reserve", order_id="o1", quantity=3)
    assert run("inventory", "p1", "reserve", order_id="o2", quantity=3) == [
        ("InventoryReservationFailed", {"product_id": "p1", "order_id": "o2", "requested": 3, "available": 2})]
    inv = shop_engine.load("inventory", "p1")
    assert inv.reserved == {"o1": 3} and inv.available == 2


def test_reserving_on_a_product_without_stock_fails_with_zero_available(run):
    assert run("inventory", "p9", "reserve", order_id="o1", quantity=1)[0][1]["available"] == 0


def test_reservation_rules(run):
    run("inventory", "p1", "add_stock", quantity=5)
    rejected(run, "inventory", "p1", "reserve", "positive quantity", order_id="o1", quantity=0)
    run("inventory", "p1", "reserve", order_id="o1", quantity=1)
    rejected(run, "inventory", "p1", "reserve", "already reserved for order o1", order_id="o1", quantity=1)


def test_releasing_gives_the_held_stock_back(run, shop_engine):
    run("inventory", "p1", "add_stock", quantity=5)
    rejected(run, "inventory", "p1", "release", "no stock of p1 is reserved for order o1", order_id="o1")
    run("inventory", "p1", "reserve", order_id="o1", quantity=4)
    assert run("inventory", "p1", "release", order_id="o1") == [
        ("InventoryReleased", {"product_id": "p1", "order_id": "o1", "quantity": 4})]
    assert shop_engine.load("inventory", "p1").available == 5
    rejected(run, "inventory", "p1", "release", "no stock", order_id="o1")


# ----------------------------------------------------------------------------- users

def test_a_user_registers_once(run, shop_engine):
    assert run("user", "u1", "register", email="ann@example.com", username="ann")[0][0] == "UserRegistered"
    user = shop_engine.load("user", "u1")
    assert user.registered and user.email == "ann@example.com" and user.username == "ann"
    rejected(run, "user", "u1", "register", "already registered", email="ann@example.com", username="ann")


@pytest.mark.parametrize("email", ["ann", "@example.com", "ann@", "ann @example.com", "", "@"])
def test_registration_needs_an_email_address(run, email):
    rejected(run, "user", "u1", "register", "not an e-mail address", email=email, username="ann")


@pytest.mark.parametrize("username", ["", "   "])
def test_registration_needs_a_username(run, username):
    rejected(run, "user", "u1", "register", "username", email="ann@example.com", username=username)


def test_rejections_write_nothing(run, shop_engine):
    for args in (("order", "o1", "confirm"), ("payment", "x1", "refund"), ("inventory", "p1", "release")):
        with pytest.raises(CommandRejected):
            run(*args, **({"order_id": "o1"} if args[2] == "release" else {}))
    assert shop_engine.store.head_position() == 0
