"""What reading events needs of PostgreSQL in particular: a stream's rules and events in one
statement, hiding by rules in SQL, and finding events by their metadata (the shared reads are in
``evsh.store.reads``)."""

from __future__ import annotations

from typing import Iterator

from ..base import EVENT_COLUMNS, RawRow, RecordedEvent, check_stream_id, record_of
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


# The transaction ids of this store's appenders now running (each holds the appending lock, and
# a lock on its own id), and the next id the server will give out: asked before a read's snapshot
# is taken, they name every transaction that can be an appender in flight in it (connection.py)
_FENCE_SQL = (
    "WITH l AS MATERIALIZED (SELECT pid, locktype, classid, objid, objsubid, transactionid, mode, granted"
    " FROM pg_locks WHERE granted)"
    " SELECT pg_snapshot_xmax(pg_current_snapshot())::text, coalesce((SELECT array_agg(DISTINCT t.transactionid::text)"
    " FROM l AS k JOIN l AS t ON t.pid = k.pid WHERE k.locktype = 'advisory' AND k.classid = %s AND k.objid = %s"
    " AND k.objsubid = 1 AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock'), '{}')"
)


def log_bound_sql(counted: str) -> str:
    """Positions before the first event written by a transaction not older than every running
    one that ``counted`` (a condition on the running id ``x``) may be an appender of this store."""
    oldest = ("(SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))"
              f" FROM pg_snapshot_xip(pg_current_snapshot()) AS x{counted})")
    return f"position < (SELECT coalesce(min(position), 9223372036854775807) FROM events WHERE transaction_id >= {oldest})"


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
        """A forward read of the log stops before the first event whose transaction may have an
        appender of this store still running below it: such an appender holds no position below
        that event (its id is smaller), so a reader moving its checkpoint over what it read never
        misses an event committed later (connection.py). None while this transaction holds the
        appending lock exclusively: no other append is in flight.

        Running transactions that cannot be this store's appenders are left out, so a long
        transaction elsewhere on the server holds no one back: the appenders running before the
        read's snapshot hold this store's appending lock (the fence asks the lock table first), and
        any that began later has an id from the fence's horizon on. Inside a REPEATABLE READ block
        the snapshot is older than any fence: every running transaction counts there."""
        if self._exclusive:
            return None
        if self._reading == READING_BEGUN:
            return log_bound_sql("")
        key = self.appending_key & 0xFFFFFFFFFFFFFFFF
        # alone: a reading block's snapshot must begin after it, at the read itself
        horizon, running = self._run_alone(_FENCE_SQL, (key >> 32, key & 0xFFFFFFFF)).fetchone()
        listed = ",".join(str(int(x)) for x in running)  # ids from the server, as integers
        return log_bound_sql(f" WHERE x >= '{int(horizon)}'::xid8 OR xid(x) = ANY('{{{listed}}}'::xid[])")

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
        rows = self._run_alone(STREAM_WITH_RULES_SQL, (stream_id, stream_id, from_version or 1, page)).fetchall()
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
