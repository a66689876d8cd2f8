"""Declared tables: read models, reactors' side-effect records, and evsh's own feature records.

A table is declared once, with :func:`table` (name, typed columns, primary key, indexes), by
whoever owns it: a domain's projection or reactor, or an evsh feature (reactors' processed
records, dead letters, metrics, subject keys, ...). The backend creates it in its own dialect
and hands out :class:`Table` objects bound to its connection: no SQL text outside the backend
modules but the ``where`` fragments callers pass (parameters bound with ``?`` on every backend).

:class:`Table` is shaped like sqlite-utils' (``insert``, ``upsert``, ``update``, ``delete``,
``get``, ``rows_where``) but built for replaying a million events: one sqlite-utils call costs
30-65 µs here, a raw execute about 2 µs. So row changes are kept in memory per batch, one final
state per primary key, and written with one ``executemany`` per table at :meth:`Table.flush`.
Reads see the batch's own changes (read-your-writes): ``get`` looks at the pending state first,
and queries that SQL has to answer (``rows_where``, ``count``, ``delete_where``) flush before
they run. ``add`` and ``put`` write at once, for records that must be checked as they are made
(a processed event, a dead letter).

A caller that knows a table holds no row but those it writes through one :class:`Table` (its
tables were just created, in a transaction that holds every other writer off) makes it
:meth:`Table.keep_keys`: the table then answers a read of a key it never wrote without asking
the database (a projection built alongside a seed asks for keys not yet written ~76,000 times
per 100,000 events: an order counted once, an event applied once).

Values travel as typed Python values: a ``Decimal`` column reads back as a ``Decimal``, a
``dict``/``list`` column as a ``dict``/``list``, a ``bool`` column as a ``bool``, and an
``int`` as the same ``int`` however large (as the event codec keeps it), whatever the backend
stores them as. A row that cannot be written is named by the event that changed it
(:class:`RowNotWritten`). Table and column names are plain identifiers, checked when declared.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

# Declaring tables lives in table_specs, the set of a handler's tables in table_sets; their names
# are re-exported here, where callers look.
from .table_sets import MissingTable, Tables
from .table_specs import (
    DECODERS,
    KINDS,
    RESERVED_PREFIXES,
    KeyTaken,
    RowExists,
    RowNotFound,
    RowNotWritten,
    RowRefused,
    TableOps,
    TableSpec,
    check_ident,
    create_table_sql,
    index_sql,
    plain_value,
    quote,
    table,
)

__all__ = ["DECODERS", "KINDS", "RESERVED_PREFIXES", "KeyTaken", "MissingTable", "RowExists", "RowNotFound",
           "RowNotWritten", "RowRefused", "Table", "TableOps", "TableSpec", "Tables", "check_ident",
           "create_table_sql", "index_sql", "plain_value", "quote", "table"]

# ----------------------------------------------------------------------------- the runtime

# Pending entries are [state, row, what changed it last (the event)]. States: CLEAN (read,
# unchanged), DIRTY (final row known: insert or replace),
# DELETED, NEW (inserted without asking the table whether the key is taken: a plain INSERT at
# flush, so a replay into an empty shadow table pays no lookup per insert).
_CLEAN, _DIRTY, _DELETED, _NEW = 0, 1, 2, 3
_MISSING: Any = object()
_PLAIN = frozenset({str, int, float, type(None)})
# More keys than this in one table and the table asks the database again (bounded memory).
KEPT_KEYS_LIMIT = 2_000_000


def _first(item: tuple) -> Any:
    return item[0]


class Table:
    """One table as a handler sees it, inside the caller's transaction.

    Row changes wait in memory until :meth:`flush` (the engine flushes at the end of each
    batch, before the checkpoint is written in the same transaction). ``physical`` is the
    table actually written: a shadow table while a projection is rebuilt.
    """

    def __init__(self, ops: TableOps, spec: TableSpec, physical: str | None = None, owner: Any = None) -> None:
        self.ops = ops
        self._owner = owner  # a Tables whose ``current`` says what is being handled
        self.spec = spec
        self.name = spec.name
        self.physical = physical or spec.name
        self._cols = spec.column_names
        self._ncols = len(self._cols)
        self._colset = spec.column_set
        self._pk = spec.pk
        self._single = len(spec.pk) == 1
        self._pk0 = spec.pk[0] if self._single else None
        self._pk_set = frozenset(spec.pk)
        self._pending: dict[Any, list] = {}  # key -> [state, row, cause]
        self._appended: list[tuple[dict[str, Any], Any]] = []  # (row, cause) of a table without primary key
        self._decoders = spec.decoders
        self._to_sql = ops.to_sql
        self._written: set | None = None  # with keep_keys: every key the table may hold

    def keep_keys(self) -> None:
        """Take this table to hold no row now, and only the rows written through this object
        from here on (the caller's promise): a key it never wrote is then known to be absent.
        The keys kept are a superset of the table's (a deletion leaves its key), which is all a
        read of a missing key needs."""
        if self._pk:
            self._written = set()

    def __repr__(self) -> str:
        return f"<Table {self.name}{'' if self.physical == self.name else ' -> ' + self.physical}>"

    # ------------------------------------------------------------------ keys and rows
    def _key(self, pk: Any) -> Any:
        if (type(pk) is str or type(pk) is int) and self._single:  # the usual case, first
            return pk
        if not self._pk:
            raise TypeError(f"table {self.name} has no primary key: use rows_where/delete_where")
        if self._single:
            if type(pk) is tuple or type(pk) is list:
                if len(pk) != 1:
                    raise ValueError(f"table {self.name}: primary key is ({self._pk0}), got {pk!r}")
                pk = pk[0]
            if pk is None:
                raise ValueError(f"table {self.name}: primary key {self._pk0} must not be None")
            return pk
        if not isinstance(pk, (tuple, list)) or len(pk) != len(self._pk):
            raise ValueError(f"table {self.name}: primary key is ({', '.join(self._pk)}), got {pk!r}")
        if any(p is None for p in pk):
            raise ValueError(f"table {self.name}: primary key parts must not be None")
        return tuple(pk)

    def _row_key(self, row: Mapping[str, Any]) -> Any:
        try:
            if self._single:
                k = row[self._pk0]
                if k is None:
                    raise KeyError(self._pk0)
                return k
            return tuple(row[c] for c in self._pk)
        except KeyError as exc:
            raise ValueError(f"table {self.name}: row {dict(row)!r} lacks primary key column {exc.args[0]!r}") from None

    def _check_columns(self, row: Mapping[str, Any]) -> None:
        if not self._colset.issuperset(row):
            extra = sorted(set(row) - self._colset)
            raise ValueError(f"table {self.name} has no column {extra[0]!r} (columns: {', '.join(self._cols)})")

    def _decode(self, values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(self._cols, values))
        for i, c, dec in self._decoders:
            row[c] = dec(values[i])
        return row

    def _read(self, key: Any) -> list:
        """The entry for a key not pending: read from the table (unless it was never written
        there) and remembered as clean."""
        written = self._written
        if written is not None and key not in written:  # never written: not there
            entry = self._pending[key] = [_CLEAN, None, None]
            return entry
        got = self.ops.get(key if type(key) is tuple else (key,))
        entry = self._pending[key] = [_CLEAN, self._decode(got) if got is not None else None, None]
        return entry

    def _wrote(self, keys: Iterable[Any]) -> None:
        """Remember keys written (with keep_keys), or stop keeping them past the limit."""
        written = self._written
        if written is not None:
            written.update(keys)
            if len(written) > KEPT_KEYS_LIMIT:
                self._written = None

    def _full(self, row: Mapping[str, Any]) -> dict[str, Any]:
        if len(row) == len(self._cols):  # columns were checked: every one is given
            return dict(row)
        full = dict.fromkeys(self._cols)
        full.update(row)
        return full

    def _cause(self) -> Any:
        """What is being handled (the event), kept with each change to name it if writing fails."""
        return self._owner.current if self._owner is not None else None

    def _encode(self, row: Mapping[str, Any]) -> tuple:
        to_sql = self._to_sql
        return tuple([v if type(v) in _PLAIN else to_sql(v) for v in map(row.__getitem__, self._cols)])

    # ------------------------------------------------------------------ reads
    def get(self, pk: Any, default: Any = _MISSING) -> dict[str, Any]:
        """The row with this primary key (a copy); RowNotFound, or ``default`` when given."""
        key = self._key(pk)
        entry = self._pending.get(key) or self._read(key)
        if entry[1] is None:
            if default is _MISSING:
                raise RowNotFound(f"table {self.name} has no row with primary key {pk!r}")
            return default
        return dict(entry[1])

    def exists(self, pk: Any) -> bool:
        key = self._key(pk)
        return (self._pending.get(key) or self._read(key))[1] is not None

    def rows_where(self, where: str | None = None, params: Sequence[Any] = (), *, order_by: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Rows matching a SQL condition (parameters bound with ?); flushes pending changes first."""
        self.flush()
        return [self._decode(r) for r in self.ops.select(where, tuple(params), order_by, limit)]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows_where())

    def count(self, where: str | None = None, params: Sequence[Any] = ()) -> int:
        self.flush()
        return self.ops.count(where, tuple(params))

    # ------------------------------------------------------------------ writes at once
    def add(self, row: Mapping[str, Any]) -> bool:
        """Write the row now unless its key is taken; True when it was written."""
        self._check_columns(row)
        if self._pending:
            self.flush()
        if self._written is not None:
            self._wrote((self._row_key(row),))
        return self.ops.add(self._encode(self._full(row)))

    def add_at_commit(self, row: Mapping[str, Any]) -> None:
        """Write the row unless its key is taken, at the latest when the transaction commits (a
        server store sends it with the COMMIT): for records no one reads in the same transaction."""
        self._check_columns(row)
        if self._pending:
            self.flush()
        self.ops.add_at_commit(self._encode(self._full(row)))

    def put(self, row: Mapping[str, Any]) -> None:
        """Write the whole row now, replacing the row its key names."""
        self._check_columns(row)
        if self._pending:
            self.flush()
        if self._written is not None:
            self._wrote((self._row_key(row),))
        self.ops.replace([self._encode(self._full(row))])

    def update_where(self, values: Mapping[str, Any], where: str | None = None, params: Sequence[Any] = ()) -> int:
        """Set columns of the rows matching a SQL condition; returns how many changed."""
        self._check_columns(values)
        self.flush()
        if self._written is not None and not self._pk_set.isdisjoint(values):  # keys may change: ask again
            self._written = None
        return self.ops.update_where({k: v if type(v) in _PLAIN else self._to_sql(v) for k, v in values.items()},
                                     where, tuple(params))

    # ------------------------------------------------------------------ writes at flush
    def insert(self, row: Mapping[str, Any], *, replace: bool = False, ignore: bool = False) -> None:
        """Add a row; RowExists when its key is taken (unless ``replace`` or ``ignore``)."""
        if not self._colset.issuperset(row):
            self._check_columns(row)
        if not self._pk:
            self._appended.append((self._full(row), self._cause()))
            return
        key = row.get(self._pk0) if self._single else None
        if key is None:
            key = self._row_key(row)
        entry = self._pending.get(key)
        if entry is None:
            if replace or not ignore:  # a new key is checked by the INSERT at flush time
                owner = self._owner
                self._pending[key] = [_DIRTY if replace else _NEW,
                                      dict(row) if len(row) == self._ncols else self._full(row),
                                      owner.current if owner is not None else None]
                return
            entry = self._read(key)
        if entry[1] is not None and not replace:
            if ignore:
                return
            raise RowExists(f"table {self.name} already has a row with primary key {key!r} (use upsert)")
        if entry[0] != _NEW:
            entry[0] = _DIRTY
        entry[1] = self._full(row)
        entry[2] = self._cause()

    def insert_all(self, rows: Iterable[Mapping[str, Any]], *, replace: bool = False, ignore: bool = False) -> None:
        for row in rows:
            self.insert(row, replace=replace, ignore=ignore)

    def upsert(self, row: Mapping[str, Any]) -> None:
        """Insert the row, or update just the given columns of the existing one."""
        if not self._colset.issuperset(row):
            self._check_columns(row)
        key = row.get(self._pk0) if self._single else None
        if key is None:
            key = self._row_key(row)
        entry = self._pending.get(key) or self._read(key)
        if entry[1] is None:
            entry[1] = self._full(row)
            entry[0] = _DIRTY
        else:
            entry[1].update(row)
            if entry[0] != _NEW:
                entry[0] = _DIRTY
        entry[2] = self._cause()

    def upsert_all(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.upsert(row)

    def update(self, pk: Any, updates: Mapping[str, Any]) -> None:
        """Change some columns of an existing row; RowNotFound when there is none."""
        if not self._colset.issuperset(updates):
            self._check_columns(updates)
        key = self._key(pk)
        entry = self._pending.get(key) or self._read(key)
        if entry[1] is None:
            raise RowNotFound(f"table {self.name} has no row with primary key {pk!r} to update")
        for c in self._pk:
            if c in updates and updates[c] != entry[1][c]:
                raise ValueError(f"table {self.name}: update cannot change primary key column {c!r}")
        entry[1].update(updates)
        if entry[0] != _NEW:
            entry[0] = _DIRTY
        entry[2] = self._cause()

    def delete(self, pk: Any) -> None:
        """Remove the row with this key (nothing happens when there is none)."""
        key = self._key(pk)
        entry = self._pending.get(key)
        if entry is None:
            self._pending[key] = [_DELETED, None, self._cause()]
        else:
            entry[0], entry[1], entry[2] = _DELETED, None, self._cause()

    def delete_where(self, where: str | None = None, params: Sequence[Any] = ()) -> int:
        """Delete rows matching a SQL condition; returns how many went."""
        self.flush()
        return self.ops.delete_where(where, tuple(params))

    def flush(self) -> int:
        """Write pending changes: one executemany for deletions, one per kind of write. A row
        that cannot be written raises RowNotWritten (RowExists for a taken key) naming the event
        that made the change (its ``origin``). Returns how many rows were written or deleted."""
        written = 0
        ops = self.ops
        if self._appended:
            appended, self._appended = self._appended, []
            self._write(ops.insert, [(None, r, cause) for r, cause in appended])
            written += len(appended)
        if not self._pending:
            return written
        pending, self._pending = self._pending, {}
        items: Any = pending.items()
        try:  # in key order: B-tree inserts in order are cheaper (15-30% measured here)
            items = sorted(items, key=_first)
        except TypeError:  # keys of mixed types: leave them as they came
            pass
        deletes = []
        writes = []
        news = []
        for key, entry in items:
            state = entry[0]
            if state == _DIRTY:
                writes.append((key, entry[1], entry[2]))
            elif state == _NEW:
                news.append((key, entry[1], entry[2]))
            elif state == _DELETED:
                deletes.append(key if type(key) is tuple else (key,))
        if deletes:
            ops.delete(deletes)
        if self._written is not None:  # before writing: a refused batch may have written some
            self._wrote(k for k, _, _ in news)
            self._wrote(k for k, _, _ in writes)
        if news:
            self._write(ops.insert, news)
        if writes:
            self._write(ops.replace, writes)
        return written + len(deletes) + len(news) + len(writes)

    def _write(self, op: Callable[[list[tuple]], None], items: list[tuple[Any, dict[str, Any], Any]]) -> None:
        """``op`` over the encoded rows of (key, row, cause) items; a refusal names its cause."""
        encode = self._encode
        try:
            encoded = [encode(r) for _, r, _ in items]
        except TypeError:  # a value no column can keep: named by its event
            for _, row, cause in items:
                try:
                    encode(row)
                except TypeError as exc:
                    raise RowNotWritten(f"table {self.name}: {exc}", cause) from None
            raise
        try:
            op(encoded)
        except KeyTaken as taken:
            key, _, cause = items[min(len(items) - 1, taken.index)]  # the row that failed
            raise RowExists(f"table {self.name} already has a row with primary key {key!r} (use upsert)",
                            cause) from None
        except RowRefused as refused:
            raise RowNotWritten(f"table {self.name}: {refused.reason}", items[min(len(items) - 1, refused.index)][2]
                                ) from None

    def discard(self) -> None:
        """Forget pending changes (after a rollback)."""
        self._pending = {}
        self._appended = []
