"""Checkpointed subscriptions to the global log: the machinery projections and reactors share.

A subscriber's checkpoint is the last position it has fully handled. Its effects and its new
checkpoint commit in one transaction, so a crash at any moment never applies an event twice
and never skips one (transactional tracking, as eventsourcing and Emmett do it).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

from ..store.base import RecordedEvent
from .readpath import sealed_marker, view_pages


class Subscriber(Protocol):
    """Anything that handles batches of events from the global log under a checkpoint name."""

    name: str
    types: Sequence[str]  # empty: every type
    categories: Sequence[str]  # empty: every category

    def handle_batch(self, store: Any, events: list[RecordedEvent]) -> None:
        """Handle events inside the batch's transaction; ``store`` is the store it runs on."""
        ...


def checkpoint_name(kind: str, name: str) -> str:
    """Checkpoints of different kinds of subscriber live side by side: ``projection:orders``."""
    return f"{kind}:{name}"


def lag(engine: Any, checkpoint: int) -> int:
    """Events in the log after ``checkpoint`` (an upper bound when the subscriber filters)."""
    return max(0, engine.store.head_position() - checkpoint)


def read_batch(engine: Any, after: int, types: Sequence[str] = (), categories: Sequence[str] = (),
               limit: int = 1000) -> tuple[list[RecordedEvent], int, bool]:
    """Up to ``limit`` stored events after position ``after``, as readers see them.

    Returns (events, last position read, whether the page was full). The page is counted on
    the stored events, before the engine's read transforms: a transform that drops events must
    not make a page look like the end of the log (the checkpoint would jump past unread events).
    Type filters include the older stored names that upcast to a wanted type.
    """
    aliases = getattr(engine, "type_aliases", None)
    if types and aliases:  # older stored names that upcast to a wanted type (as engine.read_all does)
        types = [*types, *(old for t in types for old in sorted(aliases.get(t, ())))]
    pages = list(engine.store.read_all_records(after + 1, types=types, categories=categories, limit=limit,
                                               marked=sealed_marker(engine)))
    read = sum(len(recs) for recs, _ in pages)
    last = pages[-1][0][-1].position if pages else after
    return list(view_pages(engine, pages)), last, read == limit  # the engine's one read path


def catch_up(
    engine: Any,
    sub: Subscriber,
    checkpoint: str,
    *,
    batch_size: int = 1000,
    max_events: int | None = None,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> int:
    """Handle events after the checkpoint, batch by batch, each batch in its own transaction.

    Returns how many events were handled. ``stop`` is asked between batches (Ctrl-C stops
    cleanly after the current batch); ``on_batch(count, position)`` reports progress.
    A runner that finds the checkpoint moved by someone else re-reads instead of handling twice.
    """
    store = engine.store
    handled = 0
    while not (stop and stop()) and (max_events is None or handled < max_events):
        start = store.checkpoint(checkpoint)
        head = store.head_position()
        if head <= start:
            break
        size = batch_size if max_events is None else min(batch_size, max_events - handled)
        events, last, full = read_batch(engine, start, sub.types, sub.categories, size)
        # positions up to `head` were committed before the read, so a short batch has seen them all
        new_checkpoint = last if full else max(head, last)
        with store.transaction():
            if store.claim_checkpoint(checkpoint) != start:
                continue  # another runner advanced it: read again from there
            if events:
                sub.handle_batch(store, events)
            store.set_checkpoint(checkpoint, new_checkpoint, engine.clock())
        handled += len(events)
        if on_batch:
            on_batch(len(events), new_checkpoint)
        if not full:
            break
    return handled
