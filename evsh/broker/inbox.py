"""The inbox: events from other stores, received through a broker, recorded in this store.

Design (docs/broker.md, "The consumer"): a received event is appended to this store under its
own event id, in its own stream, at its own version, as a *replica* of the source's stream.
That one append is the inbox record, the dedup key and the ordering check at once:

- a redelivered or duplicated message finds its event id stored: nothing is written, it is
  counted as a duplicate and settled;
- version ``n`` of a stream is appended only when the replica is at ``n - 1`` (the store's
  expected-version check): a message that skips ahead is *held* by the consumer (not applied,
  not settled) until the missing versions arrive, and parked after ``hold`` seconds;
- the consumer's counters (handled, duplicates, dead-lettered) commit in the same transaction.

Then the store's reactors and projections see the event as they see any local one, through
their own checkpoints (effectively once each). The broker message is acknowledged only after
the commit. A message that is not an evsh event, or that cannot be recorded (a version taken by
another event, a payload the domain's type refuses), goes to the dead letters (``evsh dlq``,
reactor ``consumer:NAME``) with a one-line reason, and is settled.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ..errors import BadInput, BadMessage
from ..store.base import NO_STREAM, SOURCE_POSITION, RecordedEvent
from ..store.tables import table

OWNER = "broker"
KIND = "consumer"
CONSUMERS = table("broker_consumers", {
    "name": str, "source": str,
    "handled": int, "duplicates": int, "dead_lettered": int, "held": int,
    "last_position": int,  # the source position of the last event recorded (as the source numbers it)
    "updated_at": str,
}, pk="name")
# the events of parked messages that were evsh events (held too long, a refused payload), so
# `evsh dlq retry` can record them again
PARKED = table("broker_parked", {"consumer": str, "event_id": str, "line": str, "source": str},
               pk=("consumer", "event_id"))
TABLES = (CONSUMERS, PARKED)
COUNTERS = ("handled", "duplicates", "dead_lettered", "held")


@dataclass(frozen=True)
class Outcome:
    """What the inbox did with one message: ``handled`` (recorded), ``duplicate`` (already
    there), ``held`` (ahead of its stream: wait), ``dead`` (dead-lettered with ``reason``)."""

    status: str
    event: RecordedEvent | None = None
    reason: str = ""
    gap: int = 0  # held: the replica's version (the message wants version gap + 1 first)
    source: str = ""  # held: the source store's name (evsh-source), for parking it later

    @property
    def settled(self) -> bool:
        return self.status != "held"


class Inbox:
    """The receiving side of one consumer (``name``) on one engine."""

    def __init__(self, engine: Any, name: str, source: str = "") -> None:
        from ..store.base import check_name

        self.engine = engine
        self.name = check_name(name, "consumer name")
        self.source = source
        self._ready = False
        self._depth = 0  # open batches
        self._pending: dict[str, int] = {}  # counters to add at the batch's end
        self._last_position = 0
        from ..engine import metrics

        self._metrics = metrics.Buffer()

    @property
    def dlq_name(self) -> str:
        return f"{KIND}:{self.name}"

    def _ensure(self, store: Any) -> None:
        if not self._ready:
            from ..engine.reactors import records

            store.ensure_tables(TABLES, owner=OWNER)
            records.ensure(store)
            self._ready = True

    @contextmanager
    def batch(self) -> Iterator[Any]:
        """One transaction for many messages: the counters and metrics are written once, at its
        end, inside it (each message is a savepoint of it)."""
        store = self.engine.store
        with store.transaction():
            self._depth += 1
            try:
                self._ensure(store)
                yield store
                if self._depth == 1:
                    self._flush(store)
            finally:
                self._depth -= 1
                if not self._depth:
                    self._pending, self._last_position = {}, 0
                    self._metrics.clear()

    def _count(self, field: str, position: int | None = None) -> None:
        self._pending[field] = self._pending.get(field, 0) + 1
        if position is not None:
            self._last_position = max(self._last_position, position)

    def _flush(self, store: Any) -> None:
        if not self._pending:
            return
        t = store.table(CONSUMERS)
        row = t.get(self.name, None) or {"name": self.name, "source": self.source, "last_position": 0,
                                         **{c: 0 for c in COUNTERS}}
        for name, n in self._pending.items():
            row[name] = (row.get(name) or 0) + n
        row["last_position"] = max(row.get("last_position") or 0, self._last_position)
        row["source"] = self.source or row.get("source") or ""
        now = self.engine.clock()
        row["updated_at"] = now
        t.put(row)
        t.flush()
        self._metrics.flush(store, now)

    # ------------------------------------------------------------------ one message
    def receive(self, message_id: Any, headers: Mapping[str, Any] | None, body: bytes | str, *,
                message_type: str | None = None) -> Outcome:
        """Check one message and record its event (one transaction); never raises for a bad
        message (it is dead-lettered), only for the store's own errors (StoreError)."""
        from .message import decode

        try:
            incoming = decode(message_id, headers, body, message_type=message_type, domain=self.engine.domain)
        except BadMessage as exc:
            placeholder, named = _placeholder(message_id, headers, body, message_type)
            return self.dead_letter(placeholder, f"{named}{exc}")
        return self.record(incoming.event, incoming.source)

    def record(self, ev: RecordedEvent, source: str = "") -> Outcome:
        """Append the remote event ``ev`` (its position is the source's) as a replica."""
        engine = self.engine
        store = engine.store
        started = time.perf_counter()
        with self.batch():
            if store.event_by_id(ev.event_id) is not None:
                self._count("duplicates")
                return Outcome("duplicate", ev)
            current = store.stream_version(ev.stream_id)
            if ev.version > current + 1:
                return Outcome("held", ev, f"version {ev.version} of {ev.stream_id} arrived before version"
                                           f" {current + 1}", gap=current, source=source)
            if ev.version <= current:
                return self._dead(store, ev, f"version {ev.version} of {ev.stream_id} is already another event"
                                             " in this store (two sources write one stream?)", source)
            meta = dict(ev.metadata)
            meta.setdefault("correlation_id", ev.event_id)
            meta.setdefault("causation_id", meta["correlation_id"])
            meta["source"] = source or meta.get("source") or self.source
            meta[SOURCE_POSITION] = ev.position
            meta["source_recorded_at"] = ev.recorded_at
            try:
                res = engine.append(ev.stream_id, ev.type, ev.data, expected_version=current or NO_STREAM,
                                    event_id=ev.event_id, metadata=meta)
            except BadInput as exc:  # the domain's type refuses the payload
                return self._dead(store, ev, str(exc), source)
            self._count("handled", ev.position)
            self._metrics.handled(KIND, self.name, ev.type, time.perf_counter() - started)
            return Outcome("handled", res.events[0] if res.events else ev)

    def dead_letter(self, ev: RecordedEvent, reason: str, source: str = "") -> Outcome:
        """Park a message the inbox cannot record (its own transaction)."""
        with self.batch() as store:
            return self._dead(store, ev, reason, source)

    def _dead(self, store: Any, ev: RecordedEvent, reason: str, source: str = "") -> Outcome:
        from ..engine.reactors import records

        records.park(store, self.dlq_name, ev, " ".join(reason.split()), 1, self.engine.clock())
        if ev.position:  # an evsh event: kept, for `evsh dlq retry`
            from ..store.lines import export_line

            store.table(PARKED).put({"consumer": self.name, "event_id": ev.event_id, "line": export_line(ev),
                                     "source": source})
        self._count("dead_lettered")
        return Outcome("dead", ev, reason)

    # ------------------------------------------------------------------ after the commit
    def react(self) -> str | None:
        """Let the store's reactors handle what the inbox recorded (inline mode; in async mode the
        workers do). Returns the last reactor error, if any (the events stay recorded)."""
        rt = self.engine.reactors
        if rt is None or not rt.subs or rt.mode != "inline":
            return None
        rt.run_inline()
        return rt.last_error


def _placeholder(message_id: Any, headers: Mapping[str, Any] | None, body: bytes | str,
                 message_type: str | None) -> tuple[RecordedEvent, str]:
    """What a dead letter says about a message that is not an evsh event: its id when that is a
    UUID (else a UUID made from the id and the body, the id named in the reason), the stream
    and type it claims. Returns (the record to park, the reason's prefix)."""
    def text(v: Any) -> str:  # whatever the broker handed over, as text SQLite can store
        if isinstance(v, (bytes, bytearray)):
            v = bytes(v).decode("utf-8", "replace")
        return v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else ""

    raw = (body.encode("utf-8", "replace") if isinstance(body, str)
           else bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else b"")
    mid = text(message_id)
    try:
        eid, named = str(uuid.UUID(mid)), ""
    except ValueError:
        import hashlib  # here: OpenSSL's library loads only for a consumer, not with the table declarations

        digest = hashlib.sha1(raw).hexdigest()
        eid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"evsh-message:{mid}:{digest}"))
        named = f"message {mid[:80]!r}: " if mid else f"message without an id (body sha1 {digest[:12]}): "
    items = headers.items() if isinstance(headers, Mapping) else ()
    heads = {(text(k) if isinstance(k, (bytes, bytearray)) else str(k)).lower(): v for k, v in items}
    return (RecordedEvent(0, eid, text(heads.get("evsh-stream-id"))[:200], 0, text(message_type)[:200] or "?",
                          {}, {}, ""), named)


def retry_dead_letter(engine: Any, row: Mapping[str, Any]) -> tuple[str, str]:
    """`evsh dlq retry` of a consumer's dead letter: record its event again (the missing versions
    may have arrived). Returns ("retried" | "duplicate" | "failed", what happened)."""
    from ..engine.reactors import records
    from ..store import codec
    from ..store.lines import import_row

    if row["status"] != "parked":
        raise BadInput(f"dead letter {row['id']} is {row['status']}, not parked")
    name = row["reactor"][len(KIND) + 1:]
    store = engine.store
    kept = store.table(PARKED).get((name, row["event_id"]), None)
    if kept is None:
        raise BadInput(f"dead letter {row['id']}: the message was not an evsh event, there is nothing to record;"
                       " discard it")
    obj = codec.parse(kept["line"].encode("utf-8"))
    eid, sid, ver, etype, data, meta, at = import_row(obj, None, "", set(), set())
    inbox = Inbox(engine, name)
    with inbox.batch():
        out = inbox.record(RecordedEvent(obj["position"], eid, sid, ver, etype, data, meta, at), kept["source"])
        if out.status in ("handled", "duplicate"):
            records.resolve(store, row["id"], "retried", engine.clock())
            parked = store.table(PARKED)
            parked.delete((name, row["event_id"]))
            parked.flush()
    if out.status == "handled":
        error = inbox.react()
        return "retried", f"{etype} {sid}@{ver} recorded" + (f"; a reactor failed: {error}" if error else "")
    if out.status == "duplicate":
        return "duplicate", f"{etype} {sid}@{ver} was recorded meanwhile"
    return "failed", out.reason or f"{etype} {sid}@{ver} is still ahead of its stream"


def consumer_rows(store: Any) -> list[dict[str, Any]]:
    """Every consumer's counters (for `evsh stats`); [] on a store that never consumed."""
    return store.table(CONSUMERS).rows_where(None, (), order_by="name")
