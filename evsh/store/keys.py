"""Subject keys (crypto-shredding), the same on every backend.

A subject's personal fields are encrypted with its key; forgetting destroys the key (and the
engine scrubs every plain copy of its values outside the log through the backend's scrubbing
primitives). At most one live key per subject: a unique index on live keys makes a second
writer's key lose. A mixin of each store: SQL is written with ``?`` placeholders and run by the
backend's ``_run``.
"""

from __future__ import annotations

from typing import Sequence

from .base import iter_chunks

# Never readable with read-only SQL (`evsh sql`): the key material itself. Which subjects have
# keys, and when they were made or forgotten, stays readable (as `evsh keys` shows it).
PRIVATE_COLUMNS = {"subject_keys": frozenset({"key"})}


def private_reads(private_tables: set[str]) -> str:
    """What read-only SQL may not read, as a user is told: tables, and table.column."""
    return ", ".join([*sorted(private_tables), *(f"{t}.{c}" for t, cols in PRIVATE_COLUMNS.items() for c in sorted(cols))])


class Keys:
    """Subject keys (a mixin of each store)."""

    def subject_key(self, subject: str) -> tuple[str, bytes] | None:
        """(key id, key) of the subject's live key, or None."""
        row = self._one("SELECT key_id, key FROM subject_keys WHERE subject=? AND key IS NOT NULL", (subject,))
        return (row[0], bytes(row[1])) if row is not None else None

    def add_subject_key(self, subject: str, key_id: str, key: bytes) -> tuple[str, bytes]:
        """Give the subject this key unless it has a live one (inside the caller's transaction);
        returns the live key either way."""
        self._run("INSERT INTO subject_keys (key_id, subject, key, created_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                  (key_id, subject, key, self.clock()))
        return self.subject_key(subject)

    def add_subject_keys(self, keys: list[tuple[str, str, bytes]]) -> dict[str, tuple[str, bytes]]:
        """Give each (subject, key id, key) its key unless it has a live one, in one statement
        (inside the caller's transaction; bulk writers: `evsh seed`); returns every subject's live key."""
        self._run_many("INSERT INTO subject_keys (key_id, subject, key, created_at) VALUES (?,?,?,?)"
                       " ON CONFLICT DO NOTHING", [(k, s, m, self.clock()) for s, k, m in keys])
        subjects = [s for s, _, _ in keys]
        live: dict[str, tuple[str, bytes]] = {}
        for i in range(0, len(subjects), 500):
            part = subjects[i:i + 500]
            for key_id, subject, key in self._all(
                    "SELECT key_id, subject, key FROM subject_keys WHERE key IS NOT NULL AND subject IN"
                    f" ({','.join('?' * len(part))})", part):
                live[subject] = (key_id, bytes(key))
        return live

    def import_subject_key(self, key_id: str, subject: str, key: bytes, created_at: str) -> bool:
        """Add a key made elsewhere (inside the caller's transaction); False when it, or another
        live key of the subject, is here already."""
        return self._run("INSERT INTO subject_keys (key_id, subject, key, created_at) VALUES (?,?,?,?)"
                         " ON CONFLICT DO NOTHING", (key_id, subject, key, created_at)).rowcount == 1

    def key_material(self, key_id: str) -> bytes | None:
        """The key with this id, or None when it was destroyed (or never existed here)."""
        row = self._one("SELECT key FROM subject_keys WHERE key_id=?", (key_id,))
        return bytes(row[0]) if row is not None and row[0] is not None else None

    def key_materials(self, key_ids: Sequence[str]) -> dict[str, bytes | None]:
        """The keys with these ids in one statement per 500 (None: destroyed; an id not here is left
        out): a page of events holding sealed values needs many."""
        found: dict[str, bytes | None] = {}
        for chunk in iter_chunks(key_ids, 500):
            for key_id, key in self._all(
                    f"SELECT key_id, key FROM subject_keys WHERE key_id IN ({','.join('?' * len(chunk))})", chunk):
                found[key_id] = bytes(key) if key is not None else None
        return found

    def has_subject_keys(self) -> bool:
        return self._one("SELECT 1 FROM subject_keys LIMIT 1") is not None

    def subject_known(self, subject: str) -> bool:
        """Whether the subject ever had a key here (live or destroyed)."""
        return self._one("SELECT 1 FROM subject_keys WHERE subject=? LIMIT 1", (subject,)) is not None

    def list_subject_keys(self) -> list[tuple[str, str, str, str | None]]:
        """(subject, key id, created_at, forgotten_at) of every key: never the key material."""
        return self._all("SELECT subject, key_id, created_at, forgotten_at FROM subject_keys ORDER BY subject, created_at")

    def live_subject_keys(self) -> list[tuple[str, str, bytes, str]]:
        """(key id, subject, key, created_at) of every live key, for `evsh keys export`."""
        return [(k, s, bytes(m), at) for k, s, m, at in self._all(
            "SELECT key_id, subject, key, created_at FROM subject_keys WHERE key IS NOT NULL ORDER BY subject, created_at")]

    def destroy_subject_keys(self, subject: str) -> int:
        """Destroy the subject's live keys (inside the caller's transaction); returns how many."""
        return self._run("UPDATE subject_keys SET key=NULL, forgotten_at=? WHERE subject=? AND key IS NOT NULL",
                         (self.clock(), subject)).rowcount
