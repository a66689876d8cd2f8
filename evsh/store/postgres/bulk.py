"""An import's events streamed into PostgreSQL by one COPY kept open across chunks.

Ending a COPY waits for the server to have written every row sent. Ended after each chunk, that
wait and the parsing of the next chunk add up; kept open, the server writes one chunk while the
client parses the next (200,000 events: 2.1 s instead of 3.4 s, docs/benchmarks.md). The COPY is
ended before anything else runs on the connection (``PGConnection.conn`` ends it: the COPY holds
psycopg's lock of the connection), at the import's end (``_settle_inserts``), once it holds SPAN
rows, at the next chunk, when the server has caught up, and after each chunk where the server
sets a ``statement_timeout`` (open while the next chunk is read, it would be cut).
A row the server refuses is named by its line in the file.

Positions are the sequence's next ones: the first is taken when the COPY opens, and the sequence
is moved past the last when it ends. The import holds the appending lock exclusively, so no one
else takes a position meanwhile. A clash (an event id used twice) rolls back to the savepoint
the COPY opened in, and is explained from the rows it held, by the key the server names.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from ...errors import IdConflict, StoreError

SPAN = 25_000  # rows in one COPY: what a clash's explanation searches, kept in memory meanwhile
_COPY = "COPY events (position, event_id, stream_id, version, type, data, metadata, recorded_at) FROM STDIN"
_CLASH = re.compile(r"Key \(event_id\)=\((.*)\) already exists\.", re.S)
_COPY_LINE = re.compile(r"COPY events, line (\d+)")
# what the server says of a row it refuses (a value out of range, too large to index, a key
# taken): the row's fault, named by its line; anything else (a lost connection, a full disk, a
# lock) is the store's, said as every other command says it
_ROW_FAULTS = ("22", "23", "54")
# the position before the first row's, and whether the server cancels statements that last (a
# COPY left open while the next chunk is read lasts as long as the input takes to come)
_START = "SELECT nextval('events_position_seq') - 1, current_setting('statement_timeout') NOT IN ('0', '0ms')"


class OpenCopy:
    """One COPY of imported rows ``(line, event_id, stream_id, version, type, data, metadata,
    recorded_at)``, in a savepoint of the import's transaction."""

    __slots__ = ("store", "savepoint", "cursor", "copying", "write_row", "base", "rows", "timed")

    def __init__(self, store: Any) -> None:
        self.store = store
        self.savepoint: Any = store.transaction()
        self.savepoint.__enter__()
        self.copying: Any = None
        try:
            self.base, self.timed = store._one(_START)  # a timed COPY ends with its chunk (``_insert_events``)
            self.cursor = store.conn.cursor()
            self.copying = self.cursor.copy(_COPY)
            self.write_row = self.copying.__enter__().write_row
        except BaseException as exc:
            self.abandon(exc)
            raise
        self.rows: list[tuple] = []  # the rows sent: what explains a clash

    def write(self, rows: list[tuple]) -> None:
        write_row = self.write_row
        try:
            for position, r in enumerate(rows, self.base + len(self.rows) + 1):
                write_row((position, r[1], r[2], r[3], r[4], r[5], r[6], r[7]))
        except psycopg.Error as exc:  # the server refused the COPY already: ending it says why
            self.rows.extend(rows)
            self.store._settle_inserts()  # the store lets go of this COPY first, then it ends
            raise self.store.failed(exc) from None
        self.rows.extend(rows)

    def end(self) -> int:
        """Wait for the server to write the rows, and move the sequence past them; returns the
        last position. Raises IdConflict (saying which line) when an event id is taken."""
        store = self.store
        copying, self.copying = self.copying, None
        try:
            copying.__exit__(None, None, None)
        except psycopg.errors.UniqueViolation as exc:
            detail = exc.diag.message_detail or ""
            if "event_id" not in detail:
                self.abandon(exc)
                raise self.refused(exc) from None
            self.abandon(exc)  # back to the savepoint: the transaction takes statements again
            named = _CLASH.fullmatch(detail)
            rows = [r for r in self.rows if r[1] == named.group(1)] if named else []
            raise IdConflict(store._explain_clash(rows or self.rows)) from None
        except BaseException as exc:
            self.abandon(exc)
            if isinstance(exc, psycopg.Error):
                raise self.refused(exc) from None
            raise
        last = self.base + len(self.rows)
        try:
            store._run("SELECT setval('events_position_seq', %s)", (last,))
        except BaseException as exc:
            self.abandon(exc)
            raise
        self.cursor.close()
        savepoint, self.savepoint = self.savepoint, None
        savepoint.__exit__(None, None, None)
        return last

    def refused(self, exc: psycopg.Error) -> StoreError:
        """The server's refusal of a row, naming the row's line in the file (the COPY's own count
        of its rows is not it): ``store: line N: message``."""
        diag = exc.diag
        found = _COPY_LINE.search(diag.context or "")
        if (found is None or (exc.sqlstate or "")[:2] not in _ROW_FAULTS
                or not 1 <= int(found.group(1)) <= len(self.rows)):
            return self.store.failed(exc)
        line = self.rows[int(found.group(1)) - 1][0]
        text = diag.message_primary or " ".join(str(exc).split())
        return StoreError(f"{self.store.url}: line {line}: {text}")

    def abandon(self, exc: BaseException) -> None:
        """End the COPY (if still open) and roll back to the savepoint, keeping ``exc`` the error
        to report: what fails on the way is a consequence of it."""
        if self.copying is not None:
            try:
                self.copying.__exit__(type(exc), exc, exc.__traceback__)
            except (psycopg.Error, StoreError):
                pass
            self.copying = None
        savepoint, self.savepoint = self.savepoint, None
        if savepoint is not None:
            try:
                savepoint.__exit__(type(exc), exc, exc.__traceback__)
            except (psycopg.Error, StoreError):
                pass
