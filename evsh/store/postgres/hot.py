"""The statements every command runs, sent straight through libpq (psycopg's ``pgconn``).

A command on PostgreSQL reads its stream, then begins, takes the append lock and inserts, then
commits. Through psycopg's cursors each statement costs the client about 112,000 instructions,
of which the statement's own work (sending it, waiting, reading the row) is 28,000: the rest is
query conversion, adapters and the prepared-statement cache, and on a 2-core machine that CPU is
taken from the server (docs/benchmarks.md). These statements' parameters are text and integers
and their columns text, integers and JSON text, so they are prepared once per connection and run
here with text parameters; failures come back as psycopg's error types (the store turns them
into evsh's the same way), and Ctrl-C cancels a statement as psycopg's own calls do.

psycopg deallocates every prepared statement of the session after a ROLLBACK, DROP or ALTER,
these included. So they run only where running again is safe: alone outside a transaction, or
as a transaction's first statement together with its BEGIN and append lock. A statement found
missing there (SQLSTATE 26000) is prepared again and run again; everywhere else the store goes
through psycopg as for any statement.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import psycopg
from psycopg import errors, generators, pq

TUPLES_OK = pq.ExecStatus.TUPLES_OK
FATAL_ERROR = pq.ExecStatus.FATAL_ERROR
PIPELINE_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
PIPELINE_SYNC = pq.ExecStatus.PIPELINE_SYNC
MISSING = "26000"  # invalid_sql_statement_name: the prepared statement is gone

_INT_OIDS = frozenset((20, 21, 23))  # int8, int2, int4
_FLOAT_OIDS = frozenset((700, 701))
_BOOL_OID = 16


def numbered(sql: str) -> bytes:
    """``?`` placeholders as the protocol's ``$1, $2, ...`` (evsh's SQL holds no literal ``?``)."""
    parts = sql.split("?")
    return (parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))).encode()


def _param(value: Any) -> bytes | None:
    if value is None:
        return None
    if type(value) is str:
        return value.encode()
    if type(value) is int:
        return str(value).encode()
    raise TypeError(f"a hot statement takes text and integers, not {type(value).__name__}")


class Missing(Exception):
    """The prepared statement is gone (psycopg deallocated it): prepare it and run again."""


class HotStatements:
    """The prepared statements of one connection, run on its libpq handle."""

    # Statements a connection keeps prepared here: an insert's text differs with the number of
    # events a command writes, and the server keeps each prepared statement in the session's
    # memory; past these, a statement goes through psycopg (which keeps at most 100 of its own).
    MOST = 32

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self._names: dict[str, bytes] = {}
        self._encoding = conn.info.encoding
        self._pipelines = psycopg.Pipeline.is_supported()  # libpq 14 or later

    def takes(self, sql: str) -> bool:
        """Whether ``sql`` is run here (prepared already, or there is room for it)."""
        return sql in self._names or len(self._names) < self.MOST

    def _name(self, sql: str, *, again: bool = False) -> bytes:
        name = self._names.get(sql)
        if name is None or again:
            name = name or f"evsh_hot_{len(self._names)}".encode()
            pgconn = self.conn.pgconn
            pgconn.send_prepare(name, numbered(sql))
            self._check(self.conn.wait(generators.execute(pgconn)))
            self._names[sql] = name
        return name

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """The rows of ``sql`` run alone, outside a transaction (a whole read in its own snapshot)."""
        values = [_param(v) for v in params]
        pgconn = self.conn.pgconn
        for again in (False, True):
            pgconn.send_query_prepared(self._name(sql, again=again), values)
            try:
                return _rows(self._check(self.conn.wait(generators.execute(pgconn))))
            except Missing:
                continue
        raise AssertionError("unreachable: a statement prepared just now is missing")

    def first_rows(self, begin: Sequence[str], sql: str, params: Sequence[Any],
                   undo: Callable[[], None]) -> tuple[list[tuple], list[tuple]]:
        """The rows of the last of ``begin`` (a BEGIN and what goes with it, statements with no
        parameters) and of ``sql`` after them, in one round trip. Should ``sql``'s statement be
        gone, ``undo`` ends what ``begin`` began and all of it runs again."""
        values = [_param(v) for v in params]
        pgconn = self.conn.pgconn
        for again in (False, True):
            name = self._name(sql, again=again)
            if not self._pipelines:  # a libpq older than 14: two round trips
                head = self.simple("; ".join(begin))
                pgconn.send_query_prepared(name, values)
                result = self.conn.wait(generators.execute(pgconn))
            else:
                pgconn.enter_pipeline_mode()
                try:
                    for statement in begin:
                        pgconn.send_query_params(statement.encode(), None)
                    pgconn.send_query_prepared(name, values)
                    pgconn.pipeline_sync()
                    wait, fetch = self.conn.wait, generators.fetch_many
                    wait(generators.send(pgconn))
                    heads = [wait(fetch(pgconn)) for _ in begin]
                    result = wait(fetch(pgconn))
                    wait(fetch(pgconn))  # the sync
                except BaseException:  # Ctrl-C: psycopg cancelled the statement running; read the rest
                    _drain(self.conn, len(begin) + 2)
                    raise
                finally:
                    _leave_pipeline(self.conn)
                for results in heads:
                    head = _rows(self._check(results))
            try:
                return head, _rows(self._check(result))
            except Missing:
                undo()
        raise AssertionError("unreachable: a statement prepared just now is missing")

    def simple(self, sql: str) -> list[tuple]:
        """Run statements with no parameters (``;``-separated, sent as one message): the rows
        of the last one that returned any."""
        pgconn = self.conn.pgconn
        pgconn.send_query(sql.encode())
        out: list[tuple] = []
        for result in self._check_all(self.conn.wait(generators.execute(pgconn))):
            if result.status == TUPLES_OK:
                out = _rows(result)
        return out

    def _check(self, results: list[pq.abc.PGresult]) -> pq.abc.PGresult:
        """The last result; the first failure among them raised as psycopg's error."""
        return self._check_all(results)[-1]

    def _check_all(self, results: list[pq.abc.PGresult]) -> list[pq.abc.PGresult]:
        for result in results:
            if result.status in (FATAL_ERROR, PIPELINE_ABORTED):
                if result.status == PIPELINE_ABORTED:
                    raise errors.PipelineAborted("an earlier statement of this pipeline failed")
                if result.error_field(pq.DiagnosticField.SQLSTATE) == MISSING.encode():
                    raise Missing()
                raise errors.error_from_result(result, encoding=self._encoding)
        return results


def _drain(conn: psycopg.Connection, most: int) -> None:
    """Read a pipeline's results left unread up to its sync (at most ``most`` of them), so the
    connection stays usable after an interrupted wait; one that cannot be read is closed."""
    pgconn = conn.pgconn
    try:
        for _ in range(most):
            if any(r.status == PIPELINE_SYNC for r in conn.wait(generators.fetch_many(pgconn))):
                return
    except BaseException:  # interrupted again, or the connection is gone
        conn.close()


def _leave_pipeline(conn: psycopg.Connection) -> None:
    """Leave pipeline mode; results left unread (the wait was interrupted) make the connection
    unusable, so it is closed: the store notices and reconnects or reports it."""
    pgconn = conn.pgconn
    try:
        pgconn.exit_pipeline_mode()
    except psycopg.Error:
        conn.close()


@functools.lru_cache(maxsize=64)
def _decoders(types: tuple[int, ...]) -> tuple[Callable[[bytes], Any], ...]:
    def text(raw: bytes) -> str:
        return raw.decode()

    def boolean(raw: bytes) -> bool:
        return raw == b"t"

    return tuple(int if oid in _INT_OIDS else float if oid in _FLOAT_OIDS else boolean if oid == _BOOL_OID else text
                 for oid in types)


def _rows(result: pq.abc.PGresult) -> list[tuple]:
    """A result's rows with text, integers and floats as Python values (NULL as None)."""
    if result.status != TUPLES_OK:
        return []
    n = result.nfields
    decode = _decoders(tuple(result.ftype(i) for i in range(n)))
    get = result.get_value
    return [tuple(None if (raw := get(r, i)) is None else decode[i](raw) for i in range(n))
            for r in range(result.ntuples)]
