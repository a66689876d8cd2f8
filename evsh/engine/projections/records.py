"""What projections keep in the store, and how a projection is found by name.

``projections`` holds one status row per read model (the version and shape its tables were
built with, its last error), ``projection_skips`` the events a projection was told never to
apply; their checkpoints live with the others (``projection:NAME``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from ...domain.projection import Projection
from ...errors import BadInput, ProjectionFailed
from ...store import codec
from ...store.base import RecordedEvent
from ...store.tables import TableSpec, table

KIND = "projection"
REBUILD_KIND = "projection-rebuild"
SHADOW_SUFFIX = "__rebuild"
DEFAULT_BATCH = 2000
REBUILD_BATCH = 5000


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
    return _shape_of(tuple(p.tables))


@lru_cache(maxsize=256)
def _shape_of(specs: tuple[TableSpec, ...]) -> str:
    """The declared tables' shapes as stored, worked out once per declaration: an inline
    projection compares it with its status row on every command it handles."""
    return codec.dumps([t.describe() for t in specs])


def shadow_name(table: str) -> str:
    return table + SHADOW_SUFFIX


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
# Events a projection was told never to apply (`evsh projections skip NAME --position N`), kept
# visible in `evsh projections` and honoured by catch-up, inline catch-up and rebuilds.
SKIPS = table("projection_skips", {
    "name": str, "position": int, "event_id": str, "stream_id": str, "event_type": str,
    "error": str,             # why it was skipped: the failure it caused
    "skipped_at": str,
}, pk=("name", "position"))


def skips(store: Any, name: str) -> list[dict[str, Any]]:
    """The events projection ``name`` was told to skip, by position."""
    return [{k: v for k, v in r.items() if k != "name"}
            for r in store.table(SKIPS).rows_where("name=?", (name,), order_by="position")]


def without_skipped(store: Any, name: str, events: list[RecordedEvent]) -> list[RecordedEvent]:
    """The batch less the events the projection was told to skip (one query per batch)."""
    if not events:
        return events
    gone = {r["position"] for r in store.table(SKIPS).rows_where(
        "name=? AND position BETWEEN ? AND ?", (name, events[0].position, events[-1].position))}
    return [e for e in events if e.position not in gone] if gone else events

TABLES = (STATUS, SKIPS)


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


