"""The server event store: evsh on PostgreSQL, for several processes on several machines.

The same store as the embedded SQLite one, behind the same interface, made of the same parts:
the connection and its transactions (``connection``), the locks that order appends and how an
appending transaction begins and ends (``locking``), claims of rows that
may not exist yet (``claims``), appends, reads and keyed
pages, declared tables and read-only SQL, housekeeping; stream listings, lifecycle, checkpoints,
snapshots, subject keys and bulk import are shared with SQLite (``evsh.store``). Selected by a
``postgresql://`` URL; psycopg is imported only then.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..base import utc_now
from ..catalogue import Catalogue
from ..keys import Keys
from ..lifecycle import Lifecycle
from ..listing import Streams, live_streams
from ..reads import Reads
from ..records import Records
from ..tables import TableSpec
from ..transfer import Transfer
from .appends import Appends
from .claims import RowClaims
from .connection import PGConnection
from .housekeeping import Housekeeping
from .locking import PGLocking
from .reads import PGReads
from .tables import PGTables, views_kept

__all__ = ["PostgresEventStore", "live_streams", "open_store"]


class PostgresEventStore(
    RowClaims, PGLocking, PGConnection, Appends, PGReads, Reads, Streams,
    Lifecycle, Records, Keys, Catalogue, PGTables, Transfer, Housekeeping,
):
    """An evsh store in a PostgreSQL schema. Use :func:`open_store` to get one."""

    GREATEST = Housekeeping.GREATEST
    FOR_UPDATE = Housekeeping.FOR_UPDATE

    def swap_tables(self, specs: Sequence[TableSpec], physical: Mapping[str, str], *, owner: str) -> None:
        """As the catalogue's, keeping the views over the swapped tables (see ``views_kept``)."""
        with views_kept(self, [s.name for s in specs]):
            Catalogue.swap_tables(self, specs, physical, owner=owner)

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._ops: dict[Any, Any] = {}
        self._tables_known: tuple[int, frozenset[str]] | None = None
        self._catalogue_known: tuple[Any, frozenset[str]] | None = None


def open_store(
    url: str,
    *,
    create: bool = True,
    sync: str = "normal",
    busy_timeout: float = 60.0,
    clock: Callable[[], str] = utc_now,
    read_only: bool = False,
) -> PostgresEventStore:
    """Open (and with ``create``, make) the store a postgresql:// URL names."""
    return PostgresEventStore(url, create=create, sync=sync, busy_timeout=busy_timeout, clock=clock,
                              read_only=read_only)
