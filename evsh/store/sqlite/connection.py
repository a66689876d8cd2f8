"""The SQLite connection under a store: opening, transactions, and driver errors mapped once.

Writers take the write lock for their transaction only (``BEGIN IMMEDIATE``) and wait on a
generous busy timeout, so several processes can write at once without interleaving inside a
batch. A nested transaction is a savepoint inside the outer one. Every ``sqlite3`` error that
leaves the store leaves it here, as an evsh :class:`StoreError`.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
import weakref
from typing import Any, Callable, ContextManager

from ...errors import BadInput, StoreCorrupt, StoreError, StoreFull, StoreLocked, StoreMissing, StoreReadOnly
from ..base import utc_now
from . import schema

DEFAULT_BUSY_TIMEOUT = 60.0
SYNC_MODES = ("normal", "full")
# Pages the WAL may hold before a commit copies them into the database (SQLite's default: 1000).
# Each copy ends with an fsync even at synchronous=NORMAL; at 4000 (a WAL of up to 16 MB) a busy
# writer pays for a quarter as many, and a page changed by many commits is copied once: about
# a tenth more commands per second (docs/benchmarks.md).
WAL_AUTOCHECKPOINT = 4000

# Binding None: ``sqlite3`` finds no adapter registered for it, then asks the protocol type for
# ``__adapt__``, which raises and clears an AttributeError each time (about 2,400 instructions,
# 40 M in a 20,000-row rebuild whose rows hold a NULL). An adapter registered for it is one
# dict hit and a C call returning the None it is given (an empty dict's ``get``). The same NULL
# is bound; the registry is the ``sqlite3`` module's, so this holds for the process, unchanged
# for any other user of ``sqlite3``.
sqlite3.register_adapter(type(None), {}.get)


def store_error(exc: sqlite3.Error, path: str) -> StoreError:
    """The one translation of a driver error into an evsh error: what is wrong with the file, in
    words, by SQLite's error code."""
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


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch the file to WAL, waiting for other connections as a write would. SQLite takes the
    exclusive lock this needs without calling the busy handler, so processes creating one new
    store at once would otherwise see "database is locked" at once. A WAL store stays WAL: later
    opens return at the first try."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if (exc.sqlite_errorcode & 0xFF) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _Transaction:
    """``with store.transaction() as tx``: BEGIN IMMEDIATE ... COMMIT, or a savepoint when
    nested. A class rather than a generator: every command and every reaction enters one."""

    __slots__ = ("store", "savepoint")

    def __init__(self, store: "SQLiteConnection") -> None:
        self.store = store
        self.savepoint: str | None = None

    def __enter__(self) -> Any:
        store = self.store
        conn = store.conn
        try:
            if store._depth == 0:
                conn.execute("BEGIN IMMEDIATE")
                store._txn_serial += 1
            else:
                self.savepoint = f"evsh_sp{store._depth}"
                conn.execute(f"SAVEPOINT {self.savepoint}")
        except sqlite3.Error as exc:
            raise store_error(exc, store.path) from None
        store._depth += 1
        return store

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        store = self.store
        conn = store.conn
        name = self.savepoint
        try:
            if exc_type is None:
                try:
                    conn.execute("COMMIT" if name is None else f"RELEASE {name}")
                    return
                except BaseException as failed:
                    self._undo(conn, name)
                    if isinstance(failed, sqlite3.Error):
                        raise store_error(failed, store.path) from None
                    raise
            self._undo(conn, name)
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc, store.path) from None
        finally:
            store._depth -= 1

    def _undo(self, conn: sqlite3.Connection, name: str | None) -> None:
        self.store._epoch += 1  # what was appended in it is gone: cached states may be ahead
        try:
            if name is None:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
        except sqlite3.Error:  # the connection is gone bad (disk, corruption): the original error tells
            pass


class _Reading:
    """``with store.reading()``: BEGIN ... COMMIT around reads, unless a transaction is open."""

    __slots__ = ("store", "began")

    def __init__(self, store: "SQLiteConnection") -> None:
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
            raise store_error(exc, store.path) from None
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


class SQLiteConnection:
    """One connection to an evsh store file, and the state read caches key on."""

    backend = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        create: bool = True,
        sync: str = "normal",
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], str] = utc_now,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.url = path
        self.opened_as = path  # what open_store was given: another connection opens the same store
        self.clock = clock
        self.busy_timeout = busy_timeout
        if sync not in SYNC_MODES:
            raise BadInput(f"synchronous mode {sync!r}: use one of {', '.join(SYNC_MODES)}")
        exists = path == ":memory:" or (os.path.exists(path) and os.path.getsize(path) > 0)
        if not exists and not create:
            raise StoreMissing(f"no store at {path}; run `evsh init` or pass --db")
        if os.path.isdir(path):
            raise StoreError(f"{path} is a folder, not a store file; pass --db FILE")
        target, uri = path, False
        if read_only and path != ":memory:":
            # quoted: a '#', '?' or '%' in the file name would otherwise end the path or drop mode=ro
            target, uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro", True
        try:
            self.conn = sqlite3.connect(target, uri=uri, timeout=busy_timeout, isolation_level=None,
                                        check_same_thread=False)
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
        self._head: tuple[int, int] | None = None  # (write token, head position)
        self._rules_absent: int | None = None  # the epoch at which no stream had lifecycle rules
        self._aging: set[str] = set()  # streams read with a max-age rule (see ages())
        self._tables_known: tuple[int, frozenset[str]] | None = None  # (epoch, table names)
        try:
            schema.check_and_upgrade(self.conn, path, creating=create and not read_only, upgrade=not read_only)
            if read_only:
                return
            _use_wal(self.conn, busy_timeout)
            self.conn.execute(f"PRAGMA synchronous={sync.upper()}")
            self.conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            self.conn.close()
            raise store_error(exc, path) from None
        except BaseException:
            self.conn.close()
            raise

    # ------------------------------------------------------------------ transactions
    def transaction(self) -> ContextManager[Any]:
        """A write transaction; nested use becomes a savepoint inside the outer one. Yields the
        store: what is done through it inside the block commits or rolls back together."""
        return _Transaction(self)

    def reading(self) -> ContextManager[None]:
        """Several reads from one snapshot of the store: one read lock taken instead of one per
        query (an aggregate's load reads its snapshot, its stream's rules and its events)."""
        return _Reading(self)

    def lock_appends(self, *, exclusive: bool = False) -> None:
        """Hold off other appenders until this transaction ends (``exclusive``: and let no other
        append be in flight meanwhile). SQLite's write transaction holds every writer off already."""

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def _run(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def _all(self, sql: str, params: Any = ()) -> list:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def _one(self, sql: str, params: Any = ()) -> Any:
        try:
            return self.conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def epoch(self, *, check: bool = True) -> int:
        """A number that changes whenever events may read differently for a reason other than an
        append through this connection (which ``on_append`` listeners hear of): another
        connection committed, a transaction here rolled back, an import, a lifecycle change.

        Checking asks SQLite's ``data_version`` (one statement), at most once per write
        transaction, since no other connection can commit while it is open. ``check=False``
        returns the number as last known: what to tag fresh state with.
        """
        if check and not (self._depth and self._checked_txn == self._txn_serial):
            dv = self._one("PRAGMA data_version")[0]
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

    def write_token(self) -> int | None:
        """Inside a write transaction, the epoch (None outside one). What this connection read
        or wrote under one token (the head, its own records such as checkpoints) still holds
        while the token is the same, across transactions too: another connection's commit and a
        rollback here both move the epoch, and one ``data_version`` per transaction tells."""
        if not self._depth:
            return None
        if self._checked_txn == self._txn_serial:  # asked already in this transaction: epoch() says the same
            return self._epoch
        return self.epoch()

    _records_token = write_token

    def on_append(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(stream_id, last_event_id)`` after each append through this connection
        (inside its transaction). Held weakly: a bound method of a dropped object is forgotten."""
        self._append_listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def _lifecycle_changed(self) -> None:
        self.lifecycle_changes += 1
        self._epoch += 1

    def wait(self, after: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event after position ``after``; True when one is
        there. SQLite has no notifications: this polls, a few times a second."""
        deadline = time.monotonic() + timeout
        while True:
            if self.head_position() > after:  # type: ignore[attr-defined]
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.2, left))

    def recover(self) -> bool:
        """A file has no connection to lose: nothing to recover (see the PostgreSQL store)."""
        return False

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
