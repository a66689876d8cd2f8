"""How events reach reactors: inline after each command, one at a time, or in workers.

- inline (:func:`run_pending`): after a command, rounds of reactors handling what is pending
  until nothing is, in one transaction;
- step (:func:`step`): the next pending event, to the reactors waiting for it;
- async (:func:`work`): worker processes, one reactor per worker at a time under an expiring
  lease, batch by batch, woken by new events, reconnecting after a lost connection.

Each runner hands events to the same :class:`~evsh.engine.reactors.delivery.Delivery`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Sequence

from ...errors import DomainCodeError, EvshError, StoreError
from ...store.base import RecordedEvent
from ..history import covered
from ..following import Reconnector, idle
from ..subscriptions import checkpoint_name
from . import records
from .delivery import KIND, Reaction, _Retry, _Stop

if TYPE_CHECKING:
    from . import Reactors

MAX_ROUNDS = 10_000  # inline: rounds of reactors reacting to reactors' events before giving up
FAST_WINDOW = 1000  # inline: a reactor further behind than this catches up batch by batch
DEFAULT_LEASE = 10.0  # seconds a worker's lease lasts without renewal
DEFAULT_POLL = 0.5  # seconds between polls of a following worker


def run_pending(rt: Reactors, names: Sequence[str] = (), *, include_stopped: bool = True) -> list[Reaction]:
    """Inline: rounds of reactors handling what is pending until nothing is, in one transaction.

    Each round reads the new events once and gives each reactor its matching ones (each
    event in its own savepoint); a reactor with nothing to do has its checkpoint moved once
    at the end. A reactor far behind (a new one, or one that was stopped) catches up batch by
    batch through :meth:`run_one` instead, so no round ever holds more than ``FAST_WINDOW``
    events. A handler failure hands that reactor to :meth:`run_one`, which retries, parks or
    stops as the reactor says. ``include_stopped=False`` leaves stopped reactors alone (what
    commands do in inline mode: a stopped reactor waits for `evsh reactors run`).
    """
    subs = rt.select(names)
    rt.log = []
    store = rt.store
    if subs and not include_stopped:
        rt._load_stopped(subs)
        subs = [s for s in subs if not s.stopped]
    if not subs:
        return rt.log
    rt._running = True
    try:
        with store.transaction():
            cps = {s.name: store.checkpoint(s.checkpoint) for s in subs}
            stale: set[str] = set()  # checkpoints moved in memory only
            for _ in range(MAX_ROUNDS):
                head = store.head_position()
                moved = False
                for sub in subs:  # far behind: batch by batch, never the whole gap at once
                    if head - cps[sub.name] > FAST_WINDOW:
                        if sub.name in stale:
                            store.set_checkpoint(sub.checkpoint, cps[sub.name], rt.engine.clock())
                            stale.discard(sub.name)
                        before = cps[sub.name]
                        rt.run_one(sub)
                        cps[sub.name] = store.checkpoint(sub.checkpoint)
                        moved = moved or cps[sub.name] != before
                head = store.head_position()
                near = [s for s in subs if cps[s.name] < head and head - cps[s.name] <= FAST_WINDOW]
                if near:
                    first = min(cps[s.name] for s in near) + 1
                    batch = rt._recent.between(store, first, head)
                    if batch is None:
                        batch = list(rt.engine.read_all(first))
                for sub in near:
                    cp = cps[sub.name]
                    mine = [e for e in batch if e.position > cp and sub.matches(e)]
                    if not mine:
                        cps[sub.name] = head
                        stale.add(sub.name)
                        continue
                    try:
                        # each event has its own savepoint: a failure leaves the ones before it
                        # handled, and their processed records make run_one skip them
                        rt._handle_batch(sub, store, mine, flush=False)
                        cps[sub.name] = head
                        stale.add(sub.name)
                    except _Stop as stop:
                        rt._buf.clear()  # the events before it stay handled (processed records)
                        store.set_checkpoint(sub.checkpoint, stop.event.position - 1, rt.engine.clock())
                        stale.discard(sub.name)
                        rt._note_stop(sub, stop)
                        cps[sub.name] = stop.event.position - 1
                    except _Retry as retry:
                        rt._buf.clear()
                        store.set_checkpoint(sub.checkpoint, cp, rt.engine.clock())
                        stale.discard(sub.name)
                        rt._note_retry(sub, retry)
                        rt.run_one(sub)  # handled ones are skipped by their processed records
                        cps[sub.name] = store.checkpoint(sub.checkpoint)
                    moved = moved or cps[sub.name] != cp
                if not moved:
                    break
                if not include_stopped:
                    subs = [s for s in subs if not s.stopped]
            else:
                raise DomainCodeError(
                    f"reactors kept reacting to each other's events for {MAX_ROUNDS} rounds; is there a loop?"
                )
            now = rt.engine.clock()
            for name in sorted(stale):
                store.set_checkpoint(checkpoint_name(KIND, name), cps[name], now)
            head = store.head_position()
            for sub in subs:
                lag = max(0, head - cps[sub.name])
                if lag != sub.last_lag:  # a gauge: write it when it changes
                    rt._buf.lag(KIND, sub.name, lag)
                    sub.last_lag = lag
            rt._buf.flush(store, now)
    finally:
        rt._running = False
        rt._buf.clear()
        rt._recent.forget()
    return rt.log


def step(rt: Reactors) -> tuple[RecordedEvent | None, list[Reaction]]:
    """Deliver the next pending event (the lowest position any reactor waits for) to the
    reactors waiting for it. Returns (event, reactions), or (None, []) when nothing is pending."""
    store = rt.store
    plans: dict[str, tuple[int, int, RecordedEvent]] = {}
    best: int | None = None
    head = store.head_position()
    for sub in rt.subs.values():
        cp = store.checkpoint(sub.checkpoint)
        history = rt._history.within(store, cp + 1, head)
        n = 0
        for rec in rt.engine.read_all(cp + 1, types=sub.types, categories=sub.categories):
            n += 1
            if best is not None and rec.position > best:
                break
            if sub.matches(rec) and not covered(history, rec.position) and not records.handled(
                    store, sub.name, rec.event_id):
                plans[sub.name] = (rec.position, n, rec)
                best = rec.position if best is None else min(best, rec.position)
                break
    rt.log = []
    if best is None:  # what is left concerns no reactor: move them past it
        with store.transaction():
            head = store.head_position()
            for sub in rt.subs.values():
                if store.checkpoint(sub.checkpoint) < head:
                    store.set_checkpoint(sub.checkpoint, head, rt.engine.clock())
        return None, []
    event = next(p[2] for p in plans.values() if p[0] == best)
    rt._running = True
    try:
        with rt.store.transaction():
            for name, (pos, n, _) in plans.items():
                if pos == best:
                    rt.run_one(rt.subs[name], max_events=n)
    finally:
        rt._running = False
    return event, list(rt.log)

def work(
    rt,
    names: Sequence[str] = (),
    *,
    follow: bool = False,
    owner: str | None = None,
    lease: float = DEFAULT_LEASE,
    poll: float = DEFAULT_POLL,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[str, int, int], None] | None = None,
    on_idle: Callable[[], None] | None = None,
    reconnect: Reconnector | None = None,
) -> dict[str, int]:
    """An async worker: serve the reactors whose lease it gets, batch by batch.

    Without ``follow`` it catches up once and returns; with it, it waits for new events until
    ``stop()``: woken by the store as soon as one is appended (NOTIFY on a server), and looking
    every ``poll`` seconds all the same (for leases to expire, and in case a wake-up is lost).
    A lost connection is a pause, not the end: the worker reconnects with backoff (``reconnect``:
    a :class:`~evsh.engine.following.Reconnector`, a silent one by default) and goes on from its
    committed checkpoints. Returns events read per reactor.

    A reactor is served by one worker at a time. A worker that dies keeps its reactors for at
    most ``lease`` seconds (the lease is renewed after every batch); the others look every
    ``poll`` seconds, so one takes over within ``lease + poll`` seconds (plus a batch).
    """
    owner = owner or default_owner()
    subs = rt.select(names)
    done: dict[str, int] = {s.name: 0 for s in subs}
    held: set[str] = set()
    stopped = stop or (lambda: False)
    reconnect = reconnect or Reconnector(rt.store, stop=stopped)

    def serve() -> bool:
        """One round over the reactors; True when any had work."""
        busy = False
        for sub in subs:
            if stopped():
                break
            if not rt.pending(sub):
                continue  # idle: no lock taken, nothing written
            if not rt.acquire(sub.name, owner, lease):
                held.discard(sub.name)
                continue
            held.add(sub.name)

            def batch(count: int, position: int, _name: str = sub.name) -> None:
                rt.acquire(_name, owner, lease)  # renew while working
                if on_batch:
                    on_batch(_name, count, position)

            rt.log = []
            n = rt.run_one(sub, stop=stopped, on_batch=batch)
            done[sub.name] += n
            busy = busy or n > 0
        return busy

    try:
        while not stopped():
            try:
                head = rt.store.head_position()
                if serve():
                    continue  # reactors' own commands may have appended more: go again at once
                if not follow:
                    break
                if on_idle:
                    on_idle()
                idle(rt.store, head, poll, stopped, reconnect)
            except StoreError as exc:
                rt._buf.clear()
                rt._running = False
                if not reconnect.recovered(exc):
                    if stopped():  # told to stop while the server was away: nothing to wait for
                        break
                    raise
    finally:
        for name in held:
            try:
                rt.release(name, owner)
            except EvshError:
                pass
    return done


def default_owner() -> str:
    """A worker's name: host and process."""
    import socket  # here: only a worker needs it, and every command that loads reactors would pay for it

    return f"{socket.gethostname()}:{os.getpid()}"
