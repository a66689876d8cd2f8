"""The message format: what the relay publishes for an event, and what a consumer reads back.

This is the contract between a relay and every consumer, on RabbitMQ and NATS JetStream alike:

- message id = the event id (RabbitMQ ``message_id``; NATS ``Nats-Msg-Id``, so JetStream drops
  a duplicate), message type = the event type (RabbitMQ ``type``);
- routing key = evsh's routing key (``order.created``; NATS subject ``evsh.order.created``);
- headers, all text: ``evsh-stream-id``, ``evsh-version``, ``evsh-position`` (in the source
  store's log), ``evsh-correlation-id`` and ``evsh-causation-id`` (only when the event has them),
  ``evsh-source`` (the source store's name), ``evsh-schema-version``, ``evsh-recorded-at``;
- on NATS, which has no message type, the type travels as the header ``evsh-type``;
- body = the JSON object ``evsh export`` writes for the event (UTF-8), content type
  ``application/json``. The body is the event; the headers repeat parts of it for routing and
  inspection, and a consumer refuses a message whose headers disagree with its body.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from ..engine.routing import routing_key
from ..errors import BadInput, BadMessage
from ..store.base import check_name
from ..store.recorded import RecordedEvent, category_of
from ..store.lines import export_line, import_row

CONTENT_TYPE = "application/json"
H_STREAM = "evsh-stream-id"
H_VERSION = "evsh-version"
H_POSITION = "evsh-position"
H_CORRELATION = "evsh-correlation-id"
H_CAUSATION = "evsh-causation-id"
H_SOURCE = "evsh-source"
H_SCHEMA = "evsh-schema-version"
H_RECORDED = "evsh-recorded-at"
H_TYPE = "evsh-type"  # NATS only (RabbitMQ has a type property)
HEADERS = (H_STREAM, H_VERSION, H_POSITION, H_CORRELATION, H_CAUSATION, H_SOURCE, H_SCHEMA, H_RECORDED)
REQUIRED = (H_STREAM, H_VERSION, H_POSITION, H_SOURCE, H_SCHEMA, H_RECORDED)


@dataclass(frozen=True)
class Message:
    """One event as a broker-neutral message (each publisher maps it onto its broker)."""

    message_id: str
    type: str
    routing_key: str
    headers: dict[str, str]
    body: bytes
    position: int  # the event's position in the source store's log (the relay's bookkeeping)


@dataclass(frozen=True)
class Incoming:
    """A message read back: the event as the source store recorded it (its ``position`` is the
    source's), the source store's name and the routing key."""

    event: RecordedEvent
    source: str
    routing_key: str

    @property
    def message_id(self) -> str:
        return self.event.event_id


def source_name(db: str) -> str:
    """A store's name as messages carry it: the file's name without ``.db`` (``orders.db`` ->
    ``orders``), or the database of a server URL (``postgresql://h/shop`` -> ``shop``)."""
    base = db.split("?", 1)[0].rstrip("/")
    name = os.path.basename(base) or base
    for suffix in (".db", ".sqlite", ".sqlite3"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name or "evsh"


def encode(rec: RecordedEvent, source: str) -> Message:
    """The message for one recorded event (``source``: the store's name, see :func:`source_name`)."""
    meta = rec.metadata or {}
    headers = {
        H_STREAM: rec.stream_id,
        H_VERSION: str(rec.version),
        H_POSITION: str(rec.position),
        H_SOURCE: source,
        H_SCHEMA: str(meta.get("schema_version", 1)),
        H_RECORDED: rec.recorded_at,
    }
    if meta.get("correlation_id"):
        headers[H_CORRELATION] = str(meta["correlation_id"])
    if meta.get("causation_id"):
        headers[H_CAUSATION] = str(meta["causation_id"])
    return Message(rec.event_id, rec.type, routing_key(category_of(rec.stream_id), rec.type), headers,
                   export_line(rec).encode("utf-8"), rec.position)


def _text(value: Any, name: str) -> str:
    """A header's value as text (pika hands back bytes or ints for headers others wrote); anything
    that is not UTF-8 text or a whole number of sane size is a BadMessage."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise BadMessage(f"{name} is not UTF-8 text") from None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadMessage(f"{name} must be text, not {type(value).__name__}")
    if isinstance(value, int):
        if value.bit_length() > 64:
            raise BadMessage(f"{name} is a number of {value.bit_length()} bits, more than 64")
        return str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadMessage(f"{name} is not UTF-8 text") from None
    return value


def decode(message_id: str | bytes | None, headers: Mapping[str, Any] | None, body: bytes | str, *,
           message_type: str | None = None, domain: Any = None) -> Incoming:
    """A received message checked and turned back into the event it carries.

    The body is validated exactly as ``evsh import`` validates a line (and against the domain's
    event types when ``domain`` is given); the message id, the type and the evsh headers must
    agree with it. Anything else raises :class:`BadMessage` saying what is wrong."""
    from ..store import codec

    if headers is not None and not isinstance(headers, Mapping):
        raise BadMessage(f"the headers must be a table, not {type(headers).__name__}")
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        raise BadMessage(f"the body must be bytes, not {type(body).__name__}")
    heads = {(_text(k, "a header name") if isinstance(k, (bytes, bytearray)) else str(k)).lower(): v
             for k, v in (headers or {}).items()}
    mid = None if message_id is None else _text(message_id, "the message id")
    mtype = None if message_type is None else _text(message_type, "the message type")
    missing = [h for h in REQUIRED if h not in heads]
    if missing:
        raise BadMessage(f"not an evsh event message: header {missing[0]} is missing")
    got = {h: _text(heads[h], f"header {h}") for h in HEADERS if h in heads}
    try:
        obj = codec.parse(body.encode("utf-8") if isinstance(body, str) else bytes(body))
    except ValueError as exc:
        raise BadMessage(f"the body is not JSON ({exc})") from None
    try:
        eid, sid, ver, etype, data, meta, at = import_row(obj, domain, "", set(), set())
    except BadInput as exc:
        raise BadMessage(f"the body is not an evsh event: {exc}") from None
    position = obj.get("position")
    if position is None:
        raise BadMessage("the body is not an evsh event: missing key 'position'")
    if mid is None or mid.lower() != eid:
        raise BadMessage(f"message id {mid!r} is not the event id {eid} of its body")
    if mtype is not None and mtype != etype:
        raise BadMessage(f"message type {mtype!r} is not the event type {etype!r} of its body")
    expect = {H_STREAM: sid, H_VERSION: str(ver), H_POSITION: str(position), H_RECORDED: at,
              H_SCHEMA: str(meta.get("schema_version", 1))}
    for h, value in expect.items():
        if got[h] != value:
            raise BadMessage(f"header {h} {got[h]!r} disagrees with the body ({value!r})")
    try:
        source = check_name(got[H_SOURCE], "header evsh-source")
    except BadInput as exc:
        raise BadMessage(str(exc)) from None
    event = RecordedEvent(position, eid, sid, ver, etype, data, meta, at)
    return Incoming(event, source, routing_key(category_of(sid), etype))
