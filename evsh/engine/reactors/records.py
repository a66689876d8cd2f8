"""What reactors keep in the store, declared here and reached through the store's tables.

- the command log (``commands``, ``command_params``: see :mod:`evsh.engine.command_log`);
- ``reactor_processed``: one row per (reactor, event) handled: the idempotency guard, written
  in the same transaction as the reaction's effects;
- ``dead_letters``: events a reactor gave up on, to retry or discard by hand;
- ``reactor_status``: a reactor stopped by a failure, and its last error;
- ``reactor_leases``: which worker serves which reactor, until when (wall clock).
"""

from __future__ import annotations

from typing import Any

from ...errors import BadInput
from ...store.tables import table
from .. import command_log

OWNER = "reactors"

PROCESSED = table("reactor_processed", {"reactor": str, "event_id": str, "position": int, "handled_at": str},
                  pk=("reactor", "event_id"))

DEAD_LETTERS = table("dead_letters", {
    "id": int, "reactor": str, "event_id": str, "position": int, "stream_id": str, "event_type": str,
    "error": str, "attempts": int,
    "status": str,            # parked | retried | discarded
    "parked_at": str, "resolved_at": str,
}, pk="id", serial="id", unique=[("reactor", "event_id")])

STATUS = table("reactor_status", {"name": str, "stopped": int, "last_error": str, "error_position": int,
                                  "error_at": str}, pk="name")

LEASES = table("reactor_leases", {"name": str, "owner": str,
                                  "expires": float,  # unix time (the server's clock on PostgreSQL; not the demo clock)
                                  "acquired_at": str}, pk="name")

TABLES = (*command_log.TABLES, PROCESSED, DEAD_LETTERS, STATUS, LEASES)


def ensure(store: Any) -> None:
    """Create the reactors' tables where they are missing (a write only then)."""
    store.ensure_tables(TABLES, owner=OWNER)


# ----------------------------------------------------------------------------- processed events

def claim(store: Any, reactor: str, event_id: str, position: int, at: str) -> bool:
    """Record the event as handled by the reactor; False when it was already (a redelivery)."""
    return store.table_ops(PROCESSED).add((reactor, event_id, position, at))  # in PROCESSED's column order


def unclaim(store: Any, reactor: str, event_id: str) -> None:
    """Forget that the reactor handled the event, so it meets it again (a forced redelivery)."""
    store.table(PROCESSED).delete_where("reactor=? AND event_id=?", (reactor, event_id))


def handled(store: Any, reactor: str, event_id: str) -> bool:
    return store.table(PROCESSED).exists((reactor, event_id))


def handled_count(store: Any, reactor: str) -> int:
    return store.table(PROCESSED).count("reactor=?", (reactor,))


# ----------------------------------------------------------------------------- dead letters

def park(store: Any, reactor: str, rec: Any, error: str, attempts: int, at: str) -> None:
    """Park an event (inside the caller's transaction): a new dead letter, or the old one again."""
    t = store.table(DEAD_LETTERS)
    found = t.rows_where("reactor=? AND event_id=?", (reactor, rec.event_id))
    if found:
        old = found[0]
        t.update(old["id"], {"error": error, "attempts": old["attempts"] + attempts, "status": "parked",
                             "parked_at": at, "resolved_at": None})
        t.flush()
        return
    t.add({"reactor": reactor, "event_id": rec.event_id, "position": rec.position, "stream_id": rec.stream_id,
           "event_type": rec.type, "error": error, "attempts": attempts, "status": "parked", "parked_at": at})


def dead_letters(store: Any, *, status: str | None = "parked", reactor: str | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if status:
        where.append("status=?")
        params.append(status)
    if reactor:
        where.append("reactor=?")
        params.append(reactor)
    return store.table(DEAD_LETTERS).rows_where(" AND ".join(where) or None, params, order_by="id")


def dead_letter(store: Any, id: int) -> dict[str, Any]:
    row = store.table(DEAD_LETTERS).get(id, None)
    if row is None:
        raise BadInput(f"no dead letter {id} (see evsh dlq list)")
    return row


def resolve(store: Any, id: int, status: str, at: str) -> None:
    """Mark a dead letter retried or discarded (inside the caller's transaction)."""
    store.table(DEAD_LETTERS).update_where({"status": status, "resolved_at": at}, "id=?", (id,))


def failed_again(store: Any, id: int, error: str) -> None:
    t = store.table(DEAD_LETTERS)
    row = t.get(id)
    t.update(id, {"error": error, "attempts": row["attempts"] + 1})
    t.flush()


def parked_count(store: Any, reactor: str) -> int:
    return store.table(DEAD_LETTERS).count("reactor=? AND status='parked'", (reactor,))


# ----------------------------------------------------------------------------- status

def set_status(store: Any, name: str, error: str, position: int, at: str, *, stopped: bool) -> None:
    store.table(STATUS).put({"name": name, "stopped": int(stopped), "last_error": error, "error_position": position,
                             "error_at": at})


def unstop(store: Any, name: str) -> None:
    store.table(STATUS).update_where({"stopped": 0}, "name=? AND stopped=1", (name,))


def stopped(store: Any) -> set[str]:
    return {r["name"] for r in store.table(STATUS).rows_where("stopped=1")}


def status_row(store: Any, name: str) -> dict[str, Any] | None:
    return store.table(STATUS).get(name, None)


# ----------------------------------------------------------------------------- leases

def acquire(store: Any, name: str, owner: str, now: float, ttl: float, at: str) -> bool:
    """Take or renew the lease on reactor ``name`` (its own transaction); False while another
    live worker holds it."""
    with store.transaction():
        ensure(store)
        t = store.table(LEASES)
        row = store.lock_row(LEASES, name)
        if row is not None and row["owner"] != owner and row["expires"] > now:
            return False
        same = row is not None and row["owner"] == owner
        t.put({"name": name, "owner": owner, "expires": now + ttl, "acquired_at": row["acquired_at"] if same else at})
    return True


def release(store: Any, name: str, owner: str) -> None:
    with store.transaction():
        store.table(LEASES).delete_where("name=? AND owner=?", (name, owner))


def lease(store: Any, name: str) -> dict[str, Any] | None:
    return store.table(LEASES).get(name, None)
