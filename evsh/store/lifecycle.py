"""Stream lifecycle, the same on every backend: deletion (soft, or a tombstone), truncation,
max-count and max-age rules, and scavenging what they hide.

Every change is recorded as an event in ``$streams`` inside its own transaction (under the
append lock: it appends), so projections can react to it and an export of a store imports as
the same store. Events stay stored until :meth:`scavenge`; positions are never reused. A mixin
of each store: SQL is written with ``?`` placeholders and run by the backend's ``_run``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..errors import BadInput, StreamDeleted
from .base import NewEvent, check_stream_id
from .recorded import RecordedEvent, category_of
from .visibility import LIFECYCLE_STREAM, LIVE, SOFT_DELETED, STATES, TOMBSTONE, visibility

RULES_WHERE = "deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL"
# A stream's (last version, its time, the first stored event's time) from its events (None: no events).
SPAN_SQL = (
    "SELECT max(version), max(recorded_at), (SELECT f.recorded_at FROM events f WHERE f.stream_id = ?"
    " ORDER BY f.version LIMIT 1) FROM events WHERE stream_id = ?"
)


class Lifecycle:
    """Stream lifecycle (a mixin of each store)."""

    def _span(self, stream_id: str) -> tuple[Any, Any, Any]:
        return self._one(SPAN_SQL, (stream_id, stream_id))

    def stream_info(self, stream_id: str) -> dict[str, Any] | None:
        """A stream's version and lifecycle settings, deleted streams included (None: never written)."""
        row = self._one(
            "SELECT stream_id, category, version, created_at, updated_at, deleted, truncate_before, max_count, max_age"
            " FROM stream_rules WHERE stream_id=?", (stream_id,))
        if row is None:
            version, last_at, first_at = self._span(stream_id)
            if version is None:
                return None
            row = (stream_id, category_of(stream_id), version, first_at, last_at, LIVE, 0, None, None)
        return {
            "stream_id": row[0], "category": row[1], "version": row[2], "created_at": row[3], "updated_at": row[4],
            "state": STATES[row[5]], "truncate_before": row[6], "max_count": row[7], "max_age": row[8],
        }

    def _lifecycle_event(self, type_: str, data: dict[str, Any]) -> RecordedEvent:
        """Record a lifecycle change in ``$streams`` (inside the caller's transaction) so projections can react."""
        res = self.append(LIFECYCLE_STREAM, [NewEvent(type_, data, {"schema_version": 1})])
        return res.events[0]

    def _rules_row(self, stream_id: str) -> tuple[int, int, int] | None:
        """The stream's rules row as (version, deleted, truncate_before), made from its events when
        it has none yet (a lifecycle change is about to give it rules). None: no such stream."""
        sql = "SELECT version, deleted, truncate_before FROM stream_rules WHERE stream_id=?"
        row = self._one(sql, (stream_id,))
        if row is None:
            version, last_at, first_at = self._span(stream_id)
            if version is None:
                return None
            self._run("INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at) VALUES (?,?,?,?,?)",
                      (stream_id, category_of(stream_id), version, first_at, last_at))
            row = self._one(sql, (stream_id,))
        return row

    def _existing(self, stream_id: str) -> tuple[int, int, int]:
        row = self._rules_row(stream_id)
        if row is None:
            raise BadInput(f"no stream {stream_id!r}")
        if row[1] == TOMBSTONE:
            raise StreamDeleted(f"stream {stream_id!r} was hard-deleted (a tombstone)")
        return row

    def delete_stream(self, stream_id: str, *, hard: bool = False) -> RecordedEvent | None:
        """Soft delete (hidden, may be written again after its last version) or hard delete (a tombstone).

        Returns the ``StreamDeleted`` event recorded in ``$streams``, or None when nothing changed.
        """
        check_stream_id(stream_id)
        with self.transaction():
            self.lock_appends(exclusive=True)
            version, deleted, _ = self._existing(stream_id)
            if deleted == SOFT_DELETED and not hard:
                return None
            self._run("UPDATE stream_rules SET deleted=?, truncate_before=? WHERE stream_id=?",
                      (TOMBSTONE if hard else SOFT_DELETED, version + 1, stream_id))
            self._run("DELETE FROM snapshots WHERE stream_id=?", (stream_id,))
            self._lifecycle_changed()
            return self._lifecycle_event("StreamDeleted", {"stream_id": stream_id, "version": version, "hard": hard})

    def truncate_stream(self, stream_id: str, before: int) -> RecordedEvent | None:
        """Hide the stream's events below version ``before``; versions are never renumbered."""
        check_stream_id(stream_id)
        if type(before) is not int or before < 1:
            raise BadInput("--before must be a version of 1 or more")
        with self.transaction():
            self.lock_appends(exclusive=True)
            version, deleted, current = self._existing(stream_id)
            if before > version + 1:
                raise BadInput(f"stream {stream_id!r} is at version {version}; truncate before {version + 1} at most")
            if before <= current:
                return None
            self._run("UPDATE stream_rules SET truncate_before=? WHERE stream_id=?", (before, stream_id))
            self._run("DELETE FROM snapshots WHERE stream_id=?", (stream_id,))
            self._lifecycle_changed()
            return self._lifecycle_event("StreamTruncated", {"stream_id": stream_id, "before": before})

    def set_stream_metadata(self, stream_id: str, *, max_count: int | None, max_age: float | None) -> RecordedEvent:
        """Set (or, with None, clear) a stream's max-count and max-age (seconds); reads honour them."""
        check_stream_id(stream_id)
        if max_count is not None and (type(max_count) is not int or max_count < 1):
            raise BadInput("max-count must be a positive integer")
        if max_age is not None and not max_age > 0:
            raise BadInput("max-age must be a positive duration")
        with self.transaction():
            self.lock_appends(exclusive=True)
            self._existing(stream_id)
            self._run("UPDATE stream_rules SET max_count=?, max_age=? WHERE stream_id=?", (max_count, max_age, stream_id))
            self._lifecycle_changed()
            return self._lifecycle_event("StreamMetadataChanged",
                                         {"stream_id": stream_id, "max_count": max_count, "max_age": max_age})

    def scavenge(self, *, on_stream: Callable[[int, int, int], None] | None = None, reclaim: bool = True) -> dict[str, int]:
        """Remove events hidden by deletions, truncations, max-count and max-age; then reclaim the space.

        One short transaction per stream, so writers are never held up for long.
        ``on_stream(done, total, removed)`` reports progress. Positions are never reused.
        """
        rows = self._all(f"SELECT stream_id FROM stream_rules WHERE {RULES_WHERE}")
        before = self.file_size()
        removed = 0
        for i, (sid,) in enumerate(rows, 1):
            with self.transaction():
                self.lock_appends(exclusive=True)
                # re-read under the lock: a writer may have changed the stream meanwhile
                fresh = self._one("SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules"
                                  " WHERE stream_id=?", (sid,))
                lowest, oldest = visibility(*fresh, self.clock)
                # the newest event of the log stays (hidden): positions are max + 1, never reused
                head = self.head_position()
                removed += self._run("DELETE FROM events WHERE stream_id=? AND version < ? AND position < ?",
                                     (sid, lowest, head)).rowcount
                if oldest is not None:
                    removed += self._run("DELETE FROM events WHERE stream_id=? AND recorded_at < ? AND position < ?",
                                         (sid, oldest, head)).rowcount
            if on_stream:
                on_stream(i, len(rows), removed)
        if reclaim:
            self.compact()
        return {"streams": len(rows), "removed": removed, "bytes_before": before, "bytes_after": self.file_size()}
