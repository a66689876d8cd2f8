"""The store's schema and its migrations.

``PRAGMA user_version`` holds the schema version. A store from an older evsh is upgraded in one
transaction; a newer one, or a SQLite file that is not an evsh store, is refused untouched.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Callable

from ...errors import NewerStore, NotAStore, StoreError

MARK_KEY = "format"
MARK_VALUE = "evsh-event-store"

_V1 = """
CREATE TABLE evsh_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    position    INTEGER PRIMARY KEY,   -- max + 1 under the write lock; scavenge keeps the newest row, so never reused
    event_id    TEXT NOT NULL UNIQUE,
    stream_id   TEXT NOT NULL,
    version     INTEGER NOT NULL,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE streams (
    stream_id  TEXT PRIMARY KEY,
    category   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
"""

# Each entry upgrades the schema from version i to i + 1 (index 0 creates version 1).
def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: executescript() would COMMIT the migration's transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


# Long-lived stores: stream lifecycle columns, snapshots, per-subject keys (crypto-shredding).
_LONG_LIVED = """
ALTER TABLE streams ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;          -- 0 live, 1 soft-deleted, 2 tombstone
ALTER TABLE streams ADD COLUMN truncate_before INTEGER NOT NULL DEFAULT 0;  -- versions below it are hidden
ALTER TABLE streams ADD COLUMN max_count INTEGER;
ALTER TABLE streams ADD COLUMN max_age REAL;                                -- seconds
CREATE INDEX streams_with_rules ON streams (stream_id)
    WHERE deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL;
CREATE TABLE snapshots (
    stream_id     TEXT PRIMARY KEY,
    aggregate     TEXT NOT NULL,
    version       INTEGER NOT NULL,
    state_version INTEGER NOT NULL,
    state         TEXT NOT NULL,
    taken_at      TEXT NOT NULL
);
CREATE TABLE subject_keys (
    key_id       TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    key          BLOB,                 -- NULL once the subject is forgotten
    created_at   TEXT NOT NULL,
    forgotten_at TEXT
);
CREATE UNIQUE INDEX subject_keys_active ON subject_keys (subject) WHERE key IS NOT NULL;
CREATE INDEX subject_keys_by_subject ON subject_keys (subject);
"""

# Streams are known from their events: a stream's version is its last event's (the events'
# (stream_id, version) index answers), so an append writes no row besides its events. Only
# streams with lifecycle rules (deleted, truncated, max-count, max-age) keep a row, whose version
# appends still move (the rules need it, and a deleted stream's events may be scavenged away);
# so does one whose events were partly scavenged under rules since cleared (its row keeps its
# version and first time).
# The `streams` view gives every stream as the table used to, for `evsh sql` and older scripts.
_DERIVED_STREAMS = """
DELETE FROM streams
    WHERE NOT (deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL)
      AND version = (SELECT max(e.version) FROM events e WHERE e.stream_id = streams.stream_id)
      AND EXISTS (SELECT 1 FROM events e WHERE e.stream_id = streams.stream_id AND e.version = 1);
ALTER TABLE streams RENAME TO stream_rules;
CREATE VIEW streams AS
SELECT g.stream_id AS stream_id,
       CASE WHEN instr(g.stream_id, '-') > 0 THEN substr(g.stream_id, 1, instr(g.stream_id, '-') - 1)
            ELSE g.stream_id END AS category,
       max(g.version, coalesce(r.version, 0)) AS version,
       coalesce(r.created_at, g.created_at) AS created_at,
       coalesce(r.updated_at, g.updated_at) AS updated_at,
       coalesce(r.deleted, 0) AS deleted,
       coalesce(r.truncate_before, 0) AS truncate_before,
       r.max_count AS max_count,
       r.max_age AS max_age
FROM (SELECT e.stream_id AS stream_id, max(e.version) AS version, e.recorded_at AS updated_at,
             (SELECT f.recorded_at FROM events f WHERE f.stream_id = e.stream_id ORDER BY f.version LIMIT 1)
                 AS created_at
      FROM events e GROUP BY e.stream_id) g
LEFT JOIN stream_rules r ON r.stream_id = g.stream_id
UNION ALL
SELECT stream_id, category, version, created_at, updated_at, deleted, truncate_before, max_count, max_age
FROM stream_rules r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = r.stream_id);
"""

# The catalogue of declared tables: who owns each, its declared shape, and whether it is private
# (never readable with read-only SQL). Tables made by older versions' migrations are entered.
_CATALOGUE = """
CREATE TABLE evsh_tables (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,          -- reactors, metrics, projections, projection:NAME, reactor:NAME
    private    INTEGER NOT NULL DEFAULT 0,
    spec       TEXT NOT NULL,          -- the declared shape (TableSpec.describe)
    created_at TEXT NOT NULL
);
"""


def _no_op(conn: sqlite3.Connection) -> None:
    """Versions 3 and 4 once created the projections' and reactors' tables here; those features
    now declare their tables and the store creates them on first use (stores made before keep
    theirs: the declarations have the same shape)."""


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: run_script(conn, _V1),
    lambda conn: run_script(conn, _LONG_LIVED),
    _no_op,
    _no_op,
    lambda conn: run_script(conn, _DERIVED_STREAMS),
    lambda conn: run_script(conn, _CATALOGUE),
]


def latest_version() -> int:
    return len(MIGRATIONS)


def check_and_upgrade(conn: sqlite3.Connection, path: str, *, creating: bool, upgrade: bool = True) -> None:
    """Create a new store, upgrade an older one, refuse anything else. Runs in its own transaction.
    Without ``upgrade`` (a read-only connection) an older store is refused too."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_NOTADB:
            raise  # a store that cannot be read (folder, disk, damage): the store says which
        raise NotAStore(f"{path} is not an evsh store ({exc}); pass another --db") from None
    if not tables and version == 0:
        if not creating:
            raise NotAStore(f"{path} is an empty SQLite file, not an evsh store; run `evsh init` to make it one")
    else:
        if "evsh_meta" not in tables:
            raise NotAStore(f"{path} is a SQLite database but not an evsh store; pass another --db")
        row = conn.execute("SELECT value FROM evsh_meta WHERE key=?", (MARK_KEY,)).fetchone()
        if not row or row[0] != MARK_VALUE:
            raise NotAStore(f"{path} is a SQLite database but not an evsh store; pass another --db")
        if version > latest_version():
            raise NewerStore(
                f"{path} has store schema {version}, newer than this evsh understands ({latest_version()}); upgrade evsh"
            )
        if version == latest_version():
            return
    if not upgrade:
        raise StoreError(f"{path} has store schema {version}; open it once for writing to upgrade it to"
                         f" {latest_version()}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # re-read under the write lock: another process may have upgraded meanwhile
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in MIGRATIONS[version:]:
            step(conn)
        if version == 0:
            conn.execute("INSERT INTO evsh_meta (key, value) VALUES (?, ?)", (MARK_KEY, MARK_VALUE))
        conn.execute(f"PRAGMA user_version = {latest_version()}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _core_tables() -> frozenset[str]:
    """The names the schema creates (tables, views, renamed tables): evsh's own, read from its DDL."""
    ddl = "\n".join([_V1, _LONG_LIVED, _DERIVED_STREAMS, _CATALOGUE])
    return frozenset(re.findall(r"(?:CREATE (?:TABLE|VIEW)|RENAME TO) (\w+)", ddl))


CORE_TABLES = _core_tables()
