"""No command writes a file over a store: one check for every path a command writes to.

`evsh --db shop.db export -o shop.db` once opened its output for writing, which emptied the
store it was about to read. Every command that writes a file (export, backup, keys export,
verify's scripts, the shell's history, a demo's store) asks :func:`refuse_store_path` first,
before anything is opened for writing.

A path names the store when it is the store file or one of SQLite's companions (``-wal``,
``-shm``, ``-journal``): after resolving links (symbolic links, ``./x``, relative against
absolute), and by device and inode when both files exist (hard links, bind mounts). Any other
SQLite database is refused too, by its header: `export -o other.db` replaced another store with
JSON lines, and a shell history pointed at one was appended to.
"""

from __future__ import annotations

import os

from ..errors import BadInput

COMPANIONS = {
    "": "the store",
    "-wal": "the store's write-ahead log",
    "-shm": "the store's shared-memory index",
    "-journal": "the store's rollback journal",
}


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: by device and inode when both exist, else by resolved path."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def store_role(path: str, db: str) -> str | None:
    """What ``path`` is to the store ``db``, in words ("the store (shop.db)", ...), or None."""
    for suffix, role in COMPANIONS.items():
        # SQLite puts the companions beside the file a symbolic link points to: both spellings count
        bases = [b + suffix for b in dict.fromkeys((db, os.path.realpath(db)))]
        if any(same_file(path, base) for base in bases):
            linked = "" if os.path.abspath(path) in map(os.path.abspath, bases) else ", reached through a link"
            return f"{role} ({db}){linked}"
    return None


def refuse_store_path(path: str, db: str, what: str) -> None:
    """Raise BadInput (exit 2) when ``path``, the file ``what`` (e.g. "export -o") would write, is
    the store ``db`` or one of its companions."""
    role = store_role(path, db)
    if role is not None:
        raise BadInput(f"{what} {path}: that is {role}; choose another path")
    if is_sqlite_file(path):
        raise BadInput(f"{what} {path}: that is an SQLite database (another store?); choose another path")


SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_file(path: str) -> bool:
    """Whether ``path`` is a regular file that starts as every SQLite database does."""
    try:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except (OSError, ValueError):
        return False
