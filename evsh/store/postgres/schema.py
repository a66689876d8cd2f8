"""The store's schema on PostgreSQL, and its migrations.

A store lives in one schema of a database (``evsh`` unless the URL says ``?schema=NAME``), so a
database holding other tables is fine, and several stores can share one database. The schema
version is kept in ``evsh_meta``; an older store is upgraded in one transaction under an
advisory lock, a newer one (or a schema that is not an evsh store) is refused untouched.

The tables mirror the SQLite store's, in PostgreSQL's types: payloads as ``json`` (the text
kept exactly as written, and queryable with ``->>``), times as ISO text (the same text on both
backends), positions as ``bigint``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ...errors import NewerStore, NotAStore, StoreError, StoreMissing

MARK_KEY = "format"
MARK_VALUE = "evsh-event-store"
VERSION_KEY = "schema_version"

_V1 = """
CREATE TABLE evsh_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE events (
    position    bigint PRIMARY KEY,     -- from events_position_seq under the append lock (version 2); never reused
    event_id    text NOT NULL UNIQUE,
    stream_id   text COLLATE "C" NOT NULL,  -- byte order, as on SQLite: category ranges rely on it
    version     bigint NOT NULL,
    type        text NOT NULL,
    data        json NOT NULL,
    metadata    json NOT NULL,
    recorded_at text NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE stream_rules (
    stream_id       text COLLATE "C" PRIMARY KEY,
    category        text NOT NULL,
    version         bigint NOT NULL,
    created_at      text NOT NULL,
    updated_at      text NOT NULL,
    deleted         smallint NOT NULL DEFAULT 0,   -- 0 live, 1 soft-deleted, 2 tombstone
    truncate_before bigint NOT NULL DEFAULT 0,     -- versions below it are hidden
    max_count       bigint,
    max_age         double precision                -- seconds
);
CREATE INDEX stream_rules_with_rules ON stream_rules (stream_id)
    WHERE deleted > 0 OR truncate_before > 0 OR max_count IS NOT NULL OR max_age IS NOT NULL;
CREATE TABLE checkpoints (
    name       text PRIMARY KEY,
    position   bigint NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE snapshots (
    stream_id     text PRIMARY KEY,
    aggregate     text NOT NULL,
    version       bigint NOT NULL,
    state_version bigint NOT NULL,
    state         text NOT NULL,
    taken_at      text NOT NULL
);
CREATE INDEX snapshots_by_aggregate ON snapshots (aggregate);
CREATE TABLE subject_keys (
    key_id       text PRIMARY KEY,
    subject      text NOT NULL,
    key          bytea,                 -- NULL once the subject is forgotten
    created_at   text NOT NULL,
    forgotten_at text
);
CREATE UNIQUE INDEX subject_keys_active ON subject_keys (subject) WHERE key IS NOT NULL;
CREATE INDEX subject_keys_by_subject ON subject_keys (subject);
CREATE TABLE evsh_tables (
    name       text PRIMARY KEY,
    owner      text NOT NULL,
    private    boolean NOT NULL DEFAULT false,
    spec       text NOT NULL,
    created_at text NOT NULL
);
CREATE VIEW streams AS
SELECT g.stream_id AS stream_id, split_part(g.stream_id, '-', 1) AS category,
       greatest(g.version, coalesce(r.version, 0)) AS version,
       coalesce(r.created_at, g.created_at) AS created_at, coalesce(r.updated_at, g.updated_at) AS updated_at,
       coalesce(r.deleted, 0) AS deleted, coalesce(r.truncate_before, 0) AS truncate_before,
       r.max_count AS max_count, r.max_age AS max_age
FROM (SELECT e.stream_id, max(e.version) AS version, min(e.recorded_at) AS created_at, max(e.recorded_at) AS updated_at
      FROM events e GROUP BY e.stream_id) g
LEFT JOIN stream_rules r ON r.stream_id = g.stream_id
UNION ALL
SELECT stream_id, category, version, created_at, updated_at, deleted, truncate_before, max_count, max_age
FROM stream_rules r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = r.stream_id);
"""

# Version 2: appenders let go of the append lock before their commit's flush, so commits group
# (locking.py). Positions come from a sequence advanced under the lock, and each event keeps
# the transaction that wrote it: a reader stops at the last event of a transaction older than
# every appender still running (docs/postgresql.md). Events written before get transaction 0.
_V2 = """
ALTER TABLE events ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();
CREATE SEQUENCE events_position_seq AS bigint OWNED BY events.position;
SELECT setval('events_position_seq', coalesce((SELECT max(position) FROM events), 0) + 1, false);
"""

# Each entry upgrades the schema from version i to i + 1 (index 0 creates version 1).
MIGRATIONS: list[str] = [_V1, _V2]

CORE_TABLES = frozenset(re.findall(r"CREATE (?:TABLE|VIEW) (\w+)", "\n".join(MIGRATIONS)))


def latest_version() -> int:
    return len(MIGRATIONS)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def check_and_upgrade(conn: Any, schema: str, where: str, *, creating: bool, upgrade: bool,
                      lock_key: Callable[[], int]) -> None:
    """Create a new store, upgrade an older one, refuse anything else (in one transaction).
    ``lock_key`` gives the appends' lock, asked for only when the store is created or upgraded."""
    import psycopg

    def state() -> tuple[bool, bool, int]:
        """(the schema exists, it holds evsh_meta, its version)."""
        has_schema = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
        tables = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'p')", (schema,))}
        if "evsh_meta" not in tables:
            if tables:
                raise NotAStore(f"{where} holds tables but is not an evsh store; pass another --db or ?schema=")
            return has_schema, False, 0
        rows = dict(conn.execute("SELECT key, value FROM evsh_meta WHERE key IN (%s, %s)", (MARK_KEY, VERSION_KEY)))
        if rows.get(MARK_KEY) != MARK_VALUE:
            raise NotAStore(f"{where} is not an evsh store; pass another --db or ?schema=")
        return has_schema, True, int(rows.get(VERSION_KEY, "0"))

    try:  # the usual case in one round trip: a store of this version (search_path is its schema)
        known = dict(conn.execute("SELECT key, value FROM evsh_meta WHERE key IN (%s, %s)", (MARK_KEY, VERSION_KEY)))
        if known.get(MARK_KEY) == MARK_VALUE and known.get(VERSION_KEY) == str(latest_version()):
            return
    except psycopg.errors.UndefinedTable:
        pass
    _, marked, version = state()
    if marked:
        if version > latest_version():
            raise NewerStore(f"{where} has store schema {version}, newer than this evsh understands"
                             f" ({latest_version()}); upgrade evsh")
        if version == latest_version():
            return
    elif not creating:
        raise StoreMissing(f"{where} is not an evsh store yet; run `evsh init` to make it one")
    if not upgrade:
        raise StoreError(f"{where} has store schema {version}; open it once for writing to upgrade it to"
                         f" {latest_version()}")
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(),))
            has_schema, marked, version = state()  # again, under the lock: another process may have done it
            if not has_schema:
                conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
            for script in MIGRATIONS[version:]:
                conn.execute(script)
            if not marked:
                conn.execute("INSERT INTO evsh_meta (key, value) VALUES (%s, %s)", (MARK_KEY, MARK_VALUE))
            conn.execute("INSERT INTO evsh_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET"
                         " value = excluded.value", (VERSION_KEY, str(latest_version())))
    except psycopg.errors.InsufficientPrivilege as exc:
        raise StoreError(f"{where}: not allowed to create the store's schema ({exc.diag.message_primary});"
                         " ask for CREATE on the database, or pass a ?schema= you own") from None
