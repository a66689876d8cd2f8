"""The store's schema and its migrations.

``PRAGMA user_version`` holds the schema version. A store from an older evsh is upgraded in one
transaction; a newer one, or a SQLite file that is not an evsh store, is refused untouched.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

from ..errors import NewerStore, NotAStore

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

# Projections: one status row per read model (the checkpoint itself lives in `checkpoints`).
_PROJECTIONS = """
CREATE TABLE projections (
    name           TEXT PRIMARY KEY,
    version        INTEGER NOT NULL,     -- declared version the tables were built with
    mode           TEXT NOT NULL,        -- catch-up | inline
    tables         TEXT NOT NULL,        -- JSON list of the table names it owns
    shape          TEXT,                 -- declared table shapes when built
    error          TEXT,                 -- last failure: message (NULL when healthy)
    error_position INTEGER,
    error_type     TEXT,
    error_at       TEXT,
    last_run_at    TEXT,
    rebuilt_at     TEXT
);
"""

# Reactors: every command's record (for traces), processed events (the idempotency guard), dead
# letters, reactor status, worker leases, and per-minute metrics buckets.
_REACTORS = """
CREATE TABLE commands (
    command_id     TEXT PRIMARY KEY,
    name           TEXT NOT NULL,                 -- order.create
    stream_id      TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    causation_id   TEXT NOT NULL,
    outcome        TEXT NOT NULL,                 -- ok | rejected | error
    reason         TEXT NOT NULL DEFAULT '',
    params         TEXT NOT NULL DEFAULT '{}',
    events         TEXT NOT NULL DEFAULT '[]',    -- ids of the events it produced
    reactor        TEXT,                          -- the reactor that sent it, if any
    at             TEXT NOT NULL
);
CREATE INDEX commands_by_correlation ON commands (correlation_id);
CREATE INDEX commands_by_causation ON commands (causation_id);
CREATE INDEX commands_by_stream ON commands (stream_id);
CREATE TABLE reactor_processed (
    reactor    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (reactor, event_id)
) WITHOUT ROWID;
CREATE TABLE dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reactor     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    position    INTEGER NOT NULL,
    stream_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    error       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'parked',   -- parked | retried | discarded
    parked_at   TEXT NOT NULL,
    resolved_at TEXT,
    UNIQUE (reactor, event_id)
);
CREATE TABLE reactor_status (
    name           TEXT PRIMARY KEY,
    stopped        INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    error_position INTEGER,
    error_at       TEXT
);
CREATE TABLE reactor_leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    expires     REAL NOT NULL,                    -- unix time (wall clock, not the demo clock)
    acquired_at TEXT NOT NULL
);
CREATE TABLE metrics (
    minute       TEXT NOT NULL,                   -- 2026-01-01T10:42
    kind         TEXT NOT NULL,                   -- reactor | projection
    name         TEXT NOT NULL,
    event_type   TEXT NOT NULL,                   -- '' = the subscriber as a whole (lag)
    handled      INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    retries      INTEGER NOT NULL DEFAULT 0,
    latency_sum  REAL NOT NULL DEFAULT 0,
    latency_hist TEXT NOT NULL DEFAULT '{}',      -- log-scale bucket -> count
    lag          INTEGER,
    PRIMARY KEY (minute, kind, name, event_type)
) WITHOUT ROWID;
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

MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    lambda conn: run_script(conn, _V1),
    lambda conn: run_script(conn, _LONG_LIVED),
    lambda conn: run_script(conn, _PROJECTIONS),
    lambda conn: run_script(conn, _REACTORS),
    lambda conn: run_script(conn, _DERIVED_STREAMS),
]

# Features added by later work register their migrations here, in order, at import time of
# evsh.store.sqlite (see register_migration); the list index is the schema version it creates.


def register_migration(step: Callable[[sqlite3.Connection], None]) -> None:
    MIGRATIONS.append(step)


def latest_version() -> int:
    return len(MIGRATIONS)


def check_and_upgrade(conn: sqlite3.Connection, path: str, *, creating: bool) -> None:
    """Create a new store, upgrade an older one, refuse anything else. Runs in its own transaction."""
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
