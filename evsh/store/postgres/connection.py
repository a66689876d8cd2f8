"""The PostgreSQL connection under a store: opening, transactions (their blocks in
``transactions``), following appends (LISTEN), and driver errors mapped once.

Appends and the locks that order them are in ``locking``. Everything else (projections'
batches, checkpoints, records) writes concurrently, each row claimed with an advisory lock where
two workers could race.
"""

from __future__ import annotations

import functools
import re
import os
import time
import weakref
from typing import Any, Callable, ContextManager, Sequence

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader

from ...errors import BadInput, ServerUnreachable, StoreError, StoreLocked, StoreMissing
from ..base import utc_now
from . import schema as schema_mod
from .hot import HotStatements
from .urls import split_url
from .transactions import IDLE, READING_BEGUN, READING_PENDING, _Reading, _Transaction

CONNECT_TIMEOUT = 10  # seconds to reach the server before giving up


def _digest8(data: bytes) -> bytes:
    """An 8-byte BLAKE2b digest: what the lock keys and the channel name are made of. hashlib is
    imported here, when a store first locks or listens (it loads OpenSSL's libcrypto: 1-2 ms of
    every `evsh read` otherwise)."""
    import hashlib

    return hashlib.blake2b(data, digest_size=8).digest()


def lock_key(schema: str) -> int:
    """The advisory lock of one store's appends: a signed 64-bit number from its schema's name."""
    return int.from_bytes(_digest8(b"evsh-appends:" + schema.encode()), "big", signed=True)


def row_lock_key(schema: str, table: str, key: Any) -> int:
    """The advisory lock that claims one row of a store's table, whether the row exists yet or
    not (``SELECT ... FOR UPDATE`` locks nothing when there is no row: two workers would both
    take a lease or a checkpoint nobody had written)."""
    return int.from_bytes(_digest8(f"evsh-row:{schema}:{table}:{key!r}".encode()), "big", signed=True)


def application_name() -> str:
    """How the server lists evsh's connections (pg_stat_activity): ``evsh/<pid>``, so an operator
    (or a test) can tell whose they are; an ``application_name`` in the URL or PGAPPNAME wins."""
    return os.environ.get("PGAPPNAME") or f"evsh/{os.getpid()}"


def channel_of(schema: str) -> str:
    """The NOTIFY channel on which a store's appends are announced (positions, never events)."""
    return "evsh_" + _digest8(schema.encode()).hex()


def store_error(exc: BaseException, where: str) -> StoreError:
    """The one translation of a driver error into an evsh error."""
    if isinstance(exc, (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected)):
        return StoreLocked(f"{where} stayed locked by another writer beyond the busy timeout; try again or raise"
                           " --busy-timeout")
    if isinstance(exc, pg_errors.DiskFull):
        return StoreError(f"{where}: the database server's disk is full")
    if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
        return StoreError(f"{where}: the server is read-only (a standby?); connect to the primary")
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, psycopg.OperationalError) and (not state or state[:2] == "08" or state[:3] == "57P"):
        # no answer, a lost connection (class 08) or a server going down (57P): not a refusal
        text = " ".join(str(exc).split())
        return ServerUnreachable(f"{where}: the database server cannot be reached or dropped the connection ({text})")
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None and diag.message_primary else None) or " ".join(str(exc).split())
    if state[:2] == "54":  # program limit exceeded: a value too large to index, a statement too complex
        return StoreError(f"{where}: the server refused a value as too large ({text}); use a shorter stream id,"
                          " event type or key")
    return StoreError(f"{where}: {text}")


def connect(conninfo: str, where: str, *, busy_timeout: float, schema: str) -> psycopg.Connection:
    """An autocommit connection with evsh's settings: its schema first on the search path, a
    lock timeout, and json read back as text (payloads are decoded by evsh's exact codec)."""
    try:
        named = {} if "application_name=" in conninfo else {"application_name": application_name()}
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT, **named)
    except psycopg.OperationalError as exc:
        text = " ".join(str(exc).split())
        if "authentication" in text or "password" in text or re.search(r'role "[^"]*" does not exist', text):
            raise StoreError(f"{where}: the server refused the login ({text})") from None
        if "does not exist" in text:
            raise StoreMissing(f"{where}: {text}; create the database first (createdb) or pass another URL") from None
        raise ServerUnreachable(f"{where}: cannot reach the database server ({text})") from None
    except psycopg.Error as exc:
        raise store_error(exc, where) from None
    for name in ("json", "jsonb"):
        conn.adapters.register_loader(name, TextLoader)
    try:
        # one round trip (no parameters: the simple protocol runs them all). A transaction left
        # open by a dead client must not hold readers back; a worker whose machine vanished (no
        # FIN, no RST) is noticed by the server within 10 + 3 x 5 s: its transaction rolls back
        # and its row locks go to the next worker
        conn.execute(f"SET search_path TO {schema_mod.quote_ident(schema)};"
                     f" SET lock_timeout = {int(busy_timeout * 1000)};"
                     " SET idle_in_transaction_session_timeout = '5min';"
                     " SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3")
    except psycopg.Error as exc:
        conn.close()
        raise store_error(exc, where) from None
    return conn


_TRANSLATED: dict[str, str] = {}


def _placeholders(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (our SQL holds no literal ``?`` or ``%``)."""
    out = _TRANSLATED.get(sql)
    if out is None:
        out = sql.replace("?", "%s")
        if len(_TRANSLATED) < 4096:  # statements built with IN lists of any length are not kept
            _TRANSLATED[sql] = out
    return out


class PGConnection:
    """One connection to an evsh store in a PostgreSQL schema, and the state read caches key on."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        sync: str = "normal",
        busy_timeout: float = 60.0,
        clock: Callable[[], str] = utc_now,
        read_only: bool = False,
    ) -> None:
        self.conninfo, self.schema, self.url = split_url(url)
        self.path = self.url  # what messages name the store by
        # what open_store was given, credentials included (never shown): another connection
        # (the TUI's side store, its NOTIFY watcher) opens the same store with it
        self.opened_as = url
        self.clock = clock
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        if sync not in ("normal", "full"):
            raise BadInput(f"synchronous mode {sync!r}: use one of normal, full")
        self._begin_pending = False  # a transaction's BEGIN not sent yet (see _Transaction)
        self._lock_pending = ""  # the append lock's statement, to go with the BEGIN (``PGLocking.lock_appends``)
        self._deferred: list[str] = []  # statements sent with the COMMIT (``PGLocking.at_commit``)
        self._announce = 0  # the last position this transaction appended: NOTIFY after its COMMIT
        self._unheard = False  # no one listens for this store's appends (``PGLocking.lock_appends``)
        self._conn = connect(self.conninfo, self.url, busy_timeout=busy_timeout, schema=self.schema)
        self._depth = 0
        self._txn_serial = 0
        self._rollbacks = 0  # transactions (and savepoints) rolled back: what they created is gone
        self._append_locked = False  # this session holds the append lock (until its transaction ends)
        self._exclusive = False  # and the appending lock exclusively: no one else appends meanwhile
        self._reading: int | None = None  # a reading() block: READING_PENDING until its first statement
        self.lifecycle_changes = 0
        self._epoch = 0
        self._append_listeners: list[weakref.WeakMethod] = []
        self._head: tuple[tuple[int, int], int] | None = None
        self._rules_absent: int | None = None
        self._aging: set[str] = set()
        self._listener: psycopg.Connection | None = None
        try:
            schema_mod.check_and_upgrade(self.conn, self.schema, self.url, creating=create and not read_only,
                                         upgrade=not read_only, lock_key=lambda: self.lock_key)
            if read_only:
                self.conn.execute("SET default_transaction_read_only = on")
        except psycopg.Error as exc:
            self.conn.close()
            raise store_error(exc, self.url) from None
        except BaseException:
            self.conn.close()
            raise

    @functools.cached_property
    def lock_key(self) -> int:
        """The advisory lock of this store's appends (computed when first taken: a read never does)."""
        return lock_key(self.schema)

    @functools.cached_property
    def channel(self) -> str:
        """The NOTIFY channel of this store's appends (computed when first used)."""
        return channel_of(self.schema)

    # ------------------------------------------------------------------ transactions
    @property
    def conn(self) -> psycopg.Connection:
        """The connection, a transaction's pending BEGIN (and append lock) sent first: what runs
        on it is inside. An import's COPY (``bulk``) holds the connection while it is open: it is
        ended first."""
        if self._copy_open is not None:
            self._settle_inserts()
        if self._begin_pending:
            self._send_begin()
        return self._conn

    def _send_begin(self) -> None:
        """The pending BEGIN, with the append lock when it was asked for (one message)."""
        try:
            self._begin_now()
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from None

    def _begin_now(self) -> None:
        """As ``_send_begin``, raising the driver's error."""
        self._begin_pending = False
        lock, self._lock_pending = self._lock_pending, ""
        if lock:
            self._unheard = self._hot.simple(f"BEGIN; {lock}")[0][-1]
        else:
            self._conn.execute("BEGIN")

    def failed(self, exc: BaseException) -> StoreError:
        """A driver error on this store, as evsh's error."""
        return store_error(exc, self.url)

    def transaction(self) -> ContextManager[Any]:
        """A write transaction; nested use becomes a savepoint inside the outer one. Yields the
        store: what is done through it inside the block commits or rolls back together."""
        return _Transaction(self)

    def reading(self) -> ContextManager[None]:
        return _Reading(self)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def _begin_reading(self) -> None:
        """Begin the snapshot of a reading() block, at its first statement."""
        self._reading = READING_BEGUN
        self._run_alone("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _run(self, sql: str, params: Any = None) -> psycopg.Cursor:
        """Run SQL written with ``?`` placeholders (the form the backends share) or psycopg's own."""
        if self._reading == READING_PENDING:
            self._begin_reading()
        return self._run_alone(sql, params)

    def _run_alone(self, sql: str, params: Any = None) -> psycopg.Cursor:
        """As ``_run``, without beginning a pending reading's snapshot: for one statement that is
        a whole read (autocommit runs it in a snapshot of its own)."""
        try:
            return self.conn.execute(_placeholders(sql) if params is not None else sql, params)
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from None

    def _hot_rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """The rows of a statement every command runs (``hot``): straight through libpq alone
        outside a transaction, or as a transaction's first statement, in one round trip with its
        BEGIN and append lock; through psycopg anywhere else."""
        if not self._hot.takes(sql):
            return self._run_alone(sql, params).fetchall()
        try:
            if self._lock_pending:
                lock, self._lock_pending = self._lock_pending, ""
                self._begin_pending = False
                unlock = f"ROLLBACK; SELECT pg_advisory_unlock({int(self.lock_key)})"
                head, rows = self._hot.first_rows(("BEGIN", lock), sql, params, lambda: self._hot.simple(unlock))
                self._unheard = head[0][-1]
                return rows
            if not self._begin_pending and self._conn.pgconn.transaction_status == IDLE:
                return self._hot.rows(sql, params)
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from None
        return self._run_alone(sql, params).fetchall()

    @functools.cached_property
    def _hot(self) -> HotStatements:
        return HotStatements(self._conn)

    def _all(self, sql: str, params: Any = None) -> list:
        return self._run(sql, params).fetchall()

    def _one(self, sql: str, params: Any = None) -> Any:
        return self._run(sql, params).fetchone()

    def epoch(self, *, check: bool = True) -> int:
        """A number that changes whenever events may read differently for a reason other than an
        append through this connection. Other connections commit at any time on a server, so a
        check always says "maybe changed" but inside a transaction holding the appending lock
        exclusively, where no one else can append, delete or import."""
        if check and not self._exclusive:
            self._epoch += 1
        return self._epoch

    def server_time(self) -> float:
        """The server's wall clock, in Unix seconds: what workers on several machines compare
        leases with (their own clocks may disagree)."""
        return float(self._one("SELECT extract(epoch FROM clock_timestamp())")[0])

    def ages(self, stream_id: str) -> bool:
        return stream_id in self._aging

    def write_token(self) -> tuple[int, int] | None:
        """The current exclusively append-locked transaction and epoch (None otherwise): what was
        read under one token still holds while it is the same (no one else appends meanwhile)."""
        return (self._txn_serial, self._epoch) if self._exclusive else None

    def on_append(self, listener: Callable[[str, str], None]) -> None:
        self._append_listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def _lifecycle_changed(self) -> None:
        self.lifecycle_changes += 1
        self._epoch += 1

    def wait(self, after: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event after position ``after``: woken by NOTIFY
        (a position, never an event) and still polling every second, since a notification is
        lost while the listener is disconnected. The listener is set up before the head is read,
        so an append committed in between is not missed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self._listener is None:
                    self._listener = connect(self.conninfo, self.url, busy_timeout=self.busy_timeout,
                                             schema=self.schema)
                    # the listening lock after the LISTEN: an appender that found no one listening
                    # holds it until its end, so the head read below comes after that append
                    self._listener.execute(f"LISTEN {self.channel};"
                                           f" SELECT pg_advisory_lock_shared({int(self.listening_key)})")
            except (psycopg.Error, StoreError):
                self._drop_listener()
            if self.head_position() > after:  # type: ignore[attr-defined]
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._listener is None:  # the server is away: poll
                time.sleep(min(1.0, left))
                continue
            try:
                for _ in self._listener.notifies(timeout=min(1.0, left), stop_after=1):
                    break
            except psycopg.Error:
                self._drop_listener()

    def recover(self) -> bool:
        """After a lost connection (a server restart, a terminated backend, a network cut): open a
        new one and return True; False while the connection is fine. Raises StoreError while the
        server cannot be reached (the caller backs off and tries again). What the lost connection
        had not committed was rolled back by the server: the caller starts its work again from
        what is committed (checkpoints), so nothing is lost or done twice."""
        if not (self._conn.closed or self._conn.broken):
            return False
        self._drop_listener()
        conn = connect(self.conninfo, self.url, busy_timeout=self.busy_timeout, schema=self.schema)
        if self.read_only:
            conn.execute("SET default_transaction_read_only = on")
        try:
            self._conn.close()
        except psycopg.Error:
            pass
        self._conn = conn
        self.__dict__.pop("_binder", None)  # made for the old one
        self.__dict__.pop("_hot", None)
        self._begin_pending = False
        self._lock_pending = ""
        self._deferred = []
        self._announce = 0
        self._unheard = False
        self._depth = 0
        self._append_locked = self._exclusive = False  # the server let go of the lost session's locks
        self._reading = None
        self._head = None
        self._rollbacks += 1
        self._epoch += 1  # cached states may be ahead of (or behind) what the server kept
        return True

    def _drop_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except psycopg.Error:
                pass
            self._listener = None

    def close(self) -> None:
        self._drop_listener()
        self._begin_pending = False
        self._lock_pending = ""
        self._conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
