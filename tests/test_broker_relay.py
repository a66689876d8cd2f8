"""The relay against real brokers: every event published with its headers, at-least-once across a
SIGKILL and a broker restart, an unroutable message stops it, duplicates dropped by NATS, and
bad URLs, unreachable brokers and refused credentials as one line with the documented exit code.

Each test has its own exchange and queue (RabbitMQ) or stream (NATS), removed afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from evsh.broker.message import decode, encode
from evsh.store import codec
from tests.broker_support import (
    NatsServer,
    evsh,
    evsh_process,
    fill_store,
    nats_stream,
    rabbit,
    relay_row,
    stream_ids,
    stream_messages,
    wait_for,
)
from tests.services import AMQP_URL, need_nats, need_rabbitmq


def relayed(tmp_path, orders: int, payments_at: tuple[int, ...], expect: int, *options: str):
    """Relay a fresh store once to an exchange bound with '#': (store, its events, the messages)."""
    db = str(tmp_path / "orders.db")
    events = fill_store(db, orders, payments_at=payments_at)
    with rabbit() as r:
        r.bind("#")
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once", *options)
        assert done.returncode == 0, done.stderr
        assert f"published {expect} events" in done.stdout
        got = wait_for(lambda: r.depth() >= expect and r.drain(), what="the messages in the queue")
        again = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert again.returncode == 0 and "published 0 events" in again.stdout, "nothing new, nothing sent"
    return db, events, got, relay_row(db, "#" + r.exchange)


def test_relay_publishes_every_event_once_with_its_headers(tmp_path):
    db, events, got, row = relayed(tmp_path, 60, (5, 30), 122, "--batch-size", "25")
    assert [p.message_id for _, p, _ in got] == [e.event_id for e in events]  # once each, in log order
    for (method, props, body), e in zip(got, events):
        assert method.routing_key == {"OrderCreated": "order.created", "OrderConfirmed": "order.confirmed",
                                      "PaymentMade": "payment.made"}[e.type]
        assert props.type == e.type and props.content_type == "application/json" and props.delivery_mode == 2
        h = props.headers
        assert h["evsh-stream-id"] == e.stream_id and h["evsh-version"] == str(e.version)
        assert h["evsh-position"] == str(e.position) and h["evsh-source"] == "orders"
        assert h["evsh-schema-version"] == "1" and h["evsh-recorded-at"] == e.recorded_at
        assert h.get("evsh-correlation-id") == e.metadata.get("correlation_id")
        assert h.get("evsh-causation-id") == e.metadata.get("causation_id")
        assert codec.loads(body)["data"] == e.data
        assert decode(props.message_id, h, body, message_type=props.type).event == e  # the consumer's view
    assert row["position"] == events[-1].position and row["published"] == len(events)


def test_relay_filters_by_topic(tmp_path):
    db, events, got, row = relayed(tmp_path, 10, (2, 7), 2, "--topic", "payment.*")
    assert [p.message_id for _, p, _ in got] == [e.event_id for e in events if e.type == "PaymentMade"]
    assert row["position"] == events[-1].position  # the checkpoint passes the filtered-out events


CHILD = textwrap.dedent(
    """
    import sys
    from evsh import open_store
    from evsh.broker.amqp import AmqpPublisher
    from evsh.broker.relay import Relay
    from evsh.broker.urls import parse_url

    db, url, exchange = sys.argv[1:4]

    class Dying(AmqpPublisher):
        calls = 0

        def publish(self, messages):
            self.calls += 1
            if self.calls < 4:
                return super().publish(messages)
            super().publish(messages[: len(messages) // 2])  # half of the fourth batch is out
            print("mid-batch", flush=True)
            sys.stdin.readline()  # blocks until the parent kills us
            raise SystemExit("parent never killed us")

    u = parse_url(url)
    store = open_store(db, create=False)
    relay = Relay(store, Dying(u, exchange), u.destination(exchange), "orders", batch_size=40, lease_ttl=1.0)
    relay.take_lease()
    relay.run(once=True)
    """
)


def test_relay_killed_mid_batch_then_restarted_publishes_every_event_at_least_once(tmp_path):
    db = str(tmp_path / "orders.db")
    events = fill_store(db, 150)  # 300 events: 7.5 batches of 40
    with rabbit() as r:
        r.bind("#")
        child = subprocess.Popen([sys.executable, "-c", CHILD, db, AMQP_URL, r.exchange], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "mid-batch", child.stderr.read()
            child.send_signal(signal.SIGKILL)
        finally:
            child.wait(10)
        row = relay_row(db, "#" + r.exchange)
        assert row["position"] == events[119].position, "three confirmed batches, not the half one"
        # a restart waits for the dead relay's lease to expire, then republishes from the checkpoint
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once", "--wait")
        assert done.returncode == 0, done.stderr
        got = wait_for(lambda: r.depth() >= len(events) + 20 and r.drain(), what="every message")
    ids = [p.message_id for _, p, _ in got]
    assert set(ids) == {e.event_id for e in events}, "every event arrived"
    assert len(ids) == len(events) + 20, "the half batch published before the kill arrived twice"
    assert relay_row(db, "#" + r.exchange)["position"] == events[-1].position


def test_unroutable_message_is_reported_and_the_checkpoint_stops_before_it(tmp_path):
    db = str(tmp_path / "orders.db")
    events = fill_store(db, 10, payments_at=(4,))
    payment = next(e for e in events if e.type == "PaymentMade")
    with rabbit() as r:
        r.bind("order.#")  # nothing takes payment.made
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert done.returncode == 4
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "unroutable" in done.stderr and payment.event_id in done.stderr
        row = relay_row(db, "#" + r.exchange)
        assert row["position"] == payment.position - 1, "not advanced past the unroutable message"
        assert row["error_position"] == payment.position and "unroutable" in row["last_error"]
        before = [e.event_id for e in events if e.position < payment.position]
        got = wait_for(lambda: r.depth() >= len(before) and r.drain(), what="the orders before it")
        # the orders before it arrived; those after it in the same pipelined batch may have too
        # (they are published again when the relay goes on: at-least-once)
        assert [p.message_id for _, p, _ in got][: len(before)] == before
        prom = evsh("--db", db, "stats", "--prometheus").stdout
        lag = events[-1].position - payment.position + 1
        assert f'evsh_lag_events{{kind="relay",name="amqp://127.0.0.1:5672/%2F#{r.exchange}"}} {lag}' in prom
        r.bind("payment.#")  # now it can be routed: the relay goes on from there
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert done.returncode == 0, done.stderr
        assert relay_row(db, "#" + r.exchange)["position"] == events[-1].position


def test_a_second_relay_for_the_same_destination_is_refused(tmp_path):
    db = str(tmp_path / "orders.db")
    fill_store(db, 3)
    with rabbit() as r:
        r.bind("#")
        first = evsh_process("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--poll", "0.05")
        try:
            assert "relaying to" in first.stderr.readline()
            second = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
            assert second.returncode == 3 and "only one runs at a time" in second.stderr
        finally:
            first.send_signal(signal.SIGTERM)
            out, err = first.communicate(timeout=20)
        assert first.returncode == 0, err
        assert "published 6 events" in out
        again = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert again.returncode == 0, "a clean stop gives the lease back at once"


def test_nats_relay_publishes_and_the_server_drops_duplicates(tmp_path):
    db = str(tmp_path / "orders.db")
    events = fill_store(db, 40)
    with nats_stream() as (url, stream, prefix):
        done = evsh("--db", db, "relay", "--to", url, "--stream", stream, "--subject-prefix", prefix, "--once")
        assert done.returncode == 0, done.stderr
        assert stream_messages(url, stream) == len(events)
        # the same messages again (as after a crash before the checkpoint moved): dropped by Nats-Msg-Id
        from evsh.broker.nats import NatsPublisher
        from evsh.broker.urls import parse_url

        pub = NatsPublisher(parse_url(url), stream, subject_prefix=prefix)
        pub.connect()
        try:
            assert pub.publish([encode(e, "orders") for e in events]).confirmed == len(events)
        finally:
            pub.close()
        assert stream_messages(url, stream) == len(events)
        assert stream_ids(url, stream, f"{prefix}.>") == [e.event_id for e in events]


def test_nats_server_killed_and_restarted_during_a_run(tmp_path):
    need_nats()
    db = str(tmp_path / "orders.db")
    events = fill_store(db, 1500)  # 3,000 events in batches of 50
    server = NatsServer(tmp_path / "js")
    server.start()
    relay = None
    try:
        relay = evsh_process("--db", db, "relay", "--to", server.url, "--stream", "KILLED", "--batch-size", "50",
                             "--timeout", "2", "--poll", "0.05")
        assert "relaying to" in relay.stderr.readline()
        wait_for(lambda: (relay_row(db, "#KILLED") or {}).get("position", 0) >= 300, what="some batches confirmed")
        server.kill()
        before = relay_row(db, "#KILLED")["position"]
        assert before < events[-1].position, "killed mid-run"
        server.start()  # same port, same store dir
        wait_for(lambda: relay_row(db, "#KILLED")["position"] == events[-1].position, 120, "the relay to finish")
        assert stream_messages(server.url, "KILLED") == len(events), "every event once (duplicates dropped)"
    finally:
        if relay is not None:
            relay.send_signal(signal.SIGTERM)
            relay.communicate(timeout=20)
        server.kill()
    assert relay.returncode == 0


@pytest.mark.parametrize("url, code, words", [
    ("htp://127.0.0.1:5672/", 2, "must start with amqp://"),
    ("amqp://guest:guest@127.0.0.1:99999/", 2, "Port out of range"),
    ("amqp://guest:guest@127.0.0.1:1/", 4, "no broker answers"),
    ("nats://127.0.0.1:1", 4, "no NATS server answers"),
    ("amqp://guest:wrong-password@127.0.0.1:5672/", 4, "refused the credentials"),
])
def test_bad_url_unreachable_broker_refused_credentials_one_line_nothing_written(tmp_path, url, code, words):
    if "wrong-password" in url:
        need_rabbitmq()
    db = str(tmp_path / "orders.db")
    fill_store(db, 2)
    done = evsh("--db", db, "relay", "--to", url, "--once")
    assert done.returncode == code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], done.stderr
    assert "wrong-password" not in done.stderr, "a password is never shown"
    assert relay_row(db, "") is None, "nothing written"


def test_a_relay_that_lost_its_lease_stops_instead_of_moving_the_checkpoint(tmp_path):
    from evsh import open_store
    from evsh.broker.amqp import AmqpPublisher
    from evsh.broker.relay import Relay
    from evsh.broker.urls import parse_url
    from evsh.errors import RelayBusy

    db = str(tmp_path / "orders.db")
    fill_store(db, 5)
    with rabbit() as r:
        r.bind("#")
        url = parse_url(AMQP_URL)
        store = open_store(db)
        clock = {"now": 1000.0}
        make = lambda: Relay(store, AmqpPublisher(url, r.exchange), url.destination(r.exchange), "orders",  # noqa: E731
                             lease_ttl=5.0, wallclock=lambda: clock["now"])
        first, second = make(), make()
        first.take_lease()
        with pytest.raises(RelayBusy):
            second.take_lease()
        clock["now"] += 6  # the first one paused past its lease: the second takes over
        second.take_lease()
        with pytest.raises(RelayBusy, match="lost its lease"):
            first.run(once=True)
        assert relay_row(db, "#" + r.exchange)["position"] == 0, "the checkpoint did not move"
        assert second.run(once=True) == 10
        first.publisher.close()
        second.publisher.close()
        store.close()


def test_relay_from_a_postgresql_store(tmp_path):
    from tests.services import postgres_url

    with postgres_url() as db:
        events = fill_store(db, 20)
        with rabbit() as r:
            r.bind("#")
            done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once", "--source", "orders")
            assert done.returncode == 0, done.stderr
            got = wait_for(lambda: r.depth() >= len(events) and r.drain(), what="every message")
        assert [p.message_id for _, p, _ in got] == [e.event_id for e in events]
        assert {p.headers["evsh-source"] for _, p, _ in got} == {"orders"}
        assert relay_row(db, "#" + r.exchange)["position"] == events[-1].position


def test_rabbitmq_connection_lost_during_a_run_the_relay_reconnects_and_finishes(tmp_path):
    from urllib.parse import urlsplit

    from tests.broker_support import Cable

    need_rabbitmq()
    db = str(tmp_path / "orders.db")
    events = fill_store(db, 1500)  # 3,000 events in batches of 50
    up = urlsplit(AMQP_URL)
    cable = Cable(up.hostname, up.port or 5672)
    cable.plug()
    via = AMQP_URL.replace(f"{up.hostname}:{up.port or 5672}", f"127.0.0.1:{cable.port}")
    with rabbit() as r:
        r.bind("#")
        relay = evsh_process("--db", db, "relay", "--to", via, "--exchange", r.exchange, "--batch-size", "50",
                             "--timeout", "2", "--poll", "0.05")
        try:
            assert "relaying to" in relay.stderr.readline()
            wait_for(lambda: relay_row(db, "#" + r.exchange)["position"] >= 300, what="some batches confirmed")
            cable.cut()
            assert relay_row(db, "#" + r.exchange)["position"] < events[-1].position, "cut mid-run"
            cable.plug()
            wait_for(lambda: relay_row(db, "#" + r.exchange)["position"] == events[-1].position, 120,
                     "the relay to finish")
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.communicate(timeout=20)
            cable.cut()
        ids = [p.message_id for _, p, _ in wait_for(lambda: r.depth() >= len(events) and r.drain(), what="all")]
    assert relay.returncode == 0
    assert set(ids) == {e.event_id for e in events} and len(ids) >= len(events), "every event at least once"


def test_evsh_own_streams_are_not_published(tmp_path):
    from evsh import open_store

    db = str(tmp_path / "orders.db")
    fill_store(db, 4)
    with open_store(db) as store:
        store.delete_stream("order-o1")  # records a StreamDeleted event in $streams
        visible = list(store.read_all())
    assert any(e.stream_id == "$streams" for e in visible)
    with rabbit() as r:
        r.bind("#")
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert done.returncode == 0, done.stderr
        wanted = [e.event_id for e in visible if not e.stream_id.startswith("$")]
        got = wait_for(lambda: r.depth() >= len(wanted) and r.drain(), what="the domain's events")
    assert [p.message_id for _, p, _ in got] == wanted
    assert relay_row(db, "#" + r.exchange)["position"] == visible[-1].position


def test_events_copied_from_another_store_are_not_published_again(tmp_path):
    """A replica (recorded by `evsh consume`, marked with its source position) is the other
    store's to publish: a service's relay sends only what its own store wrote, unless asked."""
    from evsh import open_store
    from evsh.store.base import SOURCE_POSITION, NewEvent

    db = str(tmp_path / "orders.db")
    fill_store(db, 3)
    with open_store(db) as store:
        store.append("payment-p9", [NewEvent("PaymentMade", {"order_id": "o9"}, {SOURCE_POSITION: 7, "source": "payments"})])
        everything = [e for e in store.read_all() if not e.stream_id.startswith("$")]
    own = [e.event_id for e in everything if SOURCE_POSITION not in e.metadata]
    assert len(own) == len(everything) - 1
    with rabbit() as r:
        r.bind("#")
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", r.exchange, "--once")
        assert done.returncode == 0, done.stderr
        got = wait_for(lambda: r.depth() >= len(own) and r.drain(), what="the store's own events")
        assert [p.message_id for _, p, _ in got] == own
    with rabbit() as hub:  # a store acting as a hub forwards the copies too
        hub.bind("#")
        done = evsh("--db", db, "relay", "--to", AMQP_URL, "--exchange", hub.exchange, "--once", "--include-copies")
        assert done.returncode == 0, done.stderr
        got = wait_for(lambda: hub.depth() >= len(everything) and hub.drain(), what="every event")
        assert [p.message_id for _, p, _ in got] == [e.event_id for e in everything]
