"""Importing events in bulk, the same on every backend: all lines or none, idempotent.

An import is one transaction under the append lock: rows are validated before they get here, a
re-import of the same lines is skipped, any other clash is refused with the line number. How
rows reach the events table fast is the backend's (``_insert_events``: executemany on SQLite,
COPY on PostgreSQL). A mixin of each store: SQL is written with ``?`` placeholders.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Iterator

from ..errors import BadInput, IdConflict, StreamDeleted
from . import codec
from .base import category_of
from .visibility import LIFECYCLE_STREAM, SOFT_DELETED, TOMBSTONE


_DONE = object()


def _read_ahead(chunks: Iterable[list[tuple]], depth: int = 2) -> Iterator[list[tuple]]:
    """The chunks, parsed and checked in a thread of their own while the database writes the
    previous ones (the driver lets go of the interpreter while it waits for the server): an
    import costs about the larger of the two instead of their sum. An error in a chunk is
    raised here, in its turn."""
    import queue  # only an import reads ahead: opening a store for anything else goes without it

    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        """Hand an item over unless the reader is gone (it stopped at an error of its own)."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="evsh-import-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class Transfer:
    """Bulk import (a mixin of each store)."""

    GREATEST = "max"  # the backend's two-argument maximum
    # parse the next chunk while this one is written: worth it where the driver waits for a
    # server without the interpreter's lock (PostgreSQL); SQLite's writes hold it, and a second
    # thread only contends for it (5% slower measured)
    READ_AHEAD = False

    def import_rows(self, chunks: Iterable[list[tuple]],
                    on_written: Callable[[int, list[tuple]], None] | None = None, *,
                    read_ahead: bool = True) -> tuple[int, int]:
        """Write already validated rows in one transaction: all of them, or none.

        Each row is ``(line, event_id, stream_id, version, type, data_text, metadata_text,
        recorded_at)``. Rows whose event id is already stored at the same stream and version are
        skipped (an idempotent re-import); any other clash raises with the row's line number.
        A new stream may start above version 1 (it was truncated or scavenged): it is imported as
        truncated before that version. Lifecycle events of ``$streams`` (deletions, truncations,
        metadata) are applied as they come, so an export of a store imports as the same store.
        ``on_written(first position, rows)`` is called, in the transaction, with the rows
        (without ``line``) each time some are written. ``read_ahead=False`` takes the chunks on
        the caller's thread: for chunks whose making uses this store (a seed keeps subject keys
        in it), whose connection must not be used from a second thread inside the transaction.
        Returns (written, skipped).
        """
        try:
            with self._bulk_import():
                ahead = read_ahead and self.READ_AHEAD
                return self._import_rows(_read_ahead(chunks) if ahead else chunks, on_written)
        finally:
            self._epoch += 1  # streams grew behind the append listeners' backs (and past a remembered head)

    def _import_rows(self, chunks: Iterable[list[tuple]],
                     on_written: Callable[[int, list[tuple]], None] | None = None) -> tuple[int, int]:
        written = skipped = 0
        versions: dict[str, int] = {}
        tombstones: set[str] = set()
        ruled: set[str] = set()  # streams with a rules row
        fresh: list[tuple] = []
        touched: dict[str, list] = {}  # stream -> [version, first at, last at, truncate_before of a new stream]

        def flush(chunk: list[tuple]) -> None:
            nonlocal written
            if not fresh:
                return
            if not self._insert_events(fresh):  # an id used twice: say which
                raise IdConflict(self._explain_clash(chunk))
            if on_written is not None:  # the rows took consecutive positions, the log's last (no other append is in flight)
                last = self._one("SELECT max(position) FROM events")[0]
                on_written(last - len(fresh) + 1, fresh[:])
            written += len(fresh)
            self._run_many(  # a plain stream is its events; one with rules, or truncated, keeps a row
                "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, truncate_before)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET"
                " version=excluded.version, updated_at=excluded.updated_at,"
                " deleted=CASE WHEN stream_rules.deleted=1 THEN 0 ELSE stream_rules.deleted END",
                [(sid, category_of(sid), v, first, last, tb) for sid, (v, first, last, tb) in touched.items()
                 if tb or sid in ruled],
            )
            ruled.update(sid for sid, t in touched.items() if t[3])
            fresh.clear()
            touched.clear()

        with self.transaction():
            self.lock_appends(exclusive=True)
            # into an empty store (moving a store: export | import), every stream is new or known
            # from the lines already read: no need to ask the database about each chunk's streams
            empty = self.head_position() == 0 and self._one("SELECT 1 FROM stream_rules LIMIT 1") is None
            for chunk in chunks:
                unseen = {r[2] for r in chunk if r[2] not in versions}
                if empty:
                    versions.update(dict.fromkeys(unseen, 0))
                else:
                    self._load_versions(versions, unseen, tombstones, ruled)
                for line, eid, sid, ver, etype, data, meta, at in chunk:
                    current = versions[sid]
                    if ver <= current:
                        stored = self._one("SELECT stream_id, version FROM events WHERE event_id=?", (eid,))
                        if stored is not None and tuple(stored) == (sid, ver):
                            skipped += 1
                            continue
                        if stored is not None:
                            raise IdConflict(f"line {line}: event id {eid} is already stored at {stored[0]}@{stored[1]}")
                        raise IdConflict(
                            f"line {line}: stream {sid!r} already has version {ver} with another event"
                        )
                    if sid in tombstones:
                        raise StreamDeleted(f"line {line}: stream {sid!r} was hard-deleted (a tombstone)")
                    gap = 0
                    if ver != current + 1:
                        if current != 0:
                            raise BadInput(
                                f"line {line}: stream {sid!r} version {ver} does not follow version {current}"
                            )
                        gap = ver  # a truncated stream: versions below `ver` are gone
                    versions[sid] = ver
                    fresh.append((eid, sid, ver, etype, data, meta, at))
                    t = touched.get(sid)
                    if t is None:
                        touched[sid] = [ver, at, at, gap]
                    else:
                        t[0] = ver
                        t[2] = at
                    if sid == LIFECYCLE_STREAM:
                        flush(chunk)
                        target = self._import_lifecycle(etype, codec.loads(data), at)
                        if target is not None:
                            version, deleted = self._rules_row(target)[:2]
                            versions[target] = version
                            ruled.add(target)
                            if deleted == TOMBSTONE:
                                tombstones.add(target)
                flush(chunk)
        return written, skipped

    def _import_lifecycle(self, etype: str, data: dict[str, Any], at: str) -> str | None:
        """Apply one imported ``$streams`` event to the streams table; returns the stream it concerns."""
        sid = data.get("stream_id")
        if not isinstance(sid, str):
            return None
        applies = ((etype == "StreamDeleted" and type(data.get("version")) is int)
                   or (etype == "StreamTruncated" and type(data.get("before")) is int)
                   or etype == "StreamMetadataChanged")
        if not applies:
            return None
        row = self._rules_row(sid)
        run = self._run
        if etype == "StreamDeleted" and type(data.get("version")) is int:
            version = data["version"]
            state = TOMBSTONE if data.get("hard") else SOFT_DELETED
            if row is None:
                run("INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, deleted,"
                    " truncate_before) VALUES (?,?,?,?,?,?,?)", (sid, category_of(sid), version, at, at, state, version + 1))
            else:
                run(f"UPDATE stream_rules SET deleted=?, truncate_before={self.GREATEST}(truncate_before, ?)"
                    " WHERE stream_id=?", (state, version + 1, sid))
        elif etype == "StreamTruncated" and type(data.get("before")) is int:
            before = data["before"]
            if row is None:
                run("INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, truncate_before)"
                    " VALUES (?,?,?,?,?,?)", (sid, category_of(sid), before - 1, at, at, before))
            else:
                run(f"UPDATE stream_rules SET truncate_before={self.GREATEST}(truncate_before, ?) WHERE stream_id=?",
                    (before, sid))
        elif etype == "StreamMetadataChanged" and row is not None:
            run("UPDATE stream_rules SET max_count=?, max_age=? WHERE stream_id=?",
                (data.get("max_count"), data.get("max_age"), sid))
        else:
            return None
        self._lifecycle_changed()
        return sid

    def _load_versions(self, versions: dict[str, int], stream_ids: set[str], tombstones: set[str],
                       ruled: set[str]) -> None:
        ids = list(stream_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for sid in part:
                versions[sid] = 0
            for sid, ver in self._all(
                f"SELECT stream_id, max(version) FROM events WHERE stream_id IN ({marks}) GROUP BY stream_id", part
            ):
                versions[sid] = ver
            for sid, ver, deleted in self._all(
                f"SELECT stream_id, version, deleted FROM stream_rules WHERE stream_id IN ({marks})", part
            ):
                versions[sid] = ver
                ruled.add(sid)
                if deleted == TOMBSTONE:
                    tombstones.add(sid)

    def _explain_clash(self, chunk: list[tuple]) -> str:
        seen: set[str] = set()
        for line, eid, sid, ver, *_ in chunk:
            if eid in seen:
                return f"line {line}: event id {eid} appears twice in the file"
            seen.add(eid)
            stored = self._one("SELECT stream_id, version FROM events WHERE event_id=?", (eid,))
            if stored is not None and tuple(stored) != (sid, ver):
                return f"line {line}: event id {eid} is already stored at {stored[0]}@{stored[1]}"
        return "an event id in the file is used twice"
