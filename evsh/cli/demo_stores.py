"""The stores `evsh demo` writes into: which events a demo wrote, so it never deletes anyone else's.

A demo claims its store before it writes anything: a row ``demo-writing:NAME`` in the
``checkpoints`` table at the store's last position. Every event the demo then appends moves
that row to the new last position *inside the append's transaction*, so the claim covers
exactly what the demo committed, even when it is killed or its reader goes away mid-story
(``evsh demo concurrency | head``). A demo that runs to its end turns the claim into
``demo:NAME`` (the row older versions of evsh wrote at the end).

Ownership is then a comparison of positions: an event after the highest claimed position was
written by someone else (the user tried a command in the demo's store), and such a store is
never deleted. Positions are handed out in commit order and never reused, so this holds
however the events are named, whatever clock or ids the demo used, and after a scavenge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

FINISHED = "demo:"  # a demo that ran to its end; position: the last one it wrote
WRITING = "demo-writing:"  # a demo that started and has not finished (or was interrupted)


@dataclass
class DemoStore:
    """What a file holds, as `evsh demo` sees it."""

    path: str
    state: str  # "missing", "empty" (a store without events or claims), "demo" or "other"
    finished: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    claimed: int = 0  # the last position a demo wrote
    head: int = 0  # the store's last position

    @property
    def foreign(self) -> int:
        """Positions after every demo's claim: at least one event no demo wrote when > 0."""
        return max(0, self.head - self.claimed)


def inspect(path: str) -> DemoStore:
    """Who wrote the store at ``path``; raises StoreError for a file that is not an evsh store."""
    from ..errors import StoreMissing
    from ..store.connect import is_server_url, open_store

    server = is_server_url(path)
    if not server and (not os.path.exists(path) or os.path.getsize(path) == 0):
        return DemoStore(path, "missing")
    try:
        store = open_store(path, create=False)
    except StoreMissing:
        if server:  # a schema that is not a store yet (or no database: creating it says so)
            return DemoStore(path, "missing")
        raise
    try:
        claims = {**store.checkpoints(FINISHED), **store.checkpoints(WRITING)}
        head = store.head_position()
    finally:
        store.close()
    rows = sorted(claims.items())
    found = DemoStore(path, "demo", head=head, claimed=max(claims.values(), default=0))
    for name, _ in rows:
        (found.finished if name.startswith(FINISHED) else found.unfinished).append(name.split(":", 1)[1])
    if not rows:
        found.state = "empty" if head == 0 else "other"
    elif found.foreign:
        found.state = "other"
    return found


def remove(path: str) -> None:
    """Delete a demo's store with its companions (a file's; a server's schema is not dropped)."""
    from ..errors import BadInput
    from ..store.connect import is_server_url

    if is_server_url(path):
        raise BadInput(f"{path} holds a demo that ran before, and evsh demo drops no schema on a server: pass a"
                       " new ?schema=NAME, or drop this one yourself (DROP SCHEMA name CASCADE)")
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


class Claim:
    """A demo's claim on its store, taken before the demo writes and moved by each of its appends."""

    def __init__(self, store: Any, name: str) -> None:
        from ..store.base import utc_now

        self.store = store
        self.name = name
        self.at = utc_now()  # the wall clock: a demo's fixed clock must not step for this
        with store.transaction():
            store.set_checkpoint(WRITING + name, store.head_position(), self.at)
        store.on_append(self._moved)  # held weakly: the demo keeps this object while it runs

    def _moved(self, stream_id: str, event_id: str) -> None:
        # inside the append's transaction: committed with the events, or rolled back with them
        self.store.set_checkpoint(WRITING + self.name, self.store.head_position(), self.at)

    def finish(self) -> None:
        """The demo ran to its end: its claim says so."""
        with self.store.transaction():
            position = self.store.checkpoints(WRITING + self.name).get(WRITING + self.name, 0)
            self.store.set_checkpoint(FINISHED + self.name, position, self.at)
            self.store.delete_checkpoint(WRITING + self.name)
