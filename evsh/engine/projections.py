"""Projections: read models kept in the store's own file, checkpointed with their rows.

Three ways a projection's tables get built, one handler code path for all of them:

- catch-up (`evsh projections run`): from the checkpoint, batch by batch; each batch's row
  changes and the new checkpoint commit in one transaction (subscriptions.catch_up), so a crash
  never applies an event twice nor skips one;
- inline (declared ``mode="inline"``): an append hook, inside the append's transaction; a
  projection that is behind first catches up in that same transaction; a handler that raises
  rolls the whole command back;
- rebuild: from the start into shadow tables (``NAME__rebuild``), committing per batch so other
  writers wait only for a batch, then a swap (drop + rename) in one transaction that also
  handles the last events. Readers see the old, complete tables until the swap commits; an
  interrupted rebuild leaves them untouched.

None of them calls reactors or any side effect: handlers only get the projection's tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..domain.projection import Projection
from ..domain.registry import user_code_error
from ..errors import BadInput, ProjectionFailed, StoreError
from ..store import codec
from ..store.base import RecordedEvent
from ..store.tables import RowExists, Tables, table
from .subscriptions import catch_up, checkpoint_name, read_batch

KIND = "projection"
REBUILD_KIND = "projection-rebuild"
SHADOW_SUFFIX = "__rebuild"
DEFAULT_BATCH = 2000
REBUILD_BATCH = 5000


# ----------------------------------------------------------------------------- declarations

def declared(domain: Any) -> dict[str, Projection]:
    """The domain's projections by name (checked when the domain was loaded)."""
    return domain.projections if domain is not None else {}


def find(engine: Any, name: str) -> Projection:
    projs = declared(engine.domain)
    p = projs.get(name)
    if p is None:
        if engine.domain is None:
            raise BadInput("projections are declared in a domain module: pass --domain FILE_OR_MODULE (try --domain shop)")
        known = ", ".join(projs) or "none"
        raise BadInput(f"no projection {name!r} in domain {engine.domain.name} (projections: {known})")
    return p


def select(engine: Any, names: Sequence[str] = ()) -> list[Projection]:
    """The named projections (all of them when no name is given), in name order."""
    if names:
        return [find(engine, n) for n in dict.fromkeys(names)]
    if engine.domain is None:
        raise BadInput("projections are declared in a domain module: pass --domain FILE_OR_MODULE (try --domain shop)")
    return list(declared(engine.domain).values())


def _shape(p: Projection) -> str:
    return codec.dumps([t.describe() for t in p.tables])


def shadow_name(table: str) -> str:
    return table + SHADOW_SUFFIX


# ----------------------------------------------------------------------------- status rows

OWNER = "projections"
# One status row per read model (its checkpoint lives with the others).
STATUS = table("projections", {
    "name": str,
    "version": int,           # declared version the tables were built with
    "mode": str,              # catch-up | inline
    "tables": "json",         # the table names it owns
    "shape": str,             # declared table shapes when built
    "error": str,             # last failure: message (NULL when healthy)
    "error_position": int,
    "error_type": str,
    "error_at": str,
    "last_run_at": str,
    "rebuilt_at": str,
}, pk="name")
TABLES = (STATUS,)


def _status(store: Any, name: str) -> dict[str, Any] | None:
    return store.table(STATUS).get(name, None)


def _table_owner(p: Projection) -> str:
    return f"projection:{p.name}"


def _needs_rebuild(p: Projection, st: dict[str, Any] | None) -> str:
    """Why the stored tables no longer match the declaration ('' when they do)."""
    if st is None:
        return ""
    if st["version"] != p.version:
        return f"declared version {p.version}, tables built by version {st['version']}"
    if st["shape"] is not None and st["shape"] != _shape(p):
        return "its declared tables changed"
    return ""


def _prepare(store: Any, p: Projection) -> dict[str, Any] | None:
    """Create the live tables and the status row of a projection seen for the first time
    (inside the caller's transaction). Returns the status row. A projection whose tables exist
    under another version is left alone: it needs a rebuild.
    """
    st = _status(store, p.name)
    if st is None:
        store.ensure_tables(TABLES, owner=OWNER)
        store.ensure_tables(p.tables, owner=_table_owner(p))
        status = store.table(STATUS)
        status.put({"name": p.name, "version": p.version, "mode": p.mode, "tables": list(p.table_names),
                    "shape": _shape(p)})
        st = status.get(p.name)
    elif not _needs_rebuild(p, st):
        store.ensure_tables(p.tables, owner=_table_owner(p))  # a table dropped by hand comes back (empty)
        if st["mode"] != p.mode:
            store.table(STATUS).update_where({"mode": p.mode}, "name=?", (p.name,))
    return st


_NO_ERROR = {"error": None, "error_position": None, "error_type": None, "error_at": None}


def _record_error(engine: Any, exc: ProjectionFailed) -> None:
    with engine.store.transaction() as store:
        store.table(STATUS).update_where(
            {"error": exc.reason if not exc.where else f"{exc.where}: {exc.reason}", "error_position": exc.position,
             "error_type": exc.event_type, "error_at": engine.clock()}, "name=?", (exc.projection,))


def _record_run(engine: Any, name: str) -> None:
    with engine.store.transaction() as store:
        store.table(STATUS).update_where({"last_run_at": engine.clock(), **_NO_ERROR}, "name=?", (name,))


# ----------------------------------------------------------------------------- applying events

def _failure(p: Projection, ev: RecordedEvent, exc: BaseException) -> ProjectionFailed:
    wrapped = user_code_error(exc, "")
    message = f"{type(exc).__name__}: {exc}"
    return ProjectionFailed(p.name, ev.position, ev.type, ev.stream_id, message, wrapped.where)


def apply_events(p: Projection, tables: Tables, events: Iterable[RecordedEvent]) -> RecordedEvent | None:
    """Run the handlers over events and flush the rows; returns the last event handled."""
    handlers = p.handlers
    last = None
    for ev in events:
        fn = handlers.get(ev.type)
        if fn is None:
            continue
        last = tables.current = ev
        try:
            fn(ev, tables)
        except Exception as exc:
            tables.discard()
            raise _failure(p, ev, exc) from None
    try:
        tables.flush()
    except RowExists as exc:  # an insert over a taken key, found by the batch's INSERT
        tables.discard()
        ev = exc.origin if isinstance(exc.origin, RecordedEvent) else last
        raise ProjectionFailed(p.name, ev.position, ev.type, ev.stream_id, f"RowExists: {exc}") from None
    except StoreError as exc:  # the store, not the handler (locked, disk full, table gone)
        tables.discard()
        raise StoreError(f"projection {p.name}: writing its rows failed: {exc}") from None
    except Exception as exc:
        tables.discard()
        if last is None:
            raise
        raise ProjectionFailed(p.name, last.position, last.type, last.stream_id,
                               f"writing the batch's rows failed: {type(exc).__name__}: {exc}") from None
    return last


class _Subscriber:
    """A projection as a subscriptions.Subscriber, writing to live or shadow tables."""

    categories: Sequence[str] = ()

    def __init__(self, p: Projection, physical: dict[str, str] | None = None) -> None:
        self.projection = p
        self.name = p.name
        self.types = p.types
        self.physical = physical

    def handle_batch(self, store: Any, events: list[RecordedEvent]) -> None:
        apply_events(self.projection, Tables(store, self.projection.tables, self.physical), events)


# ----------------------------------------------------------------------------- catch-up

@dataclass
class RunResult:
    name: str
    handled: int = 0
    checkpoint: int = 0
    skipped: str = ""  # why it did not run (needs a rebuild)
    error: ProjectionFailed | None = None


def run(
    engine: Any,
    names: Sequence[str] = (),
    *,
    batch_size: int = DEFAULT_BATCH,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[str, int, int], None] | None = None,
    skip: Iterable[str] = (),
) -> list[RunResult]:
    """Bring projections up to the head of the log (inline ones too, when behind).

    A projection whose handler raises stops at that event, with the error recorded; the
    others go on. A projection whose declaration changed is skipped: it needs a rebuild.
    """
    results = []
    skipped = set(skip)
    for p in select(engine, names):
        if p.name in skipped:
            continue
        res = RunResult(p.name)
        results.append(res)
        cp = checkpoint_name(KIND, p.name)
        store = engine.store
        st = _status(store, p.name)
        if st is None or (not _needs_rebuild(p, st) and (
                st["mode"] != p.mode or not all(store.table_exists(t) for t in p.table_names))):
            with store.transaction():  # a write only when something is to be created
                st = _prepare(store, p)
        why = _needs_rebuild(p, st)
        if why:
            res.skipped = f"needs a rebuild ({why})"
            res.checkpoint = store.checkpoint(cp)
            continue
        try:
            res.handled = catch_up(
                engine, _Subscriber(p), cp, batch_size=batch_size, stop=stop,
                on_batch=(lambda n, pos, _name=p.name: on_batch(_name, n, pos)) if on_batch else None,
            )
        except ProjectionFailed as exc:
            res.error = exc
            _record_error(engine, exc)
        else:
            if res.handled or st is None or st["error"] or not st["last_run_at"]:  # idle polls write nothing
                _record_run(engine, p.name)
        res.checkpoint = store.checkpoint(cp)
        if stop and stop():
            break
    return results


# ----------------------------------------------------------------------------- rebuild

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
        return _fill_and_swap(engine, p, physical, rcp, batch_size, on_progress, stop, started)
    except ProjectionFailed:
        _discard_shadow(engine, p, physical, rcp)
        raise


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
            apply_events(p, tables, chunk)
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
        store.table(STATUS).delete(p.name)
        store.table(STATUS).flush()
    return dropped


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
        })
    return out


# ----------------------------------------------------------------------------- inline mode

@dataclass
class InlineHook:
    """The append hook of inline projections: runs inside the append's transaction."""

    engine: Any
    projections: list[Projection] = field(default_factory=list)

    def __call__(self, store: Any, recorded: Sequence[RecordedEvent]) -> None:
        if not recorded:
            return
        engine = self.engine
        first, last = recorded[0].position, recorded[-1].position
        if engine.transforms:  # as readers see them (an appended old type comes out upcast)
            recorded = list(engine._view(iter(recorded)))
        for p in self.projections:
            wanted = [e for e in recorded if e.type in p.handlers]
            cp_name = checkpoint_name(KIND, p.name)
            cp = store.checkpoint(cp_name)
            if cp >= last:
                continue
            if not wanted and cp == first - 1:  # caught up and nothing to handle: just move on
                store.set_checkpoint(cp_name, last, engine.clock())
                continue
            st = _prepare(store, p)
            if _needs_rebuild(p, st):
                continue  # stale tables are not fed new logic: `evsh projections rebuild` first
            tables = Tables(store, p.tables)
            if cp < first - 1:  # behind (a fresh projection, an import, a reset): catch up first
                pos = cp
                while pos < first - 1:
                    chunk, last_read, _ = read_batch(engine, pos, p.types, (), DEFAULT_BATCH)
                    if last_read == pos:
                        break
                    apply_events(p, tables, [e for e in chunk if e.position < first])
                    pos = last_read
            if wanted:
                apply_events(p, tables, wanted)
            store.set_checkpoint(cp_name, last, engine.clock())


def install(engine: Any, options: dict[str, Any]) -> None:
    """Add the inline projections' append hook when the domain declares inline projections."""
    if engine.domain is None:
        return
    inline = [p for p in declared(engine.domain).values() if p.mode == "inline"]
    if inline and options.get("inline_projections", True):
        engine.append_hooks.append(InlineHook(engine, inline))
