"""The consumer loop, the same for RabbitMQ and NATS JetStream: deliveries in, settlements out.

A broker module (``amqp_consume``, ``nats_consume``) turns what its client receives into
:class:`Delivery` objects and settles (acknowledges) the ones :class:`Consumer` hands back. The
consumer gives each delivery to the :class:`~evsh.broker.inbox.Inbox` (one transaction), lets
the store's reactors handle what was recorded, and only then says "settle it": a crash between
the commit and the acknowledgement redelivers a message whose event is already stored, which
is then a duplicate and changes nothing.

Per-stream order: a message whose version skips ahead of its stream's replica is *held*,
unsettled, in memory; each recorded event releases the held one that follows it. A held
message still waiting after ``hold`` seconds (its predecessor never came: lost, filtered out,
or parked) is dead-lettered with the versions it waited for, and settled. Held messages count
against the broker's prefetch window (RabbitMQ) or ``max_ack_pending`` (JetStream); a crash
while holding redelivers them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .inbox import Inbox, Outcome

DEFAULT_HOLD = 30.0  # seconds a message ahead of its stream waits for the versions before it
DEFAULT_PREFETCH = 200


@dataclass
class Delivery:
    """One received message, as any broker hands it over; ``token`` is the broker's handle for
    settling it (a delivery tag, a NATS message)."""

    message_id: Any
    headers: Any
    body: bytes
    type: str | None
    token: Any = None
    redelivered: bool = False


@dataclass
class Counts:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    held: int = 0  # waiting now
    received: int = 0
    reactor_error: str | None = None
    last_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "handled": self.handled, "duplicates": self.duplicates,
                "dead_lettered": self.dead_lettered, "held": self.held}


@dataclass
class Consumer:
    """Hands deliveries to the inbox and says which to settle (see the module's docstring)."""

    inbox: Inbox
    hold: float = DEFAULT_HOLD
    clock: Callable[[], float] = time.monotonic
    # called with "recorded" after the inbox committed, before anything is settled (crash tests)
    crash_hook: Callable[[str], None] | None = None
    counts: Counts = field(default_factory=Counts)
    _held: dict[str, dict[int, tuple[Delivery, float, Outcome]]] = field(default_factory=dict)
    retry_every: float = 1.0  # seconds between new attempts at held messages (another consumer may fill the gap)
    _last_retry: float = 0.0
    _caught_up: bool = False  # reactors have run once in this process (a crash may have left some pending)

    def receive(self, batch: list[Delivery]) -> list[Delivery]:
        """Record a batch of deliveries (one transaction); returns those to settle now, after the
        commit (held ones stay out). A store error rolls the whole batch back, unsettled."""
        settle: list[Delivery] = []
        recorded = False
        if not batch:  # nothing received: no transaction (it would take the store's write lock)
            if not self._caught_up:
                self._react()
            return settle
        with self.inbox.batch():  # one commit for the batch (each message a savepoint)
            for d in batch:
                self.counts.received += 1
                out = self.inbox.receive(d.message_id, d.headers, d.body, message_type=d.type)
                recorded = self._note(d, out, settle) or recorded
        if recorded or not self._caught_up:
            self._react()
        return settle

    def _note(self, d: Delivery, out: Outcome, settle: list[Delivery]) -> bool:
        """Count an outcome; hold or settle the delivery; release what follows it. True when
        an event was recorded."""
        c = self.counts
        if out.status == "held":
            assert out.event is not None
            waiting = self._held.setdefault(out.event.stream_id, {})
            if out.event.version not in waiting:
                c.held += 1
            waiting[out.event.version] = (d, self.clock(), out)  # a redelivered copy replaces the old
            return False
        settle.append(d)
        if out.status == "handled":
            c.handled += 1
        elif out.status == "duplicate":
            c.duplicates += 1
        else:
            c.dead_lettered += 1
            c.last_reason = out.reason
        if out.event is not None and out.status in ("handled", "duplicate"):
            self._release(out.event.stream_id, settle)
        return out.status == "handled"

    def _release(self, stream_id: str, settle: list[Delivery]) -> None:
        """Record the held messages of ``stream_id`` that now follow its replica."""
        waiting = self._held.get(stream_id)
        while waiting:
            first = min(waiting)
            d, since, _ = waiting.pop(first)
            self.counts.held -= 1
            out = self.inbox.receive(d.message_id, d.headers, d.body, message_type=d.type)
            if out.status == "held":  # still a gap before it: it keeps waiting since it first did
                waiting[first] = (d, since, out)
                self.counts.held += 1
                break
            self._note(d, out, settle)
        if not waiting:
            self._held.pop(stream_id, None)

    def _react(self) -> None:
        if self.crash_hook:
            self.crash_hook("recorded")
        self.counts.reactor_error = self.inbox.react()
        self._caught_up = True

    def expire(self) -> list[Delivery]:
        """Try held messages again (every ``retry_every`` seconds), dead-letter those that waited
        longer than ``hold``; returns the deliveries to settle."""
        now = self.clock()
        settle: list[Delivery] = []
        if self._held and now - self._last_retry >= self.retry_every:
            # the missing versions may have been recorded meanwhile by another consumer of this store
            self._last_retry = now
            with self.inbox.batch():
                for stream_id in list(self._held):
                    self._release(stream_id, settle)
            if settle:
                self._react()
        for stream_id in list(self._held):
            waiting = self._held[stream_id]
            for version in sorted(waiting):
                d, since, out = waiting[version]
                if now - since < self.hold:
                    continue
                del waiting[version]
                self.counts.held -= 1
                assert out.event is not None
                reason = (f"version {version} of {stream_id} waited {self.hold:g} s for version {out.gap + 1}"
                          f" (the replica is at {out.gap}); parked instead of applied out of order")
                self._note(d, self.inbox.dead_letter(out.event, reason, out.source), settle)
            if not waiting:
                self._held.pop(stream_id, None)
        return settle

    def held_tokens(self) -> list[Any]:
        """The broker handles of the deliveries held now (not to be acknowledged)."""
        return [d.token for waiting in self._held.values() for d, _, _ in waiting.values()]

    @property
    def holding(self) -> int:
        return self.counts.held


def progress_line(counts: Counts, depth: int | None = None) -> str:
    """One status line for a terminal: what was received and what became of it."""
    parts = [f"{counts.received} received", f"{counts.handled} handled", f"{counts.duplicates} duplicate",
             f"{counts.dead_lettered} dead-lettered"]
    if counts.held:
        parts.append(f"{counts.held} held")
    if depth is not None:
        parts.append(f"{depth} waiting in the broker")
    return ", ".join(parts)
