"""What reading events needs of PostgreSQL in particular: hiding by rules in SQL, and finding
events by their metadata (the shared reads are in ``evsh.store.reads``)."""

from __future__ import annotations

from ..base import EVENT_COLUMNS, RecordedEvent, record_of
from ..reads import META_KEYS
from ...errors import BadInput


class PGReads:
    """A mixin of the PostgreSQL store."""

    # a payload containing a LIKE pattern, ignoring case as SQLite's LIKE does
    PAYLOAD_LIKE = "data::text ILIKE ? ESCAPE '\\'"

    HIDDEN_SQL = (
        "NOT EXISTS (SELECT 1 FROM stream_rules s WHERE s.stream_id = events.stream_id AND ("
        "s.deleted = 2 OR events.version < s.truncate_before"
        " OR (s.max_count IS NOT NULL AND events.version <= s.version - s.max_count)"
        " OR (s.max_age IS NOT NULL AND events.recorded_at < to_char((?::timestamptz - make_interval(secs => s.max_age))"
        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))))"
    )

    def events_by_meta(self, key: str, value: str, limit: int | None = None) -> list[RecordedEvent]:
        """Events whose metadata ``key`` is ``value``, in log order, hidden ones included."""
        if key not in META_KEYS:
            raise BadInput(f"metadata key {key!r} cannot be searched")
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE metadata->>? = ? ORDER BY position"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [record_of(r) for r in self._all(sql, (key, value))]
