"""Streams are their events: listing, counting and paging them by id, on every backend.

A stream is read from the events' (stream_id, version) index; only a stream with lifecycle
rules keeps a row (``stream_rules``), and one whose events were all scavenged has only that row:
those are rare and merged in. Pages are keyed by stream id, never OFFSET over every stream.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from . import reads
from .base import StreamInfo
from .recorded import category_of

_LAST_ID = "\U0010ffff"
Query = Callable[[str, tuple], list]


def _live_streams_sql(
    category: str | None, text: str, prefix: str | None, after: str | None, before: str | None,
) -> tuple[Callable[[str], str], tuple]:
    """(column -> WHERE clause, its parameters) for the live streams' key range and filters.
    Only one lower and one upper bound reach the index: given two, SQLite ranges on one and
    scans on from there."""
    low, low_op, high = "", ">=", None
    filters: list[str] = []
    values: list[Any] = []
    if category is not None:  # one key range: "order" and "order-..." up to "order."
        low, high = category, category + "."
        filters.append("({col} = ? OR substr({col}, 1, ?) = ?)")
        values += [category, len(category) + 1, category + "-"]
    if prefix:
        low, high = max(low, prefix), min(high or _LAST_ID, prefix + _LAST_ID)
    if text:  # LIKE, escaped: the same on every backend
        filters.append("lower({col}) LIKE ? ESCAPE '\\'")
        values.append(reads.like_contains(text.lower()))
    if after is not None and after >= low:
        low, low_op = after, ">"
    if before is not None and (high is None or before < high):
        high = before

    def where(col: str) -> str:
        terms = [f"{col} {low_op} ?"] + ([f"{col} < ?"] if high is not None else [])
        return " AND ".join(terms + [f.format(col=col) for f in filters])

    return where, (low, *(() if high is None else (high,)), *values)


def live_streams(
    query: Query, category: str | None = None, *, text: str = "", prefix: str | None = None,
    after: str | None = None, before: str | None = None, limit: int | None = None, offset: int = 0,
    times: bool = True, count: bool = False, by_category: bool = False,
) -> list[tuple]:
    """The live streams as (stream_id, version, first time, last time) in id order; with
    ``count`` their number, with ``by_category`` (category, number) per category: a category's, with an id prefix, containing ``text``, after and
    before given ids, ``limit`` from ``offset``. ``query(sql, params)`` runs SQL (any connection).

    A stream is its events, read from their (stream_id, version) index; a deleted one has a
    rules row saying so. One whose events were all scavenged has only its rules row: those are
    rare and merged in here. ``times=False`` leaves out the times (a lookup each).
    """
    where, params = _live_streams_sql(category, text, prefix, after, before)
    alone = query(
        f"SELECT r.stream_id, r.version, r.created_at, r.updated_at FROM stream_rules r WHERE {where('r.stream_id')}"
        " AND r.deleted = 0 AND NOT EXISTS (SELECT 1 FROM events x WHERE x.stream_id = r.stream_id)"
        " ORDER BY r.stream_id", params)
    derived = (f"SELECT e.stream_id AS stream_id, max(e.version) AS version FROM events e WHERE {where('e.stream_id')}"
               " GROUP BY e.stream_id HAVING NOT EXISTS (SELECT 1 FROM stream_rules d"
               " WHERE d.stream_id = e.stream_id AND d.deleted > 0)")
    if count:  # every stream with events, less the deleted ones (few: they have rules rows)
        streams = query(f"SELECT count(*) FROM (SELECT 1 FROM events e WHERE {where('e.stream_id')}"
                        " GROUP BY e.stream_id) AS per_stream", params)[0][0]
        gone = query(f"SELECT count(*) FROM stream_rules d WHERE {where('d.stream_id')} AND d.deleted > 0"
                     " AND EXISTS (SELECT 1 FROM events x WHERE x.stream_id = d.stream_id)", params)[0][0]
        return [(streams - gone + len(alone),)]
    if by_category:  # hop from category to category along the index, counting each one's range
        counts: dict[str, int] = {}
        low = ""
        while True:
            found = query("SELECT stream_id FROM events WHERE stream_id >= ? ORDER BY stream_id LIMIT 1", (low,))
            if not found:
                break
            sid = found[0][0]
            cat = category_of(sid)
            if cat not in counts:
                counts[cat] = live_streams(query, cat, text=text, prefix=prefix, count=True)[0][0]
            # past "cat-..." (counted); ids between "cat" and "cat-" ("cat+x") are other categories
            low = sid + "\x00" if sid == cat else cat + "."
        for cat in {category_of(row[0]) for row in alone} - counts.keys():  # categories left with no events
            counts[cat] = live_streams(query, cat, count=True)[0][0]
        return sorted((c, n) for c, n in counts.items() if n)
    first = ("(SELECT f.recorded_at FROM events f WHERE f.stream_id = g.stream_id ORDER BY f.version LIMIT 1)"
             if times else "NULL")
    last = ("(SELECT l.recorded_at FROM events l WHERE l.stream_id = g.stream_id AND l.version = g.version)"
            if times else "NULL")
    sql = f"SELECT g.stream_id, g.version, {first}, {last} FROM ({derived} ORDER BY e.stream_id"
    if limit is None:
        rows = query(sql + ") g", params)
    elif not alone:
        return query(sql + " LIMIT ? OFFSET ?) g", (*params, limit, offset))
    else:
        rows = query(sql + " LIMIT ?) g", (*params, offset + limit))
    merged = sorted([*rows, *alone]) if alone else rows
    return merged[offset:] if limit is None else merged[offset:offset + limit]


class Streams:
    """Stream listings (a mixin of each store): SQL written with ``?`` placeholders, run by the
    backend's ``_all``."""

    @property
    def page_size(self) -> int:
        """Rows per page of a streamed listing: as many as a page of events."""
        return reads.PAGE

    def _query(self, sql: str, params: tuple) -> list:
        return self._all(sql, params)

    def streams(
        self, category: str | None = None, *, after: str | None = None, limit: int | None = None,
        prefix: str | None = None,
    ) -> Iterator[StreamInfo]:
        """Live streams in id order, paged by key; optionally of one category or with an id prefix."""
        remaining = limit if limit is not None else -1
        cursor = after
        while remaining != 0:
            size = self.page_size
            page = size if remaining < 0 else min(size, remaining)
            rows = live_streams(self._query, category, prefix=prefix, after=cursor, limit=page)
            for sid, version, first_at, last_at in rows:
                yield StreamInfo(sid, category_of(sid), version, first_at, last_at)
            if len(rows) < page:
                return
            cursor = rows[-1][0]
            if remaining > 0:
                remaining -= len(rows)

    def stream_page(self, category: str | None = None, *, text: str = "", after: str | None = None,
                    limit: int | None = None, offset: int = 0) -> list[tuple[str, int, str | None, str | None]]:
        """(stream_id, version, first time, last time) of live streams in id order: a category's,
        containing ``text``, after a given id, ``limit`` from ``offset``."""
        return live_streams(self._query, category, text=text, after=after, limit=limit, offset=offset)

    def stream_count(self, category: str | None = None, *, text: str = "", before: str | None = None) -> int:
        """How many live streams (of a category, containing ``text``, with ids before ``before``)."""
        return live_streams(self._query, category, text=text, before=before, count=True)[0][0]

    def categories(self) -> list[tuple[str, int]]:
        """(category, live streams) for every category with any."""
        return live_streams(self._query, by_category=True)
