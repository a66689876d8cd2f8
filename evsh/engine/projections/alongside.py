"""Projections built alongside a history written into an empty store (`evsh seed`).

Catching up after the history commits reads every event back from the store and asks the
database for each key a handler looks up. Built alongside, each chunk of the history is handled
right after the import writes it, in the import's transaction: the events come from the rows
just written (decoded once, through the engine's read path, so handlers see what a reader
sees), and the projections' tables, empty at the start and written by no one else until the
commit, answer a key they never wrote without a query (``Tables.keep_keys``).

The history, the rows and the checkpoints commit together: a crash leaves all of it or none.
The rows are the ones catching up would write (the same events, in the same order, through
the same ``apply_events``); only the batches differ (a chunk of the import, not 2,000 events),
and the handled-event metrics are flushed per chunk as catch-up flushes them per batch. A
projection whose handler fails stops at the end of the last chunk it handled, and is left to
the catch-up that follows (which fails again at that event and records why, as it always did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...domain.projection import Projection
from ...errors import ProjectionFailed
from ...store.tables import Tables
from ...store.recorded import marked_in, records_sharing_metadata
from ..readpath import sealed_marker, view_pages
from ..subscriptions import checkpoint_name
from .apply import apply_events
from .records import KIND, _needs_rebuild, _prepare, select, without_skipped


@dataclass
class _Building:
    projection: Projection
    tables: Tables
    checkpoint: str
    handled_to: int = 0  # the last position whose rows are written
    failed: bool = False


class Alongside:
    """Feeds written chunks to every projection that can be built alongside; ``finish`` moves
    their checkpoints to the head. Made inside the import's transaction, before the import."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        store = engine.store
        self.building: list[_Building] = []
        for p in select(engine):
            st = _prepare(store, p)  # the tables and status row catch-up would create first
            cp = checkpoint_name(KIND, p.name)
            if _needs_rebuild(p, st) or store.claim_checkpoint(cp) != 0:
                continue
            if any(store.table(t).count() for t in p.tables):  # rows of its own already: catch-up's job
                continue
            tables = Tables(store, p.tables)
            tables.keep_keys()
            self.building.append(_Building(p, tables, cp))
        types: set[str] | None = set()
        aliases = getattr(engine, "type_aliases", None) or {}
        for b in self.building:
            if not b.projection.types:  # every type
                types = None
                break
            for t in b.projection.types:  # and the older stored names that upcast to it
                types.add(t)
                types.update(aliases.get(t, ()))
        self.types = types

    def __bool__(self) -> bool:
        return bool(self.building)

    def written(self, first: int, rows: list[tuple]) -> None:
        """Handle rows just written, (event_id, stream_id, version, type, data, metadata,
        recorded_at), the first at position ``first``, the others after it in order."""
        types = self.types
        raw = [(first + i, *row) for i, row in enumerate(rows) if types is None or row[3] in types]
        if not raw or not self.building:
            for b in self.building:
                if not b.failed:
                    b.handled_to = first + len(rows) - 1
            return
        page = (records_sharing_metadata(raw), marked_in(raw, sealed_marker(self.engine)))  # as the store's pages come
        events = list(view_pages(self.engine, iter((page,))))
        store, clock = self.engine.store, self.engine.clock
        for b in self.building:
            if b.failed:
                continue
            handlers = b.projection.handlers
            mine = without_skipped(store, b.projection.name, [e for e in events if e.type in handlers])
            try:
                with store.transaction():  # a savepoint: a chunk that fails leaves none of its rows
                    apply_events(b.projection, b.tables, mine, store=store, clock=clock)
            except ProjectionFailed:
                b.failed = True  # stays where its last chunk ended; catch-up records the failure
                continue
            b.handled_to = first + len(rows) - 1

    def finish(self) -> None:
        """Checkpoint each projection where its rows end (the head, unless one failed)."""
        store, now = self.engine.store, self.engine.clock()
        for b in self.building:
            if b.handled_to:
                store.set_checkpoint(b.checkpoint, b.handled_to, now)
