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

An event a projection cannot apply stops it there, with the error recorded and naming the event
(a row the tables refuse is named by the event that made it). The way on is to fix the handler,
or to skip the event (:func:`skip`, ``evsh projections skip NAME --position N``): the skip is
recorded in ``projection_skips``, shown by ``evsh projections``, and honoured by catch-up, an
inline projection's catch-up and rebuilds, until ``reset``.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..domain.projection import Projection
from ..domain.registry import user_code_error
from ..errors import BadInput, DomainError, ProjectionFailed, StoreError
from ..store import codec
from ..store.base import RecordedEvent
from .subscriptions import catch_up, checkpoint_name, delete_checkpoint, get_checkpoint, read_batch, set_checkpoint
from .tables import RowExists, RowNotWritten, Tables, count_rows, create_tables, drop_tables, quote, table_exists

KIND = "projection"
REBUILD_KIND = "projection-rebuild"
SHADOW_SUFFIX = "__rebuild"
DEFAULT_BATCH = 2000
REBUILD_BATCH = 5000


# ----------------------------------------------------------------------------- declarations

def declared(domain: Any) -> dict[str, Projection]:
    """The domain's projections by name; checks that names and tables are not claimed twice."""
    if domain is None:
        return {}
    cached = getattr(domain, "_evsh_projections", None)
    if cached is not None:
        return cached
    out: dict[str, Projection] = {}
    owners: dict[str, str] = {}
    for p in domain.of_kind(KIND):
        if not isinstance(p, Projection):
            continue
        other = out.get(p.name)
        if other is not None and other is not p:
            raise DomainError(f"two projections are named {p.name}")
        for t in p.table_names:
            if owners.setdefault(t, p.name) != p.name:
                raise DomainError(f"table {t} is declared by projections {owners[t]} and {p.name}; a table has one owner")
        out[p.name] = p
    out = dict(sorted(out.items()))
    try:
        domain._evsh_projections = out
    except AttributeError:  # pragma: no cover - a domain object that refuses attributes
        pass
    return out


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

_STATUS_COLS = ("name", "version", "mode", "tables", "shape", "error", "error_position", "error_type", "error_at",
                "last_run_at", "rebuilt_at")


def _status(conn: Any, name: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(_STATUS_COLS)} FROM projections WHERE name=?", (name,)).fetchone()
    return dict(zip(_STATUS_COLS, row)) if row else None


def _needs_rebuild(p: Projection, st: dict[str, Any] | None) -> str:
    """Why the stored tables no longer match the declaration ('' when they do)."""
    if st is None:
        return ""
    if st["version"] != p.version:
        return f"declared version {p.version}, tables built by version {st['version']}"
    if st["shape"] is not None and st["shape"] != _shape(p):
        return "its declared tables changed"
    return ""


def _prepare(conn: Any, p: Projection, now: str) -> dict[str, Any] | None:
    """Create the live tables and the status row of a projection seen for the first time.

    Returns the status row. A projection whose tables exist under another version is left
    alone: it needs a rebuild.
    """
    st = _status(conn, p.name)
    if st is None:
        create_tables(conn, p.tables)
        conn.execute(
            "INSERT INTO projections (name, version, mode, tables, shape) VALUES (?,?,?,?,?)",
            (p.name, p.version, p.mode, codec.dumps(list(p.table_names)), _shape(p)),
        )
        st = _status(conn, p.name)
    elif not _needs_rebuild(p, st):
        create_tables(conn, p.tables)  # a table dropped by hand comes back (empty): `rebuild` refills it
        if st["mode"] != p.mode:
            conn.execute("UPDATE projections SET mode=? WHERE name=?", (p.mode, p.name))
    return st


def _record_error(engine: Any, exc: ProjectionFailed) -> None:
    with engine.store.transaction() as conn:
        conn.execute(
            "UPDATE projections SET error=?, error_position=?, error_type=?, error_at=? WHERE name=?",
            (exc.reason if not exc.where else f"{exc.where}: {exc.reason}", exc.position, exc.event_type,
             engine.clock(), exc.projection),
        )


def _record_run(engine: Any, name: str) -> None:
    with engine.store.transaction() as conn:
        conn.execute(
            "UPDATE projections SET last_run_at=?, error=NULL, error_position=NULL, error_type=NULL, error_at=NULL"
            " WHERE name=?",
            (engine.clock(), name),
        )


# ----------------------------------------------------------------------------- applying events

def _failure(p: Projection, ev: RecordedEvent, exc: BaseException) -> ProjectionFailed:
    if isinstance(exc, RowNotWritten):  # a row refused when written: named by the event that made it
        ev = exc.origin if isinstance(exc.origin, RecordedEvent) else ev
        message = f"RowExists: {exc}" if isinstance(exc, RowExists) else f"writing its rows failed: {exc}"
        return ProjectionFailed(p.name, ev.position, ev.type, ev.stream_id, message)
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
    except RowNotWritten as exc:  # a taken key or a value the table cannot keep, found when written
        tables.discard()
        if last is None:
            raise
        raise _failure(p, last, exc) from None
    except sqlite3.OperationalError as exc:  # the store, not the handler (locked, disk full, table gone)
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

    def handle_batch(self, conn: Any, events: list[RecordedEvent]) -> None:
        events = without_skipped(conn, self.name, events)
        apply_events(self.projection, Tables(conn, self.projection.tables, self.physical), events)


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
        conn = engine.store.conn
        st = _status(conn, p.name)
        if st is None or (not _needs_rebuild(p, st) and (
                st["mode"] != p.mode or not all(table_exists(conn, t) for t in p.table_names))):
            with engine.store.transaction() as conn:  # a write only when something is to be created
                st = _prepare(conn, p, engine.clock())
        why = _needs_rebuild(p, st)
        if why:
            res.skipped = f"needs a rebuild ({why})"
            res.checkpoint = get_checkpoint(engine.store.conn, cp)
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
        res.checkpoint = get_checkpoint(engine.store.conn, cp)
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
    with store.transaction() as conn:
        drop_tables(conn, physical.values())
        create_tables(conn, p.tables, physical, with_indexes=False)  # indexes are built once, at the swap
        set_checkpoint(conn, rcp, 0, engine.clock())
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
    with store.transaction() as conn:
        # the last events, with writers held off: the swapped-in tables are exactly at the head
        start = get_checkpoint(conn, rcp)
        head = store.head_position()
        tables = Tables(conn, p.tables, physical)
        rest = 0
        while start < head:
            chunk, last, _ = read_batch(engine, start, p.types, (), batch_size)
            if last == start:
                break
            apply_events(p, tables, without_skipped(conn, p.name, chunk))
            rest += len(chunk)
            start = last
        # legacy rename: leave users' views over the tables alone (a modern RENAME re-checks every
        # view and fails on one that names the table just dropped); they see the new table after
        before = _status(conn, p.name)
        dropped = set(codec.loads(before["tables"])) - set(p.table_names) if before else set()
        conn.execute("PRAGMA legacy_alter_table=ON")
        try:
            drop_tables(conn, sorted(dropped))  # tables an earlier version declared and this one does not
            for t in p.tables:
                conn.execute(f"DROP TABLE IF EXISTS {quote(t.name)}")
                conn.execute(f"ALTER TABLE {quote(physical[t.name])} RENAME TO {quote(t.name)}")
                for stmt in t.index_sql():
                    conn.execute(stmt)
        finally:
            conn.execute("PRAGMA legacy_alter_table=OFF")
        now = engine.clock()
        set_checkpoint(conn, checkpoint_name(KIND, p.name), head, now)
        delete_checkpoint(conn, rcp)
        conn.execute(
            "INSERT INTO projections (name, version, mode, tables, shape, rebuilt_at, last_run_at) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET version=excluded.version, mode=excluded.mode, tables=excluded.tables,"
            " shape=excluded.shape, rebuilt_at=excluded.rebuilt_at, last_run_at=excluded.last_run_at, error=NULL,"
            " error_position=NULL, error_type=NULL, error_at=NULL",
            (p.name, p.version, p.mode, codec.dumps(list(p.table_names)), _shape(p), now, now),
        )
        rows = sum(count_rows(conn, t) or 0 for t in p.table_names)
    if on_progress:
        on_progress(head, head)
    return RebuildResult(p.name, head, handled + rest, rows, time.perf_counter() - started)


def _discard_shadow(engine: Any, p: Projection, physical: dict[str, str], rcp: str) -> None:
    with engine.store.transaction() as conn:
        drop_tables(conn, physical.values())
        delete_checkpoint(conn, rcp)


# ----------------------------------------------------------------------------- reset

def reset(engine: Any, name: str) -> list[str]:
    """Drop a projection's tables (and any unfinished rebuild), checkpoint and status."""
    p = find(engine, name)
    with engine.store.transaction() as conn:
        dropped = [t for t in p.table_names if table_exists(conn, t)]
        drop_tables(conn, p.table_names)
        drop_tables(conn, [shadow_name(t) for t in p.table_names])
        delete_checkpoint(conn, checkpoint_name(KIND, p.name))
        delete_checkpoint(conn, checkpoint_name(REBUILD_KIND, p.name))
        conn.execute("DELETE FROM projections WHERE name=?", (p.name,))
        conn.execute("DELETE FROM projection_skips WHERE name=?", (p.name,))
    return dropped


# ----------------------------------------------------------------------------- skipping an event

_SKIP_COLS = ("position", "event_id", "stream_id", "event_type", "error", "skipped_at")


def skips(conn: Any, name: str) -> list[dict[str, Any]]:
    """The events projection ``name`` was told to skip, by position."""
    sql = f"SELECT {', '.join(_SKIP_COLS)} FROM projection_skips WHERE name=? ORDER BY position"
    return [dict(zip(_SKIP_COLS, r)) for r in conn.execute(sql, (name,))]


def without_skipped(conn: Any, name: str, events: list[RecordedEvent]) -> list[RecordedEvent]:
    """The batch less the events the projection was told to skip (one query per batch)."""
    if not events:
        return events
    gone = {r[0] for r in conn.execute(
        "SELECT position FROM projection_skips WHERE name=? AND position BETWEEN ? AND ?",
        (name, events[0].position, events[-1].position),
    )}
    return [e for e in events if e.position not in gone] if gone else events


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
    with store.transaction() as conn:
        now = engine.clock()
        st = _status(conn, p.name)
        error = st["error"] if st and st["error"] and st["error_position"] == position else ""
        conn.execute(
            "INSERT OR REPLACE INTO projection_skips"
            " (name, position, event_id, stream_id, event_type, error, skipped_at) VALUES (?,?,?,?,?,?,?)",
            (p.name, position, rec.event_id, rec.stream_id, rec.type, error, now),
        )
        checkpoint = get_checkpoint(conn, cp_name)
        if checkpoint == position - 1:
            checkpoint = position
            set_checkpoint(conn, cp_name, checkpoint, now)
        if st and st["error_position"] == position:
            conn.execute("UPDATE projections SET error=NULL, error_position=NULL, error_type=NULL, error_at=NULL"
                         " WHERE name=?", (p.name,))
    return {"name": p.name, "position": position, "event_id": rec.event_id, "stream_id": rec.stream_id,
            "event_type": rec.type, "error": error, "checkpoint": checkpoint, "applied_before": checkpoint > position}


# ----------------------------------------------------------------------------- listing

def status(engine: Any, names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One object per projection: name, mode, version, checkpoint, lag, rows, error, last run, ..."""
    conn = engine.store.conn
    head = engine.store.head_position()
    out = []
    for p in select(engine, names):
        st = _status(conn, p.name)
        cp = get_checkpoint(conn, checkpoint_name(KIND, p.name))
        rebuilding = conn.execute(
            "SELECT position FROM checkpoints WHERE name=?", (checkpoint_name(REBUILD_KIND, p.name),)
        ).fetchone()
        counts = [count_rows(conn, t) for t in p.table_names]
        why = _needs_rebuild(p, st)
        error = None
        if st and st["error"]:
            error = {"message": st["error"], "position": st["error_position"], "type": st["error_type"],
                     "at": st["error_at"]}
        skipped = skips(conn, p.name)
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
            "rebuild_in_progress": rebuilding[0] if rebuilding else None,
            "skipped": skipped,
        })
    return out


# ----------------------------------------------------------------------------- inline mode

@dataclass
class InlineHook:
    """The append hook of inline projections: runs inside the append's transaction."""

    engine: Any
    projections: list[Projection] = field(default_factory=list)

    def __call__(self, conn: Any, recorded: Sequence[RecordedEvent]) -> None:
        if not recorded:
            return
        engine = self.engine
        first, last = recorded[0].position, recorded[-1].position
        if engine.transforms:  # as readers see them (an appended old type comes out upcast)
            recorded = list(engine._view(iter(recorded)))
        for p in self.projections:
            wanted = [e for e in recorded if e.type in p.handlers]
            cp_name = checkpoint_name(KIND, p.name)
            cp = get_checkpoint(conn, cp_name)
            if cp >= last:
                continue
            if not wanted and cp == first - 1:  # caught up and nothing to handle: just move on
                set_checkpoint(conn, cp_name, last, engine.clock())
                continue
            st = _prepare(conn, p, engine.clock())
            if _needs_rebuild(p, st):
                continue  # stale tables are not fed new logic: `evsh projections rebuild` first
            tables = Tables(conn, p.tables)
            if cp < first - 1:  # behind (a fresh projection, an import, a reset): catch up first
                pos = cp
                while pos < first - 1:
                    chunk, last_read, _ = read_batch(engine, pos, p.types, (), DEFAULT_BATCH)
                    if last_read == pos:
                        break
                    apply_events(p, tables, without_skipped(conn, p.name, [e for e in chunk if e.position < first]))
                    pos = last_read
            if wanted:
                apply_events(p, tables, wanted)
            set_checkpoint(conn, cp_name, last, engine.clock())


def install(engine: Any, options: dict[str, Any]) -> None:
    """Add the inline projections' append hook when the domain declares inline projections."""
    if engine.domain is None:
        return
    inline = [p for p in declared(engine.domain).values() if p.mode == "inline"]
    if inline and options.get("inline_projections", True):
        engine.append_hooks.append(InlineHook(engine, inline))
