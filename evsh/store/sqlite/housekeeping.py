"""Housekeeping on SQLite: size, compaction, backup, bulk import, and what forgetting a subject
needs from the file.

Compaction is VACUUM between two truncating WAL checkpoints; a secure one (after forgetting a
subject) runs with ``secure_delete`` on, so no byte of a scrubbed value survives in the file,
its free pages or the WAL. A backup is SQLite's online backup of the live file.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from typing import Iterator

from ...errors import BadInput, IdConflict, StoreError, StoreLocked
from .connection import store_error

# Tables forgetting never scrubs: the log (personal fields there are encrypted), the catalogue,
# the keys themselves (destroyed instead), the snapshots (dropped instead), and bookkeeping.
UNSCRUBBED = frozenset({"events", "evsh_meta", "evsh_tables", "subject_keys", "snapshots", "checkpoints",
                        "stream_rules", "sqlite_sequence"})


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Housekeeping:
    """Size, compaction, backup, bulk import and scrubbing (a mixin of the SQLite store)."""

    GREATEST = "max"
    FOR_UPDATE = ""

    def file_size(self) -> int:
        """Bytes of the store file and its WAL."""
        if self.path == ":memory:":
            return 0
        return sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))

    def compact(self, *, secure: bool = False) -> list[str]:
        """Give freed pages back and empty the WAL (VACUUM between two truncating checkpoints).

        With ``secure``, deleted content is overwritten with zeros (PRAGMA secure_delete), so no
        byte of it survives in the file, its free pages or the WAL. Returns what held the rewrite
        back: nothing here (a reader keeping the WAL is an error); see the PostgreSQL store's.
        """
        if self.in_transaction:
            raise StoreError("compact() cannot run inside a transaction")
        conn = self.conn
        try:
            if secure:
                conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None
        if busy and busy[0]:
            raise StoreLocked(
                f"{self.path}: another process kept a read open, so the WAL could not be emptied; close it and run again"
            )
        return []

    def backup(self, dest: str) -> None:
        """A consistent copy of the live store, WAL included (SQLite's online backup)."""
        if os.path.exists(dest):
            raise BadInput(f"{dest} already exists; choose a new file name")
        try:
            target = sqlite3.connect(dest)
            try:
                self.conn.backup(target)
            finally:
                target.close()
        except sqlite3.Error as exc:
            if os.path.exists(dest):  # a partial copy is not a backup
                os.remove(dest)
            raise StoreError(f"cannot write the backup {dest}: {exc}") from None

    # ------------------------------------------------------------------ bulk import
    @contextmanager
    def _bulk_import(self) -> Iterator[None]:
        """A big import inserts event ids into a growing index: with SQLite's default 2 MB page
        cache every insert misses; 256 MB keeps a million-event index in memory."""
        cache = self._one("PRAGMA cache_size")[0]
        self._run("PRAGMA cache_size=-262144")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA cache_size={int(cache)}")

    def _run_many(self, sql: str, rows: list[tuple]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def _insert_events(self, rows: list[tuple]) -> None:
        """Write imported rows (line, event_id, stream_id, version, type, data, metadata,
        recorded_at): positions are the table's next keys. ``?2``..``?8``: the line is not stored."""
        try:
            self.conn.executemany("INSERT INTO events (event_id, stream_id, version, type, data, metadata,"
                                  " recorded_at) VALUES (?2,?3,?4,?5,?6,?7,?8)", rows)
        except sqlite3.IntegrityError:
            raise IdConflict(self._explain_clash(rows)) from None
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def _settle_inserts(self) -> None:
        """Nothing is left open: each ``_insert_events`` writes its rows before it returns."""

    def _abandon_inserts(self, exc: BaseException) -> None:
        """Nothing is left open (the import's transaction rolls back what was written)."""

    # ------------------------------------------------------------------ finding and scrubbing values
    def events_containing(self, text: str) -> Iterator[tuple[int, str, str]]:
        """(position, data, metadata) of events whose stored text contains ``text``."""
        yield from self._all("SELECT position, data, metadata FROM events WHERE instr(data, ?) > 0"
                             " OR instr(metadata, ?) > 0", (text, text))

    def events_with_field(self, type: str, field: str, value: str) -> list[str]:
        """Stored payloads (data text) of events of ``type`` whose ``field`` is ``value``."""
        return [r[0] for r in self._all("SELECT data FROM events WHERE type=? AND json_extract(data, ?) = ?",
                                        (type, f"$.{field}", value))]

    def text_columns(self) -> list[tuple[str, str]]:
        """(table, column) of every table forgetting scrubs: read models, reactors' tables, records."""
        out = []
        for (table,) in self._all("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                                  " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name"):
            if table not in UNSCRUBBED:
                out.extend((table, r[1]) for r in self._all(f"PRAGMA table_info({_q(table)})"))
        return out

    def texts_containing(self, table: str, column: str, needle: str) -> list[str]:
        """The distinct text values of a column that contain ``needle``."""
        qt, qc = _q(table), _q(column)
        return [r[0] for r in self._all(
            f"SELECT DISTINCT {qc} FROM {qt} WHERE typeof({qc})='text' AND instr({qc}, ?) > 0", (needle,))]

    def replace_text(self, table: str, column: str, old: str, new: str) -> int:
        """Replace a whole value (inside the caller's transaction); where a unique key refuses
        (two rows would become the same), the rows holding it are dropped."""
        qt, qc = _q(table), _q(column)
        self.forget_records()  # rows this connection remembers (metrics) may change here
        try:
            return self.conn.execute(f"UPDATE {qt} SET {qc}=? WHERE {qc}=?", (new, old)).rowcount
        except sqlite3.IntegrityError:
            return self._run(f"DELETE FROM {qt} WHERE {qc}=?", (old,)).rowcount
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None

    def drop_snapshots_containing(self, text: str) -> int:
        return self._run("DELETE FROM snapshots WHERE instr(state, ?) > 0", (text,)).rowcount

    @contextmanager
    def securely(self) -> Iterator[None]:
        """Deletions inside overwrite what they free (SQLite's secure_delete), until compacted."""
        self._run("PRAGMA secure_delete=ON")
        try:
            yield
        finally:
            try:
                self.conn.execute("PRAGMA secure_delete=OFF")
            except sqlite3.Error:
                pass
