"""The shop, written once, run in one store or as three services over a broker.

Load it with ``--domain shop_services``. Without ``--service`` it is the shop in one store (the
same aggregates, projections and outcomes as ``shop``). With ``--service orders|payments|
inventory`` each process runs one service in its own store; `evsh relay` publishes what it
owns and `evsh consume` records what it listens to (see docs/broker.md, `evsh demo services`).

What changes from ``shop``: the order workflow, one saga there, is written here as one reactor
per service, each sending commands only to the aggregates its service owns and reacting to the
others' events exactly as to local ones:

- payments: ``OrderCreated`` -> process the payment; ``InventoryReservationFailed`` -> refund it;
- inventory: ``PaymentProcessed`` -> reserve each product (reading the order, a replica);
  ``InventoryReservationFailed`` -> release what was held for that order;
- orders: ``PaymentDeclined`` or ``InventoryReservationFailed`` -> cancel;
  ``InventoryReserved`` -> confirm once every product is held (reading the inventory replicas).
"""

from __future__ import annotations

from evsh import reactor, service
from evsh.samples.shop import (  # the shop's events, aggregates and projections, as they are
    Inventory, InventoryReleased, InventoryReservationFailed, InventoryReserved, Item, Order, OrderCancelled,
    OrderConfirmed, OrderCreated, Payment, PaymentDeclined, PaymentProcessed, PaymentRefunded, StockAdded, User,
    UserRegistered, customer_orders, inventory_levels, order_details, order_statistics,
    order_placed_v1, stock_received_v1, user_notifications, welcome_email, _wanted,
)


__all__ = [  # what this domain declares: the shop's parts it keeps, and its services' reactors
    "Inventory", "InventoryReleased", "InventoryReservationFailed", "InventoryReserved", "Item", "Order",
    "OrderCancelled", "OrderConfirmed", "OrderCreated", "Payment", "PaymentDeclined", "PaymentProcessed",
    "PaymentRefunded", "StockAdded", "User", "UserRegistered", "customer_orders", "inventory_levels",
    "order_details", "order_statistics", "order_placed_v1", "stock_received_v1", "user_notifications",
    "welcome_email", "payments_on_orders", "inventory_on_payments", "orders_on_outcomes", "ORDERS",
    "PAYMENTS", "INVENTORY",
]


@reactor("payments_on_orders", on=["order.created", "inventory.reservation_failed"])
def payments_on_orders(event, ctx):
    """The payment service: charge a created order; refund it when its stock cannot be held."""
    if event.type == "OrderCreated":
        ctx.send("payment", event.order_id, "process", order_id=event.order_id, amount=event.total_amount)
    elif ctx.load("payment", event.order_id).status == "processed":
        ctx.send("payment", event.order_id, "refund", reason=f"order {event.order_id} cancelled: not enough stock")


@reactor("inventory_on_payments", on=["payment.processed", "inventory.reservation_failed"])
def inventory_on_payments(event, ctx):
    """The inventory service: hold each product of a paid order; give it all back on a shortage."""
    order = ctx.load("order", event.order_id)
    if order.status == "new":
        raise RuntimeError(f"order {event.order_id} is not known here yet")  # retried: it is on its way
    if event.type == "PaymentProcessed":
        if order.status != "created":
            return
        for product_id, quantity in _wanted(order).items():
            if ctx.send("inventory", product_id, "reserve", order_id=order.id, quantity=quantity).outcome != "ok":
                break
        return
    for product_id in _wanted(order):  # InventoryReservationFailed: release the others
        if ctx.load("inventory", product_id).reserved.get(order.id):
            ctx.send("inventory", product_id, "release", order_id=order.id)


@reactor("orders_on_outcomes", on=["payment.declined", "inventory.reserved", "inventory.reservation_failed"])
def orders_on_outcomes(event, ctx):
    """The order service: cancel on a decline or a shortage, confirm once every product is held."""
    order = ctx.load("order", event.order_id)
    if order.status != "created":
        return
    if event.type == "PaymentDeclined":
        ctx.send("order", order.id, "cancel", reason=f"payment declined: {event.reason}")
    elif event.type == "InventoryReservationFailed":
        ctx.send("order", order.id, "cancel", reason=f"not enough stock of {event.product_id}: {event.requested}"
                                                     f" requested, {event.available} available")
    else:
        wanted = _wanted(order)
        if all(ctx.load("inventory", p).reserved.get(order.id) == q for p, q in wanted.items()):
            ctx.send("order", order.id, "confirm")


ORDERS = service("orders", aggregates=["order", "user"],
                 reactors=["orders_on_outcomes", "welcome_email", "user_notifications"],
                 projections=["order_details", "customer_orders", "order_statistics"])
PAYMENTS = service("payments", aggregates=["payment"], reactors=["payments_on_orders"])
INVENTORY = service("inventory", aggregates=["inventory"], reactors=["inventory_on_payments"],
                    projections=["inventory_levels"], consumes=["order"])
