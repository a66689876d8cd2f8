"""`evsh demo services`: the shop as three services over RabbitMQ, each its own process and store.

The order, payment and inventory services (``shop_services``) each run `evsh consume` and
`evsh relay` on a store of their own in one folder; the demo places orders, stops the payment
service while orders keep coming (its queue fills up: the broker buffers), starts it again and
waits until every order is confirmed or cancelled, then follows one order across the stores
with `evsh trace --stores`. Exchange and queues are the run's own and are deleted at the end;
the stores stay for a look around.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from typing import Any, Callable

import click

from ..errors import BadInput, BrokerError
from ..sanitise import safe
from ..store.base import SOURCE_POSITION
from ..wording import counted, number

SERVICES = ("orders", "payments", "inventory")
OWNS = {"orders": "order", "payments": "payment", "inventory": "inventory"}
DOMAIN = "shop_services"
START_HINT = "start one with `docker run -d -p 5672:5672 rabbitmq:3` (or pass --broker URL)"


def _orders(first: int, count: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """Order ids and items: most go through; every 5th is above the payment limit (declined),
    every 7th asks for a product out of stock (refunded and cancelled)."""
    out = []
    for n in range(first, first + count):
        items = [{"product_id": "p1", "quantity": 1, "unit_price": "20.00"},
                 {"product_id": "p2", "quantity": 2, "unit_price": "7.50"}]
        if n % 5 == 0:
            items = [{"product_id": "p1", "quantity": 1, "unit_price": "1500.00"}]
        elif n % 7 == 0:
            items.append({"product_id": "p3", "quantity": 1, "unit_price": "3.00"})
        out.append((f"o{n}", items))
    return out


class Demo:
    """The processes, stores and broker objects of one run."""

    def __init__(self, url: Any, folder: str, say: Callable[[str], None]) -> None:
        self.url = url
        self.folder = folder
        self.say = say
        tag = uuid.uuid4().hex[:6]
        self.exchange = f"evsh-demo-{tag}"
        self.procs: dict[str, list[subprocess.Popen]] = {}
        self.engines: dict[str, Any] = {}

    def db(self, svc: str) -> str:
        return os.path.join(self.folder, f"{svc}.db")

    def queue(self, svc: str) -> str:
        return f"{self.exchange}-{svc}"

    def _evsh(self, svc: str, *args: str) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
        log = open(os.path.join(self.folder, f"{svc}.log"), "a")
        return subprocess.Popen([sys.executable, "-m", "evsh", "--db", self.db(svc), "--domain", DOMAIN,
                                 "--service", svc, *args], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=env)

    def start(self, svc: str) -> None:
        """A service: its store, its consumer (which declares and binds its queue), then its relay."""
        from ..store.connect import open_store

        open_store(self.db(svc), create=True).close()  # made here, once: no process races to create it
        consumer = self._evsh(svc, "consume", "--from", self.url.url, "--exchange", self.exchange,
                              "--queue", self.queue(svc), "--prefetch", "500")
        self._wait(lambda: self.depth(svc) is not None, f"the {svc} queue", consumer)
        relay = self._evsh(svc, "relay", "--to", self.url.url, "--exchange", self.exchange, "--category",
                           OWNS[svc], "--poll", "0.05", "--lease", "2", "--wait")
        self.procs[svc] = [consumer, relay]

    def stop(self, svc: str) -> None:
        procs = self.procs.pop(svc, [])
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        # wait for both to be gone: the next start of this service must not meet their lease
        # (a relay gives its lease up on SIGTERM)
        for p in procs:
            p.wait(timeout=20)

    def stop_all(self) -> None:
        procs = [p for ps in self.procs.values() for p in ps]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = {}

    def depth(self, svc: str) -> int | None:
        from ..broker.amqp_consume import queue_depth

        return queue_depth(self.url, self.queue(svc))

    def _wait(self, ready: Callable[[], bool], what: str, proc: subprocess.Popen | None = None,
              timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while not ready():
            if proc is not None and proc.poll() is not None:
                raise BrokerError(f"the process for {what} stopped (exit {proc.returncode});"
                                  f" see the logs in {self.folder}")
            if time.monotonic() > end:
                raise BrokerError(f"{what} was not ready after {timeout:g} s; see the logs in {self.folder}")
            time.sleep(0.05)

    def engine(self, svc: str) -> Any:
        """This process's own engine on a service's store (reactors left to the service)."""
        if svc not in self.engines:
            from ..domain.registry import load_domain
            from ..domain.services import restrict
            from ..engine.wiring import build_engine
            from ..store.connect import open_store

            self.engines[svc] = build_engine(open_store(self.db(svc), create=True),
                                             restrict(load_domain(DOMAIN), svc), mode="async")
        return self.engines[svc]

    def status(self, oid: str) -> str:
        return self.engine("orders").load("order", oid).status

    def cleanup(self) -> None:
        from ..broker.amqp_consume import connect

        for e in self.engines.values():
            e.store.close()
        try:
            conn = connect(self.url)
        except BrokerError:
            return
        try:
            ch = conn.channel()
            for svc in SERVICES:
                ch.queue_delete(self.queue(svc))
            ch.exchange_delete(self.exchange)
        finally:
            conn.close()


def run(broker: str, folder: str | None, count: int) -> dict[str, Any]:
    """The whole demo; returns what each store ended with (also printed)."""
    from ..broker.amqp_consume import connect
    from ..broker.urls import parse_url

    url = parse_url(broker)
    if url.kind != "amqp":
        raise BadInput("the services demo runs over RabbitMQ: pass --broker amqp://user:password@host:5672/")
    try:
        connect(url).close()
    except BrokerError as exc:
        raise BadInput(f"{str(exc).split(';')[0]}; the services demo needs RabbitMQ: {START_HINT}") from None
    if folder:
        os.makedirs(folder, exist_ok=True)
        if any(name.endswith(".db") for name in os.listdir(folder)):
            raise BadInput(f"{folder} already holds stores; give an empty or new folder")
    else:
        folder = tempfile.mkdtemp(prefix="evsh-services-")
    started = time.monotonic()
    say = lambda text: click.echo(safe(text))  # noqa: E731
    demo = Demo(url, folder, say)
    try:
        return _story(demo, count, started)
    finally:
        demo.stop_all()
        demo.cleanup()


def _story(demo: Demo, count: int, started: float) -> dict[str, Any]:
    say = demo.say
    say(f"stores in {demo.folder}; exchange {demo.exchange} on {demo.url.shown}")
    for svc in SERVICES:
        demo.start(svc)
        say(f"  started {svc:<9}  consume --queue {demo.queue(svc)}   relay --category {OWNS[svc]}")
    inv = demo.engine("inventory")
    for product, quantity in (("p1", 1000), ("p2", 1000)):
        inv.execute("inventory", product, "add_stock", {"quantity": quantity})
    say("stock: p1 1000, p2 1000 (p3 none)")

    first, second = _orders(1, count // 2), _orders(count // 2 + 1, count - count // 2)
    orders = demo.engine("orders")

    def place(batch: list[tuple[str, list[dict[str, Any]]]]) -> None:
        for oid, items in batch:
            orders.execute("order", oid, "create", {"customer_id": "c1", "items": items})

    def settled(batch: list[tuple[str, Any]]) -> bool:
        return all(demo.status(oid) != "created" for oid, _ in batch)

    place(first)
    say(f"placed {len(first)} orders; every service is up")
    demo._wait(lambda: settled(first), "the first orders", timeout=45)
    say(f"  {_tally(demo, first)}")

    say("stopping the payment service; orders keep coming")
    demo.stop("payments")
    place(second)
    demo._wait(lambda: (demo.depth("payments") or 0) >= len(second), "the payments queue", timeout=20)
    say(f"  placed {len(second)} more: payments queue holds {demo.depth('payments')} messages;"
        f" {sum(demo.status(o) == 'created' for o, _ in second)} orders wait for their payment")

    say("starting the payment service again")
    demo.start("payments")
    demo._wait(lambda: settled(second), "the orders placed while payments was down", timeout=45)
    say(f"  payments queue: {demo.depth('payments')} messages; {_tally(demo, first + second)}")

    cid = _correlation(orders, first[0][0])
    say("")
    say(f"evsh trace {cid} --stores {demo.folder}")
    out = subprocess.run([sys.executable, "-m", "evsh", "trace", cid, "--stores", demo.folder],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "110"})
    click.echo(out.stdout, nl=False)
    result = _summary(demo, first + second)
    say("")
    for svc, facts in result["stores"].items():
        say(f"{svc:<9} {counted(facts['events'], 'event')} ({number(facts['replicas'])} received from the others)")
    say(f"done in {time.monotonic() - started:.1f} s; look around: evsh --db {demo.db('orders')} log")
    return result


def _correlation(engine: Any, oid: str) -> str:
    first = next(iter(engine.store.read_stream(f"order-{oid}")))
    return first.metadata.get("correlation_id") or first.event_id


def _tally(demo: Demo, batch: list[tuple[str, Any]]) -> str:
    states = [demo.status(oid) for oid, _ in batch]
    return f"{states.count('confirmed')} confirmed, {states.count('cancelled')} cancelled, {states.count('created')} open"


def _summary(demo: Demo, batch: list[tuple[str, Any]]) -> dict[str, Any]:
    stores: dict[str, Any] = {}
    for svc in SERVICES:
        store = demo.engine(svc).store
        events = list(store.read_all())
        stores[svc] = {"events": len(events), "replicas": sum(SOURCE_POSITION in e.metadata for e in events)}
    pay = demo.engine("payments")
    stock = demo.engine("inventory").load("inventory", "p1")
    return {
        "folder": demo.folder,
        "orders": {oid: demo.status(oid) for oid, _ in batch},
        "payments": {oid: pay.load("payment", oid).status for oid, _ in batch},
        "p1": {"on_hand": stock.on_hand, "held": stock.held},
        "stores": stores,
        "total": str(sum((Decimal(i["unit_price"]) * i["quantity"] for _, items in batch for i in items), Decimal(0))),
    }
