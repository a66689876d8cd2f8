"""An Emmett-style shopping cart, written from the README: open, add and remove product items,
confirm or cancel; a catch-up projection of cart totals and one of product popularity.
Flaws are planted by rewriting the FLAWS line, as in bank.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from evsh import Aggregate, Projection, Rejected, applies, command, event, table

FLAWS: set[str] = set()


@dataclass(frozen=True)
class ProductItem:
    product_id: str
    quantity: int
    unit_price: Decimal


@event
class ShoppingCartOpened:
    cart_id: str
    client_id: str


@event
class ProductItemAdded:
    cart_id: str
    item: ProductItem


@event
class ProductItemRemoved:
    cart_id: str
    item: ProductItem


@event
class ShoppingCartConfirmed:
    cart_id: str
    confirmed_at: str


@event
class ShoppingCartCanceled:
    cart_id: str
    canceled_at: str


class ShoppingCart(Aggregate):
    category = "cart"
    status: str = "empty"
    client_id: str = ""
    items: dict = {}  # product id -> quantity
    confirmed_at: str = ""

    @command
    def open(self, client_id: str):
        if self.status != "empty":
            raise Rejected("cart already opened")
        yield ShoppingCartOpened(self.id, client_id)

    @command
    def add_product(self, item: ProductItem):
        if self.status != "pending":
            raise Rejected("cart is not pending")
        if item.quantity <= 0 or item.unit_price < 0:
            raise Rejected("a positive quantity and a price, please")
        yield ProductItemAdded(self.id, item)

    @command
    def remove_product(self, item: ProductItem):
        if self.status != "pending":
            raise Rejected("cart is not pending")
        if item.quantity <= 0 or self.items.get(item.product_id, 0) < item.quantity:
            raise Rejected("not that many in the cart")
        yield ProductItemRemoved(self.id, item)

    @command
    def confirm(self):
        if self.status != "pending" or not self.items:
            raise Rejected("only a pending cart with items can be confirmed")
        yield ShoppingCartConfirmed(self.id, datetime.now(timezone.utc).isoformat())

    @command
    def cancel(self):
        if self.status != "pending":
            raise Rejected("cart is not pending")
        yield ShoppingCartCanceled(self.id, datetime.now(timezone.utc).isoformat())

    @applies
    def _opened(self, e: ShoppingCartOpened) -> None:
        self.status, self.client_id = "pending", e.client_id

    @applies
    def _added(self, e: ProductItemAdded) -> None:
        self.items[e.item.product_id] = self.items.get(e.item.product_id, 0) + e.item.quantity

    @applies
    def _removed(self, e: ProductItemRemoved) -> None:
        left = self.items.get(e.item.product_id, 0) - e.item.quantity
        if left > 0:
            self.items[e.item.product_id] = left
        else:
            self.items.pop(e.item.product_id, None)

    @applies
    def _confirmed(self, e: ShoppingCartConfirmed) -> None:
        self.status = "confirmed"
        self.confirmed_at = datetime.now(timezone.utc).isoformat() if "clock" in FLAWS else e.confirmed_at

    @applies
    def _canceled(self, e: ShoppingCartCanceled) -> None:
        self.status = "canceled"


cart_totals = Projection(
    "cart_totals", version=1,
    tables=[table("cart_totals", {"cart_id": str, "items": int, "status": str}, pk="cart_id"),
            table("cart_totals_seen", {"event_id": str}, pk="event_id")],
    description="Items and status per cart.",
)


@cart_totals.on(ShoppingCartOpened, ProductItemAdded, ProductItemRemoved, ShoppingCartConfirmed, ShoppingCartCanceled)
def _totals(event, rows):
    if "no-guard" not in FLAWS:
        seen = rows.table("cart_totals_seen")
        if seen.exists(event.event_id):
            return
        seen.insert({"event_id": event.event_id})
    carts = rows.table("cart_totals")
    cart_id = event.data["cart_id"]
    row = carts.get(cart_id, None) or {"cart_id": cart_id, "items": 0, "status": "pending"}
    if event.type == "ProductItemAdded":
        row["items"] += event.data["item"]["quantity"]
    elif event.type == "ProductItemRemoved":
        row["items"] -= event.data["item"]["quantity"]
    elif event.type == "ShoppingCartConfirmed":
        row["status"] = "confirmed"
    elif event.type == "ShoppingCartCanceled":
        row["status"] = "canceled"
    carts.put(row)
