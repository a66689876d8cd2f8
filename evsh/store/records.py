"""Checkpoints and snapshots, the same on every backend: the store's own small records beside
the events.

A checkpoint is the last position a subscriber (projection, reactor, relay) has fully handled;
it is written in the same transaction as the subscriber's effects. A snapshot is an aggregate's
state at a version, so a load reads only the events after it. A mixin of each store: SQL is
written with ``?`` placeholders and run by the backend's ``_run``.
"""

from __future__ import annotations


class Records:
    """Checkpoints and snapshots (a mixin of each store)."""

    FOR_UPDATE = ""  # how a backend locks a row it reads inside a write transaction
    _records_known: tuple[object, dict[str, dict]] | None = None  # (token, kind -> remembered rows)

    def _records_token(self) -> object | None:
        """What the records this connection read or wrote stay true under (None: read them
        every time). A backend whose writers can tell that no one else wrote says so."""
        return None

    def known_records(self, kind: str) -> dict | None:
        """A place to remember this connection's own records of a kind (checkpoints, metrics) as
        it last read or wrote them, emptied when that may no longer hold; None when it cannot
        be known (outside a write transaction, or on a backend that cannot tell). Inline
        projections and reactors ask for the same records several times per command."""
        token = self._records_token()
        if token is None:
            return None
        known = self._records_known
        if known is None or known[0] != token:
            known = self._records_known = (token, {})
        found = known[1].get(kind)
        if found is None:
            found = known[1][kind] = {}
        return found

    def forget_records(self) -> None:
        """Something wrote records behind the remembered ones' back: read them again."""
        self._records_known = None

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, name: str) -> int:
        """The checkpoint's position (0 when it was never written)."""
        known = self.known_records("checkpoints")
        if known is not None:
            position = known.get(name)
            if position is not None:
                return position
        row = self._one("SELECT position FROM checkpoints WHERE name=?", (name,))
        position = row[0] if row else 0
        if known is not None:
            known[name] = position
        return position

    def claim_checkpoint(self, name: str) -> int:
        """The checkpoint's position, read inside a write transaction so that no other writer
        moves it before this one commits (a row lock on a server; SQLite's write lock holds
        everyone off already)."""
        if not self.FOR_UPDATE:
            return self.checkpoint(name)
        row = self._one(f"SELECT position FROM checkpoints WHERE name=?{self.FOR_UPDATE}", (name,))
        return row[0] if row else 0

    def checkpoints(self, prefix: str = "") -> dict[str, int]:
        """Every checkpoint whose name starts with ``prefix``, by name."""
        rows = self._all("SELECT name, position FROM checkpoints WHERE substr(name, 1, ?) = ? ORDER BY name",
                         (len(prefix), prefix))
        return dict(rows)

    def set_checkpoint(self, name: str, position: int, at: str | None = None) -> None:
        """Write a checkpoint (inside the caller's transaction, with the effects it stands for),
        as of ``at`` (default: the store's clock now)."""
        self._run(
            "INSERT INTO checkpoints (name, position, updated_at) VALUES (?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
            (name, position, at or self.clock()),
        )
        self._checkpoint_written(name, position)

    def delete_checkpoint(self, name: str) -> None:
        self._run("DELETE FROM checkpoints WHERE name=?", (name,))
        self._checkpoint_written(name, 0)

    def _checkpoint_written(self, name: str, position: int) -> None:
        known = self.known_records("checkpoints")
        if known is None:  # written outside what the remembered ones hold under: forget them
            self.forget_records()
        else:
            known[name] = position

    # ------------------------------------------------------------------ snapshots
    def save_snapshot(self, stream_id: str, aggregate: str, version: int, state_version: int, state: str) -> None:
        """Keep the newest snapshot per stream (a snapshot of another state version replaces any)."""
        with self.transaction():
            self._run(
                "INSERT INTO snapshots (stream_id, aggregate, version, state_version, state, taken_at)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET aggregate=excluded.aggregate,"
                " version=excluded.version, state_version=excluded.state_version, state=excluded.state,"
                " taken_at=excluded.taken_at"
                " WHERE excluded.version >= snapshots.version OR excluded.state_version != snapshots.state_version",
                (stream_id, aggregate, version, state_version, state, self.clock()),
            )

    def load_snapshot(self, stream_id: str) -> tuple[int, int, str] | None:
        """(version, state_version, state) of the stream's snapshot, or None."""
        return self._one("SELECT version, state_version, state FROM snapshots WHERE stream_id=?", (stream_id,))

    def has_snapshots(self, aggregate: str) -> bool:
        """Whether any stream of this aggregate has a snapshot."""
        return self._one("SELECT 1 FROM snapshots WHERE aggregate=? LIMIT 1", (aggregate,)) is not None

    def list_snapshots(self, aggregate: str | None = None) -> list[tuple]:
        """(stream_id, aggregate, version, state_version, taken_at, bytes) rows, by stream."""
        sql = "SELECT stream_id, aggregate, version, state_version, taken_at, length(state) FROM snapshots"
        if aggregate is None:
            return self._all(sql + " ORDER BY stream_id")
        return self._all(sql + " WHERE aggregate=? ORDER BY stream_id", (aggregate,))
