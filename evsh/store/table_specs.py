"""Declaring a table: its name, typed columns, primary key and indexes, checked once; the
values a table takes and gives back; and what a backend does for one physical table
(:class:`TableOps`). The runtime that batches a replay's row changes is :mod:`evsh.store.tables`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from ..errors import DomainError
from . import codec

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

KINDS = ("text", "int", "real", "decimal", "json", "bool", "blob")
_BY_TYPE = {str: "text", int: "int", float: "real", Decimal: "decimal", dict: "json", list: "json",
            tuple: "json", bool: "bool", bytes: "blob"}
_ALIASES = {"str": "text", "integer": "int", "float": "real", "numeric": "decimal", "bytes": "blob",
            "boolean": "bool", "string": "text"}
# Prefixes no declared table may take: evsh's own, the backends' system catalogues, shadow tables.
RESERVED_PREFIXES = ("evsh_", "sqlite_", "pg_")


class RowNotFound(LookupError):
    """``get``/``update`` of a primary key that has no row."""


class RowNotWritten(ValueError):
    """A row change that the table refused when it was written (at ``flush``); ``origin`` is
    what the caller was handling when it made the change (the engine sets the event there)."""

    def __init__(self, message: str, origin: Any = None) -> None:
        super().__init__(message)
        self.origin = origin


class RowExists(RowNotWritten):
    """``insert`` of a primary key that already has a row (use ``upsert`` or ``replace=True``).

    Raised by ``insert`` when the row is known, otherwise by ``flush`` (with its ``origin``).
    """


class KeyTaken(Exception):
    """Raised by a backend's ``TableOps.insert``: row ``index`` of the batch hit a taken key."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class RowRefused(Exception):
    """Raised by a backend's ``TableOps``: row ``index`` of the batch could not be written
    (the rows before it were); ``reason`` says why."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def check_ident(name: object, what: str) -> str:
    if not isinstance(name, str) or not _IDENT.match(name):
        raise DomainError(f"{what} {name!r}: use letters, digits and _ (not starting with a digit)")
    return name


def _kind(value: Any, where: str) -> str:
    if isinstance(value, type) and value in _BY_TYPE:
        return _BY_TYPE[value]
    if isinstance(value, str):
        k = _ALIASES.get(value.lower(), value.lower())
        if k in KINDS:
            return k
    raise DomainError(
        f"{where}: column type {value!r} is not one of str, int, float, Decimal, bool, dict, list, bytes"
        " (or the names text, int, real, decimal, bool, json, blob)"
    )


def quote(name: str) -> str:
    """An identifier for SQL (names are checked identifiers; quoting keeps keywords usable)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableSpec:
    """A declared table: its columns (name -> kind), primary key and indexes.

    ``serial`` names an integer key column the store numbers itself (a dead letter's id);
    ``private`` tables (key material) are never readable through read-only SQL (``evsh sql``).
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    pk: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()
    serial: str | None = None
    private: bool = False
    unique: tuple[tuple[str, ...], ...] = ()

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        """Worked out once per declaration: every Table handed out reads it."""
        return tuple(c for c, _ in self.columns)

    @cached_property
    def column_set(self) -> frozenset[str]:
        return frozenset(self.column_names)

    @cached_property
    def decoders(self) -> tuple[tuple[int, str, Callable[[Any], Any]], ...]:
        """(index, column, decoder) of the columns whose stored value needs decoding (decimal,
        json, bool, blob), worked out once per declaration rather than per Table."""
        return tuple((i, c, DECODERS[k]) for i, (c, k) in enumerate(self.columns) if k in DECODERS)

    @cached_property
    def _hash(self) -> int:
        return hash((self.name, self.columns, self.pk, self.indexes, self.serial, self.private, self.unique))

    def __hash__(self) -> int:
        """The declaration's hash, computed once: stores key their statements by (spec, table)
        and look them up at every handler's table access."""
        return self._hash

    def index_name(self, cols: Sequence[str], physical: str | None = None) -> str:
        return f"{physical or self.name}__by_" + "_".join(cols)

    def describe(self) -> str:
        """A stable text of the declared shape (stored to notice a changed declaration)."""
        return codec.dumps([self.name, list(map(list, self.columns)), list(self.pk), list(map(list, self.indexes))])


def table(
    name: str,
    columns: Mapping[str, Any],
    *,
    pk: str | Sequence[str] | None = None,
    indexes: Iterable[str | Sequence[str]] = (),
    unique: Iterable[Sequence[str]] = (),
    serial: str | None = None,
    private: bool = False,
    reserved: Callable[[str], bool] | None = None,
) -> TableSpec:
    """Declare a table: ``table("order_details", {"order_id": str, "total": Decimal}, pk="order_id")``.

    Without a primary key the table only takes ``insert`` (an append-only log) and the
    ``*_where`` queries; with one, rows are addressed by it (a tuple for a compound key).
    ``reserved`` says whether a name is taken by evsh itself (the engine passes it for domain
    tables; evsh's own declarations are the names it knows).
    """
    check_ident(name, "table name")
    if name.startswith(RESERVED_PREFIXES) or (reserved is not None and reserved(name)):
        raise DomainError(f"table name {name!r} is reserved for evsh's own tables; choose another")
    if "__" in name:
        raise DomainError(f"table name {name!r}: '__' is reserved for evsh's shadow tables")
    if not columns:
        raise DomainError(f"table {name}: declare at least one column")
    cols = tuple((check_ident(c, f"table {name}: column"), _kind(t, f"table {name}, column {c}"))
                 for c, t in columns.items())
    names = {c for c, _ in cols}

    def group(spec: str | Sequence[str], what: str) -> tuple[str, ...]:
        g = (spec,) if isinstance(spec, str) else tuple(spec)
        for c in g:
            if c not in names:
                raise DomainError(f"table {name}: {what} column {c!r} is not a declared column")
        return g

    keys = group(pk, "primary key") if pk else ()
    if serial is not None and (keys != (serial,) or dict(cols)[serial] != "int"):
        raise DomainError(f"table {name}: the serial column {serial!r} must be the int primary key")
    return TableSpec(name, cols, keys, tuple(group(i, "index") for i in indexes), serial, private,
                     tuple(group(u, "unique") for u in unique))


# ----------------------------------------------------------------------------- DDL and values

def create_table_sql(spec: TableSpec, physical: str | None, types: Mapping[str, str], serial: str,
                     keyed_suffix: str = "") -> str:
    """CREATE TABLE for a declaration in a backend's dialect: its column ``types`` per kind, how
    it spells a ``serial`` key, and what follows a table with a primary key (SQLite's WITHOUT
    ROWID); under ``physical`` (a shadow name during a rebuild) when given."""
    cols = []
    for c, k in spec.columns:
        if c == spec.serial:
            cols.append(f"{quote(c)} {serial}")
        else:
            cols.append(f"{quote(c)} {types[k]}" + (" NOT NULL" if c in spec.pk else ""))
    if spec.pk and not spec.serial:
        cols.append(f"PRIMARY KEY ({', '.join(quote(c) for c in spec.pk)})")
    for group in spec.unique:
        cols.append(f"UNIQUE ({', '.join(quote(c) for c in group)})")
    suffix = keyed_suffix if spec.pk and not spec.serial else ""
    return f"CREATE TABLE IF NOT EXISTS {quote(physical or spec.name)} ({', '.join(cols)}){suffix}"


def index_sql(spec: TableSpec, physical: str | None = None) -> list[str]:
    """CREATE INDEX statements, named after the table that finally carries them."""
    name = physical or spec.name
    return [f"CREATE INDEX IF NOT EXISTS {quote(spec.index_name(cols, name))}"
            f" ON {quote(name)} ({', '.join(quote(c) for c in cols)})" for cols in spec.indexes]


def plain_value(value: Any) -> Any:
    """A value as a table takes it: dict/list as JSON text, str and int subclasses (enums) as
    their plain value; bool and Decimal as they are (a backend that has no such type converts)."""
    t = type(value)
    if t is dict or t is list or t is tuple:
        return codec.dumps(value)
    if t is bool or t is Decimal or t is bytes:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"a {t.__name__} cannot be stored in a table; use str, int, float, Decimal, bool, dict, list")


def _decimal(v: Any) -> Any:
    return v if v is None or type(v) is Decimal else Decimal(str(v))


def _json(v: Any) -> Any:
    return codec.loads(v) if isinstance(v, (str, bytes)) else v


def _bool(v: Any) -> Any:
    return None if v is None else bool(v)


def _blob(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview) else v


def _int(v: Any) -> Any:
    """An int column's value as an int, however a backend kept a large one (SQLite: its digits
    in a blob; PostgreSQL: numeric)."""
    t = type(v)
    if t is int or v is None:
        return v
    if t is bytes:
        try:
            return int(v)
        except ValueError:
            return v
    if t is Decimal and v == v.to_integral_value():
        return int(v)
    return v


DECODERS: dict[str, Callable[[Any], Any]] = {"decimal": _decimal, "json": _json, "bool": _bool, "blob": _blob,
                                              "int": _int, "real": _int}


class TableOps(Protocol):
    """What a backend does for one physical table, in its own dialect, on its own connection.

    Rows travel as tuples in declared column order, keys as tuples in primary key order.
    """

    def get(self, key: tuple) -> Sequence[Any] | None: ...

    def insert(self, rows: list[tuple]) -> None:
        """Plain inserts; a taken key raises :class:`KeyTaken` naming the row."""
        ...

    def replace(self, rows: list[tuple]) -> None:
        """Insert each row, or replace the row its key names."""
        ...

    def delete(self, keys: list[tuple]) -> None: ...

    def add(self, row: tuple) -> bool:
        """Insert now unless the key is taken; True when the row was written."""
        ...

    def add_at_commit(self, row: tuple) -> None:
        """Insert unless the key is taken, at the latest with the transaction's commit."""
        ...

    def select(self, where: str | None, params: Sequence[Any], order_by: str | None,
               limit: int | None, columns: Sequence[str] | None = None) -> list[Sequence[Any]]: ...

    def count(self, where: str | None, params: Sequence[Any]) -> int: ...

    def delete_where(self, where: str | None, params: Sequence[Any]) -> int: ...

    def update_where(self, values: Mapping[str, Any], where: str | None, params: Sequence[Any]) -> int: ...

    def to_sql(self, value: Any) -> Any:
        """A Python value as this backend stores it (Decimal, dict/list, bool, enums)."""
        ...
