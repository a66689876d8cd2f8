"""A store's transactions on PostgreSQL: ``transaction()`` (its BEGIN sent with the first
statement, savepoints when nested) and ``reading()`` (a read-only snapshot begun at the first
statement that needs one). Used by ``connection.PGConnection``."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

IDLE = TransactionStatus.IDLE
READING_PENDING, READING_BEGUN = 1, 2  # a reading() block before and after its BEGIN


class _Transaction:
    """``with store.transaction() as tx``: BEGIN ... COMMIT, or a savepoint when nested.

    The outer BEGIN waits for the block's first statement and goes with it when that is the
    append lock (one round trip, ``PGConnection.lock_appends``); a block that runs nothing sends
    nothing. Its end lets go of the append lock (``PGConnection._end_transaction``). Whatever reaches the connection (``store.conn``) is sent after the BEGIN."""

    __slots__ = ("store", "inner", "kept")

    def __init__(self, store: Any) -> None:
        self.store = store
        self.inner: Any = None
        self.kept = 0  # statements kept for the COMMIT when a savepoint began (its rollback drops later ones)

    def __enter__(self) -> Any:
        store = self.store
        if store._reading == READING_PENDING:
            store._begin_reading()
        if store._depth or store._conn.pgconn.transaction_status != IDLE:
            try:
                self.inner = store.conn.transaction()  # the driver's savepoint
                self.inner.__enter__()
                self.kept = len(store._deferred)
            except psycopg.Error as exc:
                raise store.failed(exc) from None
        else:
            store._begin_pending = True
        if store._depth == 0:
            store._txn_serial += 1
        store._depth += 1
        return store

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        store = self.store
        try:
            try:
                if self.inner is not None:
                    if exc_type is not None:
                        del store._deferred[self.kept:]
                    self.inner.__exit__(exc_type, exc, tb)
                elif store._begin_pending and not store._deferred:
                    store._begin_pending = False  # nothing ran: nothing to end (no lock was taken)
                    store._lock_pending = ""
                    store._append_locked = store._exclusive = False
                elif exc_type is None:
                    store._end_transaction(commit=True)
                else:
                    try:
                        store._end_transaction(commit=False)
                    except psycopg.Error:
                        pass  # a lost connection rolled it back; the block's error is the one to raise
            except psycopg.Error as failed:
                store._epoch += 1
                store._rollbacks += 1
                raise store.failed(failed) from None
            if exc_type is not None:
                store._epoch += 1  # what was appended in it is gone: cached states may be ahead
                store._rollbacks += 1  # and tables it created
                if isinstance(exc, psycopg.Error):
                    raise store.failed(exc) from None
        finally:
            store._depth -= 1


class _Reading:
    """``with store.reading()``: one snapshot for several reads (REPEATABLE READ, read only).

    The transaction begins with the block's first statement, not at the block's start: a read
    that is whole in one statement (a stream's rules and events, ``PGReads.read_stream_pages``)
    runs alone in autocommit, which is one snapshot already, and spares the BEGIN and COMMIT.
    A later statement in the same block begins the snapshot then (the engine's loads make one)."""

    __slots__ = ("store", "inner")

    def __init__(self, store: Any) -> None:
        self.store = store
        self.inner = False

    def __enter__(self) -> None:
        store = self.store
        if store._depth or store._reading is not None:
            return
        store._reading = READING_PENDING
        self.inner = True

    def __exit__(self, *exc: object) -> None:
        if self.inner:
            store = self.store
            begun = store._reading == READING_BEGUN
            store._reading = None
            if begun:
                try:
                    store.conn.execute("COMMIT")
                except psycopg.Error:
                    pass

