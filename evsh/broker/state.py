"""What a relay keeps in its store: one row per destination (broker, exchange or stream).

The row holds the relay's checkpoint (the last position of the log whose events, as far as the
relay's filters take them, the broker has confirmed), the lease that makes one relay per store
and destination active at a time, and the last error the relay met. It is a declared table,
reached only through the store's interface, written in short transactions of its own.

The lease is wall-clock based, as the reactors' is: a relay renews it while it runs; a relay
that died (SIGKILL) holds it until it expires (``ttl`` seconds), and then another may take over.
Every checkpoint write checks that the writer still holds the lease, so a relay that lost it
(paused past its expiry while another took over) stops instead of moving someone else's
checkpoint.
"""

from __future__ import annotations

from typing import Any

from ..errors import RelayBusy
from ..store.tables import table

OWNER = "relay"
RELAYS = table("relay_state", {
    "destination": str,       # amqp://host:5672/%2F#evsh, nats://host:4222#EVSH
    "position": int,          # checkpoint: every wanted event up to here is confirmed
    "published": int,         # events confirmed over the relay's life
    "owner": str, "expires": float,  # the lease (unix time, wall clock)
    "last_error": str, "error_position": int, "updated_at": str,
}, pk="destination")
TABLES = (RELAYS,)


def ensure(store: Any) -> None:
    """Create the relay's table where it is missing (a write only then)."""
    store.ensure_tables(TABLES, owner=OWNER)


def row(store: Any, destination: str) -> dict[str, Any] | None:
    return store.table(RELAYS).get(destination, None)


def rows(store: Any) -> list[dict[str, Any]]:
    """Every destination's row (for `evsh stats`)."""
    return store.table(RELAYS).rows_where(order_by="destination")


def checkpoint(store: Any, destination: str) -> int:
    found = row(store, destination)
    return found["position"] if found else 0


def acquire(store: Any, destination: str, owner: str, now: float, ttl: float, at: str) -> bool:
    """Take or renew the lease on ``destination``; False while another live relay holds it."""
    with store.transaction():
        ensure(store)
        found = store.lock_row(RELAYS, destination)
        if found is not None and found["owner"] not in (None, owner) and (found["expires"] or 0) > now:
            return False
        base = found or {"destination": destination, "position": 0, "published": 0}
        store.table(RELAYS).put({**base, "owner": owner, "expires": now + ttl, "updated_at": at})
    return True


def release(store: Any, destination: str, owner: str) -> None:
    """Give the lease up (a clean stop), so the next relay need not wait for it to expire."""
    with store.transaction():
        store.table(RELAYS).update_where({"owner": None, "expires": 0.0}, "destination=? AND owner=?",
                                         (destination, owner))


def advance(store: Any, destination: str, owner: str, position: int, confirmed: int, now: float, ttl: float,
            at: str, error: str | None = None, error_position: int | None = None) -> None:
    """Move the checkpoint to ``position`` (never back), count ``confirmed`` more events, renew
    the lease and record (or clear) the last error: one short transaction, fenced by the lease."""
    with store.transaction():
        found = store.lock_row(RELAYS, destination)
        if found is None or found["owner"] != owner:
            holder = found["owner"] if found else None
            raise RelayBusy(f"the relay to {destination} lost its lease to {holder or 'nobody'}; stopping")
        store.table(RELAYS).put({**found, "position": max(position, found["position"]),
                                 "published": found["published"] + confirmed, "expires": now + ttl,
                                 "last_error": error, "error_position": error_position, "updated_at": at})


def lags(store: Any) -> dict[str, int]:
    """Each destination's lag: the head position minus its checkpoint (an upper bound when the
    relay filters), by destination."""
    head = store.head_position()
    return {r["destination"]: max(0, head - r["position"]) for r in rows(store)}
