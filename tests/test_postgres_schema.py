"""The PostgreSQL store's schema versions: a store made by an earlier evsh is upgraded in place,
keeping its events and their positions, and a newer one is refused untouched."""

from __future__ import annotations

import psycopg
import pytest

from evsh.errors import NewerStore
from evsh.store.base import NewEvent
from evsh.store.connect import open_store
from evsh.store.postgres import schema as schema_mod
from tests.services import postgres_url


def raw(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url.split("?")[0], autocommit=True)
    conn.execute(f"SET search_path TO {url.rsplit('schema=', 1)[1]}")
    return conn


def test_a_version_1_store_is_upgraded_and_goes_on_after_its_last_position():
    with postgres_url() as url:
        name = url.rsplit("schema=", 1)[1]
        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:  # as evsh 1 made it
            conn.execute(f'CREATE SCHEMA "{name}"')
            conn.execute(f'SET search_path TO "{name}"')
            conn.execute(schema_mod.MIGRATIONS[0])
            conn.execute("INSERT INTO evsh_meta VALUES (%s, %s), (%s, '1')",
                         (schema_mod.MARK_KEY, schema_mod.MARK_VALUE, schema_mod.VERSION_KEY))
            for pos in (1, 2, 5):  # a scavenge left a hole
                conn.execute("INSERT INTO events VALUES (%s, %s, 's-1', %s, 'Old', '{}', '{}', '2026-01-01T00:00:00.000000Z')",
                             (pos, f"00000000-0000-7000-8000-00000000000{pos}", pos))
        store = open_store(url)
        try:
            assert [e.position for e in store.read_all()] == [1, 2, 5]
            assert store.head_position() == 5
            added = store.append("s-1", [NewEvent("New", {})], 5)
            assert [e.position for e in added.events] == [6]
            assert [(e.position, e.type) for e in store.read_all(5)] == [(5, "Old"), (6, "New")]
        finally:
            store.close()
        with raw(url) as conn:
            version = conn.execute("SELECT value FROM evsh_meta WHERE key = %s", (schema_mod.VERSION_KEY,)).fetchone()[0]
            assert version == str(schema_mod.latest_version())
            ids = dict(conn.execute("SELECT position, transaction_id::text FROM events"))
            assert ids[1] == ids[5] == "0" and int(ids[6]) > 0  # the old events read as long committed


def test_a_newer_store_is_refused_untouched():
    with postgres_url() as url:
        open_store(url).close()
        with raw(url) as conn:
            conn.execute("UPDATE evsh_meta SET value = '99' WHERE key = %s", (schema_mod.VERSION_KEY,))
        with pytest.raises(NewerStore, match="newer"):
            open_store(url)
        with raw(url) as conn:
            assert conn.execute("SELECT value FROM evsh_meta WHERE key = %s",
                                (schema_mod.VERSION_KEY,)).fetchone()[0] == "99"
