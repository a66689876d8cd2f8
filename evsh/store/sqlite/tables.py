"""Declared tables in SQLite, and read-only SQL over the store.

Features and domains declare their tables (:mod:`evsh.store.tables`); the catalogue
(:mod:`evsh.store.catalogue`) creates them through this module's dialect, and each physical
table's statements are built once (:class:`SQLiteTableOps`). Read-only queries
(`evsh sql`, script expectations) run on a separate connection opened read-only, with no
ATTACH, never reading a private table (key material), and under a time limit.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Iterator, Mapping, Sequence

from ...errors import BadInput, StoreError
from ..table_specs import KeyTaken, RowRefused, TableSpec, check_ident, create_table_sql, index_sql, plain_value, quote
from .connection import store_error
from ..keys import PRIVATE_COLUMNS, private_reads

SQL_TYPES = {"text": "TEXT", "int": "INTEGER", "real": "REAL", "decimal": "TEXT", "json": "TEXT", "bool": "INTEGER",
             "blob": "BLOB"}
_STORE_TROUBLE = ("locked", "busy", "disk", "readonly", "read-only", "malformed", "not a database", "full")


def to_sql(value: Any) -> Any:
    """A Python value as SQLite stores it (Decimal as exact text, bool as 0/1)."""
    t = type(value)
    if t is bool:
        return int(value)
    if t is Decimal:
        return str(value)
    return plain_value(value)


def create_sql(spec: TableSpec, physical: str | None = None) -> str:
    return create_table_sql(spec, physical, SQL_TYPES, "INTEGER PRIMARY KEY AUTOINCREMENT", " WITHOUT ROWID")


def _fragment_error(exc: sqlite3.Error, table: str, path: str) -> Exception:
    """A failing ``where`` fragment is the caller's mistake; a store in trouble is the store's."""
    text = str(exc)
    if any(t in text for t in _STORE_TROUBLE):
        return store_error(exc, path)
    return ValueError(f"table {table}: {text}")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def exact(kind: str, value: Any) -> Any:
    """A value as its column keeps it exactly when SQLite cannot bind it as it is (an int beyond
    64 bits): text in text, decimal and json columns, else its ASCII digits in a BLOB (a
    column's affinity would turn digits given as text into an approximate REAL)."""
    if type(value) is not int or _INT64_MIN <= value <= _INT64_MAX:
        return value
    return str(value) if kind in ("text", "decimal", "json") else str(value).encode()


class SQLiteTableOps:
    """One physical table's statements, run on the store's connection. The usual write path is
    one executemany; only a refused batch is looked at row by row."""

    to_sql = staticmethod(to_sql)

    def __init__(self, store: Any, spec: TableSpec, physical: str) -> None:
        self.conn = store.conn
        self.path = store.path
        self.name = physical
        cols = spec.column_names
        kinds = dict(spec.columns)
        self._kinds = tuple(kinds[c] for c in cols)
        self._pk_kinds = tuple(kinds[c] for c in spec.pk)
        t = quote(physical)
        self._cols = ", ".join(quote(c) for c in cols)
        self._table = t
        where = " AND ".join(f"{quote(c)}=?" for c in spec.pk)
        marks = ", ".join("?" * len(cols))
        self._get = f"SELECT {self._cols} FROM {t} WHERE {where}" if spec.pk else ""
        self._delete = f"DELETE FROM {t} WHERE {where}" if spec.pk else ""
        self._replace = f"INSERT OR REPLACE INTO {t} ({self._cols}) VALUES ({marks})"
        self._insert = f"INSERT INTO {t} ({self._cols}) VALUES ({marks})"
        self._add = f"INSERT OR IGNORE INTO {t} ({self._cols}) VALUES ({marks})"

    def _exact(self, row: tuple, kinds: tuple[str, ...]) -> tuple:
        return tuple([exact(k, v) for k, v in zip(kinds, row)])

    def _one(self, sql: str, params: tuple, kinds: tuple[str, ...]) -> sqlite3.Cursor:
        try:
            try:
                return self.conn.execute(sql, params)
            except OverflowError:  # an int beyond 64 bits: as its column keeps it
                return self.conn.execute(sql, self._exact(params, kinds))
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def _many(self, sql: str, rows: list[tuple], kinds: tuple[str, ...], *, keyed: bool = False) -> None:
        """executemany, each row changing one row. On a failure the rows before the failing one
        are written (``total_changes`` counts them): an int beyond 64 bits makes the rest go again
        as its column keeps it; a taken key raises KeyTaken (``keyed``), anything else RowRefused,
        naming the row; the store's own trouble (locked, disk full) is a StoreError."""
        conn = self.conn
        done = 0
        widened = False
        while True:
            before = conn.total_changes
            try:
                conn.executemany(sql, rows[done:] if done else rows)
                return
            except OverflowError as exc:
                done += conn.total_changes - before
                if widened:
                    raise RowRefused(done, f"{type(exc).__name__}: {exc}") from None
                rows, widened = rows[:done] + [self._exact(r, kinds) for r in rows[done:]], True
            except sqlite3.IntegrityError as exc:
                done += conn.total_changes - before
                if keyed:
                    raise KeyTaken(done) from None
                raise RowRefused(done, f"IntegrityError: {exc}") from None
            except (sqlite3.InterfaceError, sqlite3.ProgrammingError, ValueError) as exc:
                raise RowRefused(done + conn.total_changes - before, f"{type(exc).__name__}: {exc}") from None
            except sqlite3.Error as exc:
                raise store_error(exc, self.path) from None

    def get(self, key: tuple) -> Sequence[Any] | None:
        return self._one(self._get, key, self._pk_kinds).fetchone()

    def insert(self, rows: list[tuple]) -> None:
        self._many(self._insert, rows, self._kinds, keyed=True)

    def replace(self, rows: list[tuple]) -> None:
        self._many(self._replace, rows, self._kinds)

    def delete(self, keys: list[tuple]) -> None:
        self._many(self._delete, keys, self._pk_kinds)

    def add(self, row: tuple) -> bool:
        return self._one(self._add, row, self._kinds).rowcount == 1

    def add_at_commit(self, row: tuple) -> None:
        self.add(row)  # no round trips to save

    def _query(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        """A caller's condition; an int parameter beyond 64 bits is compared as an int column keeps it."""
        try:
            try:
                return self.conn.execute(sql, params)
            except OverflowError:
                return self.conn.execute(sql, tuple(exact("int", v) for v in params))
        except sqlite3.Error as exc:
            raise _fragment_error(exc, self.name, self.path) from None

    def _where(self, sql: str, where: str | None, params: Sequence[Any]) -> sqlite3.Cursor:
        return self._query(sql + (f" WHERE {where}" if where else ""), params)

    def select(self, where: str | None, params: Sequence[Any], order_by: str | None, limit: int | None,
               columns: Sequence[str] | None = None) -> list[Sequence[Any]]:
        cols = ", ".join(quote(check_ident(c, "column")) for c in columns) if columns else self._cols
        tail = (f" ORDER BY {order_by}" if order_by else "") + (f" LIMIT {int(limit)}" if limit is not None else "")
        return self._query(f"SELECT {cols} FROM {self._table}" + (f" WHERE {where}" if where else "") + tail,
                           params).fetchall()

    def count(self, where: str | None, params: Sequence[Any]) -> int:
        return self._where(f"SELECT count(*) FROM {self._table}", where, params).fetchone()[0]

    def delete_where(self, where: str | None, params: Sequence[Any]) -> int:
        return self._where(f"DELETE FROM {self._table}", where, params).rowcount

    def update_where(self, values: Mapping[str, Any], where: str | None, params: Sequence[Any]) -> int:
        sets = ", ".join(f"{quote(check_ident(c, 'column'))}=?" for c in values)
        return self._where(f"UPDATE {self._table} SET {sets}", where, (*values.values(), *params)).rowcount


class SQLiteTables:
    """SQLite's dialect for declared tables, and read-only SQL (a mixin of the SQLite store)."""

    _create_sql = staticmethod(create_sql)
    _index_sql = staticmethod(index_sql)
    _to_sql = staticmethod(to_sql)

    def _list_tables(self) -> list[str]:
        return [r[0] for r in self._all("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]

    def _lock_tables(self) -> bool:
        """Nothing to take: a write transaction holds every other writer off already."""
        return False

    def _table_stamp(self) -> int:
        """Tables other processes create or drop show as a new epoch (any commit moves it)."""
        return self.epoch()

    def _new_ops(self, spec: TableSpec, name: str) -> SQLiteTableOps:
        return SQLiteTableOps(self, spec, name)

    def _rename_table(self, old: str, new: str) -> None:
        # legacy rename: leave users' views over the tables alone (a modern RENAME re-checks every
        # view and fails on one that names the table just dropped); they see the new table after
        self._run("PRAGMA legacy_alter_table=ON")
        try:
            self._run(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}")
        finally:
            self._run("PRAGMA legacy_alter_table=OFF")

    # ------------------------------------------------------------------ read-only SQL
    @contextmanager
    def query(self, sql: str, params: Sequence[Any] = (), *, timeout: float | None = None
              ) -> Iterator[tuple[list[str], Iterator[tuple]]]:
        """``with store.query(sql) as (columns, rows)``: a read-only query on a connection of its
        own, rows streamed. Writes, ATTACH and reads of private tables are refused (BadInput);
        past ``timeout`` seconds the query is interrupted (BadInput)."""
        if self.path == ":memory:":
            raise BadInput("read-only SQL needs a store file; an in-memory store has none")
        private = {r[0] for r in self._all("SELECT name FROM evsh_tables WHERE private=1")}
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path} to read: {exc}") from None
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # ATTACH would create a new database file

            def authorize(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
                if action == sqlite3.SQLITE_READ and (arg1 in private or arg2 in PRIVATE_COLUMNS.get(arg1, ())):
                    return sqlite3.SQLITE_DENY
                return sqlite3.SQLITE_OK

            conn.set_authorizer(authorize)
            deadline = time.monotonic() + timeout if timeout is not None else None
            if deadline is not None:
                conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)

            def failed(exc: sqlite3.Error) -> BaseException:
                if "interrupted" in str(exc) and (deadline is None or time.monotonic() <= deadline):
                    return KeyboardInterrupt()  # Ctrl-C, which the progress handler's call swallowed
                if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _STORE_TROUBLE:
                    from .connection import store_error

                    return store_error(exc, self.path)  # damaged, locked, unreadable: exit 4
                return _query_error(exc, private, timeout)

            try:
                cursor = conn.execute(sql, params)
            except sqlite3.Error as exc:
                raise failed(exc) from None
            columns = [d[0] for d in cursor.description or []]

            def rows() -> Iterator[tuple]:
                try:  # not `yield from`: closing the generator after the connection would close the cursor too
                    for row in cursor if cursor.description else ():
                        yield row
                except sqlite3.Error as exc:
                    raise failed(exc) from None

            yield columns, rows()
        finally:
            conn.close()


# SQLite's primary codes that say the store cannot be read, not that the query is wrong
_STORE_TROUBLE = {5, 6, 10, 11, 13, 14, 26}  # BUSY, LOCKED, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB


def _query_error(exc: sqlite3.Error, private: set[str], timeout: float | None) -> BadInput:
    text = str(exc)
    if "interrupted" in text:
        return BadInput(f"the query ran longer than {timeout:g} s and was stopped; narrow it or pass a longer --timeout"
                        " (0: no limit)")
    if "not authorized" in text or "prohibited" in text:
        return BadInput(f"key material cannot be read with SQL ({private_reads(private)}); use evsh keys")
    if "readonly" in text or "read-only" in text or "query_only" in text or "attached databases" in text:
        return BadInput("evsh sql is read-only: writes are refused (change data with commands)")
    return BadInput(f"SQL error: {text}")
