"""Relay throughput against a bare publisher of the same messages, for RabbitMQ and NATS JetStream.

Run:  python benchmarks/bench_broker.py [--events 20000] [--batch 500] [--repeat 3]
          [--amqp amqp://guest:guest@127.0.0.1:5672/] [--nats nats://127.0.0.1:4222]

For each broker, in the same process, alternating runs:
- bare: the messages already built (``encode`` of every event) published in batches of --batch
  through the same publisher, confirms pipelined the same way, nothing else;
- relay: ``Relay.run(once=True)`` from checkpoint 0 over a store holding the events: reading the
  log, filtering, building the messages, publishing, waiting for confirms, and one checkpoint
  transaction per batch.
Target (issue 16): relay >= 0.5x bare. Each run has its own exchange+queue or stream, removed after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from evsh import NewEvent, open_store  # noqa: E402
from evsh.broker.message import encode  # noqa: E402
from evsh.broker.relay import Relay  # noqa: E402
from evsh.broker.urls import parse_url  # noqa: E402


def make_store(path: str, events: int) -> list:
    store = open_store(path)
    per = 100
    for s in range(events // per):
        store.append(f"order-o{s}", [NewEvent("OrderLineAdded", {"sku": f"sku-{i}", "qty": i, "price": "9.99"},
                                              {"correlation_id": f"c{s}"}) for i in range(per)])
    recs = list(store.read_all())
    store.close()
    return recs


class AmqpPlace:
    def __init__(self, url: str) -> None:
        import pika

        self.url = url
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.ch = self.conn.channel()
        self.names: list[str] = []

    def new(self) -> str:
        name = f"evsh_bench_{uuid.uuid4().hex[:8]}"
        self.ch.exchange_declare(name, "topic", durable=True)
        self.ch.queue_declare(name)
        self.ch.queue_bind(name, name, "#")
        self.names.append(name)
        return name

    def publisher(self, name: str):
        from evsh.broker.amqp import AmqpPublisher

        return AmqpPublisher(parse_url(self.url), name)

    def close(self) -> None:
        for n in self.names:
            self.ch.queue_delete(n)
            self.ch.exchange_delete(n)
        self.conn.close()


class NatsPlace:
    def __init__(self, url: str) -> None:
        self.url = url
        self.names: list[str] = []

    def new(self) -> str:
        name = f"EVSH_BENCH_{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        return name

    def publisher(self, name: str):
        from evsh.broker.nats import NatsPublisher

        return NatsPublisher(parse_url(self.url), name, subject_prefix=name.lower().replace("_", ""))

    def close(self) -> None:
        import nats

        async def drop() -> None:
            nc = await nats.connect(self.url)
            js = nc.jetstream()
            for n in self.names:
                await js.delete_stream(n)
            await nc.close()

        asyncio.run(drop())


def bare(place, recs: list, batch: int) -> float:
    messages = [encode(r, "bench") for r in recs]
    pub = place.publisher(place.new())
    pub.connect()
    t = time.perf_counter()
    for i in range(0, len(messages), batch):
        res = pub.publish(messages[i:i + batch])
        assert res.error is None, res.error
    elapsed = time.perf_counter() - t
    pub.close()
    return len(messages) / elapsed


def relay(place, db: str, n: int, batch: int) -> float:
    store = open_store(db)
    name = place.new()
    pub = place.publisher(name)
    pub.connect()
    r = Relay(store, pub, f"bench#{name}", "bench", batch_size=batch)
    r.take_lease()
    t = time.perf_counter()
    done = r.run(once=True, connected=True)
    elapsed = time.perf_counter() - t
    assert done == n, (done, n)
    r.release()
    pub.close()
    store.close()
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--amqp", default=os.environ.get("EVSH_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/"))
    ap.add_argument("--nats", default=os.environ.get("EVSH_TEST_NATS", "nats://127.0.0.1:4222"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        recs = make_store(db, args.events)
        print(f"{len(recs)} events, batches of {args.batch}, {args.repeat} alternating runs each (median)")
        ok = True
        for label, make in (("RabbitMQ", lambda: AmqpPlace(args.amqp)), ("NATS JetStream", lambda: NatsPlace(args.nats))):
            try:
                place = make()
            except Exception as exc:  # that broker is not here: say so, go on with the other
                print(f"{label}: skipped ({' '.join(str(exc).split())[:100] or type(exc).__name__})")
                continue
            try:
                b, r = [], []
                for _ in range(args.repeat):
                    b.append(bare(place, recs, args.batch))
                    r.append(relay(place, db, len(recs), args.batch))
            finally:
                place.close()
            mb, mr = statistics.median(b), statistics.median(r)
            verdict = "ok" if mr >= 0.5 * mb else "BELOW TARGET"
            ok = ok and mr >= 0.5 * mb
            print(f"{label:15s} bare {mb:9,.0f} msg/s   relay {mr:9,.0f} msg/s   ratio {mr / mb:.2f}x"
                  f" (target >= 0.5x) {verdict}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
