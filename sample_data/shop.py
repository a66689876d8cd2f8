"""The shop from the seed article: orders, payments, inventory and users.

Load it with ``--domain shop`` (bundled with evsh) or ``--domain sample_data/shop.py``.
Every feature of evsh shows up here: aggregates with real business rules, events named as
facts, projections (the read side) and reactors (the order workflow and its compensations,
the welcome e-mail and notification on registration).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from evsh import Aggregate, Rejected, applies, command, event

PAYMENT_LIMIT = Decimal("1000.00")  # payments above this are declined


# ----------------------------------------------------------------------------- values

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

    @property
    def available(self) -> int:
        return self.on_hand - sum(self.reserved.values())

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
        if order_id in self.reserved:
            raise Rejected(f"stock of {self.id} is already reserved for order {order_id}")
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

    @applies
    def _released(self, e: InventoryReleased) -> None:
        self.reserved.pop(e.order_id, None)


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


# ----------------------------------------------------------------------------- collaboration: reactors
