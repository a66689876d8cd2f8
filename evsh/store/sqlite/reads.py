"""What reading events needs of SQLite in particular: hiding by rules in SQL, and finding
events by their metadata (the shared reads are in ``evsh.store.reads``)."""

from __future__ import annotations

from .. import codec
from ..base import EVENT_COLUMNS, RecordedEvent, record_of
from ..reads import META_KEYS
from ...errors import BadInput


class SQLiteReads:
    """A mixin of the SQLite store."""

    # a payload containing a LIKE pattern: SQLite's LIKE ignores the case of ASCII letters
    PAYLOAD_LIKE = "data LIKE ? ESCAPE '\\'"

    HIDDEN_SQL = (
        "NOT EXISTS (SELECT 1 FROM stream_rules s WHERE s.stream_id = events.stream_id AND ("
        "s.deleted = 2 OR events.version < s.truncate_before"
        " OR (s.max_count IS NOT NULL AND events.version <= s.version - s.max_count)"
        " OR (s.max_age IS NOT NULL AND events.recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || s.max_age"
        " || ' seconds'))))"
    )

    def events_by_meta(self, key: str, value: str, limit: int | None = None) -> list[RecordedEvent]:
        """Events whose metadata ``key`` is ``value`` (a causal chain, a command's events), in log
        order, hidden ones included (callers pass them through the read path). A scan of the log,
        narrowed by a LIKE on the text before the JSON is looked into."""
        if key not in META_KEYS:
            raise BadInput(f"metadata key {key!r} cannot be searched")
        sql = (f"SELECT {EVENT_COLUMNS} FROM events WHERE metadata LIKE ? AND json_extract(metadata, ?) = ?"
               " ORDER BY position")
        if limit:
            sql += f" LIMIT {int(limit)}"
        needle = f'%"{key}":{codec.dumps(value)}%'
        return [record_of(r) for r in self._all(sql, (needle, f"$.{key}", value))]
