"""Declared tables in the store, the same on every backend: creating them where missing,
recording who owns each in the ``evsh_tables`` catalogue, handing out :class:`Table` objects,
and swapping a rebuilt projection's shadow tables in.

A mixin of each store; the backend supplies its dialect: ``_list_tables`` (what exists),
``_create_sql``/``_index_sql`` (DDL for a declaration), ``_new_ops`` (a table's statements),
``_rename_table`` and ``_table_stamp`` (when the list of tables may have changed).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from . import codec
from .tables import MissingTable, Table, TableOps, TableSpec, check_ident, quote


_ENSURED_MAX = 64  # tuples remembered per stamp (a caller making a new tuple each time starts it over)


class Catalogue:
    """Declared tables (a mixin of each store)."""

    # (table stamp, id -> a tuple of declarations found whole): looked up by the tuple's identity,
    # not its hash (a Python call per declaration in it); the tuple kept alive keeps its id its own
    _ensured: tuple[Any, dict[int, tuple[TableSpec, ...]]] | None = None

    def _table_names(self) -> frozenset[str]:
        """The store's tables and views, read again when the backend's stamp moves."""
        stamp = self._table_stamp()
        known = self._tables_known
        if known is None or known[0] != stamp:
            known = self._tables_known = (stamp, frozenset(self._list_tables()))
        return known[1]

    def _forget_tables(self) -> None:
        self._tables_known = None
        self._ensured = None
        self.forget_records()  # a table made or dropped here: its remembered rows may be gone

    def table_exists(self, name: str) -> bool:
        return name in self._table_names()

    def table(self, spec: TableSpec, physical: str | None = None, *, owner: Any = None) -> Table:
        """A :class:`Table` on the declared table (its rows under ``physical`` when given). A table
        not created yet reads as empty (see :meth:`ensure_tables`)."""
        return Table(self.table_ops(spec, physical), spec, physical, owner)

    def table_ops(self, spec: TableSpec, physical: str | None = None) -> TableOps:
        """The backend's statements on the declared table, without a :class:`Table` around
        them: for evsh's own records written a row at a time as plain values in column order
        (a processed event, a command's parameters, metrics), where building the Table cost
        more than the statement on every command's path."""
        name = physical or spec.name
        if name not in self._table_names():
            return MissingTable(name, self._to_sql)
        ops = self._ops.get((spec, name))
        if ops is None:
            ops = self._ops[(spec, name)] = self._new_ops(spec, name)
        return ops

    def lock_row(self, spec: TableSpec, key: Any) -> dict[str, Any] | None:
        """A row read inside a write transaction so that no other writer changes it before this
        one commits (a row lock on a server; SQLite's write lock holds everyone off already)."""
        if not self.table_exists(spec.name):
            return None
        where = " AND ".join(f"{quote(c)}=?" for c in spec.pk)
        row = self._one(f"SELECT {', '.join(quote(c) for c in spec.column_names)} FROM {quote(spec.name)}"
                        f" WHERE {where}{self.FOR_UPDATE}", key if isinstance(key, tuple) else (key,))
        return self.table(spec)._decode(row) if row is not None else None

    def ensure_tables(self, specs: Iterable[TableSpec], physical: Mapping[str, str] | None = None, *,
                      owner: str, indexes: bool = True) -> list[str]:
        """Create the declared tables that do not exist yet (under their shadow names when
        given), recorded in the catalogue as ``owner``'s; returns the names created. Existing
        tables are left as they are. Writes only when something is missing.

        A tuple of declarations found whole is remembered until the list of tables may have
        changed: reactors and metrics ensure theirs with every command."""
        whole = type(specs) is tuple and not physical
        if whole:
            stamp = self._table_stamp()
            ensured = self._ensured
            if ensured is not None and ensured[0] == stamp and ensured[1].get(id(specs)) is specs:
                return []
        wanted = [(s, (physical or {}).get(s.name, s.name)) for s in specs]
        missing, uncatalogued = self._missing_tables(wanted)
        if not missing and not uncatalogued:
            if whole:
                if self._ensured is None or self._ensured[0] != stamp or len(self._ensured[1]) >= _ENSURED_MAX:
                    self._ensured = (stamp, {})
                self._ensured[1][id(specs)] = specs
            return []
        with self.transaction():
            if self._lock_tables():  # another process may have made them since: look again
                self._forget_tables()
                self._catalogue_known = None
                missing, uncatalogued = self._missing_tables(wanted)
                if not missing and not uncatalogued:
                    return []
            for s, name in missing:
                self._run(self._create_sql(s, name))
                if indexes:
                    for stmt in self._index_sql(s, name):
                        self._run(stmt)
            self._catalogue([s for s, name in wanted if name == s.name], owner)
            self._forget_tables()
        return [name for _, name in missing]

    def _missing_tables(self, wanted: Sequence[tuple[TableSpec, str]]
                        ) -> tuple[list[tuple[TableSpec, str]], list[TableSpec]]:
        """(tables to create, tables to enter in the catalogue) of (spec, physical name) pairs."""
        known = self._table_names()
        missing = [(s, name) for s, name in wanted if name not in known]
        catalogued = self._catalogued()  # once, not once per table: each look may ask the store
        uncatalogued = [s for s, name in wanted if name == s.name and s.name not in catalogued]
        return missing, uncatalogued

    def _catalogued(self) -> frozenset[str]:
        stamp = self._table_stamp()
        known = self._catalogue_known
        if known is None or known[0] != stamp:
            known = self._catalogue_known = (stamp, frozenset(r[0] for r in self._all("SELECT name FROM evsh_tables")))
        return known[1]

    def _catalogue(self, specs: Sequence[TableSpec], owner: str) -> None:
        self._run_many(
            "INSERT INTO evsh_tables (name, owner, private, spec, created_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, private=excluded.private, spec=excluded.spec",
            [(s.name, owner, s.private, s.describe(), self.clock()) for s in specs])
        self._catalogue_known = None

    def drop_tables(self, names: Iterable[str]) -> None:
        """Drop tables (and their catalogue rows) inside the caller's transaction."""
        for name in names:
            self._run(f"DROP TABLE IF EXISTS {quote(check_ident(name, 'table name'))}")
            self._run("DELETE FROM evsh_tables WHERE name=?", (name,))
        self._forget_tables()
        self._catalogue_known = None

    def swap_tables(self, specs: Sequence[TableSpec], physical: Mapping[str, str], *, owner: str) -> None:
        """Replace each table by its shadow (``physical``) and build its indexes, inside the
        caller's transaction: readers see the old tables until it commits."""
        for s in specs:
            self._run(f"DROP TABLE IF EXISTS {quote(s.name)}")
            self._rename_table(physical[s.name], s.name)
            for stmt in self._index_sql(s, s.name):
                self._run(stmt)
        self._catalogue(specs, owner)
        self._forget_tables()

    def count_rows(self, name: str) -> int | None:
        """Rows in a table, or None when it does not exist."""
        if not self.table_exists(name):
            return None
        return self._one(f"SELECT count(*) FROM {quote(check_ident(name, 'table name'))}")[0]

    def tables(self) -> list[dict[str, Any]]:
        """The declared tables of the catalogue: name, owner, columns (name, kind), private."""
        out = []
        for name, owner, private, spec in self._all("SELECT name, owner, private, spec FROM evsh_tables ORDER BY name"):
            shape = codec.loads(spec)
            out.append({"name": name, "owner": owner, "private": bool(private),
                        "columns": [tuple(c) for c in shape[1]], "pk": shape[2]})
        return out
