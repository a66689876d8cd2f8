"""What reading events needs of PostgreSQL in particular: a stream's rules and events in one
statement, hiding by rules in SQL, and finding events by their metadata (the shared reads are in
``evsh.store.reads``)."""

from __future__ import annotations

from typing import Iterator

from ..base import EVENT_COLUMNS, RecordedEvent, check_stream_id
from ..recorded import RawRow, record_of
from .. import reads as shared
from ..reads import META_KEYS, Reads
from ..visibility import HIDE_ALL
from .transactions import READING_BEGUN
from ...errors import BadInput

# A stream's rules row (five columns, NULL without one) beside each of its first events from a
# version on (the eight event columns, NULL when there are none), starting at the lowest version
# the rules leave visible: a command's load in one round trip and one snapshot.
STREAM_WITH_RULES_SQL = (
    "SELECT r.deleted, r.truncate_before, r.max_count, r.max_age, r.version, e.*"
    " FROM (SELECT 1) AS one LEFT JOIN stream_rules r ON r.stream_id = ?"
    f" LEFT JOIN LATERAL (SELECT {EVENT_COLUMNS} FROM events WHERE stream_id = ?"
    " AND version >= greatest(?, coalesce(r.truncate_before, 0), coalesce(r.version - r.max_count + 1, 0))"
    " AND coalesce(r.deleted, 0) <> 2 ORDER BY version LIMIT ?) AS e ON true"
)


# The last position a read may pass, asked before the read's snapshot is taken (the fence): the
# last event written by a transaction older than every appender of this store that can still be
# running then. Those hold this store's appending lock now (the lock table names them, by their
# 32-bit ids, each also in this statement's snapshot's running list unless it started after it),
# or will have an id from this snapshot's horizon on. The lookup walks the position index back
# from the end: the events of younger transactions are the last few (locking.py). It is written
# as ORDER BY ... LIMIT 1, not max(): a query with WITH is not planned as an index lookup for max.
def _last_below(running: str) -> str:
    """The last event of a transaction older than every one in ``running`` (a condition on the
    snapshot's running id ``r``), or the snapshot's horizon when none is: an index walk back."""
    return ("SELECT position FROM events WHERE transaction_id < (SELECT coalesce(min(r),"
            f" pg_snapshot_xmax(pg_current_snapshot())) FROM pg_snapshot_xip(pg_current_snapshot()) AS r{running})"
            " ORDER BY position DESC LIMIT 1")


_FENCE_SQL = (
    "WITH l AS MATERIALIZED (SELECT pid, locktype, classid, objid, objsubid, transactionid, mode"
    " FROM pg_locks WHERE granted),"
    " appending AS (SELECT t.transactionid AS x FROM l AS k JOIN l AS t ON t.pid = k.pid"
    " WHERE k.locktype = 'advisory' AND k.classid = %s AND k.objid = %s AND k.objsubid = 1"
    " AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock') "
    + _last_below(" WHERE xid(r) IN (SELECT x FROM appending)")
)
# Inside a REPEATABLE READ block the same, below the oldest transaction running in its snapshot
_OLDEST_RUNNING_SQL = _last_below("")


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

    def log_bound(self) -> str | None:
        """A forward read of the log stops at the last event written by a transaction older than
        every appender of this store still running (the oldest one's id bounds the read), so a
        reader moving its checkpoint over what it read never misses an event committed later: an
        appender takes its id under the append lock, so one still running holds positions above
        every event of an older transaction, except one that wrote before it appended, which waits
        for the appenders in flight first (locking.py, docs/postgresql.md). None while this
        transaction holds the appending lock exclusively: no other append is in flight.

        The fence, asked before the read's snapshot is taken, finds that event: any appender
        running in the read's snapshot holds this store's appending lock at the fence or gets its
        id after the fence's snapshot, so the lowest of those ids bounds the read. A long
        transaction elsewhere on the server holds no one back; an append committed after the fence
        waits for the next read. Inside a REPEATABLE READ block the snapshot is older than any
        fence: the oldest transaction running in it counts there."""
        if self._exclusive:
            return None
        if self._reading == READING_BEGUN:
            last = self._one(_OLDEST_RUNNING_SQL)
        else:
            key = self.appending_key & 0xFFFFFFFFFFFFFFFF
            # alone: a reading block's snapshot must begin after it, at the read itself
            last = self._run_alone(_FENCE_SQL, (key >> 32, key & 0xFFFFFFFF)).fetchone()
        return f"position <= {int(last[0]) if last else 0}"  # a literal: planned on the position index

    def read_stream_pages(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[list[RawRow]]:
        """As the shared read, forwards in one statement while the stream's events fit a page (a
        command's load: one round trip, no transaction)."""
        if backwards or limit == 0:
            return Reads.read_stream_pages(self, stream_id, from_version, backwards=backwards, limit=limit)
        check_stream_id(stream_id, reserved_ok=True)
        return self._stream_in_one(stream_id, from_version, limit)

    def _stream_in_one(self, stream_id: str, from_version: int | None, limit: int | None) -> Iterator[list[RawRow]]:
        page = shared.PAGE if limit is None else min(shared.PAGE, limit)
        rows = self._hot_rows(STREAM_WITH_RULES_SQL, (stream_id, stream_id, from_version or 1, page))
        first = rows[0]
        lowest, oldest = self._stream_visibility(stream_id, first[:5] if first[4] is not None else None)
        if lowest >= HIDE_ALL:
            return
        events = [r[5:] for r in rows] if first[5] is not None else []
        if len(events) == page and limit != page:
            # more than a page: the rest must come from the same snapshot, so the shared read
            # starts over inside the reading's transaction (long streams only: a page is 1,000)
            yield from Reads.read_stream_pages(self, stream_id, from_version, limit=limit)
            return
        if oldest is not None:
            events = [r for r in events if r[7] >= oldest]
        if events:
            yield events

    def events_by_meta(self, key: str, value: str, limit: int | None = None) -> list[RecordedEvent]:
        """Events whose metadata ``key`` is ``value``, in log order, hidden ones included."""
        if key not in META_KEYS:
            raise BadInput(f"metadata key {key!r} cannot be searched")
        sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE metadata->>? = ? ORDER BY position"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [record_of(r) for r in self._all(sql, (key, value))]
