"""Reading events, the same on every backend: streams, the global log, and the keyed pages a
virtual list needs.

Reads are paged by key (``key >= cursor LIMIT n``): constant memory on any store size, never
OFFSET over the log. Lifecycle rules (deleted, truncated, max-count, max-age streams) hide
events on every read, in Python from a dict of the few streams that have rules, or in SQL (the
backend's ``HIDDEN_SQL``) when there are many. A mixin of each store: SQL is written with ``?``
placeholders and run by the backend's ``_run``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

from . import visibility as lifecycle_rules
from .base import EVENT_COLUMNS, RecordPage, canonical_event_id, check_stream_id
from .recorded import RawRow, RecordedEvent, marked_in, record_of, records_of
from .visibility import HIDE_ALL, visibility

PAGE = 1000  # rows fetched per query when streaming reads: constant memory on any store size
RULES_WHERE = "deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL"
Keep = Callable[[tuple], bool]
# A stream's (version, deleted state or None, has a rules row): its rules row when it has one
# (appends keep that row's version), else its last event's version (0: no such stream).
STATE_SQL = (
    "SELECT coalesce(r.version, (SELECT max(version) FROM events WHERE stream_id = ?), 0), r.deleted,"
    " r.stream_id IS NOT NULL FROM (SELECT 1) AS one LEFT JOIN stream_rules r ON r.stream_id = ?"
)
META_KEYS = frozenset({"correlation_id", "causation_id", "command_id", "command", "actor"})


def like_contains(text: str) -> str:
    """A LIKE pattern (``ESCAPE '\\'``) matching text that contains ``text`` literally: its
    ``%``, ``_`` and backslashes are escaped, so user text is never a pattern."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _source(stream_id: str | None) -> tuple[str, str, tuple]:
    """(key column, WHERE prefix, its parameters) of the global log or one stream."""
    if stream_id is None:
        return "position", "", ()
    return "version", "stream_id = ? AND ", (stream_id,)


Fetch = Callable[[int, int], tuple[list, Any]]  # (cursor, page size) -> (rows from the cursor on, what else the page says)


class Scan(NamedTuple):
    """A keyset-paged read of the events table: the key it pages by, its further conditions
    (`` AND ...`` with ``?`` placeholders for ``params``) and its direction. Raw rows and
    decoded records are cut from the same scan."""

    key: str  # "position" (the global log) or "version" (one stream)
    where: str
    params: tuple
    backwards: bool

    @property
    def stream(self) -> str | None:
        """The one stream a scan reads (None: the global log): every row's stream id is it (as a
        plain ``str``, as SQLite gives it, whatever the caller passed)."""
        return str.__str__(self.params[0]) if self.key == "version" else None

    def rows_sql(self) -> str:
        """The scan's next rows: parameters (cursor, *params, page size)."""
        op, order = ("<=", "DESC") if self.backwards else (">=", "ASC")
        return (f"SELECT {EVENT_COLUMNS} FROM events WHERE {self.key} {op} ?{self.where}"
                f" ORDER BY {self.key} {order} LIMIT ?")


class Reads:
    """The read side of the events table (a mixin of each store)."""

    # The backend's SQL condition hiding what lifecycle rules hide (one parameter: the time now).
    HIDDEN_SQL: str

    def log_bound(self) -> str | None:
        """The backend's SQL condition (no parameters) keeping a forward read of the log to events
        no later commit can land before; None where commits land in position order (SQLite)."""
        return None

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[RecordedEvent]:
        return _decoded(self.read_stream_records(stream_id, from_version, backwards=backwards, limit=limit))

    def read_stream_pages(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[list[RawRow]]:
        """read_stream's visible events as pages of raw rows (payloads still encoded)."""
        plan = self._stream_scan(stream_id, from_version, backwards)
        if plan is None:
            return iter(())
        scan, cursor, keep = plan
        return _rows(self._pages(scan, cursor, limit, keep, self._rows_fetch(scan)))

    def read_stream_records(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
        marked: str = "",
    ) -> Iterator[RecordPage]:
        """read_stream's visible events a page at a time, decoded, for readers that work a page
        at a time (the engine's read path): see :data:`RecordPage` for ``marked``. Decoded
        from raw rows here; a backend may decode a page in SQL."""
        return _record_pages(self.read_stream_pages(stream_id, from_version, backwards=backwards, limit=limit), marked)

    def _stream_scan(self, stream_id: str, from_version: int | None,
                     backwards: bool) -> tuple[Scan, int, Keep | None] | None:
        """(scan, first cursor, row filter) of a stream's visible events; None when its rules hide them all."""
        check_stream_id(stream_id, reserved_ok=True)
        rule = self._one(
            "SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules WHERE stream_id=?",
            (stream_id,),
        )
        lowest, oldest = self._stream_visibility(stream_id, rule)
        if lowest >= HIDE_ALL:
            return None
        if backwards:
            cursor = from_version if from_version is not None else 2**62
        else:
            cursor = max(from_version if from_version is not None else 1, lowest)
        keep: Keep | None = None
        if lowest > 0 or oldest is not None:
            keep = lambda r: r[3] >= lowest and (oldest is None or r[7] >= oldest)  # noqa: E731
        return Scan("version", " AND stream_id = ?", (stream_id,), backwards), cursor, keep

    def _stream_visibility(self, stream_id: str, rule: tuple | None) -> tuple[int, str | None]:
        """(lowest visible version, oldest visible time) under a stream's rules row (None: no
        rules), remembering which streams age (their loads are not cached)."""
        lowest, oldest = visibility(*rule, self.clock) if rule is not None else (0, None)
        if oldest is not None:
            self._aging.add(stream_id)
        elif self._aging:
            self._aging.discard(stream_id)
        return lowest, oldest

    def read_all(
        self,
        from_position: int = 1,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int | None = None,
        backwards: bool = False,
    ) -> Iterator[RecordedEvent]:
        return _decoded(self.read_all_records(from_position, types=types, categories=categories, limit=limit,
                                              backwards=backwards))

    def read_all_pages(
        self,
        from_position: int = 1,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int | None = None,
        backwards: bool = False,
    ) -> Iterator[list[RawRow]]:
        """read_all's visible events as pages of raw rows (see read_stream_pages)."""
        scan, cursor, keep = self._log_scan(from_position, types, categories, backwards)
        return _rows(self._pages(scan, cursor, limit, keep, self._rows_fetch(scan)))

    def read_all_records(
        self,
        from_position: int = 1,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int | None = None,
        backwards: bool = False,
        marked: str = "",
    ) -> Iterator[RecordPage]:
        """read_all's visible events a page at a time, decoded (see read_stream_records)."""
        return _record_pages(self.read_all_pages(from_position, types=types, categories=categories, limit=limit,
                                                 backwards=backwards), marked)

    def _log_scan(self, from_position: int, types: Sequence[str], categories: Sequence[str],
                  backwards: bool) -> tuple[Scan, int, Keep | None]:
        """(scan, first cursor, row filter) of the global log's visible events."""
        bound = None if backwards else self.log_bound()
        where: list[str] = [bound] if bound else []
        params: list[Any] = []
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        if categories:
            ors = []
            for cat in categories:
                ors.append("(stream_id = ? OR substr(stream_id, 1, ?) = ?)")
                params.extend([cat, len(cat) + 1, cat + "-"])
            where.append("(" + " OR ".join(ors) + ")")
        keep, hidden_sql = self._visibility_plan()
        if hidden_sql:
            where.append(hidden_sql)
            params.append(self.clock())
        start = from_position if not backwards or from_position else 2**62
        return Scan("position", "".join(f" AND {w}" for w in where), tuple(params), backwards), start, keep

    def _visibility_plan(self) -> tuple[Keep | None, str | None]:
        """(Python row filter, SQL condition): how a read over many streams hides what lifecycle rules hide.

        That no stream has rules is remembered inside write transactions until the epoch moves
        (only a lifecycle change makes rules): inline reactors read the log several times per command."""
        if self._depth and self._rules_absent == self.epoch():
            return None, None
        rows = self._all(
            f"SELECT deleted, truncate_before, max_count, max_age, version, stream_id FROM stream_rules WHERE {RULES_WHERE}"
            " LIMIT ?",
            (lifecycle_rules.RULES_IN_MEMORY + 1,),
        )
        if not rows:
            if self._depth:
                self._rules_absent = self.epoch()
            return None, None
        if len(rows) > lifecycle_rules.RULES_IN_MEMORY:
            return None, self.HIDDEN_SQL
        now = self.clock() if any(r[3] is not None for r in rows) else ""
        rules = {r[5]: visibility(*r[:5], lambda: now) for r in rows}

        def keep(row: tuple) -> bool:
            rule = rules.get(row[2])
            return rule is None or (row[3] >= rule[0] and (rule[1] is None or row[7] >= rule[1]))

        return keep, None

    def visible_filter(self) -> Keep | None:
        """A row filter hiding events of deleted, truncated, max-count or max-age streams (None: all visible).

        The rules of the few streams that have any are loaded once per read, so a full replay of a
        store without lifecycle rules pays one indexed query and nothing per event.
        """
        keep, hidden_sql = self._visibility_plan()
        if hidden_sql is None:
            return keep
        now = self.clock()

        def probe(row: tuple) -> bool:
            r = self._one(
                "SELECT deleted, truncate_before, max_count, max_age, version FROM stream_rules WHERE stream_id=?",
                (row[2],),
            )
            if r is None:
                return True
            lowest, oldest = visibility(*r, lambda: now)
            return row[3] >= lowest and (oldest is None or row[7] >= oldest)

        return probe

    def _pages(self, scan: Scan, cursor: int, limit: int | None, keep: Keep | None,
               fetch: Fetch) -> Iterator[tuple[list, Any]]:
        """Visible rows a page at a time, by keyset, each with what its fetch said besides: the
        cursor moves past the last row fetched, hidden or not, and at most ``limit`` rows come
        out in all. Rows are raw rows or records (the same columns in the same places)."""
        k = 0 if scan.key == "position" else 3
        step = -1 if scan.backwards else 1
        remaining = limit if limit is not None else -1
        while remaining != 0:
            page = PAGE if remaining < 0 else min(PAGE, remaining)
            rows, extra = fetch(cursor, page)
            out = rows if keep is None else [r for r in rows if keep(r)]
            if remaining > 0:
                out = out[:remaining]
                remaining -= len(out)
            if out:
                yield out, extra
            if len(rows) < page:
                return
            cursor = rows[-1][k] + step

    def _rows_fetch(self, scan: Scan) -> Fetch:
        sql = scan.rows_sql()
        return lambda cursor, n: (self._all(sql, (cursor, *scan.params, n)), None)

    def raw_rows(self, from_position: int, limit: int) -> list[RawRow]:
        """Undecoded visible rows of the global log, for bulk readers that decode lazily (TUI, export).

        Hidden events (deleted or truncated streams) are left out, so a page may hold fewer than
        ``limit`` rows before the end; positions may have holes after a scavenge.
        """
        bound = self.log_bound()
        bound = f" AND {bound}" if bound else ""
        rows = self._all(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position >= ?{bound} ORDER BY position LIMIT ?",
            (from_position, limit),
        )
        keep = self.visible_filter()
        return rows if keep is None else [r for r in rows if keep(r)]

    decode = staticmethod(record_of)

    def stream_version(self, stream_id: str) -> int:
        return self._one(STATE_SQL, (stream_id, stream_id))[0]

    def head_position(self) -> int:
        """The last position handed out: it never goes back (a scavenge keeps the newest event).
        Within the backend's ``LOG_BOUND``: a checkpoint moved to it skips nothing.

        Inside a write transaction it is remembered (no one else can append meanwhile, and this
        connection's appends move it on): reactors ask for it several times per command."""
        token = self.write_token()
        known = self._head
        if token is not None and known is not None and known[0] == token:
            return known[1]
        bound = self.log_bound()
        bound = f" WHERE {bound}" if bound else ""
        head = self._one(f"SELECT coalesce(max(position), 0) FROM events{bound}")[0]
        if token is not None:
            self._head = (token, head)
        return head

    def event_by_id(self, event_id: str) -> RecordedEvent | None:
        row = self._one(f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id=?", (canonical_event_id(event_id),))
        return record_of(row) if row else None

    def events_per_minute(self, after: int = 0) -> dict[str, int]:
        """Events recorded per minute (``2026-01-01T10:42``), over the events after position ``after``."""
        return dict(self._all("SELECT substr(recorded_at, 1, 16), count(*) FROM events WHERE position > ? GROUP BY 1",
                              (after,)))

    # ------------------------------------------------------------------ keyed pages (virtual lists)
    def log_ends(self) -> tuple[int | None, int | None]:
        """(first, last) position of the log: two index lookups."""
        lo = self._one("SELECT min(position) FROM events")[0]
        return lo, (self._one("SELECT max(position) FROM events")[0] if lo is not None else None)

    def log_span(self, stream_id: str | None, after: int = 0) -> tuple[int | None, int | None, int]:
        """(lowest key, highest key, how many) of the keys after ``after``: positions of the log,
        or versions of one stream. Hidden events count (callers hide them as they show them)."""
        k, w, p = _source(stream_id)
        lo, hi, n = self._one(f"SELECT min({k}), max({k}), count(*) FROM events WHERE {w}{k} > ?", (*p, after))
        return lo, hi, n

    def log_blocks(self, stream_id: str | None, after: int, shift: int) -> list[tuple[int, int, int]]:
        """(lowest, highest, count) per block of ``2**shift`` keys after ``after``, in key order."""
        k, w, p = _source(stream_id)
        return self._all(
            f"SELECT min({k}), max({k}), count(*) FROM events WHERE {w}{k} > ? GROUP BY {k} >> {int(shift)}"
            " ORDER BY 1", (*p, after))

    def log_count(self, stream_id: str | None, low: int, high: int) -> int:
        """How many keys ``low <= key < high``."""
        k, w, p = _source(stream_id)
        return self._one(f"SELECT count(*) FROM events WHERE {w}{k} >= ? AND {k} < ?", (*p, low, high))[0]

    def log_nth(self, stream_id: str | None, start: int, offset: int) -> int | None:
        """The key ``offset`` keys on from ``start`` (inclusive)."""
        k, w, p = _source(stream_id)
        row = self._one(f"SELECT {k} FROM events WHERE {w}{k} >= ? ORDER BY {k} LIMIT 1 OFFSET ?", (*p, start, offset))
        return row[0] if row else None

    def log_rows(self, stream_id: str | None, cursor: int, limit: int, *, backwards: bool = False,
                 inclusive: bool = True, type: str = "", since: str = "", until: str = "",
                 text: str = "", or_containing: Sequence[str] = (), or_types: Sequence[str] = (),
                 bound: int | None = None) -> list[RawRow]:
        """Raw rows from key ``cursor`` on (or back) up to key ``bound`` (inclusive), optionally of
        one type and in a time range.

        ``text``: only rows whose stored payload contains it, ignoring the case of ASCII letters
        (the backend's ``PAYLOAD_LIKE``, parameterised), and rows that may read differently
        through the read path, so a search still sees them: payloads containing any of
        ``or_containing`` (an encryption marker) and events of ``or_types`` (upcast types)."""
        k, w, p = _source(stream_id)
        op = ("<" if backwards else ">") + ("=" if inclusive else "")
        cond: list[str] = []
        params: list[Any] = []
        if bound is not None:
            cond.append(f" AND {k} {'>=' if backwards else '<='} ?")
            params.append(bound)
        if text:
            alts = [self.PAYLOAD_LIKE] * (1 + len(or_containing))
            params += [like_contains(t) for t in (text, *or_containing)]
            if or_types:
                alts.append(f"type IN ({', '.join('?' * len(or_types))})")
                params += list(or_types)
            cond.append(f" AND ({' OR '.join(alts)})")
        if type:
            cond.append(" AND type = ?")
            params.append(type)
        if since:
            cond.append(" AND recorded_at >= ?")
            params.append(since)
        if until:
            cond.append(" AND recorded_at <= ?")
            params.append(until)
        return self._all(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {w}{k} {op} ?{''.join(cond)}"
            f" ORDER BY {k} {'DESC' if backwards else 'ASC'} LIMIT ?", (*p, cursor, *params, limit))


def _rows(pages: Iterator[tuple[list[RawRow], Any]]) -> Iterator[list[RawRow]]:
    for rows, _ in pages:
        yield rows


def _record_pages(pages: Iterator[list[RawRow]], marked: str) -> Iterator[RecordPage]:
    """Raw pages decoded, each with the positions of its rows whose stored data holds ``marked``."""
    for rows in pages:
        yield records_of(rows), marked_in(rows, marked)


def _decoded(pages: Iterator[RecordPage]) -> Iterator[RecordedEvent]:
    for recs, _ in pages:
        yield from recs
