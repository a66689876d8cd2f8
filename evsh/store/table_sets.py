"""The tables around a :class:`~evsh.store.tables.Table`: the set one handler may touch
(:class:`Tables`), and the operations of a declared table not created yet (:class:`MissingTable`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from ..errors import StoreError
from .table_specs import TableSpec

if TYPE_CHECKING:
    from .tables import Table


class MissingTable:
    """The operations of a declared table not created yet: it reads as empty, and writing to it
    is a mistake of the caller's (its feature ensures its tables before it writes)."""

    def __init__(self, name: str, to_sql: Callable[[Any], Any]) -> None:
        self.name = name
        self.to_sql = to_sql

    def get(self, key: tuple) -> None:
        return None

    def select(self, *args: Any, **kw: Any) -> list:
        return []

    def count(self, where: str | None, params: Sequence[Any]) -> int:
        return 0

    def delete(self, keys: list[tuple]) -> None:
        pass

    def delete_where(self, where: str | None, params: Sequence[Any]) -> int:
        return 0

    def update_where(self, values: Mapping[str, Any], where: str | None, params: Sequence[Any]) -> int:
        return 0

    def _write(self, *args: Any) -> Any:
        raise StoreError(f"table {self.name} does not exist yet; it is created when its feature first runs")

    insert = replace = add = _write


class Tables:
    """The tables one handler may touch: ``rows.table("order_details")`` or ``rows["order_details"]``."""

    def __init__(self, store: Any, specs: Sequence[TableSpec], physical: Mapping[str, str] | None = None) -> None:
        self.current: Any = None  # what the handler is handling (the event): named by errors found at flush
        self._tables = {s.name: store.table(s, (physical or {}).get(s.name), owner=self) for s in specs}

    def table(self, name: str) -> Table:
        try:
            return self._tables[name]
        except KeyError:
            known = ", ".join(self._tables) or "none"
            raise KeyError(f"no table {name!r} here (declared: {known})") from None

    __getitem__ = table

    def __iter__(self) -> Iterator[Table]:
        return iter(self._tables.values())

    def keep_keys(self) -> None:
        """Each table holds only the rows written through it from here on: see Table.keep_keys."""
        for t in self._tables.values():
            t.keep_keys()

    def flush(self) -> None:
        for t in self._tables.values():
            t.flush()

    def discard(self) -> None:
        for t in self._tables.values():
            t.discard()
