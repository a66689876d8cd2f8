"""`evsh consume` against a real RabbitMQ (and NATS JetStream): duplicates and redeliveries
change nothing, a failing message is dead-lettered and settled, per-stream order is kept.

Each test has its own exchange, queue (or stream) and stores, removed afterwards. Messages are
published here with pika exactly as the relay writes them (evsh.broker.message.encode), so a
test can publish twice, out of order, or garbage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from evsh import open_store
from evsh.broker.message import encode
from tests.services import AMQP_URL, need_nats, need_rabbitmq
from tests.broker_support import Rabbit

AMQP = AMQP_URL


class Broker(Rabbit):
    """An exchange and a queue name of the test's own (the queue is left for `evsh consume` to
    declare), and a publisher onto the exchange; its depth and clean-up as Rabbit's."""

    def __init__(self) -> None:
        import pika

        tag = uuid.uuid4().hex[:10]
        self.exchange, self.queue = f"t-{tag}", f"t-{tag}-q"
        self.conn = pika.BlockingConnection(pika.URLParameters(AMQP))
        self.ch = self.conn.channel()
        self.ch.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        self.ch.confirm_delivery()

    def publish(self, messages) -> None:
        import pika

        for m in messages:
            if isinstance(m, bytes):  # garbage
                self.ch.basic_publish(self.exchange, "order.created", m, pika.BasicProperties(message_id="junk-1"))
                continue
            self.ch.basic_publish(self.exchange, m.routing_key, m.body, pika.BasicProperties(
                message_id=m.message_id, type=m.type, headers=m.headers, content_type="application/json",
                delivery_mode=2))


@pytest.fixture
def broker():
    need_rabbitmq()
    b = Broker()
    yield b
    b.close()


def source_messages(tmp_path, orders=("o1",)):
    """Orders placed in a store of the orders service: their OrderCreated messages."""
    db = str(tmp_path / "orders.db")
    from evsh import build_engine, load_domain
    from evsh.domain.services import restrict

    engine = build_engine(open_store(db), restrict(load_domain("shop_services"), "orders"))
    for oid in orders:
        engine.execute("order", oid, "create", {"customer_id": "c1", "items": [
            {"product_id": "p1", "quantity": 1, "unit_price": "5.00"}]})
    store = open_store(db)
    return [encode(r, "orders") for r in store.read_all()]


def consume(cli, broker, db, *extra, service="payments"):
    return cli("--domain", "shop_services", "--service", service, "consume", "--from", AMQP,
               "--exchange", broker.exchange, "--queue", broker.queue, "--bind", "order.#", "--once",
               "--json", *extra, db=db)


def counts(res):
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def payments(db):
    return [(r.stream_id, r.version, r.type) for r in open_store(db).read_all() if r.stream_id.startswith("payment-")]


def test_the_same_message_published_twice_has_one_effect(cli, broker, tmp_path):
    msgs = source_messages(tmp_path, ("o1", "o2"))
    db = str(tmp_path / "payments.db")
    consume(cli, broker, db)  # declares and binds the queue
    broker.publish([*msgs, *msgs])
    c = counts(consume(cli, broker, db))
    assert (c["handled"], c["duplicates"], c["dead_lettered"]) == (2, 2, 0)
    assert payments(db) == [("payment-o1", 1, "PaymentProcessed"), ("payment-o2", 1, "PaymentProcessed")]
    assert broker.depth() == 0
    # the replicas keep the source's ids, stream, version and correlation
    replica = open_store(db).event_by_id(msgs[0].message_id)
    assert (replica.stream_id, replica.version, replica.metadata["source"]) == ("order-o1", 1, "orders")
    stats = cli("stats", "--json", db=db)
    assert json.loads(stats.stdout)["consumers"][0]["duplicates"] == 2


CHILD = textwrap.dedent("""
    import sys
    from evsh import build_engine, load_domain, open_store
    from evsh.broker import amqp_consume
    from evsh.broker.consume import Consumer
    from evsh.broker.inbox import Inbox
    from evsh.broker.urls import parse_url
    from evsh.domain.services import restrict

    db, url, exchange, queue = sys.argv[1:5]
    engine = build_engine(open_store(db), restrict(load_domain("shop_services"), "payments"))

    def crash(step):
        print(step, flush=True)
        sys.stdin.readline()  # blocks until the parent kills us: recorded, reacted, not acknowledged
        raise SystemExit("parent never killed us")

    consumer = Consumer(Inbox(engine, queue), crash_hook=crash)
    amqp_consume.run(parse_url(url), consumer, exchange=exchange, queue=queue, bindings=["order.#"], once=True)
""")


def test_a_message_redelivered_after_a_consumer_crash_has_no_second_effect(cli, broker, tmp_path):
    msgs = source_messages(tmp_path)
    db = str(tmp_path / "payments.db")
    consume(cli, broker, db)
    broker.publish(msgs)
    child = subprocess.Popen([sys.executable, "-c", CHILD, db, AMQP, broker.exchange, broker.queue],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert child.stdout.readline().strip() == "recorded"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    # recorded before the crash; the message was never acknowledged, so it comes back
    assert [r.type for r in open_store(db).read_all()][:1] == ["OrderCreated"]
    c = counts(consume(cli, broker, db))
    assert (c["received"], c["handled"], c["duplicates"]) == (1, 0, 1)
    assert payments(db) == [("payment-o1", 1, "PaymentProcessed")]
    assert broker.depth() == 0


FAILING = textwrap.dedent("""
    from evsh import reactor
    from evsh.samples.shop import Order, OrderCreated  # noqa: F401

    @reactor("always_fails", on=["order.created"], attempts=2, backoff=0.01)
    def always_fails(event, ctx):
        raise RuntimeError("the payment gateway is down")
""")


def test_a_message_that_keeps_failing_is_dead_lettered_and_settled(cli, broker, tmp_path):
    msgs = source_messages(tmp_path)
    domain = tmp_path / "failing.py"
    domain.write_text(FAILING)
    db = str(tmp_path / "failing.db")
    args = ("--domain", str(domain), "consume", "--from", AMQP, "--exchange", broker.exchange, "--queue",
            broker.queue, "--bind", "order.#", "--once", "--json")
    cli(*args, db=db)
    broker.publish([*msgs, b"\xff not json at all"])
    res = cli(*args, db=db)
    c = counts(res)
    assert (c["handled"], c["dead_lettered"]) == (1, 1)
    assert broker.depth() == 0  # both settled
    rows = json.loads(cli("dlq", "list", "--json", db=db).stdout)
    by = {r["reactor"]: r for r in rows}
    assert "the payment gateway is down" in by["always_fails"]["error"]
    bad = by[f"consumer:{broker.queue}"]
    assert "not" in bad["error"] and "\n" not in bad["error"] and "Traceback" not in res.stderr


def test_a_version_ahead_of_its_stream_is_held_until_the_one_before_arrives(cli, broker, tmp_path):
    db_src = str(tmp_path / "orders.db")
    from evsh import build_engine, load_domain

    engine = build_engine(open_store(db_src), load_domain("shop"))
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})
    engine.execute("inventory", "p1", "add_stock", {"quantity": 7})
    engine.execute("inventory", "p2", "add_stock", {"quantity": 1})
    m1, m2, m3 = [encode(r, "orders") for r in open_store(db_src).read_all()]
    db = str(tmp_path / "replica.db")
    args = ("consume", "--from", AMQP, "--exchange", broker.exchange, "--queue", broker.queue,
            "--bind", "inventory.#", "--once", "--json")
    cli(*args, db=db)
    broker.publish([m2, m3, m1])  # version 2 of inventory-p1 first
    c = counts(cli(*args, db=db))
    assert (c["handled"], c["dead_lettered"], c["held"]) == (3, 0, 0)
    assert [(r.stream_id, r.version, r.data["quantity"]) for r in open_store(db).read_stream("inventory-p1")] == [
        ("inventory-p1", 1, 5), ("inventory-p1", 2, 7)]
    # a version whose predecessor never comes is parked after --hold, not applied
    engine.execute("inventory", "p2", "add_stock", {"quantity": 2})
    engine.execute("inventory", "p2", "add_stock", {"quantity": 3})
    m4, m5 = [encode(r, "orders") for r in open_store(db_src).read_all()][3:]
    broker.publish([m5])
    c = counts(cli(*args, "--hold", "0.3", db=db))
    assert (c["handled"], c["dead_lettered"]) == (0, 1)
    assert open_store(db).stream_version("inventory-p2") == 1
    [row] = json.loads(cli("dlq", "list", "--json", db=db).stdout)
    assert "version 3 of inventory-p2 waited" in row["error"] and row["event_id"] == m5.message_id
    assert broker.depth() == 0
    # the missing version arrives later: `evsh dlq retry` records the parked one after it
    broker.publish([m4])
    assert counts(cli(*args, db=db))["handled"] == 1
    res = cli("--domain", "shop", "dlq", "retry", str(row["id"]), db=db)
    assert res.exit_code == 0 and "retried: StockAdded inventory-p2@3 recorded" in res.stdout, res.stderr
    assert [e.data["quantity"] for e in open_store(db).read_stream("inventory-p2")] == [1, 2, 3]
    assert open_store(db).event_by_id(m5.message_id).metadata["source"] == "orders"
    assert json.loads(cli("dlq", "list", "--json", db=db).stdout) == []
    res = cli("--domain", "shop", "dlq", "retry", "1", db=db)
    assert res.exit_code == 2 and "retried, not parked" in res.stderr


def test_bad_broker_input_is_one_line_and_its_exit_code(cli, tmp_path):
    need_rabbitmq()
    db = str(tmp_path / "x.db")
    res = cli("consume", "--from", "amqpx://h", "--queue", "q", db=db)
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    res = cli("consume", "--from", "amqp://guest:guest@127.0.0.1:1/", "--queue", "q", "--once", db=db)
    assert res.exit_code == 4 and res.stderr.count("\n") == 1 and "no RabbitMQ answers" in res.stderr
    res = cli("consume", "--from", AMQP, "--queue", "evsh-no-such-queue-" + uuid.uuid4().hex[:8], "--once", db=db)
    assert res.exit_code == 4 and "has no queue" in res.stderr
    assert not os.path.exists(db), "nothing written"


def _nats(coro_fn):
    import asyncio

    import nats

    async def main():
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            return await coro_fn(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(main())


def test_nats_durable_consumers_record_each_event_once(cli, tmp_path):
    need_nats()
    msgs = source_messages(tmp_path, ("o1", "o2"))
    tag = uuid.uuid4().hex[:8]
    stream, prefix = f"T{tag}", f"t{tag}"

    async def publish(js):
        await js.add_stream(name=stream, subjects=[prefix + ".>"])
        for m in [*msgs, *msgs]:  # the second copies are dropped by JetStream (Nats-Msg-Id)
            await js.publish(f"{prefix}.{m.routing_key}", m.body,
                             headers={**m.headers, "Nats-Msg-Id": m.message_id, "evsh-type": m.type})

    _nats(publish)
    db = str(tmp_path / "payments.db")
    try:
        args = ("--domain", "shop_services", "--service", "payments", "consume", "--from", "nats://127.0.0.1:4222",
                "--stream", stream, "--bind", "order.#", "--once", "--json")
        c1 = counts(cli(*args, "--durable", "d1", db=db))
        c2 = counts(cli(*args, "--durable", "d2", db=db))  # a second durable reads it all again
        assert (c1["handled"], c1["duplicates"]) == (2, 0)
        assert (c2["handled"], c2["duplicates"]) == (0, 2)
        assert payments(db) == [("payment-o1", 1, "PaymentProcessed"), ("payment-o2", 1, "PaymentProcessed")]
        res = cli(*args[:-2], "--durable", "d3", "--stream", "NO_SUCH_STREAM_" + tag, db=db)
        assert res.exit_code == 4 and "has no stream" in res.stderr
    finally:
        async def drop(js):
            await js.delete_stream(stream)

        _nats(drop)


def test_consumer_counts_reach_stats_prometheus_and_the_tui(cli, tmp_path):
    """No broker here: the inbox is fed directly, as a consumer feeds it."""
    from evsh import build_engine
    from evsh.broker.inbox import Inbox
    from tests.test_tui_ops import SIZE, open_app, run, wait_for

    msgs = source_messages(tmp_path)
    db = str(tmp_path / "replica.db")
    inbox = Inbox(build_engine(open_store(db), None), "payments")
    m = msgs[0]
    for _ in range(2):
        inbox.receive(m.message_id, m.headers, m.body, message_type=m.type)
    inbox.receive(None, {}, b"{}")
    prom = cli("stats", "--prometheus", db=db).stdout
    assert 'evsh_consumer_messages_total{name="payments",outcome="duplicates"} 1' in prom
    assert 'evsh_consumer_messages_total{name="payments",outcome="dead_lettered"} 1' in prom
    assert "consumer payments: 1 handled, 1 duplicate, 1 dead-lettered" in cli("stats", db=db).stdout

    async def scenario():
        app = open_app(db, None)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            await wait_for(pilot, lambda: getattr(app.screen, "counts", None), "the metrics")
            table = app.screen.query_one("#handlers")
            row = [str(c) for c in table.get_row("consumer:payments:#")]
            assert row[:5] == ["consumer", "payments", "(all) 1 duplicate", "1", "1"]

    run(scenario())


def test_relay_and_consumer_reconnect_when_the_nats_server_is_killed_and_restarted(tmp_path):
    """A throwaway nats-server killed mid-run and started again on the same port and store dir:
    the relay and the consumer both carry on, and the consumer's store ends with every event once."""
    from tests.broker_support import NatsServer, evsh_process, fill_store, relay_row, wait_for

    need_nats()
    src, dst = str(tmp_path / "orders.db"), str(tmp_path / "replica.db")
    events = fill_store(src, 1000)
    server = NatsServer(tmp_path / "js")
    server.start()
    procs: list[subprocess.Popen] = []
    try:
        procs.append(evsh_process("--db", src, "relay", "--to", server.url, "--stream", "KILLED", "--batch-size", "50",
                                  "--timeout", "2", "--poll", "0.05"))
        wait_for(lambda: (relay_row(src, "#KILLED") or {}).get("position", 0) >= 100, what="the stream made")
        procs.append(evsh_process("--db", dst, "consume", "--from", server.url, "--stream", "KILLED",
                                  "--durable", "replica", "--prefetch", "50", "--json"))

        def recorded() -> int:
            return open_store(dst).head_position() if os.path.exists(dst) else 0

        consumer = procs[-1]
        wait_for(lambda: recorded() >= 200 or consumer.poll() is not None, what="some events consumed")
        assert consumer.poll() is None, consumer.communicate(timeout=5)
        server.kill()
        assert recorded() < len(events), "killed mid-run"
        server.start()
        wait_for(lambda: recorded() == len(events) or consumer.poll() is not None, 120, "every event consumed")
        assert consumer.poll() is None, consumer.communicate(timeout=5)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=30) for p in procs]
        server.kill()
    assert [p.returncode for p in procs] == [0, 0], outs
    c = json.loads(outs[1][0])
    assert c["handled"] == len(events) and c["dead_lettered"] == 0
    store = open_store(dst)
    # each stream in its order (the log's order across streams may differ after a redelivery)
    assert sorted((e.stream_id, e.version, e.event_id) for e in store.read_all()) == sorted(
        (e.stream_id, e.version, e.event_id) for e in events)


COUNTING = textwrap.dedent("""
    from evsh import reactor, table

    EFFECTS = table("effects", {"event_id": str, "n": int})  # no key: a second effect is a second row

    @reactor("count", on=["OrderCreated"], tables=[EFFECTS])
    def count(event, ctx):
        ctx.table("effects").insert({"event_id": event.event_id, "n": event.data["n"]})
""")


def test_relay_killed_mid_batch_and_restarted_the_consumer_s_effects_happen_once(cli, tmp_path):
    import sqlite3

    from tests.broker_support import evsh, fill_store, rabbit, wait_for
    from tests.test_broker_relay import CHILD as RELAY_KILLED_MID_BATCH

    src, dst = str(tmp_path / "orders.db"), str(tmp_path / "counting.db")
    events = fill_store(src, 150)  # 300 events; the relay is killed inside its fourth batch of 40
    domain = tmp_path / "counting.py"
    domain.write_text(COUNTING)
    with rabbit() as r:
        r.bind("#")
        child = subprocess.Popen([sys.executable, "-c", RELAY_KILLED_MID_BATCH, src, AMQP, r.exchange],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "mid-batch", child.stderr.read()
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(10)
        done = evsh("--db", src, "relay", "--to", AMQP, "--exchange", r.exchange, "--once", "--wait")
        assert done.returncode == 0, done.stderr
        wait_for(lambda: r.depth() >= len(events) + 20, what="every message, the half batch twice")
        c = counts(cli("--domain", str(domain), "consume", "--from", AMQP, "--exchange", r.exchange,
                       "--queue", r.queue, "--once", "--json", db=dst))
        assert (c["handled"], c["duplicates"], c["dead_lettered"]) == (len(events), 20, 0)
        assert r.depth() == 0
    with sqlite3.connect(dst) as conn:
        effects = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM effects").fetchone()
    assert effects == (150, 150), "one effect per OrderCreated, none twice"


def test_two_consumers_of_one_store_fill_each_other_s_gaps(tmp_path):
    """Competing consumers (no broker needed: deliveries are handed over directly): one holds
    version 2 of a stream, the other records version 1; the first records version 2 at its next
    retry instead of parking it."""
    from evsh import build_engine
    from evsh.broker.consume import Consumer, Delivery
    from evsh.broker.inbox import Inbox

    src = str(tmp_path / "src.db")
    from evsh import NewEvent

    open_store(src).append("inventory-p1", [NewEvent("StockAdded", {"product_id": "p1", "quantity": q})
                                            for q in (5, 7)])
    m1, m2 = [encode(r, "src") for r in open_store(src).read_all()]
    db = str(tmp_path / "replica.db")
    now = [0.0]
    a, b = (Consumer(Inbox(build_engine(open_store(db), None), name), hold=10, clock=lambda: now[0])
            for name in ("a", "b"))

    def delivery(m):
        return Delivery(m.message_id, m.headers, m.body, m.type)

    assert a.receive([delivery(m2)]) == [] and a.holding == 1
    assert len(b.receive([delivery(m1)])) == 1
    now[0] = 2.0
    assert [d.message_id for d in a.expire()] == [m2.message_id] and a.holding == 0
    assert [e.version for e in open_store(db).read_stream("inventory-p1")] == [1, 2]
    assert a.counts.dead_lettered == 0
