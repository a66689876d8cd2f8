"""A large, realistic, reproducible shop history, for benchmarks and the TUI.

The shop's own aggregates decide every event (so the history obeys the shop's rules), but they
are driven in memory: no replay per command, and rows are written in large batches through
the store's bulk import path. The same seed gives the same events, ids and times.

Events are stored as a command's are (``written``, the engine's write transforms): personal
fields are encrypted under their subject's key, so a seeded user can be forgotten. The
aggregates decide on the plain values; the rows of a chunk are sealed together when the chunk
is taken, so the keys of its subjects can be made in one statement. Ciphertext and key ids are
random: they are the one part of a seeded store that differs between two runs with one seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

from ..domain.registry import Domain
from ..errors import BadInput
from ..store import codec
from ..store.base import NewEvent, uuid7_prefix

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
_EPOCH_MS = int(EPOCH.timestamp()) * 1000
_US = timedelta(microseconds=1)
_2D = [f"{n:02d}" for n in range(60)]
CHUNK = 5000
# (stream id, event) pairs -> the events as stored, in the same order
Written = Callable[[list[tuple[str, NewEvent]]], list[NewEvent]]


# The random part of an id (the low 76 of 128 bits drawn) as ``uuid7`` lays it out: 12 bits, the
# variant over 2 + 12 bits, then 48.
_ID_RANDOM = "%03x-%04x-%012x"


def _id(id_format: str, h: int) -> str:
    """A UUIDv7 at the history's event time (``id_format``: its time part, then _ID_RANDOM), its
    random bits ``h`` drawn from the seeded generator: as the store makes them (time-ordered, so
    the event id index grows at its right end), and the same for the same seed. 128 bits are
    drawn, as ever, so a seed gives the history it always gave."""
    return id_format % (h >> 64 & 0xFFF, 0x8000 | h >> 48 & 0x3FFF, h & 0xFFFFFFFFFFFF)


class _History:
    """Turns decided events into store rows with causal metadata and event time."""

    def __init__(self, engine_decide: Callable[..., Any], rng: random.Random, written: Written | None = None,
                 personal_only: bool = False, pace: timedelta = timedelta(milliseconds=400),
                 end: datetime | None = None) -> None:
        self.decide = engine_decide
        self.rng = rng
        self.written = written
        self.personal_only = personal_only
        self.rows: list[tuple] = []
        self.unsealed: list[tuple[int, str, NewEvent]] = []  # (row index, stream id, event) for ``written``
        self.count = 0
        # event time, in whole microseconds after EPOCH (what datetime arithmetic on EPOCH gave,
        # without a datetime made and formatted per command)
        self.us = 0
        self.end = None if end is None else (end - EPOCH) // _US  # never past it (``days`` after EPOCH)
        self._second: tuple[int, str] = (-1, "")  # (second after EPOCH, its text up to the ".")
        # the gap after a command: randrange(5, 400) ms, at most ``pace`` (the longest gap between
        # a workflow's steps), in microseconds
        self._gaps = [min(ms * 1000, pace // _US) for ms in range(5, 400)]
        self._commands: dict[tuple[type, str], tuple[Any, str]] = {}  # -> (spec, its "command" as JSON)
        self.command_id = ""  # the last command's id (the correlation id of what it starts)

    def _command(self, agg: Any, command: str) -> tuple[Any, str]:
        key = (type(agg), command)
        found = self._commands.get(key)
        if found is None:
            spec = agg.find_command(command)
            found = self._commands[key] = (spec, codec.dumps(f"{agg.category}.{spec.name}"))
        return found

    def run(self, agg: Any, command: str, params: dict[str, Any], correlation: str | None, causation: str | None) -> list[tuple[str, str]]:
        """Run a command on an in-memory aggregate; returns (event id, type) of what it emitted."""
        spec, command_json = self._command(agg, command)
        us = self.us
        id_format = uuid7_prefix(_EPOCH_MS + us // 1000) + _ID_RANDOM
        bits = self.rng.getrandbits
        command_id = self.command_id = _id(id_format, bits(128))
        correlation = correlation or command_id
        causation = causation or command_id
        # the metadata's text as codec.dumps writes the dict below: ids are hex digits and
        # hyphens, the command's name is encoded once
        meta_text = (f'{{"correlation_id":"{correlation}","causation_id":"{causation}","command":{command_json},'
                     f'"command_id":"{command_id}","schema_version":')
        version = agg.version
        out = []
        stamp = self._stamp(us)
        stream_id = agg.stream_id(agg.id)
        rows, dumps = self.rows, codec.dumps
        for es, data in self.decide(agg, spec, params, validate=False):
            version += 1
            self.count += 1
            eid = _id(id_format, bits(128))
            if self.written is not None and (es.personal or not self.personal_only):  # sealed in take()
                meta = {"correlation_id": correlation, "causation_id": causation, "command": f"{agg.category}.{spec.name}",
                        "command_id": command_id, "schema_version": es.schema_version}
                self.unsealed.append((len(rows), stream_id, NewEvent(es.name, data, meta, eid)))
            rows.append((self.count, eid, stream_id, version, es.name, dumps(data),
                         f"{meta_text}{es.schema_version:d}}}", stamp))
            out.append((eid, es.name))
        gap = bits(9)  # randrange(5, 400) is 5 + this draw: the same bits, without its checks
        while gap >= 395:
            gap = bits(9)
        self.advance(self._gaps[gap])
        return out

    def _stamp(self, us: int) -> str:
        """``us`` as ``datetime.isoformat`` writes it in UTC to the microsecond, with a Z: the
        date and time to the second are formatted once per second, from the integers."""
        sec, micro = divmod(us, 1_000_000)
        if sec != self._second[0]:
            day, rest = divmod(sec, 86_400)
            hours, rest = divmod(rest, 3600)
            minutes, rest = divmod(rest, 60)
            date = (EPOCH + timedelta(days=day)).date().isoformat()
            self._second = (sec, f"{date}T{_2D[hours]}:{_2D[minutes]}:{_2D[rest]}.")
        return f"{self._second[1]}{str(1_000_000 + micro)[1:]}Z"

    def advance(self, by: int) -> None:
        """Move event time on by ``by`` microseconds (never past the end)."""
        self.us = self.us + by if self.end is None else min(self.us + by, self.end)

    def take(self) -> list[tuple]:
        rows, self.rows = self.rows, []
        if self.unsealed:
            unsealed, self.unsealed = self.unsealed, []
            for (i, _, _), ev in zip(unsealed, self.written([(sid, ev) for _, sid, ev in unsealed])):
                rows[i] = (*rows[i][:5], codec.dumps(ev.data), codec.dumps(ev.metadata), rows[i][7])
        return rows


def shop_history(
    domain: Domain,
    decide: Callable[..., Any],
    *,
    orders: int,
    customers: int,
    products: int = 50,
    seed: int = 0,
    days: float = 7.0,
    on_order: Callable[[int], None] | None = None,
    written: Written | None = None,
    personal_only: bool = False,
) -> Iterator[list[tuple]]:
    """Rows for ``store.import_rows``: stock, registrations, then orders through the workflow.

    ``written`` turns a chunk's decided events into what is stored (the engine's write
    transforms); with ``personal_only`` only events declaring personal fields go through it."""
    for needed in ("order", "payment", "inventory", "user"):
        if needed not in domain.aggregates:
            raise BadInput(f"evsh seed drives the shop domain; domain {domain.name} has no {needed!r} aggregate")
    Order, Payment, Inventory, User = (domain.aggregates[c] for c in ("order", "payment", "inventory", "user"))
    rng = random.Random(seed)
    below = rng._randbelow  # randrange(n) is _randbelow(n), randrange(a, b) is a + _randbelow(b - a): the same draws
    # `--days 7` is 7 days at most: a tick is 0.9 of a step on average and a workflow's own steps
    # (at most ten) take at most a hundredth of a step each, so the whole fits in ``days``; the
    # end is a wall besides, for an unlucky draw
    step = timedelta(days=days) / max(1, orders + customers + products)
    h = _History(decide, rng, written, personal_only, pace=min(timedelta(milliseconds=400), step / 100),
                 end=EPOCH + timedelta(days=days))

    def tick() -> None:
        h.advance((step * (0.7 + 0.4 * rng.random())) // _US)  # rounded as timedelta rounds

    def flush_if_full() -> Iterator[list[tuple]]:
        if len(h.rows) >= CHUNK:
            yield h.take()

    stock = {}
    prices = {}
    for p in range(1, products + 1):
        pid = f"p{p}"
        inv = Inventory(pid)
        h.run(inv, "add_stock", {"quantity": 100 + below(400)}, None, None)
        stock[pid] = inv
        # most products are cheap; a few premium ones make some orders exceed the payment limit
        high = 60000 if rng.random() < 0.05 else 12000
        prices[pid] = Decimal(100 + below(high - 100)) / 100
        tick()
    for c in range(1, customers + 1):
        user = User(f"u{c}")
        h.run(user, "register", {"email": f"user{c}@example.com", "username": f"user{c}"}, None, None)
        tick()
        yield from flush_if_full()

    product_ids = list(stock)
    for n in range(1, orders + 1):
        oid = f"o{n}"
        order = Order(oid)
        items = []
        for pid in rng.sample(product_ids, k=min(len(product_ids), 1 + below(3))):
            items.append({"product_id": pid, "quantity": 1 + below(4), "unit_price": prices[pid]})
        params = order.find_command("create").bind({"customer_id": f"u{1 + below(customers)}", "items": items})
        (created, _), = h.run(order, "create", params, None, None)
        correlation = h.command_id  # the order's first command starts its correlation
        payment = Payment(oid)
        (paid, paid_type), = h.run(payment, "process", {"order_id": oid, "amount": order.total_amount}, correlation, created)
        if paid_type != "PaymentProcessed":
            h.run(order, "cancel", {"reason": "payment declined"}, correlation, paid)
        else:
            reserved = []
            failed = None
            cause = paid
            for item in order.items:
                inv = stock[item["product_id"]]
                (cause, etype), = h.run(inv, "reserve", {"order_id": oid, "quantity": item["quantity"]}, correlation, paid)
                if etype != "InventoryReserved":
                    failed = cause
                    break
                reserved.append(inv)
            if failed is None:
                h.run(order, "confirm", {}, correlation, cause)
            else:
                for inv in reserved:
                    h.run(inv, "release", {"order_id": oid}, correlation, failed)
                h.run(payment, "refund", {"reason": "out of stock"}, correlation, failed)
                h.run(order, "cancel", {"reason": "out of stock"}, correlation, failed)
            for item in order.items:  # the warehouse restocks what runs low, most of the time
                inv = stock[item["product_id"]]
                if inv.available < 10 and rng.random() < 0.5:
                    h.run(inv, "add_stock", {"quantity": 100 + below(400)}, None, None)
        tick()
        if on_order:
            on_order(n)
        yield from flush_if_full()
    if h.rows:
        yield h.take()
