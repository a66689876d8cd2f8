"""The relay (transactional outbox): a store's log published to a broker, confirmed, in order.

The events table is the outbox. The relay follows the log in position order from its checkpoint
(kept in the store, per destination: :mod:`evsh.broker.state`), takes the events its filters
want (types, categories, topic patterns: the reactors' :class:`~evsh.engine.routing.EventFilter`;
never evsh's own ``$`` streams),
publishes a batch of them without waiting between messages (confirms are pipelined), then waits
for the broker's confirmations. The checkpoint advances only over the contiguous prefix of
confirmed positions: a nack, an unroutable message or a lost connection stops it at the first
message not confirmed, and the relay publishes again from there. Delivery is therefore
at-least-once: after a crash a batch may be published twice (NATS drops the second copy by
``Nats-Msg-Id``; RabbitMQ delivers it, and consumers deduplicate by message id).

Only one relay per store and destination runs at a time (a lease in the store); a second one is
refused with :class:`~evsh.errors.RelayBusy` (exit 3), or waits with ``wait=True``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from ..engine.routing import EventFilter
from ..errors import BrokerError, RelayBusy
from . import state
from ..store.base import SOURCE_POSITION
from .message import Message, encode


@dataclass
class Published:
    """What the broker said about a batch: the first ``confirmed`` messages are confirmed; the
    next one failed for ``error`` (None: all confirmed). ``lost``: the connection went away (the
    publisher reconnects); otherwise the broker refused or could not route the message."""

    confirmed: int
    error: str | None = None
    lost: bool = False


class Publisher(Protocol):
    """One broker client: connects (BrokerError when it cannot) and publishes batches."""

    target: str  # the exchange or stream name (part of the destination)

    def connect(self) -> None: ...

    def publish(self, messages: Sequence[Message]) -> Published:
        """Publish every message without waiting in between, then wait for the confirmations."""
        ...

    def close(self) -> None: ...


@dataclass
class Progress:
    """What a front end shows while the relay runs."""

    checkpoint: int
    head: int
    published: int  # confirmed in this run
    error: str | None = None

    @property
    def lag(self) -> int:
        return max(0, self.head - self.checkpoint)


class Relay:
    """One relay: a store, a destination and its publisher, and the filters."""

    def __init__(self, store: Any, publisher: Publisher, destination: str, source: str, *,
                 filter: EventFilter | None = None, batch_size: int = 500, poll: float = 0.2,
                 lease_ttl: float = 15.0, backoff: tuple[float, float] = (0.2, 5.0),
                 copies: bool = False, clock: Callable[[], str] | None = None, wallclock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.publisher = publisher
        self.destination = destination
        self.source = source
        self.filter = filter or EventFilter()
        self.copies = copies  # also publish events this store copied from others (a hub)
        self.batch_size = batch_size
        self.poll = poll
        self.lease_ttl = lease_ttl
        self.backoff = backoff
        self.clock = clock or store.clock
        self.wallclock = wallclock
        self.sleep = sleep
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.published = 0

    # ------------------------------------------------------------------ lease
    def take_lease(self, *, wait: bool = False, stop: Callable[[], bool] | None = None) -> None:
        """Become the destination's one active relay; RelayBusy when another holds it (or, with
        ``wait``, poll until it is free)."""
        while not state.acquire(self.store, self.destination, self.owner, self.wallclock(), self.lease_ttl,
                                self.clock()):
            if not wait or (stop and stop()):
                holder = (state.row(self.store, self.destination) or {}).get("owner")
                raise RelayBusy(f"another relay ({holder}) is publishing this store to {self.destination};"
                                " only one runs at a time (wait for it, or use --wait)")
            self.sleep(min(self.lease_ttl / 3, 1.0))

    def release(self) -> None:
        state.release(self.store, self.destination, self.owner)

    # ------------------------------------------------------------------ the loop
    def run(self, *, once: bool = False, stop: Callable[[], bool] | None = None,
            on_progress: Callable[[Progress], None] | None = None, connected: bool = False) -> int:
        """Publish what the log holds after the checkpoint; with ``once`` stop at the head (an
        unroutable or refused message then raises BrokerError), otherwise follow the log until
        ``stop()``. ``connected``: the publisher is connected already (the caller checked the
        broker before taking the lease). Returns how many events were confirmed in this run."""
        delay = self.backoff[0]
        ever = connected
        while not (stop and stop()):
            if not connected:
                try:
                    self.publisher.connect()
                    connected = ever = True
                except BrokerError:
                    if once or not ever:
                        raise  # no broker at the start: say so (later, a lost one is waited for)
                    self._pause(delay, stop)
                    delay = min(delay * 2, self.backoff[1])
                    continue
            start = state.checkpoint(self.store, self.destination)
            head = self.store.head_position()
            if head <= start:
                if on_progress:
                    on_progress(Progress(start, head, self.published))
                if once:
                    break
                self._renew()
                self._pause(self.poll, stop)
                continue
            raw = list(self.store.read_all(start + 1, types=self.filter.sql_types,
                                           categories=self.filter.sql_categories, limit=self.batch_size))
            full = len(raw) == self.batch_size
            last = raw[-1].position if raw else start
            # evsh's own streams ($streams: lifecycle records) are the source store's bookkeeping
            # and events copied here from another store (evsh consume) are that store's to publish
            messages = [encode(e, self.source) for e in raw if e.stream_id[0] != "$" and self.filter.matches(e)
                        and (self.copies or SOURCE_POSITION not in e.metadata)]
            result = self.publisher.publish(messages) if messages else Published(0)
            if result.error is None:
                # positions up to `head` were committed before the read: a short page saw them all
                reached = last if full else max(head, last)
                self._advance(reached, result.confirmed)
                delay = self.backoff[0]
                if on_progress:
                    on_progress(Progress(reached, max(head, last), self.published))
                continue
            failed = messages[result.confirmed]
            error = f"event {failed.position} ({failed.type}, {failed.message_id}): {result.error}"
            self._advance(failed.position - 1, result.confirmed, error, failed.position)
            if on_progress:
                on_progress(Progress(failed.position - 1, max(head, last), self.published, error))
            if result.lost:
                connected = False
                self.publisher.close()
            elif once:
                raise BrokerError(f"{error}; the relay stopped before it (run it again to retry)")
            self._pause(delay, stop)
            delay = min(delay * 2, self.backoff[1])
        return self.published

    def lag(self) -> int:
        return max(0, self.store.head_position() - state.checkpoint(self.store, self.destination))

    def _advance(self, position: int, confirmed: int, error: str | None = None, at: int | None = None) -> None:
        self.published += confirmed
        state.advance(self.store, self.destination, self.owner, position, confirmed, self.wallclock(),
                      self.lease_ttl, self.clock(), error, at)

    def _renew(self) -> None:
        found = state.row(self.store, self.destination)
        if found is None or found["owner"] != self.owner or found["expires"] - self.wallclock() < self.lease_ttl / 2:
            self._advance(0, 0)  # renews the lease (and stops if it was lost)

    def _pause(self, seconds: float, stop: Callable[[], bool] | None) -> None:
        end = time.monotonic() + seconds
        while not (stop and stop()):
            left = end - time.monotonic()
            if left <= 0:
                break
            self.sleep(min(left, 0.1))
