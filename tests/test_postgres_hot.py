"""A command's statements on PostgreSQL go straight through libpq, prepared once per connection
(evsh/store/postgres/hot.py). psycopg drops every prepared statement of the session after a
ROLLBACK, DROP or ALTER: commands must go on after that, their transaction whole, the append lock
let go; and a failure on that path is evsh's one error, with the lock let go too."""

from __future__ import annotations

import signal

import pytest

from evsh.errors import StoreError
from evsh.store.base import NewEvent
from evsh.store.connect import open_store
from tests.services import postgres_url


def ev(n: int) -> NewEvent:
    return NewEvent("Happened", {"n": n})


def advisory_locks(store) -> int:
    """Advisory locks the store's session holds now."""
    return store.conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                              " AND pid = pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("pipelines", [True, False], ids=["pipeline", "no-pipeline"])
def test_commands_go_on_after_the_session_s_prepared_statements_are_dropped(pipelines):
    with postgres_url() as url:
        store, other = open_store(url), open_store(url, busy_timeout=1.0)
        store._hot._pipelines = pipelines  # as with a libpq older than 14
        try:
            assert store.append("a-1", [ev(1)], expected_version=0).version == 1
            assert [e.data["n"] for e in store.read_stream("a-1")] == [1]
            # dropped between the read and the next append: the append is its transaction's
            # first statement, found missing, undone and run again
            store.conn.execute("DEALLOCATE ALL")
            assert store.append("a-1", [ev(2)], expected_version=1).version == 2
            store.conn.execute("DEALLOCATE ALL")  # and before a read outside a transaction
            assert [e.data["n"] for e in store.read_stream("a-1")] == [1, 2]
            store.conn.execute("DEALLOCATE ALL")
            with store.transaction():  # a transaction going on after the append
                store.append("a-1", [ev(3)], expected_version=2)
                store.append("b-1", [ev(4)], expected_version=0)
            assert [e.data["n"] for e in store.read_all()] == [1, 2, 3, 4]
            assert [e.version for e in store.read_stream("a-1")] == [1, 2, 3]
            assert advisory_locks(store) == 0
            assert other.append("o-1", [ev(5)], expected_version=0).version == 1  # the lock was let go
        finally:
            store.close()
            other.close()


def test_a_command_refused_on_the_fast_path_is_one_error_and_lets_the_lock_go():
    with postgres_url() as url:
        holder, waiter = open_store(url), open_store(url, busy_timeout=0.3)
        try:
            with holder.transaction():
                holder.append("h-1", [ev(1)], expected_version=0)  # holds the append lock
                with pytest.raises(StoreError):
                    waiter.append("w-1", [ev(2)], expected_version=0)
                assert advisory_locks(waiter) == 0
            assert waiter.stream_version("w-1") == 0
            assert waiter.append("w-1", [ev(2)], expected_version=0).version == 1
            assert advisory_locks(holder) == 0 and advisory_locks(waiter) == 0
            assert [(e.stream_id, e.version) for e in waiter.read_all()] == [("h-1", 1), ("w-1", 1)]
        finally:
            holder.close()
            waiter.close()


def test_commands_of_many_sizes_go_through_psycopg_past_the_prepared_ones():
    """An insert's text differs with the number of events a command writes: the connection
    keeps a bounded number prepared, and the rest go through psycopg, appended the same."""
    with postgres_url() as url:
        store = open_store(url)
        try:
            most = store._hot.MOST
            for n in range(1, most + 6):
                assert store.append(f"s-{n}", [ev(i) for i in range(n)], expected_version=0).version == n
            assert len(store._hot._names) == most
            assert sum(1 for _ in store.read_all()) == sum(range(1, most + 6))
            assert advisory_locks(store) == 0
        finally:
            store.close()


@pytest.mark.parametrize("pipelines", [True, False], ids=["pipeline", "no-pipeline"])
def test_ctrl_c_while_a_command_waits_for_the_lock_leaves_the_connection_usable(pipelines):
    """The shell catches Ctrl-C and goes on with the same store: the interrupted append is
    cancelled on the server, its results read, its transaction rolled back, no lock kept."""
    with postgres_url() as url:
        holder, waiter = open_store(url), open_store(url, busy_timeout=30)
        waiter._hot._pipelines = pipelines

        def interrupt(*_):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            waiter.append("w-0", [ev(0)], expected_version=0)  # prepared already: the wait is the lock
            with holder.transaction():
                holder.append("h-1", [ev(1)], expected_version=0)
                signal.setitimer(signal.ITIMER_REAL, 0.3)
                with pytest.raises(KeyboardInterrupt):
                    waiter.append("w-1", [ev(2)], expected_version=0)
            assert waiter.append("w-1", [ev(2)], expected_version=0).version == 1
            assert advisory_locks(waiter) == 0
            assert [(e.stream_id, e.version) for e in waiter.read_all()] == [("w-0", 1), ("h-1", 1), ("w-1", 1)]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            holder.close()
            waiter.close()


def test_a_transaction_refused_its_lock_at_commit_leaves_nothing_open():
    """Only statements kept for the COMMIT, after the append lock was asked for: the BEGIN and
    the lock go at the end, and a refusal there rolls back and leaves the store usable."""
    from evsh import table

    notes = table("hot_notes", {"k": str}, pk="k")
    with postgres_url() as url:
        holder, waiter = open_store(url), open_store(url, busy_timeout=0.3)
        try:
            waiter.ensure_tables([notes], owner="test")
            with holder.transaction():
                holder.append("h-1", [ev(1)], expected_version=0)
                with pytest.raises(StoreError):
                    with waiter.transaction():
                        waiter.lock_appends()
                        waiter.at_commit("INSERT INTO hot_notes (k) VALUES (?)", ("x",))
            assert waiter.append("w-1", [ev(2)], expected_version=0).version == 1
            assert waiter.table(notes).rows_where() == []
            assert advisory_locks(waiter) == 0
        finally:
            holder.close()
            waiter.close()
