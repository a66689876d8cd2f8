"""History is not news: events written as history (imported, seeded) never reach reactors.

An import without ``--react``, and a seed, writes its events at consecutive positions in one
transaction and records that range there too, in ``imported_ranges`` (a table this module
declares). Reactors skip every event inside a recorded range, whether or not the domain (or the
reactor) was known when the history was written: the next command after a domain-less import
sends no e-mail for imported users.

Reactors ask once per batch, from ranges cached per store and reloaded when the store's epoch
moves (another process committed, a rollback, an import here) or this cache was told a range
was recorded: the delivery path pays no query for it.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from ..errors import StoreCorrupt
from ..store.tables import table

OWNER = "history"
IMPORTED_RANGES = table("imported_ranges", {"first_position": int, "last_position": int, "recorded_at": str},
                        pk="first_position")
TABLES = (IMPORTED_RANGES,)


def mark(store: Any, since: int) -> tuple[int, int] | None:
    """Record the positions after ``since`` up to the head as history, inside the caller's
    transaction (an import's or a seed's). Returns the range, or None when nothing was written."""
    with store.transaction():
        head = store.head_position()
        if head <= since:
            return None
        store.ensure_tables(TABLES, owner=OWNER)
        store.table(IMPORTED_RANGES).add({"first_position": since + 1, "last_position": head,
                                          "recorded_at": store.clock()})
    return since + 1, head


class Ranges:
    """The recorded history ranges of a store, as (first, last) positions in order, cached."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._ranges: list[tuple[int, int]] = []
        self._firsts: list[int] = []
        self._last = 0  # the highest position inside any range

    def forget(self) -> None:
        """A range was recorded through this process: read them again."""
        self._key = None

    def within(self, store: Any, first: int, last: int) -> list[tuple[int, int]]:
        """The ranges overlapping positions ``first`` .. ``last`` (usually none)."""
        key = (id(store), store.epoch())
        if key != self._key:
            rows = store.table(IMPORTED_RANGES).rows_where(order_by="first_position")
            self._ranges = [(r["first_position"], r["last_position"]) for r in rows]
            if not all(type(a) is int and type(b) is int for a, b in self._ranges):
                raise StoreCorrupt("the store's record of imported history holds a range that is not two positions;"
                                   " the store is damaged, restore it from a backup")
            self._firsts = [r[0] for r in self._ranges]
            self._last = max((r[1] for r in self._ranges), default=0)
            self._key = key
        if first > self._last:
            return []
        out = []
        for r in self._ranges[max(0, bisect_right(self._firsts, first) - 1):]:
            if r[0] > last:
                break
            if r[1] >= first:
                out.append(r)
        return out

    def past(self, store: Any, position: int) -> int:
        """The last position of the history ``position`` is in (ranges that touch run together),
        or ``position - 1`` when it is in none: where a reader standing before it may move to."""
        for first, last in self.within(store, position, position):
            if first <= position:
                return self.past(store, last + 1)
        return position - 1


def covered(ranges: list[tuple[int, int]], position: int) -> bool:
    """Whether ``position`` is inside one of ``ranges`` (a few, from :meth:`Ranges.within`)."""
    for first, last in ranges:
        if first <= position <= last:
            return True
    return False
