"""The message format, the contract between relay and consumer: an event goes out and comes back
the same; a message that is not what a relay writes is refused with BadMessage saying why. And
broker URLs: malformed ones are bad input, and a password is never shown."""

from __future__ import annotations

import pytest

from evsh.broker.message import decode, encode, source_name
from evsh.broker.urls import parse_url
from evsh.errors import BadInput, BadMessage
from evsh.store import codec
from evsh.store.base import RecordedEvent

EVENT = RecordedEvent(7, "0190f3a4-1b2c-7d3e-8f40-123456789abc", "order_line-o1", 2, "OrderLineAdded",
                      {"qty": 2**70, "note": "caf\u00e9 \u202e"}, {"correlation_id": "c1", "causation_id": "k1",
                                                                   "schema_version": 2},
                      "2026-01-01T00:00:00.000000Z")


def test_an_event_goes_out_and_comes_back_the_same():
    m = encode(EVENT, "orders")
    assert m.message_id == EVENT.event_id and m.type == "OrderLineAdded" and m.routing_key == "order_line.added"
    assert m.headers == {"evsh-stream-id": "order_line-o1", "evsh-version": "2", "evsh-position": "7",
                         "evsh-source": "orders", "evsh-schema-version": "2",
                         "evsh-recorded-at": "2026-01-01T00:00:00.000000Z", "evsh-correlation-id": "c1",
                         "evsh-causation-id": "k1"}
    assert b"\\u202e" in m.body, "bidi controls escaped, as evsh export writes them"
    back = decode(m.message_id, m.headers, m.body, message_type=m.type)
    assert back.event == EVENT and back.source == "orders" and back.routing_key == "order_line.added"
    # as pika hands headers back from another publisher: bytes and ints
    raw = {k: v.encode() for k, v in m.headers.items()} | {"evsh-version": 2}
    assert decode(m.message_id.encode(), raw, m.body).event == EVENT


def _bad(**change):
    m = encode(EVENT, "orders")
    args = {"message_id": m.message_id, "headers": dict(m.headers), "body": m.body, "message_type": m.type}
    for k, v in change.items():
        if k.startswith("h_"):
            name = "evsh-" + k[2:].replace("_", "-")
            if v is None:
                args["headers"].pop(name)
            else:
                args["headers"][name] = v
        else:
            args[k] = v
    with pytest.raises(BadMessage) as err:
        decode(args["message_id"], args["headers"], args["body"], message_type=args["message_type"])
    return str(err.value)


def test_a_message_that_is_not_what_a_relay_writes_is_refused_saying_why():
    assert "evsh-stream-id is missing" in _bad(h_stream_id=None)
    assert "evsh-version '3' disagrees" in _bad(h_version="3")
    assert "evsh-position" in _bad(h_position="8")
    assert "is not the event id" in _bad(message_id="0190f3a4-1b2c-7d3e-8f40-000000000000")
    assert "is not the event id" in _bad(message_id=None)
    assert "message type 'X'" in _bad(message_type="X")
    assert "not JSON" in _bad(body=b"{nope")
    assert "data must be a JSON object" in _bad(body=codec.dumps({**EVENT.as_dict(), "data": [1]}).encode())
    assert "missing key 'position'" in _bad(body=codec.dumps({k: v for k, v in EVENT.as_dict().items()
                                                               if k != "position"}).encode())
    assert "evsh-source" in _bad(h_source="bad\x1b[2Jname")
    assert "must be text" in _bad(h_stream_id=["order_line-o1"])


def test_a_store_is_named_by_its_file_or_database():
    assert source_name("/data/orders.db") == "orders"
    assert source_name("payments.sqlite") == "payments"
    assert source_name("postgresql://u@h:5432/shop") == "shop"
    assert source_name("postgresql://u@h/shop?schema=x") == "shop"


@pytest.mark.parametrize("url, words", [
    ("", "empty"), ("http://h", "must start with"), ("amqp://", "names no host"),
    ("amqp://u:secret@h:70000/", "Port out of range"), ("amqp://u:secret@h:x/", "could not be cast"),
    ("amqp://h/a/b", "one virtual host"), ("nats://h/x", "has no path"), ("amqp://h/?x=1", "query strings"),
    ("amqp://h /", "space"),
])
def test_malformed_broker_urls_are_bad_input_and_never_show_a_password(url, words):
    with pytest.raises(BadInput) as err:
        parse_url(url)
    assert words in str(err.value) and "secret" not in str(err.value)


def test_broker_urls_name_a_destination_without_credentials():
    u = parse_url("amqp://guest:guest@127.0.0.1/")
    assert (u.kind, u.port, u.vhost) == ("amqp", 5672, "/")
    assert u.destination("evsh") == "amqp://127.0.0.1:5672/%2F#evsh" and "guest:guest" not in u.shown
    assert parse_url("nats://127.0.0.1").destination("EVSH") == "nats://127.0.0.1:4222#EVSH"
