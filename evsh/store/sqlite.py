"""The embedded event store: one SQLite file in WAL mode.

Writers take the write lock for the append only (``BEGIN IMMEDIATE``) and wait on a generous
busy timeout, so several processes can write at once without interleaving inside a batch.
Positions come from an AUTOINCREMENT key assigned under that lock, so they follow commit
order and are never reused.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import BadInput, ConcurrencyError, IdConflict, StoreError, StoreLocked, StoreMissing
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
    check_name,
    check_stream_id,
    expected_matches,
    parse_expected_version,
)

PAGE = 1000  # rows fetched per query when streaming reads: constant memory on any store size
DEFAULT_BUSY_TIMEOUT = 60.0
SYNC_MODES = ("normal", "full")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _record(row: tuple) -> RecordedEvent:
    return RecordedEvent(row[0], row[1], row[2], row[3], row[4], codec.loads(row[5]), codec.loads(row[6]), row[7])


_COLUMNS = "position, event_id, stream_id, version, type, data, metadata, recorded_at"


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
        try:
            schema.check_and_upgrade(self.conn, path, creating=create)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA synchronous={sync.upper()}")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as exc:
            self.conn.close()
            raise _store_error(exc, path) from None
        except BaseException:
            self.conn.close()
            raise

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; nested use becomes a savepoint inside the outer one."""
        conn = self.conn
        if self._depth == 0:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _store_error(exc, self.path) from None
            self._depth = 1
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
        else:
            name = f"evsh_sp{self._depth}"
            conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield conn
                conn.execute(f"RELEASE {name}")
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

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
        expected = parse_expected_version(expected_version)
        ids = []
        encoded = []
        for ev in events:
            check_name(ev.type, "event type")
            if not isinstance(ev.data, dict):
                raise BadInput(f"event {ev.type}: data must be a JSON object")
            if not isinstance(ev.metadata, dict):
                raise BadInput(f"event {ev.type}: metadata must be a JSON object")
            eid = canonical_event_id(ev.event_id) if ev.event_id is not None else str(uuid.uuid4())
            ids.append(eid)
            encoded.append((eid, ev.type, codec.dumps(ev.data), codec.dumps(ev.metadata)))
        if len(set(ids)) != len(ids):
            raise IdConflict(f"stream {stream_id!r}: the batch holds the same event id twice")
        conn = self.conn
        try:
            with self.transaction():
                row = conn.execute("SELECT version FROM streams WHERE stream_id=?", (stream_id,)).fetchone()
                current = row[0] if row else 0
                if not expected_matches(expected, current):
                    if self._already_stored(stream_id, ids, expected):
                        return AppendResult(stream_id, current, (), idempotent=True)
                    raise ConcurrencyError(stream_id, expected, current)
                placeholders = ",".join("?" * len(ids))
                found = conn.execute(
                    f"SELECT event_id FROM events WHERE event_id IN ({placeholders})", ids
                ).fetchall()
                if found:
                    if self._already_stored(stream_id, ids, expected):
                        return AppendResult(stream_id, current, (), idempotent=True)
                    raise IdConflict(
                        f"event id {found[0][0]} is already stored elsewhere; an event id may be used once"
                    )
                now = self.clock()
                rows = [
                    (eid, stream_id, current + i, etype, data, meta, now)
                    for i, (eid, etype, data, meta) in enumerate(encoded, 1)
                ]
                conn.executemany(
                    "INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    rows,
                )
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                new_version = current + len(rows)
                if row:
                    conn.execute(
                        "UPDATE streams SET version=?, updated_at=? WHERE stream_id=?", (new_version, now, stream_id)
                    )
                else:
                    conn.execute(
                        "INSERT INTO streams (stream_id, category, version, created_at, updated_at) VALUES (?,?,?,?,?)",
                        (stream_id, category_of(stream_id), new_version, now, now),
                    )
                first = last - len(rows) + 1
                recorded = tuple(
                    RecordedEvent(first + i, ev_id, stream_id, current + i + 1, ev.type, ev.data, ev.metadata, now)
                    for i, (ev_id, ev) in enumerate(zip(ids, events))
                )
                for hook in hooks:
                    hook(conn, recorded)
                return AppendResult(stream_id, new_version, recorded)
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None

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
        if backwards:
            cursor = from_version if from_version is not None else 2**62
            op, order = "<=", "DESC"
        else:
            cursor = from_version if from_version is not None else 1
            op, order = ">=", "ASC"
        return self._paged(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id=? AND version {op} ? ORDER BY version {order} LIMIT ?",
            lambda c: (stream_id, c),
            cursor,
            lambda r: r[3] - 1 if backwards else r[3] + 1,
            limit,
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
        order = "DESC" if backwards else "ASC"
        sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY position {order} LIMIT ?"
        start = from_position if not backwards or from_position else 2**62
        return self._paged(
            sql,
            lambda c: (c, *params),
            start,
            lambda r: r[0] - 1 if backwards else r[0] + 1,
            limit,
        )

    def _paged(self, sql, params_for, cursor, next_cursor, limit) -> Iterator[RecordedEvent]:
        remaining = limit if limit is not None else -1
        while remaining != 0:
            page = PAGE if remaining < 0 else min(PAGE, remaining)
            try:
                rows = self.conn.execute(sql, (*params_for(cursor), page)).fetchall()
            except sqlite3.OperationalError as exc:
                raise _store_error(exc, self.path) from None
            for row in rows:
                yield _record(row)
            if len(rows) < page:
                return
            cursor = next_cursor(rows[-1])
            if remaining > 0:
                remaining -= len(rows)

    def raw_rows(self, from_position: int, limit: int) -> list[tuple]:
        """Undecoded rows of the global log, for bulk readers that decode lazily (TUI, export)."""
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE position >= ? ORDER BY position LIMIT ?", (from_position, limit)
        ).fetchall()

    def streams(
        self, category: str | None = None, *, after: str | None = None, limit: int | None = None
    ) -> Iterator[StreamInfo]:
        remaining = limit if limit is not None else -1
        cursor = after or ""
        while remaining != 0:
            page = PAGE if remaining < 0 else min(PAGE, remaining)
            if category is None:
                rows = self.conn.execute(
                    "SELECT stream_id, category, version, created_at, updated_at FROM streams"
                    " WHERE stream_id > ? ORDER BY stream_id LIMIT ?",
                    (cursor, page),
                ).fetchall()
            else:
                rows = self.conn.execute(
                    "SELECT stream_id, category, version, created_at, updated_at FROM streams"
                    " WHERE category = ? AND stream_id > ? ORDER BY stream_id LIMIT ?",
                    (category, cursor, page),
                ).fetchall()
            for r in rows:
                yield StreamInfo(*r)
            if len(rows) < page:
                return
            cursor = rows[-1][0]
            if remaining > 0:
                remaining -= len(rows)

    def stream_version(self, stream_id: str) -> int:
        row = self.conn.execute("SELECT version FROM streams WHERE stream_id=?", (stream_id,)).fetchone()
        return row[0] if row else 0

    def head_position(self) -> int:
        return self.conn.execute("SELECT coalesce(max(position), 0) FROM events").fetchone()[0]

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
        Returns (written, skipped).
        """
        conn = self.conn
        written = skipped = 0
        versions: dict[str, int] = {}
        insert = (
            "INSERT INTO events (event_id, stream_id, version, type, data, metadata, recorded_at)"
            " VALUES (?,?,?,?,?,?,?)"
        )
        try:
            with self.transaction():
                for chunk in chunks:
                    self._load_versions(versions, {r[2] for r in chunk if r[2] not in versions})
                    fresh: list[tuple] = []
                    touched: dict[str, list] = {}
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
                        if ver != current + 1:
                            raise BadInput(
                                f"line {line}: stream {sid!r} version {ver} does not follow version {current}"
                            )
                        versions[sid] = ver
                        fresh.append((eid, sid, ver, etype, data, meta, at))
                        t = touched.get(sid)
                        if t is None:
                            touched[sid] = [ver, at, at]
                        else:
                            t[0] = ver
                            t[2] = at
                    if fresh:
                        try:
                            conn.executemany(insert, fresh)
                        except sqlite3.IntegrityError:
                            raise IdConflict(self._explain_clash(chunk)) from None
                        written += len(fresh)
                        conn.executemany(
                            "INSERT INTO streams (stream_id, category, version, created_at, updated_at)"
                            " VALUES (?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET"
                            " version=excluded.version, updated_at=excluded.updated_at",
                            [(sid, category_of(sid), v, first, last) for sid, (v, first, last) in touched.items()],
                        )
        except sqlite3.OperationalError as exc:
            raise _store_error(exc, self.path) from None
        return written, skipped

    def _load_versions(self, versions: dict[str, int], stream_ids: set[str]) -> None:
        ids = list(stream_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            for sid in part:
                versions[sid] = 0
            for sid, ver in self.conn.execute(
                f"SELECT stream_id, version FROM streams WHERE stream_id IN ({','.join('?' * len(part))})", part
            ):
                versions[sid] = ver

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

    # ------------------------------------------------------------------ housekeeping
    def backup(self, dest: str) -> None:
        """A consistent copy of the live store, WAL included (SQLite's online backup)."""
        if os.path.exists(dest):
            raise BadInput(f"{dest} already exists; choose a new file name")
        target = sqlite3.connect(dest)
        try:
            self.conn.backup(target)
        finally:
            target.close()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SQLiteEventStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _store_error(exc: sqlite3.OperationalError, path: str) -> StoreError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreLocked(f"{path} stayed locked by another writer beyond the busy timeout; try again or raise --busy-timeout")
    return StoreError(f"{path}: {text}")


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
