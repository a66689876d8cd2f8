"""Opening a store by what ``--db`` names: a file (SQLite, the embedded default) or a
``postgresql://`` URL (a server, for several processes on several machines).

The PostgreSQL backend and its driver are imported only for such a URL, so an SQLite user's
start-up never pays for them.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ..errors import StoreError
from .base import utc_now

SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(db: str) -> bool:
    return db.startswith(SERVER_SCHEMES)


def shown(db: str) -> str:
    """``db`` as messages show it: a server URL without its password (a file path as it is)."""
    if not is_server_url(db):
        return db
    import urllib.parse

    parts = urllib.parse.urlsplit(db)
    if parts.password is None:
        return db
    netloc = parts.netloc.rsplit("@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}@{netloc[-1]}"))


def open_store(
    db: str,
    *,
    create: bool = True,
    sync: str = "normal",
    busy_timeout: float = 60.0,
    clock: Callable[[], str] = utc_now,
    read_only: bool = False,
) -> Any:
    """Open (and with ``create``, make) the store ``db`` names: a file path or a postgresql:// URL.
    ``read_only`` opens it for reading only (a second connection for slow listings)."""
    if is_server_url(db):
        try:
            from .postgres import open_store as open_server
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("psycopg"):
                raise StoreError(
                    "a postgresql:// store needs the psycopg driver: pip install 'evsh[postgres]'"
                    " (or pip install 'psycopg[binary]')") from None
            raise
        return open_server(db, create=create, sync=sync, busy_timeout=busy_timeout, clock=clock, read_only=read_only)
    from .sqlite import open_store as open_file

    return open_file(db, create=create, sync=sync, busy_timeout=busy_timeout, clock=clock, read_only=read_only)


def driver_error(exc: BaseException, db: str) -> StoreError | None:
    """The StoreError a database driver's exception stands for, or None when it is not one.

    For a front end's last line of defence: a driver error that escaped every store transaction
    still reads as what is wrong with the store (read-only, damaged, full, unreachable), whatever
    the backend. Only drivers already imported are asked, so this imports nothing."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        from .sqlite import store_error

        return store_error(exc, db)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        from .postgres.connection import store_error as server_error
        from .postgres.urls import split_url

        return server_error(exc, split_url(db)[2] if is_server_url(db) else db)
    return None
