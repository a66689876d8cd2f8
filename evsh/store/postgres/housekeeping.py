"""Housekeeping on PostgreSQL: size, compaction, backup, bulk import, and what forgetting a
subject needs from the database.

Compaction is ``VACUUM``; a secure one (after forgetting a subject) is ``VACUUM FULL`` of the
store's tables, which rewrites them, so no dead tuple holding a scrubbed value survives in the
table files (WAL segments already written and base backups are outside evsh's reach: see
docs/postgresql.md). A backup is ``pg_dump`` of the store's schema when the tool is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import psycopg

from ...errors import BadInput, StoreError
from ..tables import quote
from .bulk import SPAN, OpenCopy
from .connection import store_error

# Tables forgetting never scrubs: the log (personal fields there are encrypted), the catalogue,
# the keys themselves (destroyed instead), the snapshots (dropped instead), and bookkeeping.
UNSCRUBBED = frozenset({"events", "evsh_meta", "evsh_tables", "subject_keys", "snapshots", "checkpoints",
                        "stream_rules"})
_TEXTUAL = ("text", "json", "jsonb", "character varying")


class Housekeeping:
    """Size, compaction, backup, bulk import and scrubbing (a mixin of the PostgreSQL store)."""

    GREATEST = "greatest"
    FOR_UPDATE = " FOR UPDATE"
    _copy_open: OpenCopy | None = None  # an import's COPY, while it streams (``bulk``)

    def file_size(self) -> int:
        """Bytes the store's tables and indexes take on the server."""
        return int(self._one(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (self.schema,))[0])

    def _store_tables(self) -> list[str]:
        return [r[0] for r in self._all(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1", (self.schema,))]

    def compact(self, *, secure: bool = False) -> list[str]:
        """Give dead rows' space back (VACUUM); ``secure`` rewrites every table (VACUUM FULL), so
        no dead tuple of a scrubbed value is left in the table files. A rewrite keeps the row
        versions a transaction begun earlier may still read, so a secure one first waits (up to
        the busy timeout) for those to end; it returns the ones still open (then old versions
        stay in the files until they end and the store is compacted securely again)."""
        if self.in_transaction:
            raise StoreError("compact() cannot run inside a transaction")
        held = self._wait_for_older_transactions(self.busy_timeout) if secure else []
        verb = "VACUUM (FULL, ANALYZE)" if secure else "VACUUM (ANALYZE)"
        for name in self._store_tables():
            self._run(f"{verb} {quote(self.schema)}.{quote(name)}")
        return held

    def _wait_for_older_transactions(self, timeout: float) -> list[str]:
        """Wait for the transactions of this database that began before now to end; the ones
        still open after ``timeout`` seconds, as "application (pid N)"."""
        horizon = int(self._one("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")[0]) % 2**32
        deadline = time.monotonic() + timeout
        while True:
            older = [f"{app or 'a client'} (pid {pid})" for pid, app in self._all(
                "SELECT pid, application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                " AND datname = current_database() AND (age(backend_xmin) >= age(%s::text::xid)"
                " OR age(backend_xid) >= age(%s::text::xid)) ORDER BY pid", (str(horizon), str(horizon)))]
            older += [f"prepared transaction {gid!r}" for (gid,) in self._all(
                "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()"
                " AND age(transaction) >= age(%s::text::xid)", (str(horizon),))]
            if not older or time.monotonic() >= deadline:
                return older
            time.sleep(0.05)

    def backup(self, dest: str) -> None:
        """A consistent copy of the store's schema, made by pg_dump (custom format, restored with
        pg_restore)."""
        if os.path.exists(dest):
            raise BadInput(f"{dest} already exists; choose a new file name")
        tool = shutil.which("pg_dump")
        if tool is None:
            raise StoreError("a backup of a PostgreSQL store is made with pg_dump, which is not installed here;"
                             " install PostgreSQL's client tools, or use `evsh export`")
        done = subprocess.run([tool, "--format=custom", f"--schema={self.schema}", f"--file={dest}",
                               f"--dbname={self.conninfo}"], capture_output=True, text=True)
        if done.returncode != 0:
            if os.path.exists(dest):
                os.remove(dest)
            raise StoreError(f"pg_dump failed: {' '.join(done.stderr.split())}")

    # ------------------------------------------------------------------ bulk import
    @contextmanager
    def _bulk_import(self) -> Iterator[None]:
        yield

    def _run_many(self, sql: str, rows: list[tuple]) -> None:
        if not rows:
            return
        try:
            with self.conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)
        except psycopg.Error as exc:
            raise store_error(exc, self.url) from None

    def _insert_events(self, rows: list[tuple]) -> None:
        """Send imported rows into the import's open COPY (``bulk``), opening one if none is,
        and ending a full one first: its rows are written by now."""
        copy = self._copy_open
        if copy is not None and len(copy.rows) >= SPAN:
            self._settle_inserts()
            copy = None
        if copy is None:
            copy = self._copy_open = OpenCopy(self)
        copy.write(rows)
        if copy.timed:  # the server's statement_timeout would cut it while the next chunk is read
            self._settle_inserts()

    def _settle_inserts(self) -> None:
        copy, self._copy_open = self._copy_open, None
        if copy is not None:
            last = copy.end()
            self._head = (self.write_token(), last)

    def _abandon_inserts(self, exc: BaseException) -> None:
        copy, self._copy_open = self._copy_open, None
        if copy is not None:
            copy.abandon(exc)

    # ------------------------------------------------------------------ finding and scrubbing values
    def events_containing(self, text: str) -> Iterator[tuple[int, str, str]]:
        yield from self._all("SELECT position, data, metadata FROM events"
                             " WHERE strpos(data::text, %s) > 0 OR strpos(metadata::text, %s) > 0", (text, text))

    def events_with_field(self, type: str, field: str, value: str) -> list[str]:
        return [r[0] for r in self._all("SELECT data FROM events WHERE type=%s AND data->>%s = %s", (type, field, value))]

    def text_columns(self) -> list[tuple[str, str]]:
        return [(t, c) for t, c in self._all(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s"
            " AND data_type = ANY(%s) ORDER BY table_name, ordinal_position", (self.schema, list(_TEXTUAL)))
            if t not in UNSCRUBBED and self._is_table(t)]

    def _is_table(self, name: str) -> bool:
        return name in set(self._store_tables())

    def texts_containing(self, table: str, column: str, needle: str) -> list[str]:
        qt, qc = quote(table), quote(column)
        return [r[0] for r in self._all(f"SELECT DISTINCT {qc}::text FROM {qt} WHERE strpos({qc}::text, %s) > 0",
                                        (needle,))]

    def replace_text(self, table: str, column: str, old: str, new: str) -> int:
        qt, qc = quote(table), quote(column)
        kind = self._one("SELECT data_type FROM information_schema.columns WHERE table_schema=%s AND table_name=%s"
                         " AND column_name=%s", (self.schema, table, column))[0]
        cast = "::jsonb" if kind == "jsonb" else "::json" if kind == "json" else ""
        try:
            with self.transaction():
                return self._run(f"UPDATE {qt} SET {qc}=%s{cast} WHERE {qc}::text=%s", (new, old)).rowcount
        except StoreError as exc:
            if "duplicate key" not in str(exc) and "invalid input syntax for type json" not in str(exc):
                raise
        return self._run(f"DELETE FROM {qt} WHERE {qc}::text=%s", (old,)).rowcount

    def drop_snapshots_containing(self, text: str) -> int:
        return self._run("DELETE FROM snapshots WHERE strpos(state, %s) > 0", (text,)).rowcount

    @contextmanager
    def securely(self) -> Iterator[None]:
        """Nothing to switch on: a secure compact (VACUUM FULL) rewrites the tables afterwards."""
        yield


