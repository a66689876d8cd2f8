"""Declaring a domain's tables, and the names evsh's own tables take.

A domain declares the tables of its projections and reactors with :func:`table` (the public
``evsh.table``). The names it may not take come from declarations, not from a kept list: the
store's own tables (read from its schema) and the tables evsh's features declare (reactors'
records, metrics, projections' status and skips, recorded history, broker relays and consumers).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from ..store.tables import TableSpec
from ..store.tables import table as declare


@lru_cache(maxsize=1)
def evsh_tables() -> frozenset[str]:
    """Every table name evsh itself uses: the store's and its features'."""
    from ..store.sqlite.schema import CORE_TABLES
    from ..broker import inbox as consumers
    from ..broker import state as relays
    from . import history, metrics, projections
    from .reactors import records

    features = (*records.TABLES, *metrics.TABLES, *projections.TABLES, *history.TABLES, *relays.TABLES,
                *consumers.TABLES)
    return CORE_TABLES | frozenset(t.name for t in features)


def reserved(name: str) -> bool:
    return name in evsh_tables()


def table(
    name: str,
    columns: Mapping[str, Any],
    *,
    pk: str | Sequence[str] | None = None,
    indexes: Iterable[str | Sequence[str]] = (),
) -> TableSpec:
    """Declare a table: ``table("order_details", {"order_id": str, "total": Decimal}, pk="order_id")``.

    Without a primary key the table only takes ``insert`` (an append-only log) and the
    ``*_where`` queries; with one, rows are addressed by it (a tuple for a compound key).
    Column types: str, int, float, Decimal, bool, dict, list, bytes (or text, int, real,
    decimal, bool, json, blob).
    """
    return declare(name, columns, pk=pk, indexes=indexes, reserved=reserved)
