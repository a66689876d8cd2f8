"""What reading events needs of SQLite in particular: a page decoded in one statement, hiding by
rules in SQL, and finding events by their metadata (the shared reads are in ``evsh.store.reads``).

A page of records is read as one row: each column of the page's events joined by SQLite
(``group_concat``), the JSON texts into one JSON array per column, decoded by one
``orjson.loads`` each. Python's ``sqlite3`` releases and takes the interpreter lock and builds
an object for every column of every row it fetches, which cost more than decoding the JSON
itself; one row per page leaves SQLite's scan and the decoding. Every event is still decoded,
into the same records, in the same order; a page whose texts only the exact codec may read (or
that is not JSON) is read and decoded row by row instead, which also raises what it raised.
"""

from __future__ import annotations

from itertools import repeat
from operator import itemgetter
from typing import Iterator, Sequence

from .. import codec
from ..base import EVENT_COLUMNS, RecordPage
from ..recorded import JOINED, JOINED_EXACT, PageMetadata, RecordedEvent, gc_paused, marked_in, objects, records_of
from ..reads import META_KEYS, Fetch, Scan
from ...errors import BadInput

# Between the texts of one column of a page: names hold no control character (and a text that
# did would make the page's count wrong, so the page would be read row by row).
SEP = "\x1f"


def page_sql(scan: Scan) -> str:
    """One row of a scan's next page (parameters: the cursor, the scan's parameters, the page size;
    then, unless the scan is ``filtered``, the same again with the page size less one): the count
    and the page's columns joined.

    The page is bounded by the key of its last row, found first (a scalar subquery: one
    snapshot), so the aggregate is a plain range scan with no sorter or subquery to copy
    each value through. A log scan with conditions (types, categories, lifecycle rules) takes
    the keys its subquery found instead: bounded, it read every row of the range twice, the
    ones it leaves out included."""
    k = scan.key
    op, last_op, order, end = ("<=", ">=", "DESC", -2**63) if scan.backwards else (">=", "<=", "ASC", 2**63 - 1)
    streams = "NULL" if scan.stream is not None else f"group_concat(stream_id, '{SEP}')"  # one stream: known
    if filtered(scan):
        rows = f"{k} IN (SELECT {k} FROM events WHERE {k} {op} ?{scan.where} ORDER BY {k} {order} LIMIT ?)"
    else:
        rows = (f"{k} {op} ?{scan.where} AND {k} {last_op} coalesce("
                f"(SELECT {k} FROM events WHERE {k} {op} ?{scan.where} ORDER BY {k} {order} LIMIT 1 OFFSET ?), {end})")
    return ("SELECT count(*), '[' || group_concat(position) || ']', '[' || group_concat(version) || ']',"
            f" group_concat(event_id, '{SEP}'), {streams}, group_concat(type, '{SEP}'),"
            f" '[' || group_concat(data, '{JOINED}') || ']', '[' || group_concat(metadata, '{JOINED}') || ']',"
            f" group_concat(recorded_at, '{SEP}') FROM events WHERE {rows}")


def filtered(scan: Scan) -> bool:
    """A scan of the log that leaves rows out (page_sql takes its page by keys, not by a bound)."""
    return scan.stream is None and bool(scan.where)


@gc_paused
def decode_page(row: tuple, key: int, backwards: bool, marked: str, stream: str | None) -> RecordPage | None:
    """The records of a page row (see page_sql) in the scan's order, and the positions of those
    whose data holds ``marked``; None when the page must be read row by row (a text only the
    exact codec may read, a NULL, text that is not JSON). ``stream``: the one stream the scan
    reads (the row does not repeat its id), or None. The records' metadata is decoded when one
    of them is first read (``PageMetadata``), and checked then."""
    count, positions, versions, ids, streams, types, data, metadata, times = row
    loads = codec.fast_loads
    try:
        if JOINED_EXACT in data or data[1] == " " or metadata is None:
            return None
        columns = (loads(positions), ids.split(SEP), streams.split(SEP) if stream is None else [stream] * count,
                   loads(versions), types.split(SEP), loads(data), times.split(SEP))
    except (TypeError, ValueError):  # orjson's JSONDecodeError is a ValueError
        return None
    for column in columns:
        if len(column) != count:
            return None
    if not objects(columns[5]):  # a stored 123 or [1]: the rows say which event
        return None
    rows = marked_rows(data, marked, count) if marked else ()
    if rows is None:
        return None
    at, ids_, streams_, versions_, types_, data_, times_ = columns
    meta = repeat(PageMetadata(metadata, at), count)
    recs = list(map(tuple.__new__, repeat(RecordedEvent, count),
                    zip(at, ids_, streams_, versions_, types_, data_, meta, times_)))
    keys = columns[key]
    if keys != sorted(keys):  # SQLite aggregates in scan order; should it not, the records are put in order
        recs.sort(key=itemgetter(key))
    if backwards:
        recs.reverse()
    return recs, {at[i] for i in rows}


def marked_rows(data: str, marked: str, count: int) -> set[int] | None:
    """The indexes of the texts holding ``marked`` in a page's joined data (None: it cannot tell,
    as a text holds the separator). Two scans of the text in C and a step per occurrence, where
    SQLite's instr() per row cost more than the rest of the page's SQL."""
    i = data.find(marked)
    if i < 0:
        return set()
    if data.count(JOINED) != count - 1:
        return None
    rows: set[int] = set()
    row = at = 0
    while i >= 0:
        row += data.count(JOINED, at, i)
        at = i
        rows.add(row)
        i = data.find(marked, i + 1)
    return rows


class SQLiteReads:
    """A mixin of the SQLite store."""

    # a payload containing a LIKE pattern: SQLite's LIKE ignores the case of ASCII letters
    PAYLOAD_LIKE = "data LIKE ? ESCAPE '\\'"

    HIDDEN_SQL = (
        "NOT EXISTS (SELECT 1 FROM stream_rules s WHERE s.stream_id = events.stream_id AND ("
        "s.deleted = 2 OR events.version < s.truncate_before"
        " OR (s.max_count IS NOT NULL AND events.version <= s.version - s.max_count)"
        " OR (s.max_age IS NOT NULL AND events.recorded_at < strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || s.max_age"
        " || ' seconds'))))"
    )

    def read_stream_records(self, stream_id: str, from_version: int | None = None, *, backwards: bool = False,
                            limit: int | None = None, marked: str = "") -> Iterator[RecordPage]:
        plan = self._stream_scan(stream_id, from_version, backwards)
        if plan is None:
            return iter(())
        scan, cursor, keep = plan
        return self._pages(scan, cursor, limit, keep, self._records_fetch(scan, marked))

    def read_all_records(self, from_position: int = 1, *, types: Sequence[str] = (), categories: Sequence[str] = (),
                         limit: int | None = None, backwards: bool = False, marked: str = "") -> Iterator[RecordPage]:
        scan, cursor, keep = self._log_scan(from_position, types, categories, backwards)
        return self._pages(scan, cursor, limit, keep, self._records_fetch(scan, marked))

    def _records_fetch(self, scan: Scan, marked: str) -> Fetch:
        """A scan's pages decoded (see page_sql), each with the positions of its marked rows."""
        sql = page_sql(scan)
        key = 0 if scan.key == "position" else 3
        params, by_keys, stream, backwards = scan.params, filtered(scan), scan.stream, scan.backwards

        def fetch(cursor: int, n: int) -> RecordPage:
            row = self._one(sql, (cursor, *params, n) if by_keys else (cursor, *params, cursor, *params, n - 1))
            if not row[0]:
                return [], ()
            page = decode_page(row, key, backwards, marked, stream)
            if page is None:
                rows = self._all(scan.rows_sql(), (cursor, *scan.params, n))
                return records_of(rows), marked_in(rows, marked)
            return page

        return fetch

    def events_by_meta(self, key: str, value: str, limit: int | None = None) -> list[RecordedEvent]:
        """Events whose metadata ``key`` is ``value`` (a causal chain, a command's events), in log
        order, hidden ones included (callers pass them through the read path). A scan of the log,
        narrowed by a LIKE on the text before the JSON is looked into."""
        if key not in META_KEYS:
            raise BadInput(f"metadata key {key!r} cannot be searched")
        sql = (f"SELECT {EVENT_COLUMNS} FROM events WHERE metadata LIKE ? AND json_extract(metadata, ?) = ?"
               " ORDER BY position")
        if limit:
            sql += f" LIMIT {int(limit)}"
        needle = f'%"{key}":{codec.dumps(value)}%'
        return records_of(self._all(sql, (needle, f"$.{key}", value)))
