"""The shop from the seed article: orders, payments, inventory and users.

Load it with ``--domain shop`` (bundled with evsh) or ``--domain sample_data/shop.py``.
Every feature of evsh shows up here: aggregates with real business rules, events named as
facts, projections (the read side) and reactors (the order workflow and its compensations,
the welcome e-mail and notification on registration).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from evsh import Aggregate, BadInput, Rejected, applies, command, event

PAYMENT_LIMIT = Decimal("1000.00")  # payments above this are declined


# ----------------------------------------------------------------------------- values

def is_product_id(value: object) -> bool:
    """A product id names the product's inventory (`inventory-<id>`): non-empty printable text,
    never control characters (evsh refuses those in any aggregate id)."""
    return isinstance(value, str) and value != "" and value.isprintable()


@dataclass(frozen=True)
class Item:
    product_id: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


# ----------------------------------------------------------------------------- events (facts)

@event
class OrderCreated:
    order_id: str
    customer_id: str
    items: tuple[Item, ...]
    total_amount: Decimal


@event
class OrderConfirmed:
    order_id: str


@event
class OrderCancelled:
    order_id: str
    reason: str


@event
class PaymentProcessed:
    payment_id: str
    order_id: str
    amount: Decimal


@event
class PaymentDeclined:
    payment_id: str
    order_id: str
    amount: Decimal
    reason: str


@event
class PaymentRefunded:
    payment_id: str
    order_id: str
    amount: Decimal
    reason: str


@event
class StockAdded:
    product_id: str
    quantity: int


@event
class InventoryReserved:
    product_id: str
    order_id: str
    quantity: int


@event
class InventoryReservationFailed:
    product_id: str
    order_id: str
    requested: int
    available: int


@event
class InventoryReleased:
    product_id: str
    order_id: str
    quantity: int


@event(personal=("email", "username"), subject="user_id")
class UserRegistered:
    user_id: str
    email: str
    username: str


# ----------------------------------------------------------------------------- aggregates

class Order(Aggregate):
    status: str = "new"  # new -> created -> confirmed | cancelled
    customer_id: str = ""
    items: list = []
    total_amount: Decimal = Decimal("0")
    cancel_reason: str = ""

    @command
    def create(self, customer_id: str, items: list[Item]):
        """Place an order for a customer: items are product id, quantity and unit price."""
        if self.status != "new":
            raise Rejected(f"order {self.id} already exists")
        if not customer_id:
            raise Rejected("an order needs a customer")
        if not items:
            raise Rejected("an order needs at least one item")
        for n, item in enumerate(items, 1):  # refused up front: the workflow could never reserve it
            if not is_product_id(item.product_id):
                raise BadInput(f"items[{n - 1}].product_id: {item.product_id!r} is not a product id"
                               " (use non-empty printable text)")
        for item in items:
            if item.quantity <= 0:
                raise Rejected(f"quantity of {item.product_id} must be positive")
            if item.unit_price < 0:
                raise Rejected(f"unit price of {item.product_id} must not be negative")
        total = sum((item.amount for item in items), Decimal("0"))
        yield OrderCreated(self.id, customer_id, tuple(items), total)

    @command
    def confirm(self):
        """Confirm a created order (the workflow does this once payment and stock are in)."""
        if self.status == "new":
            raise Rejected(f"order {self.id} does not exist")
        if self.status == "cancelled":
            raise Rejected(f"order {self.id} is cancelled and cannot be confirmed")
        if self.status == "confirmed":
            raise Rejected(f"order {self.id} is already confirmed")
        yield OrderConfirmed(self.id)

    @command
    def cancel(self, reason: str):
        """Cancel an order, saying why."""
        if self.status == "new":
            raise Rejected(f"order {self.id} does not exist")
        if self.status == "cancelled":
            raise Rejected(f"order {self.id} is already cancelled")
        if not reason.strip():
            raise Rejected("a cancellation needs a reason")
        yield OrderCancelled(self.id, reason)

    @applies
    def _created(self, e: OrderCreated) -> None:
        self.status = "created"
        self.customer_id = e.customer_id
        self.items = [
            {"product_id": i.product_id, "quantity": i.quantity, "unit_price": i.unit_price} for i in e.items
        ]
        self.total_amount = e.total_amount

    @applies
    def _confirmed(self, e: OrderConfirmed) -> None:
        self.status = "confirmed"

    @applies
    def _cancelled(self, e: OrderCancelled) -> None:
        self.status = "cancelled"
        self.cancel_reason = e.reason


class Payment(Aggregate):
    status: str = "new"  # new -> processed | declined; processed -> refunded
    order_id: str = ""
    amount: Decimal = Decimal("0")

    @command
    def process(self, order_id: str, amount: Decimal):
        """Charge an order's amount; amounts above 1000.00 are declined."""
        if self.status != "new":
            raise Rejected(f"payment {self.id} was already {self.status}")
        if amount <= 0:
            raise Rejected("a payment amount must be positive")
        if not order_id.strip():  # found by `evsh verify` (reactors healthy): the workflow could not route it
            raise Rejected("a payment needs the id of the order it pays")
        if amount > PAYMENT_LIMIT:
            yield PaymentDeclined(self.id, order_id, amount, f"amount {amount} is above the {PAYMENT_LIMIT} limit")
        else:
            yield PaymentProcessed(self.id, order_id, amount)

    @command
    def refund(self, reason: str = "refund"):
        """Give a processed payment back."""
        if self.status != "processed":
            raise Rejected(f"payment {self.id} is {self.status}; only a processed payment can be refunded")
        yield PaymentRefunded(self.id, self.order_id, self.amount, reason)

    @applies
    def _processed(self, e: PaymentProcessed) -> None:
        self.status, self.order_id, self.amount = "processed", e.order_id, e.amount

    @applies
    def _declined(self, e: PaymentDeclined) -> None:
        self.status, self.order_id, self.amount = "declined", e.order_id, e.amount

    @applies
    def _refunded(self, e: PaymentRefunded) -> None:
        self.status = "refunded"


class Inventory(Aggregate):
    """Stock of one product: the stream id is the product id (``inventory-p1``)."""

    on_hand: int = 0
    reserved: dict = {}  # order id -> quantity held for it
    held: int = 0  # the sum of `reserved`, kept as it changes: a reservation must not add up every order
    refused: dict = {}  # order id -> quantity that could not be held (each request is answered once)

    @property
    def available(self) -> int:
        return self.on_hand - self.held

    @command
    def add_stock(self, quantity: int):
        """Receive stock of this product."""
        if quantity <= 0:
            raise Rejected("added stock must be a positive quantity")
        yield StockAdded(self.id, quantity)

    @command
    def reserve(self, order_id: str, quantity: int):
        """Hold stock for an order; records a failed reservation when there is not enough."""
        if quantity <= 0:
            raise Rejected("a reservation needs a positive quantity")
        if not order_id.strip():  # found by `evsh verify` (reactors healthy): the workflow could not answer it
            raise Rejected("a reservation needs the id of the order it is for")
        if order_id in self.reserved:
            raise Rejected(f"stock of {self.id} is already reserved for order {order_id}")
        if order_id in self.refused:
            raise Rejected(f"the reservation of {self.id} for order {order_id} was already refused")
        if quantity > self.available:
            yield InventoryReservationFailed(self.id, order_id, quantity, self.available)
        else:
            yield InventoryReserved(self.id, order_id, quantity)

    @command
    def release(self, order_id: str):
        """Give back what was held for an order."""
        if order_id not in self.reserved:
            raise Rejected(f"no stock of {self.id} is reserved for order {order_id}")
        yield InventoryReleased(self.id, order_id, self.reserved[order_id])

    @applies
    def _added(self, e: StockAdded) -> None:
        self.on_hand += e.quantity

    @applies
    def _reserved(self, e: InventoryReserved) -> None:
        self.reserved[e.order_id] = e.quantity
        self.held += e.quantity

    @applies
    def _released(self, e: InventoryReleased) -> None:
        self.held -= self.reserved.pop(e.order_id, 0)

    @applies
    def _refused(self, e: InventoryReservationFailed) -> None:
        self.refused[e.order_id] = e.requested


class User(Aggregate):
    registered: bool = False
    email: str = ""
    username: str = ""

    @command
    def register(self, email: str, username: str):
        """Sign a user up: a welcome e-mail and a notification follow."""
        if self.registered:
            raise Rejected(f"user {self.id} is already registered")
        if "@" not in email.strip("@") or " " in email:
            raise Rejected(f"{email!r} is not an e-mail address")
        if not username.strip():
            raise Rejected("a username must not be empty")
        yield UserRegistered(self.id, email, username)

    @applies
    def _registered(self, e: UserRegistered) -> None:
        self.registered, self.email, self.username = True, e.email, e.username


# ----------------------------------------------------------------------------- read side: projections (CQRS)
#
# Read models: SQLite tables in the store's own file, query them with `evsh sql`, sqlite-utils
# or datasette. Handlers get the stored event (`event.data` is the JSON payload: Decimals are
# strings) and the projection's tables; evsh commits the row changes with the checkpoint.

from datetime import datetime, timezone  # noqa: E402

from evsh import Projection, table  # noqa: E402

ORDER_DETAILS = table(
    "order_details",
    {"order_id": str, "customer_id": str, "items": list, "item_count": int, "total_amount": Decimal,
     "status": str, "cancel_reason": str, "created_at": str, "updated_at": str},
    pk="order_id", indexes=["customer_id"],
)

order_details = Projection("order_details", version=1, tables=[ORDER_DETAILS],
                           description="One row per order: customer, items, total and status.")


@order_details.on(OrderCreated)
def _order_created(event, rows):
    d = event.data
    rows.table("order_details").insert({
        "order_id": d["order_id"], "customer_id": d["customer_id"], "items": d["items"],
        "item_count": sum(i["quantity"] for i in d["items"]), "total_amount": Decimal(d["total_amount"]),
        "status": "created", "created_at": event.recorded_at, "updated_at": event.recorded_at,
    })


@order_details.on(OrderConfirmed)
def _order_confirmed(event, rows):
    rows.table("order_details").update(event.data["order_id"], {"status": "confirmed", "updated_at": event.recorded_at})


@order_details.on(OrderCancelled)
def _order_cancelled(event, rows):
    rows.table("order_details").update(
        event.data["order_id"],
        {"status": "cancelled", "cancel_reason": event.data["reason"], "updated_at": event.recorded_at},
    )


# Inline: updated in the same transaction as each order command, so a query right after
# `evsh exec order o1 create ...` already counts the order. It reads its own rows back
# (read-your-writes inside a batch) to keep running totals, and its per-order refs make it
# idempotent by natural key: an order or a cancellation delivered twice is counted once.
customer_orders = Projection(
    "customer_orders", version=2, mode="inline",
    tables=[
        table("customer_orders", {"customer_id": str, "orders": int, "cancelled": int, "total_amount": Decimal,
                                  "last_order_at": str}, pk="customer_id"),
        # which customer an order belongs to: OrderCancelled names the order only
        table("customer_order_refs", {"order_id": str, "customer_id": str, "total_amount": Decimal,
                                      "cancelled": bool}, pk="order_id"),
    ],
    description="Orders and total amount per customer (cancelled orders do not count towards the total).",
)


@customer_orders.on(OrderCreated)
def _customer_order_created(event, rows):
    d = event.data
    refs = rows.table("customer_order_refs")
    if refs.exists(d["order_id"]):  # delivered again: the order is counted already
        return
    total = Decimal(d["total_amount"])
    refs.insert({"order_id": d["order_id"], "customer_id": d["customer_id"], "total_amount": total,
                 "cancelled": False})
    customers = rows.table("customer_orders")
    row = customers.get(d["customer_id"], None)
    if row is None:
        customers.insert({"customer_id": d["customer_id"], "orders": 1, "cancelled": 0, "total_amount": total,
                          "last_order_at": event.recorded_at})
    else:
        customers.update(d["customer_id"], {"orders": row["orders"] + 1, "total_amount": row["total_amount"] + total,
                                            "last_order_at": max(row["last_order_at"], event.recorded_at)})


@customer_orders.on(OrderCancelled)
def _customer_order_cancelled(event, rows):
    refs = rows.table("customer_order_refs")
    ref = refs.get(event.data["order_id"], None)
    if ref is None or ref["cancelled"]:  # unknown order, or this cancellation was counted already
        return
    refs.update(ref["order_id"], {"cancelled": True})
    customers = rows.table("customer_orders")
    row = customers.get(ref["customer_id"])
    customers.update(ref["customer_id"], {"cancelled": row["cancelled"] + 1,
                                          "total_amount": row["total_amount"] - ref["total_amount"]})


# Written with an explicit processed-event guard, as the seed's idempotent handler is: it
# remembers every event id it has applied and skips one it has seen. With evsh the guard is
# redundant (the checkpoint commits in the same transaction as the rows, so an event is never
# applied twice); it earns its keep when rows live outside the store or events may be
# delivered twice (see docs/projections.md).
inventory_levels = Projection(
    "inventory_levels", version=1,
    tables=[
        table("inventory_levels", {"product_id": str, "on_hand": int, "reserved": int, "available": int,
                                   "failed_reservations": int, "updated_at": str}, pk="product_id"),
        table("inventory_levels_processed", {"event_id": str, "position": int}, pk="event_id"),
    ],
    description="On hand, reserved and available stock per product.",
)


def _first_time(event, rows) -> bool:
    """The processed-event guard: True the first time an event is seen, False on a repeat."""
    seen = rows.table("inventory_levels_processed")
    if seen.exists(event.event_id):
        return False
    seen.insert({"event_id": event.event_id, "position": event.position})
    return True


def _stock(rows, product_id: str, at: str, on_hand: int = 0, reserved: int = 0, failed: int = 0) -> None:
    levels = rows.table("inventory_levels")
    row = levels.get(product_id, None) or {"product_id": product_id, "on_hand": 0, "reserved": 0,
                                           "failed_reservations": 0}
    row["on_hand"] += on_hand
    row["reserved"] += reserved
    row["failed_reservations"] += failed
    row["available"] = row["on_hand"] - row["reserved"]
    row["updated_at"] = at
    levels.upsert(row)


@inventory_levels.on(StockAdded)
def _stock_added(event, rows):
    if _first_time(event, rows):
        _stock(rows, event.data["product_id"], event.recorded_at, on_hand=event.data["quantity"])


@inventory_levels.on(InventoryReserved)
def _stock_reserved(event, rows):
    if _first_time(event, rows):
        _stock(rows, event.data["product_id"], event.recorded_at, reserved=event.data["quantity"])


@inventory_levels.on(InventoryReleased)
def _stock_released(event, rows):
    if _first_time(event, rows):
        _stock(rows, event.data["product_id"], event.recorded_at, reserved=-event.data["quantity"])


@inventory_levels.on(InventoryReservationFailed)
def _stock_reservation_failed(event, rows):
    if _first_time(event, rows):
        _stock(rows, event.data["product_id"], event.recorded_at, failed=1)


def _utc(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_statistics_projection(window_minutes: int = 1, name: str = "order_statistics") -> Projection:
    """Orders created per tumbling window of ``window_minutes`` of event time (recorded_at).

    Declare more than one to compare window lengths:
    ``hourly = order_statistics_projection(60, "order_statistics_hourly")``.
    """
    if window_minutes < 1:
        raise ValueError("window_minutes must be 1 or more")
    size = window_minutes * 60
    proj = Projection(
        name, version=2,
        tables=[table(name, {"window_start": str, "window_end": str, "orders": int, "items": int,
                             "total_amount": Decimal}, pk="window_start"),
                # the orders each window counted: a drill-down, and what makes a repeat count once
                table(f"{name}_orders", {"order_id": str, "window_start": str}, pk="order_id")],
        description=f"Orders created per {window_minutes}-minute window of event time.",
    )

    @proj.on(OrderCreated)
    def _count(event, rows):
        at = datetime.fromisoformat(event.recorded_at.replace("Z", "+00:00"))
        epoch = int(at.timestamp())
        start = epoch - epoch % size
        d = event.data
        counted = rows.table(f"{name}_orders")
        if counted.exists(d["order_id"]):
            return
        counted.insert({"order_id": d["order_id"], "window_start": _utc(start)})
        windows = rows.table(name)
        row = windows.get(_utc(start), None) or {"window_start": _utc(start), "window_end": _utc(start + size),
                                                 "orders": 0, "items": 0, "total_amount": Decimal("0")}
        row["orders"] += 1
        row["items"] += sum(i["quantity"] for i in d["items"])
        row["total_amount"] += Decimal(d["total_amount"])
        windows.upsert(row)

    return proj


ORDER_STATISTICS_WINDOW_MINUTES = 1
order_statistics = order_statistics_projection(ORDER_STATISTICS_WINDOW_MINUTES)


# ----------------------------------------------------------------------------- collaboration: reactors
#
# Services that collaborate through events: the order workflow is a process manager (saga) that
# turns facts into the next commands, and compensates when payment or stock says no; the e-mail
# and notification services record side effects. evsh delivers each event to each reactor
# effectively once: commands, their events, rows and the reactor's checkpoint commit together.
# Payment ids are the order's id, inventory ids are product ids, so the workflow is
# deterministic and a demo repeats exactly.

from evsh import reactor  # noqa: E402

SENT_EMAILS = table(
    "sent_emails",
    {"event_id": str, "user_id": str, "email": str, "subject": str, "body": str, "sent_at": str},
    pk="event_id",
)
NOTIFICATIONS = table(
    "notifications",
    {"event_id": str, "user_id": str, "channel": str, "message": str, "created_at": str},
    pk="event_id",
)


def _wanted(order) -> dict[str, int]:
    """Quantity per product of an order (an order may list a product twice)."""
    wanted: dict[str, int] = {}
    for item in order.items:
        wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
    return wanted


def _held(ctx, product_id: str, order_id: str) -> int:
    """What the product's inventory holds for the order (0 for an id that names no inventory)."""
    return ctx.load("inventory", product_id).reserved.get(order_id, 0) if is_product_id(product_id) else 0


def _give_up(ctx, order, refund_reason: str, cancel_reason: str) -> None:
    """The compensation: release what was reserved for the order, refund its payment, cancel it."""
    for product_id in _wanted(order):
        if _held(ctx, product_id, order.id):
            ctx.send("inventory", product_id, "release", order_id=order.id)
    if ctx.load("payment", order.id).status == "processed":
        ctx.send("payment", order.id, "refund", reason=refund_reason)
    ctx.send("order", order.id, "cancel", reason=cancel_reason)


@reactor("order_workflow", on=["order.created", "payment.*", "inventory.*"])
def order_workflow(event, ctx):
    """Order saga: pay, reserve each product, confirm; cancel on decline, release and refund on shortage."""
    if event.type == "OrderCreated":
        ctx.send("payment", event.order_id, "process", order_id=event.order_id, amount=event.total_amount)
        return
    if event.type not in ("PaymentProcessed", "PaymentDeclined", "InventoryReserved", "InventoryReservationFailed"):
        return
    order = ctx.load("order", event.order_id)
    if order.status != "created":  # already confirmed or cancelled: nothing left to decide
        return
    wanted = _wanted(order)
    if event.type == "PaymentProcessed":
        for product_id, quantity in wanted.items():
            sent = ctx.send("inventory", product_id, "reserve", order_id=order.id, quantity=quantity)
            if sent.outcome == "error":  # refused as bad input (an order stored before ids were checked)
                _give_up(ctx, order, f"order {order.id} cancelled: product {product_id!r} cannot be reserved",
                         f"product {product_id!r} cannot be reserved: {sent.reason}")
                return
    elif event.type == "PaymentDeclined":
        ctx.send("order", order.id, "cancel", reason=f"payment declined: {event.reason}")
    elif event.type == "InventoryReserved":
        # confirm once every product is held; the last ones asked for are the likeliest missing
        others = [p for p in reversed(wanted) if p != event.product_id]
        if event.quantity == wanted.get(event.product_id) and all(
            _held(ctx, p, order.id) == wanted[p] for p in others
        ):
            ctx.send("order", order.id, "confirm")
    else:  # InventoryReservationFailed: release what was reserved, refund, cancel
        _give_up(ctx, order, f"order {order.id} cancelled: not enough stock",
                 f"not enough stock of {event.product_id}: {event.requested} requested, {event.available} available")


@reactor("welcome_email", on=["UserRegistered"], tables=[SENT_EMAILS])
def welcome_email(event, ctx):
    """The e-mail service: one welcome e-mail per registration (idempotent by event id)."""
    ctx.table("sent_emails").insert({
        "event_id": event.event_id, "user_id": event.user_id, "email": event.email,
        "subject": "Welcome to the shop", "body": f"Hello {event.username}, thanks for signing up!",
        "sent_at": ctx.now,
    }, ignore=True)


@reactor("user_notifications", on=["user.registered"], tables=[NOTIFICATIONS])
def user_notifications(event, ctx):
    """The notification service: tells the staff a user signed up (idempotent by event id)."""
    ctx.table("notifications").insert({
        "event_id": event.event_id, "user_id": event.user_id, "channel": "system",
        "message": f"new user {event.username} ({event.user_id}) registered", "created_at": ctx.now,
    }, ignore=True)


# ----------------------------------------------------------------------------- schema evolution (upcasters)
# The shop's first release stored `OrderPlaced` (a customer, lines of sku / qty / price in cents,
# no total) and `StockReceived` (product, count). Stores from then still hold such events
# (sample_data/shop_v1_events.jsonl is one); these upcasters read them as today's OrderCreated
# and StockAdded, so the old events never need rewriting:
#
#   evsh --db old.db --domain shop import sample_data/shop_v1_events.jsonl
#   evsh --db old.db --domain shop upcast --check       # every stored event reads in today's schema
#   evsh --db old.db --domain shop state order o100     # built from the v1 events
#   evsh --db old.db export --upcast                    # the same events, written in today's schema

from evsh import upcaster  # noqa: E402


@upcaster("OrderPlaced", 1, to_type="OrderCreated", to_version=1)
def order_placed_v1(data):
    """Renamed type; `customer` -> `customer_id`; lines split into items; cents -> Decimal; total added."""
    cent = Decimal("0.01")
    items = [
        {"product_id": line["sku"], "quantity": line["qty"],
         "unit_price": str((Decimal(line["price_cents"]) / 100).quantize(cent))}
        for line in data["lines"]
    ]
    total = sum((Decimal(line["qty"]) * Decimal(line["price_cents"]) for line in data["lines"]), Decimal(0)) / 100
    return {"order_id": data["order_id"], "customer_id": data["customer"], "items": items,
            "total_amount": str(total.quantize(cent))}


@upcaster("StockReceived", 1, to_type="StockAdded", to_version=1)
def stock_received_v1(data):
    """Renamed type and fields."""
    return {"product_id": data["product"], "quantity": data["count"]}
