"""The embedded event store: one SQLite file in WAL mode.

The store is one class made of parts, each in its own module: the connection and its
transactions (``connection``), appends, reads and keyed pages, declared tables and read-only
SQL, housekeeping (compaction, backup, bulk import, scrubbing); stream listings, lifecycle
rules, checkpoints, snapshots, subject keys and the import's logic are shared with the
PostgreSQL store (``evsh.store``). Every ``sqlite3`` error leaving it is an evsh ``StoreError``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..base import utc_now
from ..catalogue import Catalogue
from ..keys import Keys
from ..lifecycle import Lifecycle
from ..listing import Streams, live_streams
from ..reads import Reads
from ..records import Records
from ..transfer import Transfer
from .appends import Appends
from .connection import DEFAULT_BUSY_TIMEOUT, SYNC_MODES, SQLiteConnection
from .housekeeping import Housekeeping
from .reads import SQLiteReads
from .tables import SQLiteTables

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SYNC_MODES", "SQLiteEventStore", "live_streams", "open_store"]


class SQLiteEventStore(
    SQLiteConnection, Appends, SQLiteReads, Reads, Streams,
    Lifecycle, Records, Keys, Catalogue, SQLiteTables, Transfer, Housekeeping,
):
    """An evsh store in one SQLite file. Use :func:`open_store` to get one."""

    GREATEST = Housekeeping.GREATEST
    FOR_UPDATE = Housekeeping.FOR_UPDATE

    def __init__(self, path: str, **options: Any) -> None:
        super().__init__(path, **options)
        self._ops: dict[Any, Any] = {}  # (table spec, physical name) -> its statements
        self._catalogue_known: tuple[int, frozenset[str]] | None = None


def open_store(
    path: str,
    *,
    create: bool = True,
    sync: str = "normal",
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    clock: Callable[[], str] = utc_now,
    read_only: bool = False,
) -> SQLiteEventStore:
    """Open (and with ``create``, make) the store at ``path``; ``read_only`` for reading only."""
    return SQLiteEventStore(path, create=create, sync=sync, busy_timeout=busy_timeout, clock=clock,
                            read_only=read_only)
