"""The embedded event store: one SQLite file in WAL mode.

Writers take the write lock for the append only (``BEGIN IMMEDIATE``) and wait on a generous
busy timeout, so several processes can write at once without interleaving inside a batch.
Positions are the events table's integer key, assigned (max + 1) under that lock, so they follow
commit order; a scavenge never removes the newest event, so no position is ever handed out twice
(an AUTOINCREMENT key would promise the same at the cost of one more page written per commit).
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

from ..errors import (
    BadInput, ConcurrencyError, IdConflict, StoreCorrupt, StoreError, StoreFull, StoreLocked, StoreMissing,
    StoreReadOnly, StreamDeleted,
)
from . import codec, schema
from .base import (
    ANY,
    NO_STREAM,
    AppendHook,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    StreamInfo,
    canonical_event_id,
    category_of,
    new_uuid,
    utc_now,
    check_name,
    check_stream_id,
    expected_matches,
    parse_expected_version,
)

PAGE = 1000  # rows fetched per query when streaming reads: constant memory on any store size
DEFAULT_BUSY_TIMEOUT = 60.0
SYNC_MODES = ("normal", "full")
# Pages the WAL may hold before a commit copies them into the database (SQLite's default: 1000).
# Each copy ends with an fsync even at synchronous=NORMAL; at 4000 (a WAL of up to 16 MB) a busy
# writer pays for a quarter as many, and a page changed by many commits is copied once: about
# a tenth more commands per second (docs/benchmarks.md).
WAL_AUTOCHECKPOINT = 4000


def _record(row: tuple) -> RecordedEvent:
    return RecordedEvent(row[0], row[1], row[2], row[3], row[4], codec.loads(row[5]), codec.loads(row[6]), row[7])


_COLUMNS = "position, event_id, stream_id, version, type, data, metadata, recorded_at"

LIFECYCLE_STREAM = "$streams"  # where deletions, truncations and metadata changes are recorded
LIVE, SOFT_DELETED, TOMBSTONE = 0, 1, 2
_HIDE_ALL = 2**62
_RULES_WHERE = "deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL"
Keep = Callable[[tuple], bool]
# Up to this many streams with rules, reads filter in Python from a dict loaded once per read;
# beyond it (a store that deleted many streams), SQL filters with one primary-key probe per row.
RULES_IN_MEMORY = 2000
_HIDDEN_SQL = (
    "NOT EXISTS (SELECT 1 FROM stream_rules s WHERE s.stream_id = events.stream_id AND ("
    "s.deleted = 2 OR events.version < s.truncate_before"
    " OR (s.max_count IS NOT NULL AND events.version <= s.version - s.max_count)"
    " OR (s.max_age IS NOT NULL AND events.recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || s.max_age || ' seconds'))))"
)


# A stream's (version, deleted state or None, has a rules row): its rules row when it has one
# (appends keep that row's version), else its last event's version (0: no such stream).
_STATE_SQL = (
    "SELECT coalesce(r.version, (SELECT max(version) FROM events WHERE stream_id = ?1), 0), r.deleted,"
    " r.stream_id IS NOT NULL FROM (SELECT 1) LEFT JOIN stream_rules r ON r.stream_id = ?1"
)


# A stream's (last version, its time, the first stored event's time) from its events (None: no events).
_SPAN_SQL = (
    "SELECT max(version), recorded_at, (SELECT f.recorded_at FROM events f WHERE f.stream_id = ?1"
    " ORDER BY f.version LIMIT 1) FROM events WHERE stream_id = ?1"
)


def age_cutoff(now: str, max_age: float) -> str:
    """The oldest ``recorded_at`` still visible under ``max_age`` seconds, in the store's format."""
    then = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=max_age)
    return then.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _visibility(deleted: int, truncate_before: int, max_count: int | None, max_age: float | None, version: int,
                clock: Callable[[], str]) -> tuple[int, str | None]:
    """(lowest visible version, oldest visible recorded_at or None) for one stream's rules.
    The clock is read only for a max-age rule: a fixed demo clock steps on every reading."""
    if deleted == TOMBSTONE:
        return _HIDE_ALL, None
    lowest = truncate_before
    if max_count is not None:
        lowest = max(lowest, version - max_count + 1)
    return lowest, (age_cutoff(clock(), max_age) if max_age is not None else None)


_LAST_ID = "\U0010ffff"
Query = Callable[[str, tuple], list]


def _live_streams_sql(
    category: str | None, text: str, prefix: str | None, after: str | None, before: str | None,
) -> tuple[Callable[[str], str], tuple]:
    """(column -> WHERE clause, its parameters) for the live streams' key range and filters.
    Only one lower and one upper bound reach the index: given two, SQLite ranges on one and
    scans on from there."""
    low, low_op, high = "", ">=", None
    filters: list[str] = []
    values: list[Any] = []
    if category is not None:  # one key range: "order" and "order-..." up to "order."
        low, high = category, category + "."
        filters.append("({col} = ? OR substr({col}, 1, ?) = ?)")
        values += [category, len(category) + 1, category + "-"]
    if prefix:
        low, high = max(low, prefix), min(high or _LAST_ID, prefix + _LAST_ID)
    if text:
        filters.append("instr(lower({col}), ?) > 0")
        values.append(text.lower())
    if after is not None and after >= low:
        low, low_op = after, ">"
    if before is not None and (high is None or before < high):
        high = before

    def where(col: str) -> str:
        terms = [f"{col} {low_op} ?"] + ([f"{col} < ?"] if high is not None else [])
        return " AND ".join(terms + [f.format(col=col) for f in filters])

    return where, (low, *(() if high is None else (high,)), *values)


def live_streams(
    query: Query, category: str | None = None, *, text: str = "", prefix: str | None = None,
    after: str | None = None, before: str | None = None, limit: int | None = None, offset: int = 0,
    times: bool = True, count: bool = False, by_category: bool = False,
) -> list[tuple]:
    """The live streams as (stream_id, version, first time, last time) in id order; with
    ``count`` their number, with ``by_category`` (category, number) per category: a category's, with an id prefix, containing ``text``, after and
    before given ids, ``limit`` from ``offset``. ``query(sql, params)`` runs SQL (any connection).

    A stream is its events, read from their (stream_id, version) index; a deleted one has a
    rules row saying so. One whose events were all scavenged has only its rules row: those are
    rare and merged in here. ``times=False`` leaves out the times (a lookup each).
    """
    where, params = _live_streams_sql(category, text, prefix, after, before)
    alone = query(
        f"SELECT r.stream_id, r.version, r.created_at, r.updated_at FROM stream_rules r WHERE {where('r.stream_id')}"
        " AND r.deleted = 0 AND NOT EXISTS (SELECT 1 FROM events x WHERE x.stream_id = r.stream_id)"
        " ORDER BY r.stream_id", params)
    derived = (f"SELECT e.stream_id AS stream_id, max(e.version) AS version FROM events e WHERE {where('e.stream_id')}"
               " GROUP BY e.stream_id HAVING NOT EXISTS (SELECT 1 FROM stream_rules d"
               " WHERE d.stream_id = e.stream_id AND d.deleted > 0)")
    if count:  # every stream with events, less the deleted ones (few: they have rules rows)
        streams = query(f"SELECT count(*) FROM (SELECT 1 FROM events e WHERE {where('e.stream_id')}"
                        " GROUP BY e.stream_id)", params)[0][0]
        gone = query(f"SELECT count(*) FROM stream_rules d WHERE {where('d.stream_id')} AND d.deleted > 0"
                     " AND EXISTS (SELECT 1 FROM events x WHERE x.stream_id = d.stream_id)", params)[0][0]
        return [(streams - gone + len(alone),)]
    if by_category:  # hop from category to category along the index, counting each one's range
        counts: dict[str, int] = {}
        low = ""
        while True:
            found = query("SELECT stream_id FROM events WHERE stream_id >= ? ORDER BY stream_id LIMIT 1", (low,))
            if not found:
                break
            sid = found[0][0]
            cat = category_of(sid)
            if cat not in counts:
                counts[cat] = live_streams(query, cat, text=text, prefix=prefix, count=True)[0][0]
            # past "cat-..." (counted); ids between "cat" and "cat-" ("cat+x") are other categories
            low = sid + "\x00" if sid == cat else cat + "."
        for cat in {category_of(row[0]) for row in alone} - counts.keys():  # categories left with no events
            counts[cat] = live_streams(query, cat, count=True)[0][0]
        return sorted((c, n) for c, n in counts.items() if n)
    first = ("(SELECT f.recorded_at FROM events f WHERE f.stream_id = g.stream_id ORDER BY f.version LIMIT 1)"
             if times else "NULL")
    last = ("(SELECT l.recorded_at FROM events l WHERE l.stream_id = g.stream_id AND l.version = g.version)"
            if times else "NULL")
    sql = f"SELECT g.stream_id, g.version, {first}, {last} FROM ({derived} ORDER BY e.stream_id"
    if limit is None:
        rows = query(sql + ") g", params)
    elif not alone:
        return query(sql + " LIMIT ? OFFSET ?) g", (*params, limit, offset))
    else:
        rows = query(sql + " LIMIT ?) g", (*params, offset + limit))
    merged = sorted([*rows, *alone]) if alone else rows
    return merged[offset:] if limit is None else merged[offset:offset + limit]


class _Transaction:
    """``with store.transaction() as conn``: BEGIN IMMEDIATE ... COMMIT, or a savepoint when
    nested. A class rather than a generator: every command and every reaction enters one."""

    __slots__ = ("store", "savepoint")

    def __init__(self, store: "SQLiteEventStore") -> None:
        self.store = store
        self.savepoint: str | None = None

    def __enter__(self) -> sqlite3.Connection:
        store = self.store
        conn = store.conn
        if store._depth == 0:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error(exc, store.path) from None
            store._txn_serial += 1
        else:
            self.savepoint = f"evsh_sp{store._depth}"
            conn.execute(f"SAVEPOINT {self.savepoint}")
        store._depth += 1
        return conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        store = self.store
        name = self.savepoint
        try:
            self._end(exc_type is None)
        except sqlite3.Error as failed:  # the commit or the rollback failed
            if not isinstance(exc, sqlite3.Error):
                exc = failed  # else the body's own driver error says why (a full disk rolls back all)
            if name is not None:
                raise exc from None
        finally:
            store._depth -= 1
        # leaving the outermost transaction, a driver error becomes the store's own (store_error)
        if name is None and isinstance(exc, sqlite3.Error):
            raise store_error(exc, store.path) from exc

    def _end(self, ok: bool) -> None:
        conn = self.store.conn
        name = self.savepoint
        if ok:
            try:
                conn.execute("COMMIT" if name is None else f"RELEASE {name}")
                return
            except BaseException:
                try:
                    self._undo(conn, name)
                except sqlite3.Error:
                    pass  # the commit's error says why
                raise
        self._undo(conn, name)

    def _undo(self, conn: sqlite3.Connection, name: str | None) -> None:
        self.store._epoch += 1  # what was appended in it is gone: cached states may be ahead
        if name is None:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        else:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")


class _Reading:
    """``with store.reading()``: BEGIN ... COMMIT around reads, unless a transaction is open."""

    __slots__ = ("store", "began")

    def __init__(self, store: "SQLiteEventStore") -> None:
        self.store = store
        self.began = False

    def __enter__(self) -> None:
        store = self.store
        conn = store.conn
        if store._depth or conn.in_transaction:
            return
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise _store_error(exc, store.path) from None
        self.began = True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        store = self.store
        conn = store.conn
        try:
            if self.began and conn.in_transaction:
                conn.execute("COMMIT")
        except sqlite3.Error as failed:
            exc = exc if isinstance(exc, sqlite3.Error) else failed
        if store._depth == 0 and isinstance(exc, sqlite3.Error):
            raise store_error(exc, store.path) from exc


class SQLiteEventStore:
    """An evsh store in one SQLite file. Use :func:`open_store` to get one."""

    def __init__(
        self,
        path: str,
        *,
        create: bool = True,
        sync: str = "normal",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.path = path
        self.clock = clock
        self.busy_timeout = busy_timeout
        if sync not in SYNC_MODES:
            raise BadInput(f"synchronous mode {sync!r}: use one of {', '.join(SYNC_MODES)}")
        exists = path == ":memory:" or (os.path.exists(path) and os.path.getsize(path) > 0)
        if not exists and not create:
            raise StoreMissing(f"no store at {path}; run `evsh init` or pass --db")
        if os.path.isdir(path):
            raise StoreError(f"{path} is a folder, not a store file; pass --db FILE")
        try:
            self.conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        self._depth = 0
        self.lifecycle_changes = 0  # bumped when this connection changes stream lifecycle rules
        # epoch(): what caches of read state key on (see there)
        self._epoch = 0
        self._data_version: int | None = None
        self._txn_serial = 0  # outer write transactions begun
        self._checked_txn = -1  # the write transaction in which data_version was last asked
        self._append_listeners: list[weakref.WeakMethod] = []
        self._head: tuple[tuple[int, int], int] | None = None  # ((write transaction, epoch), head position)
        self._rules_absent: int | None = None  # the epoch at which no stream had lifecycle rules
        self._aging: set[str] = set()  # streams read with a max-age rule (see ages())
        try:
            schema.check_and_upgrade(self.conn, path, creating=create)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={sync.upper()}")
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            self.conn.close()
            raise _store_error(exc, path) from None
        except BaseException:
            self.conn.close()
            raise

    # ------------------------------------------------------------------ transactions
    def transaction(self) -> ContextManager[sqlite3.Connection]:
        """A write transaction; nested use becomes a savepoint inside the outer one."""
        return _Transaction(self)

    def reading(self) -> ContextManager[None]:
        """Several reads from one snapshot of the store: one read lock taken instead of one per
        query (an aggregate's load reads its snapshot, its stream's rules and its events)."""
        return _Reading(self)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def epoch(self, *, check: bool = True) -> int:
        """A number that changes whenever events may read differently for a reason other than an
        append through this connection (which ``on_append`` listeners hear of): another
        connection committed, a transaction here rolled back, an import, a lifecycle change.

        Checking asks SQLite's ``data_version`` (one statement), at most once per write
        transaction, since no other connection can commit while it is open. ``check=False``
        returns the number as last known: what to tag fresh state with.
        """
        if check and not (self._depth and self._checked_txn == self._txn_serial):
            dv = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if dv != self._data_version:
                self._data_version = dv
                self._epoch += 1
            if self._depth:
                self._checked_txn = self._txn_serial
        return self._epoch

    def ages(self, stream_id: str) -> bool:
        """True when the stream had a max-age rule when last read here: time alone changes what
        it reads as, so no cache of it stays true."""
        return stream_id in self._aging

    def write_token(self) -> tuple[int, int] | None:
        """The current write transaction and epoch (None outside one). What was read or written
        under one token still holds while the token is the same: no one else can write during
        the transaction, and a rollback moves the epoch."""
        return (self._txn_serial, self._epoch) if self._depth else None

    def on_append(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(stream_id, last_event_id)`` after each append through this connection
        (inside its transaction). Held weakly: a bound method of a dropped object is forgotten."""
        self._append_listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def _lifecycle_changed(self) -> None:
        self.lifecycle_changes += 1
        self._epoch += 1

    # ------------------------------------------------------------------ writes
    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
        *,
        hooks: Sequence[AppendHook] = (),
    ) -> AppendResult:
        check_stream_id(stream_id, reserved_ok=True)
        if not events:
            raise BadInput("nothing to append: give at least one event")
        expected = expected_version if expected_version in (ANY, NO_STREAM) else parse_expected_version(expected_version)
        ids = []
        encoded = []
        for ev in events:
            check_name(ev.type, "event type")
            if not isinstance(ev.data, dict):
                raise BadInput(f"event {ev.type}: data must be a JSON object")
            if not isinstance(ev.metadata, dict):
                raise BadInput(f"event {ev.type}: metadata must be a JSON object")
            eid = canonical_event_id(ev.event_id) if ev.event_id is not None else new_uuid()
            ids.append(eid)
            encoded.append((eid, ev.type, codec.dumps(ev.data), codec.dumps(ev.metadata)))
        if len(ids) > 1 and len(set(ids)) != len(ids):
            raise IdConflict(f"stream {stream_id!r}: the batch holds the same event id twice")
        conn = self.conn
        try:
            with self.transaction():
                claimed = self._claim(stream_id, expected, ids)
                if claimed is None:
                    return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
                current, ruled = claimed
                now = self.clock()  # only for what is written: a demo clock steps on each reading
                if ruled:  # the rules need the version (max-count), and it outlives scavenged events
                    conn.execute(
                        "UPDATE stream_rules SET version=?, updated_at=?, deleted=0 WHERE stream_id=?",
                        (current + len(events), now, stream_id),
                    )
                recorded = []
                version = current
                for eid, ev, (_, etype, data, meta) in zip(ids, events, encoded):
                    version += 1
                    # OR IGNORE: a stored id leaves no row; _IdTaken then rolls the batch back
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO events (event_id, stream_id, version, type, data, metadata,"
                        " recorded_at) VALUES (?,?,?,?,?,?,?)",
                        (eid, stream_id, version, etype, data, meta, now),
                    )
                    if cur.rowcount != 1:
                        raise _IdTaken(eid)
                    recorded.append(RecordedEvent(cur.lastrowid, eid, stream_id, version, ev.type, ev.data,
                                                  ev.metadata, now))
                result = tuple(recorded)
                known = self._head
                if known is not None and known[0] == self.write_token():
                    self._head = (known[0], recorded[-1].position)
                for ref in self._append_listeners:
                    listener = ref()
                    if listener is not None:
                        listener(stream_id, recorded[-1].event_id)
                    else:  # its engine is gone
                        self._append_listeners = [r for r in self._append_listeners if r() is not None]
                for hook in hooks:
                    hook(conn, result)
                return AppendResult(stream_id, version, result)
        except _IdTaken as taken:
            # the batch was rolled back; an exact re-send is an idempotent success
            if self._already_stored(stream_id, ids, expected):
                return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
            raise IdConflict(
                f"event id {taken.event_id} is already stored elsewhere; an event id may be used once"
            ) from None
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

    def _claim(self, stream_id: str, expected: ExpectedVersion, ids: list[str]) -> tuple[int, bool] | None:
        """Check ``expected`` against the stream (inside the append's transaction): returns its
        version before the append and whether it has a rules row. None: these ids are already
        stored there (an idempotent re-send). Raises ConcurrencyError or StreamDeleted otherwise.

        A stream is its events: only one with lifecycle rules has a row to move on, so a plain
        append writes its events and nothing else (one page less per commit)."""
        conn = self.conn
        current, deleted, ruled = conn.execute(_STATE_SQL, (stream_id,)).fetchone()
        if deleted == TOMBSTONE:
            raise StreamDeleted(f"stream {stream_id!r} was hard-deleted (a tombstone); it can never be written again")
        # a soft-deleted stream reads as no stream, and is written again after its last version
        soft = deleted == SOFT_DELETED
        if not expected_matches(expected, current) and not (soft and expected_matches(expected, 0)):
            if self._already_stored(stream_id, ids, expected):
                return None
            raise ConcurrencyError(stream_id, expected, current)
        return current, bool(ruled)

    def _already_stored(self, stream_id: str, ids: list[str], expected: ExpectedVersion = ANY) -> bool:
        """True when these ids are stored, in this order, consecutively, in this stream, at the
        place an exact expected version (or no-stream) puts them."""
        placeholders = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT event_id, stream_id, version FROM events WHERE event_id IN ({placeholders})", ids
        ).fetchall()
        if len(rows) != len(ids):
            return False
        place = {eid: (sid, ver) for eid, sid, ver in rows}
        first = place[ids[0]][1]
        if (isinstance(expected, int) and first != expected + 1) or (expected == NO_STREAM and first != 1):
            return False
        return all(place[eid] == (stream_id, first + i) for i, eid in enumerate(ids))

    # ------------------------------------------------------------------ reads
    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[RecordedEvent]:
        check_stream_id(stream_id, reserved_ok=True)
        rule = self.conn.execute(
            "SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules WHERE stream_id=?",
            (stream_id,),
        ).fetchone()
        lowest, oldest = _visibility(*rule, self.clock) if rule is not None else (0, None)
        if oldest is not None:
            self._aging.add(stream_id)
        elif self._aging:
            self._aging.discard(stream_id)
        if lowest >= _HIDE_ALL:
            return iter(())
        if backwards:
            cursor = from_version if from_version is not None else 2**62
            op, order = "<=", "DESC"
        else:
            cursor = max(from_version if from_version is not None else 1, lowest)
            op, order = ">=", "ASC"
        keep: Keep | None = None
        if lowest > 0 or oldest is not None:
            keep = lambda r: r[3] >= lowest and (oldest is None or r[7] >= oldest)  # noqa: E731
        return self._paged(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id=? AND version {op} ? ORDER BY version {order} LIMIT ?",
            lambda c: (stream_id, c),
            cursor,
            lambda r: r[3] - 1 if backwards else r[3] + 1,
            limit,
            keep,
        )

    def read_all(
        self,
        from_position: int = 1,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int | None = None,
        backwards: bool = False,
    ) -> Iterator[RecordedEvent]:
        where = ["position <= ?" if backwards else "position >= ?"]
        params: list[Any] = []
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if categories:
            ors = []
            for cat in categories:
                ors.append("(stream_id = ? OR substr(stream_id, 1, ?) = ?)")
                params.extend([cat, len(cat) + 1, cat + "-"])
            where.append("(" + " OR ".join(ors) + ")")
        keep, hidden_sql = self._visibility_plan()
        if hidden_sql:
            where.append(hidden_sql)
            params.append(self.clock())
        order = "DESC" if backwards else "ASC"
        sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY position {order} LIMIT ?"
        start = from_position if not backwards or from_position else 2**62
        return self._paged(
            sql,
            lambda c: (c, *params),
            start,
            lambda r: r[0] - 1 if backwards else r[0] + 1,
            limit,
            keep,
        )

    def _visibility_plan(self) -> tuple[Keep | None, str | None]:
        """(Python row filter, SQL condition): how a read over many streams hides what lifecycle rules hide.

        That no stream has rules is remembered inside write transactions until the epoch moves
        (only a lifecycle change makes rules): inline reactors read the log several times per command."""
        if self._depth and self._rules_absent == self.epoch():
            return None, None
        rows = self.conn.execute(
            f"SELECT deleted, truncate_before, max_count, max_age, version, stream_id FROM stream_rules WHERE {_RULES_WHERE}"
            " LIMIT ?",
            (RULES_IN_MEMORY + 1,),
        ).fetchall()
        if not rows:
            if self._depth:
                self._rules_absent = self.epoch()
            return None, None
        if len(rows) > RULES_IN_MEMORY:
            return None, _HIDDEN_SQL
        now = self.clock() if any(r[3] is not None for r in rows) else ""
        rules = {r[5]: _visibility(*r[:5], lambda: now) for r in rows}

        def keep(row: tuple) -> bool:
            rule = rules.get(row[2])
            return rule is None or (row[3] >= rule[0] and (rule[1] is None or row[7] >= rule[1]))

        return keep, None

    def visible_filter(self) -> Keep | None:
        """A row filter hiding events of deleted, truncated, max-count or max-age streams (None: all visible).

        The rules of the few streams that have any are loaded once per read, so a full replay of a
        store without lifecycle rules pays one indexed query and nothing per event.
        """
        keep, hidden_sql = self._visibility_plan()
        if hidden_sql is None:
            return keep
        now = self.clock()
        conn = self.conn

        def probe(row: tuple) -> bool:
            r = conn.execute(
                "SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules WHERE stream_id=?", (row[2],)
            ).fetchone()
            if r is None:
                return True
            lowest, oldest = _visibility(*r, lambda: now)
            return row[3] >= lowest and (oldest is None or row[7] >= oldest)

        return probe

    def _paged(self, sql, params_for, cursor, next_cursor, limit, keep: Keep | None = None) -> Iterator[RecordedEvent]:
        remaining = limit if limit is not None else -1
        while remaining != 0:
            page = PAGE if remaining < 0 else min(PAGE, remaining)
            try:
                rows = self.conn.execute(sql, (*params_for(cursor), page)).fetchall()
            except sqlite3.DatabaseError as exc:  # also "database disk image is malformed"
                raise _store_error(exc, self.path) from None
            for row in rows:
                if keep is not None and not keep(row):
                    continue
                yield _record(row)
                if remaining > 0:
                    remaining -= 1
                    if remaining == 0:
                        return
            if len(rows) < page:
                return
            cursor = next_cursor(rows[-1])

    def raw_rows(self, from_position: int, limit: int) -> list[tuple]:
        """Undecoded visible rows of the global log, for bulk readers that decode lazily (TUI, export).

        Hidden events (deleted or truncated streams) are left out, so a page may hold fewer than
        ``limit`` rows before the end; positions may have holes after a scavenge.
        """
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?", (from_position, limit)
        ).fetchall()
        keep = self.visible_filter()
        return rows if keep is None else [r for r in rows if keep(r)]

    def streams(
        self, category: str | None = None, *, after: str | None = None, limit: int | None = None,
        prefix: str | None = None,
    ) -> Iterator[StreamInfo]:
        """Live streams in id order, paged by key; optionally of one category or with an id prefix
        (see :func:`live_streams`)."""
        remaining = limit if limit is not None else -1
        cursor = after
        while remaining != 0:
            page = PAGE if remaining < 0 else min(PAGE, remaining)
            rows = live_streams(self._query, category, prefix=prefix, after=cursor, limit=page)
            for sid, version, first_at, last_at in rows:
                yield StreamInfo(sid, category_of(sid), version, first_at, last_at)
            if len(rows) < page:
                return
            cursor = rows[-1][0]
            if remaining > 0:
                remaining -= len(rows)

    def _query(self, sql: str, params: tuple) -> list:
        return self.conn.execute(sql, params).fetchall()

    def stream_version(self, stream_id: str) -> int:
        return self.conn.execute(_STATE_SQL, (stream_id,)).fetchone()[0]

    def head_position(self) -> int:
        """The last position handed out: it never goes back (a scavenge keeps the newest event).

        Inside a write transaction it is remembered (no one else can append meanwhile, and this
        connection's appends move it on): reactors ask for it several times per command."""
        token = self.write_token()
        known = self._head
        if token is not None and known is not None and known[0] == token:
            return known[1]
        head = self.conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]
        if token is not None:
            self._head = (token, head)
        return head

    def event_by_id(self, event_id: str) -> RecordedEvent | None:
        row = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE event_id=?", (canonical_event_id(event_id),)
        ).fetchone()
        return _record(row) if row else None

    # ------------------------------------------------------------------ bulk import
    def import_rows(self, chunks: Iterable[list[tuple]]) -> tuple[int, int]:
        """Write already validated rows in one transaction: all of them, or none.

        Each row is ``(line, event_id, stream_id, version, type, data_text, metadata_text,
        recorded_at)``. Rows whose event id is already stored at the same stream and version are
        skipped (an idempotent re-import); any other clash raises with the row's line number.
        A new stream may start above version 1 (it was truncated or scavenged): it is imported as
        truncated before that version. Lifecycle events of ``$streams`` (deletions, truncations,
        metadata) are applied as they come, so an export of a store imports as the same store.
        Returns (written, skipped).
        """
        conn = self.conn
        # a big import inserts random event ids into a growing index: with SQLite's default
        # 2 MB page cache every insert misses; 256 MB keeps a million-event index in memory
        cache = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute("PRAGMA cache_size=-262144")
        try:
            return self._import_rows(chunks)
        finally:
            self._epoch += 1  # streams grew behind the append listeners' backs (and past a remembered head)
            conn.execute(f"PRAGMA cache_size={int(cache)}")

    def _import_rows(self, chunks: Iterable[list[tuple]]) -> tuple[int, int]:
        conn = self.conn
        written = skipped = 0
        versions: dict[str, int] = {}
        tombstones: set[str] = set()
        ruled: set[str] = set()  # streams with a rules row
        insert = (
            "INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at)"
            " VALUES (?,?,?,?,?,?,?)"
        )
        fresh: list[tuple] = []
        touched: dict[str, list] = {}  # stream -> [version, first at, last at, truncate_before of a new stream]

        def flush(chunk: list[tuple]) -> None:
            nonlocal written
            if not fresh:
                return
            try:
                conn.executemany(insert, fresh)
            except sqlite3.IntegrityError:
                raise IdConflict(self._explain_clash(chunk)) from None
            written += len(fresh)
            conn.executemany(  # a plain stream is its events; one with rules, or truncated, keeps a row
                "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, truncate_before)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET"
                " version=excluded.version, updated_at=excluded.updated_at,"
                " deleted=CASE WHEN deleted=1 THEN 0 ELSE deleted END",
                [(sid, category_of(sid), v, first, last, tb) for sid, (v, first, last, tb) in touched.items()
                 if tb or sid in ruled],
            )
            ruled.update(sid for sid, t in touched.items() if t[3])
            fresh.clear()
            touched.clear()

        try:
            with self.transaction():
                for chunk in chunks:
                    self._load_versions(versions, {r[2] for r in chunk if r[2] not in versions}, tombstones, ruled)
                    for line, eid, sid, ver, etype, data, meta, at in chunk:
                        current = versions[sid]
                        if ver <= current:
                            stored = conn.execute(
                                "SELECT stream_id, version FROM events WHERE event_id=?", (eid,)
                            ).fetchone()
                            if stored == (sid, ver):
                                skipped += 1
                                continue
                            if stored is not None:
                                raise IdConflict(f"line {line}: event id {eid} is already stored at {stored[0]}@{stored[1]}")
                            raise IdConflict(
                                f"line {line}: stream {sid!r} already has version {ver} with another event"
                            )
                        if sid in tombstones:
                            raise StreamDeleted(f"line {line}: stream {sid!r} was hard-deleted (a tombstone)")
                        gap = 0
                        if ver != current + 1:
                            if current != 0:
                                raise BadInput(
                                    f"line {line}: stream {sid!r} version {ver} does not follow version {current}"
                                )
                            gap = ver  # a truncated stream: versions below `ver` are gone
                        versions[sid] = ver
                        fresh.append((eid, sid, ver, etype, data, meta, at))
                        t = touched.get(sid)
                        if t is None:
                            touched[sid] = [ver, at, at, gap]
                        else:
                            t[0] = ver
                            t[2] = at
                        if sid == LIFECYCLE_STREAM:
                            flush(chunk)
                            target = self._import_lifecycle(etype, codec.loads(data), at)
                            if target is not None:
                                version, deleted, _ = conn.execute(_STATE_SQL, (target,)).fetchone()
                                versions[target] = version
                                ruled.add(target)
                                if deleted == TOMBSTONE:
                                    tombstones.add(target)
                    flush(chunk)
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None
        return written, skipped

    def _import_lifecycle(self, etype: str, data: dict[str, Any], at: str) -> str | None:
        """Apply one imported ``$streams`` event to the streams table; returns the stream it concerns."""
        sid = data.get("stream_id")
        if not isinstance(sid, str):
            return None
        applies = ((etype == "StreamDeleted" and type(data.get("version")) is int)
                   or (etype == "StreamTruncated" and type(data.get("before")) is int)
                   or etype == "StreamMetadataChanged")
        if not applies:
            return None
        conn = self.conn
        row = self._rules_row(sid)
        if etype == "StreamDeleted" and type(data.get("version")) is int:
            version = data["version"]
            state = TOMBSTONE if data.get("hard") else SOFT_DELETED
            if row is None:
                conn.execute(
                    "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, deleted,"
                    " truncate_before)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (sid, category_of(sid), version, at, at, state, version + 1),
                )
            else:
                conn.execute(
                    "UPDATE stream_rules SET deleted=?, truncate_before=max(truncate_before, ?) WHERE stream_id=?",
                    (state, version + 1, sid),
                )
        elif etype == "StreamTruncated" and type(data.get("before")) is int:
            before = data["before"]
            if row is None:
                conn.execute(
                    "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, truncate_before)"
                    " VALUES (?,?,?,?,?,?)",
                    (sid, category_of(sid), before - 1, at, at, before),
                )
            else:
                conn.execute(
                    "UPDATE stream_rules SET truncate_before=max(truncate_before, ?) WHERE stream_id=?", (before, sid)
                )
        elif etype == "StreamMetadataChanged" and row is not None:
            conn.execute(
                "UPDATE stream_rules SET max_count=?, max_age=? WHERE stream_id=?",
                (data.get("max_count"), data.get("max_age"), sid),
            )
        else:
            return None
        self._lifecycle_changed()
        return sid

    def _load_versions(self, versions: dict[str, int], stream_ids: set[str], tombstones: set[str],
                       ruled: set[str]) -> None:
        ids = list(stream_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for sid in part:
                versions[sid] = 0
            for sid, ver in self.conn.execute(
                f"SELECT stream_id, max(version) FROM events WHERE stream_id IN ({marks}) GROUP BY stream_id", part
            ):
                versions[sid] = ver
            for sid, ver, deleted in self.conn.execute(
                f"SELECT stream_id, version, deleted FROM stream_rules WHERE stream_id IN ({marks})", part
            ):
                versions[sid] = ver
                ruled.add(sid)
                if deleted == TOMBSTONE:
                    tombstones.add(sid)

    def _explain_clash(self, chunk: list[tuple]) -> str:
        seen: set[str] = set()
        for line, eid, sid, ver, *_ in chunk:
            if eid in seen:
                return f"line {line}: event id {eid} appears twice in the file"
            seen.add(eid)
            stored = self.conn.execute("SELECT stream_id, version FROM events WHERE event_id=?", (eid,)).fetchone()
            if stored is not None and stored != (sid, ver):
                return f"line {line}: event id {eid} is already stored at {stored[0]}@{stored[1]}"
        return "an event id in the file is used twice"

    # ------------------------------------------------------------------ stream lifecycle
    def stream_info(self, stream_id: str) -> dict[str, Any] | None:
        """A stream's version and lifecycle settings, deleted streams included (None: never written)."""
        row = self.conn.execute(
            "SELECT stream_id, category, version, created_at, updated_at, deleted, truncate_before, max_count, max_age"
            " FROM stream_rules WHERE stream_id=?",
            (stream_id,),
        ).fetchone()
        if row is None:
            version, last_at, first_at = self.conn.execute(_SPAN_SQL, (stream_id,)).fetchone()
            if version is None:
                return None
            row = (stream_id, category_of(stream_id), version, first_at, last_at, LIVE, 0, None, None)
        state = {LIVE: "live", SOFT_DELETED: "soft-deleted", TOMBSTONE: "hard-deleted"}[row[5]]
        return {
            "stream_id": row[0], "category": row[1], "version": row[2], "created_at": row[3], "updated_at": row[4],
            "state": state, "truncate_before": row[6], "max_count": row[7], "max_age": row[8],
        }

    def _lifecycle_event(self, type_: str, data: dict[str, Any]) -> RecordedEvent:
        """Record a lifecycle change in ``$streams`` (inside the caller's transaction) so projections can react."""
        res = self.append(LIFECYCLE_STREAM, [NewEvent(type_, data, {"schema_version": 1})])
        return res.events[0]

    def _rules_row(self, stream_id: str) -> tuple[int, int, int] | None:
        """The stream's rules row as (version, deleted, truncate_before), made from its events when
        it has none yet (a lifecycle change is about to give it rules). None: no such stream."""
        conn = self.conn
        sql = "SELECT version, deleted, truncate_before FROM stream_rules WHERE stream_id=?"
        row = conn.execute(sql, (stream_id,)).fetchone()
        if row is None:
            version, last_at, first_at = conn.execute(_SPAN_SQL, (stream_id,)).fetchone()
            if version is None:
                return None
            conn.execute(
                "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at) VALUES (?,?,?,?,?)",
                (stream_id, category_of(stream_id), version, first_at, last_at),
            )
            row = conn.execute(sql, (stream_id,)).fetchone()
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
        Events stay in the file until :meth:`scavenge`.
        """
        check_stream_id(stream_id)
        try:
            with self.transaction() as conn:
                version, deleted, _ = self._existing(stream_id)
                if deleted == SOFT_DELETED and not hard:
                    return None
                conn.execute(
                    "UPDATE stream_rules SET deleted=?, truncate_before=? WHERE stream_id=?",
                    (TOMBSTONE if hard else SOFT_DELETED, version + 1, stream_id),
                )
                conn.execute("DELETE FROM snapshots WHERE stream_id=?", (stream_id,))
                self._lifecycle_changed()
                return self._lifecycle_event(
                    "StreamDeleted", {"stream_id": stream_id, "version": version, "hard": hard}
                )
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

    def truncate_stream(self, stream_id: str, before: int) -> RecordedEvent | None:
        """Hide the stream's events below version ``before``; versions are never renumbered."""
        check_stream_id(stream_id)
        if type(before) is not int or before < 1:
            raise BadInput("--before must be a version of 1 or more")
        try:
            with self.transaction() as conn:
                version, deleted, current = self._existing(stream_id)
                if before > version + 1:
                    raise BadInput(
                        f"stream {stream_id!r} is at version {version}; truncate before {version + 1} at most"
                    )
                if before <= current:
                    return None
                conn.execute("UPDATE stream_rules SET truncate_before=? WHERE stream_id=?", (before, stream_id))
                conn.execute("DELETE FROM snapshots WHERE stream_id=?", (stream_id,))
                self._lifecycle_changed()
                return self._lifecycle_event("StreamTruncated", {"stream_id": stream_id, "before": before})
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

    def set_stream_metadata(self, stream_id: str, *, max_count: int | None, max_age: float | None) -> RecordedEvent:
        """Set (or, with None, clear) a stream's max-count and max-age (seconds); reads honour them."""
        check_stream_id(stream_id)
        if max_count is not None and (type(max_count) is not int or max_count < 1):
            raise BadInput("max-count must be a positive integer")
        if max_age is not None and not max_age > 0:
            raise BadInput("max-age must be a positive duration")
        try:
            with self.transaction() as conn:
                self._existing(stream_id)
                conn.execute(
                    "UPDATE stream_rules SET max_count=?, max_age=? WHERE stream_id=?", (max_count, max_age, stream_id)
                )
                self._lifecycle_changed()
                return self._lifecycle_event(
                    "StreamMetadataChanged", {"stream_id": stream_id, "max_count": max_count, "max_age": max_age}
                )
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

    def scavenge(self, *, on_stream: Callable[[int, int, int], None] | None = None, reclaim: bool = True) -> dict[str, int]:
        """Remove events hidden by deletions, truncations, max-count and max-age; then reclaim the space.

        One short transaction per stream, so writers are never held up for long.
        ``on_stream(done, total, removed)`` reports progress. Positions are never reused.
        """
        rows = self.conn.execute(
            f"SELECT deleted, truncate_before, max_count, max_age, version, stream_id FROM stream_rules WHERE {_RULES_WHERE}"
        ).fetchall()
        before = self.file_size()
        removed = 0
        for i, (deleted, tb, mc, ma, version, sid) in enumerate(rows, 1):
            try:
                with self.transaction() as conn:
                    # re-read under the write lock: a writer may have changed the stream meanwhile
                    fresh = conn.execute(
                        "SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules WHERE stream_id=?",
                        (sid,),
                    ).fetchone()
                    lowest, oldest = _visibility(*fresh, self.clock)
                    # the newest event of the log stays (hidden): positions are max + 1, never reused
                    head = self.head_position()
                    cur = conn.execute(
                        "DELETE FROM events WHERE stream_id=? AND version < ? AND position < ?", (sid, lowest, head)
                    )
                    removed += cur.rowcount
                    if oldest is not None:
                        cur = conn.execute(
                            "DELETE FROM events WHERE stream_id=? AND recorded_at < ? AND position < ?",
                            (sid, oldest, head),
                        )
                        removed += cur.rowcount
            except sqlite3.OperationalError as exc:
                raise _store_error(exc, self.path) from None
            if on_stream:
                on_stream(i, len(rows), removed)
        if reclaim:
            self.compact()
        return {"streams": len(rows), "removed": removed, "bytes_before": before, "bytes_after": self.file_size()}

    def file_size(self) -> int:
        """Bytes of the store file and its WAL."""
        if self.path == ":memory:":
            return 0
        return sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))

    def compact(self, *, secure: bool = False) -> None:
        """Give freed pages back and empty the WAL (VACUUM between two truncating checkpoints).

        With ``secure``, deleted content is overwritten with zeros (PRAGMA secure_delete), so no
        byte of it survives in the file, its free pages or the WAL.
        """
        if self.in_transaction:
            raise StoreError("compact() cannot run inside a transaction")
        conn = self.conn
        try:
            if secure:
                conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None
        if busy and busy[0]:
            raise StoreLocked(
                f"{self.path}: another process kept a read open, so the WAL could not be emptied; close it and run again"
            )

    # ------------------------------------------------------------------ snapshots
    def save_snapshot(self, stream_id: str, aggregate: str, version: int, state_version: int, state: str) -> None:
        """Keep the newest snapshot per stream (a snapshot of another state version replaces any)."""
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO snapshots (stream_id, aggregate, version, state_version, state, taken_at)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET aggregate=excluded.aggregate,"
                    " version=excluded.version, state_version=excluded.state_version, state=excluded.state,"
                    " taken_at=excluded.taken_at"
                    " WHERE excluded.version >= snapshots.version OR excluded.state_version != snapshots.state_version",
                    (stream_id, aggregate, version, state_version, state, self.clock()),
                )
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

    def load_snapshot(self, stream_id: str) -> tuple[int, int, str] | None:
        """(version, state_version, state) of the stream's snapshot, or None."""
        return self.conn.execute(
            "SELECT version, state_version, state FROM snapshots WHERE stream_id=?", (stream_id,)
        ).fetchone()

    def list_snapshots(self, aggregate: str | None = None) -> list[tuple]:
        """(stream_id, aggregate, version, state_version, taken_at, bytes) rows, by stream."""
        sql = "SELECT stream_id, aggregate, version, state_version, taken_at, length(state) FROM snapshots"
        if aggregate is None:
            return self.conn.execute(sql + " ORDER BY stream_id").fetchall()
        return self.conn.execute(sql + " WHERE aggregate=? ORDER BY stream_id", (aggregate,)).fetchall()

    # ------------------------------------------------------------------ housekeeping
    def backup(self, dest: str) -> None:
        """A consistent copy of the live store, WAL included (SQLite's online backup)."""
        if os.path.exists(dest):
            raise BadInput(f"{dest} already exists; choose a new file name")
        try:
            target = sqlite3.connect(dest)
            try:
                self.conn.backup(target)
            finally:
                target.close()
        except sqlite3.Error as exc:
            if os.path.exists(dest):  # a partial copy is not a backup
                os.remove(dest)
            raise StoreError(f"cannot write the backup {dest}: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SQLiteEventStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _IdTaken(Exception):
    """Internal: an event id of the batch is stored already (its transaction rolls back)."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id


def store_error(exc: sqlite3.Error, path: str) -> StoreError:
    """The one mapping of SQLite's errors to the store's: what is wrong with the file, in words.
    Every driver error leaving a transaction (or a read) of the store passes through here."""
    text = str(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in text or "busy" in text:
        return StoreLocked(f"{path} stayed locked by another writer beyond the busy timeout; try again or raise --busy-timeout")
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return StoreReadOnly(f"{path} is read-only ({text}); check the permissions of the file and its folder")
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreCorrupt(f"{path} is damaged ({text}); restore it from a backup")
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(f"{path}: the disk is full ({text}); free some space and try again")
    folder = os.path.dirname(os.path.abspath(path))
    if code == sqlite3.SQLITE_CANTOPEN and not os.access(folder, os.W_OK):
        return StoreReadOnly(f"cannot open {path}: its folder {folder} is not writable"
                             " (the store needs its -wal and -shm files beside it)")
    if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN):
        try:
            full = os.statvfs(folder).f_bavail == 0
        except OSError:
            full = False
        if full:  # SQLite says "disk I/O error" when it cannot grow its -shm file
            return StoreFull(f"{path}: the disk is full ({text}); free some space and try again")
        return StoreError(f"{path}: the disk failed to read or write ({text}); check the disk and its free space")
    return StoreError(f"{path}: {text}")


_store_error = store_error


def open_store(
    path: str,
    *,
    create: bool = True,
    sync: str = "normal",
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    clock: Callable[[], str] = utc_now,
) -> SQLiteEventStore:
    """Open (and with ``create``, make) the store at ``path``."""
    return SQLiteEventStore(path, create=create, sync=sync, busy_timeout=busy_timeout, clock=clock)
