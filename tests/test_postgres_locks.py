"""The append lock on PostgreSQL is let go whatever way a transaction ends: committed, rolled
back, a savepoint undone, or its COMMIT refused because a statement kept for it failed. Another
writer waiting with a short busy timeout would otherwise be refused (docs/postgresql.md)."""

from __future__ import annotations

import psycopg
import pytest

from evsh import table
from evsh.errors import StoreError
from evsh.store.base import NewEvent
from evsh.store.connect import open_store
from tests.services import postgres_url

NOTES = table("lock_notes", {"k": str}, pk="k")


def ev() -> NewEvent:
    return NewEvent("Happened", {})


def test_the_append_lock_is_let_go_however_a_transaction_ends():
    with postgres_url() as url:
        store, other = open_store(url), open_store(url, busy_timeout=1.0)
        try:
            store.ensure_tables([NOTES], owner="test")
            with pytest.raises(RuntimeError):
                with store.transaction():
                    store.append("a-1", [ev()])
                    raise RuntimeError("undo")
            assert other.append("o-1", [ev()]).version == 1
            with store.transaction():
                store.append("a-1", [ev()])
                with pytest.raises(RuntimeError):
                    with store.transaction():
                        store.append("a-1", [ev()])
                        raise RuntimeError("undo the savepoint")
            assert other.append("o-1", [ev()]).version == 2
            # a statement kept for the COMMIT fails there: nothing of the transaction stays
            with psycopg.connect(url.split("?")[0], autocommit=True) as admin:
                with pytest.raises(StoreError, match="lock_notes"):
                    with store.transaction():
                        store.append("b-1", [ev()])
                        store.table(NOTES).add_at_commit({"k": "x"})
                        admin.execute(f'DROP TABLE "{url.rsplit("schema=", 1)[1]}".lock_notes')
            assert store.stream_version("b-1") == 0
            assert other.append("o-1", [ev()]).version == 3
            assert store.append("b-1", [ev()]).version == 1  # and the store goes on
        finally:
            store.close()
            other.close()
