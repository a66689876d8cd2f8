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


def test_a_follower_is_woken_by_an_append_at_once_and_an_unheard_append_sends_nothing():
    import threading
    import time

    with postgres_url() as url:
        channel_listener = psycopg.connect(url.split("?")[0], autocommit=True)
        follower, writer = open_store(url), open_store(url)
        try:
            writer.append("a-1", [ev()])  # no one listens yet
            channel_listener.execute(f"LISTEN {writer.channel}")  # without the listening lock
            writer.append("a-1", [ev()])
            assert list(channel_listener.notifies(timeout=0.3, stop_after=1)) == []
            woke: list[float] = []
            t = threading.Thread(target=lambda: woke.append(follower.wait(writer.head_position(), 10.0)
                                                            and time.monotonic()))
            t.start()
            time.sleep(0.5)  # the follower is listening, with the lock
            appended = time.monotonic()
            writer.append("a-1", [ev()])
            t.join(5)
            assert woke and woke[0] - appended < 0.9  # the NOTIFY, not the one-second poll
            heard = [n.payload for n in channel_listener.notifies(timeout=1.0, stop_after=1)]
            assert heard == [str(writer.head_position())]
        finally:
            channel_listener.close()
            follower.close()
            writer.close()


def test_a_seed_makes_its_history_on_the_thread_that_holds_the_transaction(cli, monkeypatch):
    """Sealing a chunk of seeded history keeps its subjects' keys in the store, inside the seed's
    transaction: made on a read-ahead thread, it interleaved savepoints on one connection and a
    40,000-order seed failed ("rollback at the wrong nesting level")."""
    import threading

    import evsh.engine.seeding as seeding

    made_on: set[str] = set()
    real = seeding.shop_history

    def watched(*args, **kwargs):
        for chunk in real(*args, **kwargs):
            made_on.add(threading.current_thread().name)
            yield chunk

    monkeypatch.setattr(seeding, "shop_history", watched)
    with postgres_url() as url:
        r = cli("seed", "--orders", "2500", db=url)  # 12,000 events: three chunks
        assert r.exit_code == 0, r.stderr
    assert made_on == {threading.main_thread().name}
