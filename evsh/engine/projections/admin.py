"""Rebuilding, resetting and skipping: what a user does to a projection by hand, and its status.

A rebuild replays the log from the start into shadow tables (``NAME__rebuild``), committing per
batch so other writers wait only for a batch, then swaps them in (drop + rename) in one
transaction that also handles the last events. Readers see the old, complete tables until the
swap commits; an interrupted rebuild leaves them untouched.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from ...domain.projection import Projection
from ...errors import BadInput, ProjectionFailed
from ...store.tables import Tables
from ..subscriptions import catch_up, checkpoint_name, read_batch
from .apply import _Subscriber, apply_events
from .records import (
    KIND,
    OWNER,
    REBUILD_BATCH,
    REBUILD_KIND,
    SKIPS,
    STATUS,
    TABLES,
    _NO_ERROR,
    _needs_rebuild,
    _shape,
    _status,
    _table_owner,
    find,
    select,
    shadow_name,
    skips,
    without_skipped,
)

@dataclass
class RebuildResult:
    name: str
    events: int  # events of the log scanned (the head when it finished)
    handled: int
    rows: int
    seconds: float


def rebuild(
    engine: Any,
    name: str,
    *,
    batch_size: int = REBUILD_BATCH,
    on_progress: Callable[[int, int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> RebuildResult | None:
    """Replay the log into shadow tables, then swap them in atomically.

    ``on_progress(position, head)`` follows each committed batch. ``stop`` (asked between
    batches) abandons the rebuild, leaving the old tables as they were; returns None then.
    """
    p = find(engine, name)
    store = engine.store
    started = time.perf_counter()
    physical = {t: shadow_name(t) for t in p.table_names}
    rcp = checkpoint_name(REBUILD_KIND, p.name)
    with store.transaction():
        store.ensure_tables(TABLES, owner=OWNER)
        store.drop_tables(physical.values())
        # indexes are built once, at the swap
        store.ensure_tables(p.tables, physical, owner=_table_owner(p), indexes=False)
        store.set_checkpoint(rcp, 0, engine.clock())
    try:
        with _fewer_collections():
            return _fill_and_swap(engine, p, physical, rcp, batch_size, on_progress, stop, started)
    except ProjectionFailed:
        _discard_shadow(engine, p, physical, rcp)
        raise


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic collector run every 50,000 new containers instead of every 700 while a
    rebuild replays (the previous thresholds restored after, whatever happens). A rebuild keeps
    a batch's records, their payloads and its pending rows alive until the batch is written:
    each young-generation walk found almost nothing to free, and the walks were 4% of a
    100,000-event rebuild's instructions (docs/benchmarks.md). The collector still runs, so the
    handlers' own cycles are freed as before, a little later."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _fill_and_swap(engine: Any, p: Projection, physical: dict[str, str], rcp: str, batch_size: int,
                   on_progress: Callable[[int, int], None] | None, stop: Callable[[], bool] | None,
                   started: float) -> RebuildResult | None:
    store = engine.store
    handled = catch_up(
        engine, _Subscriber(p, physical), rcp, batch_size=batch_size, stop=stop,
        on_batch=(lambda n, pos: on_progress(pos, max(pos, store.head_position()))) if on_progress else None,
    )
    if stop and stop():
        _discard_shadow(engine, p, physical, rcp)
        return None
    with store.transaction():
        # the last events, with writers held off: the swapped-in tables are exactly at the head
        start = store.claim_checkpoint(rcp)
        head = store.head_position()
        tables = Tables(store, p.tables, physical)
        rest = 0
        while start < head:
            chunk, last, _ = read_batch(engine, start, p.types, (), batch_size)
            if last == start:
                break
            apply_events(p, tables, without_skipped(store, p.name, chunk))
            rest += len(chunk)
            start = last
        before = _status(store, p.name)
        dropped = set(before["tables"]) - set(p.table_names) if before else set()
        store.drop_tables(sorted(dropped))  # tables an earlier version declared and this one does not
        store.swap_tables(p.tables, physical, owner=_table_owner(p))
        now = engine.clock()
        store.set_checkpoint(checkpoint_name(KIND, p.name), head, now)
        store.delete_checkpoint(rcp)
        store.table(STATUS).put({"name": p.name, "version": p.version, "mode": p.mode, "tables": list(p.table_names),
                                 "shape": _shape(p), "rebuilt_at": now, "last_run_at": now, **_NO_ERROR})
        rows = sum(store.count_rows(t) or 0 for t in p.table_names)
    if on_progress:
        on_progress(head, head)
    return RebuildResult(p.name, head, handled + rest, rows, time.perf_counter() - started)


def _discard_shadow(engine: Any, p: Projection, physical: dict[str, str], rcp: str) -> None:
    with engine.store.transaction() as store:
        store.drop_tables(physical.values())
        store.delete_checkpoint(rcp)


# ----------------------------------------------------------------------------- reset

def reset(engine: Any, name: str) -> list[str]:
    """Drop a projection's tables (and any unfinished rebuild), checkpoint and status."""
    p = find(engine, name)
    with engine.store.transaction() as store:
        dropped = [t for t in p.table_names if store.table_exists(t)]
        store.drop_tables(p.table_names)
        store.drop_tables([shadow_name(t) for t in p.table_names])
        store.delete_checkpoint(checkpoint_name(KIND, p.name))
        store.delete_checkpoint(checkpoint_name(REBUILD_KIND, p.name))
        store.table(STATUS).delete_where("name=?", (p.name,))
        store.table(SKIPS).delete_where("name=?", (p.name,))
    return dropped


# ----------------------------------------------------------------------------- skipping an event

def skip(engine: Any, name: str, position: int) -> dict[str, Any]:
    """Have projection ``name`` never apply the event at ``position`` (the way on past an event
    it cannot apply). The skip is recorded with the error it caused, kept until ``reset``, and
    honoured by catch-up, inline catch-up and rebuilds; a projection stopped right before the
    event moves past it and its error is cleared. Returns the recorded skip and the checkpoint."""
    p = find(engine, name)
    rec = next(iter(engine.read_all(position, limit=1)), None) if position > 0 else None
    if rec is None or rec.position != position:
        raise BadInput(f"no event at position {position} (see `evsh log`)")
    if rec.type not in p.handlers:
        raise BadInput(f"projection {p.name} does not handle {rec.type} (the event at position {position});"
                       " there is nothing to skip")
    store = engine.store
    cp_name = checkpoint_name(KIND, p.name)
    with store.transaction():
        store.ensure_tables(TABLES, owner=OWNER)
        now = engine.clock()
        st = _status(store, p.name)
        error = st["error"] if st and st["error"] and st["error_position"] == position else ""
        store.table(SKIPS).put({"name": p.name, "position": position, "event_id": rec.event_id,
                                "stream_id": rec.stream_id, "event_type": rec.type, "error": error, "skipped_at": now})
        checkpoint = store.claim_checkpoint(cp_name)
        if checkpoint == position - 1:
            checkpoint = position
            store.set_checkpoint(cp_name, checkpoint, now)
        if st and st["error_position"] == position:
            store.table(STATUS).update_where(_NO_ERROR, "name=?", (p.name,))
    return {"name": p.name, "position": position, "event_id": rec.event_id, "stream_id": rec.stream_id,
            "event_type": rec.type, "error": error, "checkpoint": checkpoint, "applied_before": checkpoint > position}


# ----------------------------------------------------------------------------- listing

def status(engine: Any, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One object per projection: name, mode, version, checkpoint, lag, rows, error, last run, ..."""
    store = engine.store
    head = store.head_position()
    rebuilds = store.checkpoints(checkpoint_name(REBUILD_KIND, ""))
    out = []
    for p in select(engine, names):
        st = _status(store, p.name)
        cp = store.checkpoint(checkpoint_name(KIND, p.name))
        rebuilding = rebuilds.get(checkpoint_name(REBUILD_KIND, p.name))
        counts = [store.count_rows(t) for t in p.table_names]
        why = _needs_rebuild(p, st)
        error = None
        if st and st["error"]:
            error = {"message": st["error"], "position": st["error_position"], "type": st["error_type"],
                     "at": st["error_at"]}
        skipped = skips(store, p.name)
        out.append({
            "name": p.name,
            "mode": p.mode,
            "version": p.version,
            "built_version": st["version"] if st else None,
            "checkpoint": cp,
            "lag": max(0, head - cp),
            "rows": None if all(c is None for c in counts) else sum(c or 0 for c in counts),
            "tables": list(p.table_names),
            "error": error,
            "last_run": st["last_run_at"] if st else None,
            "rebuilt_at": st["rebuilt_at"] if st else None,
            "needs_rebuild": bool(why),
            "needs_rebuild_reason": why or None,
            "rebuild_in_progress": rebuilding,
            "skipped": skipped,
        })
    return out


