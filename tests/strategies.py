"""Hypothesis strategies for shop histories, shared by every test that needs realistic traffic.

A history is a list of steps: :class:`Step` (one shop command, valid or not: the domain
decides) and :class:`Tick` (event time moves on). Ids come from small pools, so commands keep
meeting the same orders, payments, products and users: confirmations of unknown orders,
double cancellations, reservations beyond stock, declined payments and empty items all happen.

Use it as::

    from tests.strategies import FakeClock, run_history, shop_histories

    @given(shop_histories())
    def test_x(history):
        clock = FakeClock()
        store = open_store(path, clock=clock)
        engine = build_engine(store, load_domain("shop"), clock=clock, mode="step")
        result = run_history(engine, history, clock)

``mode="step"`` keeps the shop's reactors (the order workflow) from reacting to each command;
leave it out (reactors inline) to test them with the same histories.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Sequence

from hypothesis import strategies as st

ORDERS = ("o1", "o2", "o3", "o4", "o5", "o6")
CUSTOMERS = ("c1", "c2", "c3")
PRODUCTS = ("p1", "p2", "p3")
PAYMENTS = ("pay1", "pay2", "pay3", "pay4")
USERS = ("u1", "u2", "u3")


@dataclass(frozen=True)
class Step:
    """One command: ``engine.execute(aggregate, id, command, params)``."""

    aggregate: str
    id: str
    command: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def __str__(self) -> str:
        args = " ".join(f"--{k.replace('_', '-')} {v!r}" for k, v in self.params.items())
        return f"exec {self.aggregate} {self.id} {self.command} {args}".rstrip()


@dataclass(frozen=True)
class Tick:
    """Event time moves on by ``seconds`` (so time windows and max-age rules get exercised)."""

    seconds: float

    def __str__(self) -> str:
        return f"tick {self.seconds}s"


class FakeClock:
    """A settable UTC clock for the store's ``recorded_at`` (pass it to open_store and build_engine)."""

    def __init__(self, start: str = "2026-01-01T00:00:00Z") -> None:
        self.now = datetime.fromisoformat(start.replace("Z", "+00:00"))

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def __call__(self) -> str:
        self.now += timedelta(microseconds=1)  # strictly increasing, like a real clock
        return self.now.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ----------------------------------------------------------------------------- values

prices = st.decimals(min_value=0, max_value=600, places=2, allow_nan=False, allow_infinity=False)
amounts = st.decimals(min_value=-5, max_value=1500, places=2, allow_nan=False, allow_infinity=False)
# Mostly valid values, now and then one the domain refuses: histories should get somewhere.
quantities = st.one_of(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=6),
                       st.integers(min_value=1, max_value=6), st.integers(min_value=-1, max_value=0))
items = st.one_of(
    st.lists(st.fixed_dictionaries({"product_id": st.sampled_from(PRODUCTS), "quantity": quantities,
                                    "unit_price": prices}), min_size=1, max_size=3),
    st.just([]),  # refused: an order needs at least one item
)
reasons = st.sampled_from(["changed my mind", "out of stock", "late", ""])


# ----------------------------------------------------------------------------- commands

def _step(aggregate: str, ids: Sequence[str], command: str, params: Any = None) -> st.SearchStrategy[Step]:
    return st.builds(Step, st.just(aggregate), st.sampled_from(ids), st.just(command),
                     params if params is not None else st.just({}))


order_steps = st.one_of(
    _step("order", ORDERS, "create",
          st.fixed_dictionaries({"customer_id": st.sampled_from(CUSTOMERS * 3 + ("",)), "items": items})),
    _step("order", ORDERS, "confirm"),
    _step("order", ORDERS, "cancel", st.fixed_dictionaries({"reason": reasons})),
)
payment_steps = st.one_of(
    _step("payment", PAYMENTS, "process",
          st.fixed_dictionaries({"order_id": st.sampled_from(ORDERS), "amount": amounts})),
    _step("payment", PAYMENTS, "refund"),
)
inventory_steps = st.one_of(
    _step("inventory", PRODUCTS, "add_stock", st.fixed_dictionaries({"quantity": st.integers(0, 20)})),
    _step("inventory", PRODUCTS, "reserve",
          st.fixed_dictionaries({"order_id": st.sampled_from(ORDERS), "quantity": st.integers(-1, 8)})),
    _step("inventory", PRODUCTS, "release", st.fixed_dictionaries({"order_id": st.sampled_from(ORDERS)})),
)
user_steps = _step("user", USERS, "register", st.fixed_dictionaries({
    "email": st.sampled_from(["ann@example.com", "bob@example.org", "cy@example.net", "not-an-email"]),
    "username": st.sampled_from(["ann", "bob", "cy", " "]),
}))

shop_steps: st.SearchStrategy[Step] = st.one_of(
    order_steps, order_steps, order_steps, payment_steps, inventory_steps, inventory_steps, user_steps)
ticks: st.SearchStrategy[Tick] = st.builds(Tick, st.sampled_from([1.0, 15.0, 59.0, 61.0, 3600.0]))


@st.composite
def order_flows(draw: Any) -> list[Step]:
    """An order's whole story, as the workflow would send it: stock, create, pay, reserve, then
    confirm or cancel (each step may still be refused: an order id already used, no stock...)."""
    oid = draw(st.sampled_from(ORDERS))
    lines = draw(st.lists(st.fixed_dictionaries({"product_id": st.sampled_from(PRODUCTS),
                                                  "quantity": st.integers(1, 4), "unit_price": prices}),
                          min_size=1, max_size=3, unique_by=lambda i: i["product_id"]))
    steps = [Step("inventory", draw(st.sampled_from(PRODUCTS)), "add_stock", {"quantity": draw(st.integers(1, 10))})]
    steps.append(Step("order", oid, "create", {"customer_id": draw(st.sampled_from(CUSTOMERS)), "items": lines}))
    total = sum((i["quantity"] * i["unit_price"] for i in lines), Decimal("0"))
    if total > 0:
        steps.append(Step("payment", draw(st.sampled_from(PAYMENTS)), "process", {"order_id": oid, "amount": total}))
    for line in lines:
        steps.append(Step("inventory", line["product_id"], "reserve", {"order_id": oid, "quantity": line["quantity"]}))
    end = draw(st.sampled_from(["confirm", "cancel", "leave"]))
    if end == "confirm":
        steps.append(Step("order", oid, "confirm"))
    elif end == "cancel":
        steps.append(Step("order", oid, "cancel", {"reason": "customer asked"}))
        steps.extend(Step("inventory", line["product_id"], "release", {"order_id": oid}) for line in lines)
    return steps


def shop_histories(min_size: int = 0, max_size: int = 40, *, with_ticks: bool = True) -> st.SearchStrategy[list]:
    """Lists of shop commands (valid and invalid, single commands and whole order flows), with
    event-time ticks unless ``with_ticks=False``. Sizes count the list's entries; a flow is one
    entry of several commands."""
    single = shop_steps.map(lambda s: [s])
    parts = [single, order_flows(), order_flows()]
    if with_ticks:
        parts.append(ticks.map(lambda t: [t]))
    return st.lists(st.one_of(*parts), min_size=min_size, max_size=max_size).map(
        lambda groups: [step for group in groups for step in group]
    )


# ----------------------------------------------------------------------------- running

@dataclass
class HistoryResult:
    accepted: int = 0
    rejected: int = 0
    events: int = 0
    outcomes: list[tuple[Any, str]] = field(default_factory=list)  # (step, "ok" | "rejected: reason")


def run_history(engine: Any, history: Sequence[Any], clock: FakeClock | None = None) -> HistoryResult:
    """Send each command through the engine; a rejection is an outcome, anything else raises."""
    from evsh.errors import CommandRejected

    result = HistoryResult()
    for step in history:
        if isinstance(step, Tick):
            if clock is not None:
                clock.advance(step.seconds)
            continue
        try:
            outcome = engine.execute(step.aggregate, step.id, step.command, dict(step.params))
        except CommandRejected as exc:
            result.rejected += 1
            result.outcomes.append((step, f"rejected: {exc.reason}"))
            continue
        result.accepted += 1
        result.events += len(outcome.events)
        result.outcomes.append((step, "ok"))
    return result
