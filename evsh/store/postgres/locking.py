"""The locks that order appends on PostgreSQL, and how an appending transaction begins and ends.

Appends hand out positions from a sequence under an advisory lock (session-level), taken before
the transaction's first write and let go right before its COMMIT: the next appender goes ahead
while the commit waits for its flush, so the server flushes many commits at once. A transaction
also holds a shared "appending" lock until it ends. Since every appender's transaction id is
given out under the append lock, transaction ids rise with positions, and a reader stops before
the first event whose transaction id is not below every appender still running
(``PGReads.log_bound``): what it returns never gains an event later (docs/postgresql.md).
A transaction that wrote before taking the append lock, and the operations that need the log to
stand still (import, stream lifecycle, history marks), take the appending lock exclusively: they
wait for the appenders in flight and hold the next ones off until they end.

Round trips: an appending transaction's BEGIN goes with its locks and its first statement (a
command's insert: one round trip, straight through libpq, see ``hot``), and statements that need no
answer (``at_commit``, a command's own record) go with its COMMIT, and so does the NOTIFY that
announces the new head, right after it, when anyone listens (a listener that misses one polls
within a second). A message holding several
statements cannot carry parameters, so their values are bound by the driver on the client side
(psycopg's ``ClientCursor.mogrify``, with libpq's quoting), never formatted by evsh.
"""

from __future__ import annotations

import functools
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from ...errors import StoreError
from .connection import _placeholders, _digest8


def appending_key(schema: str) -> int:
    """The advisory lock every appending transaction of a store holds (shared) until it ends."""
    return int.from_bytes(_digest8(b"evsh-appending:" + schema.encode()), "big", signed=True)


def listening_key(schema: str) -> int:
    """The advisory lock a connection listening for a store's appends holds (shared) while it
    listens: an appender that can take it exclusively knows no one would hear its NOTIFY."""
    return int.from_bytes(_digest8(b"evsh-listening:" + schema.encode()), "big", signed=True)


class PGLocking:
    """A mixin of the PostgreSQL store (over ``PGConnection``)."""

    @functools.cached_property
    def appending_key(self) -> int:
        return appending_key(self.schema)

    @functools.cached_property
    def listening_key(self) -> int:
        return listening_key(self.schema)

    @functools.cached_property
    def _binder(self) -> psycopg.ClientCursor:
        return psycopg.ClientCursor(self._conn)

    def _bound(self, sql: str, params: Any) -> str:
        """A statement with its values bound by the driver, to travel with others in one message."""
        return self._binder.mogrify(_placeholders(sql), params) if params is not None else sql

    def lock_appends(self, *, exclusive: bool = False) -> None:
        """Take the append lock for this transaction (positions are handed out under it), before
        its first write. A transaction that has written already, or asks for ``exclusive``, also
        waits for the appending transactions in flight and holds new ones off until it ends: then
        nothing but this transaction appends or commits an append meanwhile (``write_token``)."""
        if not self._depth:
            raise StoreError("the append lock is taken inside a transaction")
        if self._append_locked and (self._exclusive or not exclusive):
            return
        key, appending = int(self.lock_key), int(self.appending_key)
        # and whether anyone listens: while this transaction holds the listening lock, a listener
        # that comes waits for its end, then reads the head (no NOTIFY of it is missed)
        unheard = f"pg_try_advisory_xact_lock({int(self.listening_key)})"
        if self._begin_pending and not exclusive:  # the transaction's first statement: it goes
            # with the BEGIN and the next statement (``PGConnection._hot_rows``)
            self._lock_pending = (f"SELECT pg_advisory_lock({key}), pg_advisory_xact_lock_shared({appending}),"
                                  f" {unheard}")
            self._append_locked = True
        else:
            if not self._append_locked:
                wrote = self._one(f"SELECT pg_advisory_lock({key}), pg_current_xact_id_if_assigned() IS NOT NULL")[1]
                self._append_locked = True
                exclusive = exclusive or wrote
            self._unheard = self._one(f"SELECT pg_advisory_xact_lock{'' if exclusive else '_shared'}({appending}),"
                                      f" {unheard}")[1]
            self._exclusive = exclusive
        self._epoch += 1  # what others committed before the lock may read differently now

    def at_commit(self, sql: str, params: Any = None) -> None:
        """Run a statement whose answer no one needs at this transaction's COMMIT, in the same
        message (now, outside a transaction). A rollback, or a savepoint's, drops it."""
        if not self._depth:
            self._run(sql, params)
            return
        self._deferred.append(self._bound(sql, params))

    def _end_transaction(self, commit: bool) -> None:
        """COMMIT or ROLLBACK, letting go of the append lock: before a COMMIT (in the same message,
        with the statements kept for it, so the flush is waited for outside the lock), after a
        ROLLBACK (a session lock outlives it)."""
        if self._begin_pending:  # only statements kept for the COMMIT: the BEGIN (and lock) first
            if not commit:
                self._begin_pending, self._lock_pending = False, ""
                self._append_locked = self._exclusive = False
                self._deferred = []
                return
            try:
                self._begin_now()
            except psycopg.Error:  # refused (the lock's busy timeout) or cut off: rolled back as any
                try:
                    self._end_transaction(commit=False)
                except psycopg.Error:
                    pass  # a lost connection rolled it back; the refusal is the error to raise
                raise
        conn = self._conn
        locked, deferred = self._append_locked, self._deferred
        announce = 0 if self._unheard else self._announce
        self._append_locked = self._exclusive = self._unheard = False
        self._deferred = []
        self._announce = 0
        unlock = [f"SELECT pg_advisory_unlock({int(self.lock_key)})"] if locked else []
        if commit and conn.pgconn.transaction_status != TransactionStatus.INERROR:
            if not deferred and not unlock:
                conn.commit()
                return
            # the NOTIFY in a statement of its own after the COMMIT: inside the transaction it
            # would take the server's notification lock, held through the commit's flush, and
            # appenders' commits would be flushed one at a time again
            after = [self._bound("SELECT pg_notify(?, ?)", (self.channel, str(announce)))] if announce else []
            try:
                self._hot.simple("; ".join([*deferred, *unlock, "COMMIT", *after]))
                return
            except psycopg.errors.ProgramLimitExceeded:
                if after and conn.pgconn.transaction_status == TransactionStatus.IDLE:
                    return  # committed; the server's notification queue is full: listeners poll
                self._roll_back(unlock)
                raise
            except psycopg.Error:
                if not (conn.closed or conn.broken):
                    self._roll_back(unlock)  # a kept statement failed: COMMIT and unlock did not run
                raise
        self._roll_back(unlock)

    def _roll_back(self, unlock: list[str]) -> None:
        conn = self._conn
        conn.rollback()
        if unlock:
            conn.execute(unlock[0])
