"""Importing events in bulk, the same on every backend: all lines or none, idempotent.

An import is one transaction under the append lock: rows are validated before they get here, a
re-import of the same lines is skipped, any other clash is refused with the line number. How
rows reach the events table fast is the backend's: ``_insert_events(rows)`` writes them (with
executemany on SQLite) or sends them into a write it may leave open (PostgreSQL's COPY streams
one chunk to the server while the next is parsed; the backend ends it before anything else
reaches its connection), ``_settle_inserts()`` ends that write at the import's end, and
``_abandon_inserts(exc)`` undoes it. Either raises IdConflict naming the line of an event id
already taken. A mixin of each store: SQL is written with ``?`` placeholders.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..errors import BadInput, IdConflict, StreamDeleted
from . import codec
from .recorded import category_of
from .visibility import LIFECYCLE_STREAM, SOFT_DELETED, TOMBSTONE


class Transfer:
    """Bulk import (a mixin of each store)."""

    GREATEST = "max"  # the backend's two-argument maximum
    _import_from = 0  # the head when the running import began: what it wrote lies above

    def import_rows(self, chunks: Iterable[list[tuple]],
                    on_written: Callable[[int, list[tuple]], None] | None = None) -> tuple[int, int]:
        """Write already validated rows in one transaction: all of them, or none.

        Each row is ``(line, event_id, stream_id, version, type, data_text, metadata_text,
        recorded_at)``. Rows whose event id is already stored at the same stream and version are
        skipped (an idempotent re-import); any other clash raises with the row's line number.
        A new stream may start above version 1 (it was truncated or scavenged): it is imported as
        truncated before that version. Lifecycle events of ``$streams`` (deletions, truncations,
        metadata) are applied as they come, so an export of a store imports as the same store.
        ``on_written(first position, rows)`` is called, in the transaction, with the rows
        (without ``line``) each time some are written. The chunks are made on the caller's
        thread, between writes: their making may use this store (a seed keeps subject keys in it).
        Returns (written, skipped).
        """
        try:
            with self._bulk_import():
                return self._import_rows(chunks, on_written)
        finally:
            self._epoch += 1  # streams grew behind the append listeners' backs (and past a remembered head)

    def _import_rows(self, chunks: Iterable[list[tuple]],
                     on_written: Callable[[int, list[tuple]], None] | None = None) -> tuple[int, int]:
        with self.transaction():
            self.lock_appends(exclusive=True)
            try:
                counts = self._import_locked(chunks, on_written)
                self._settle_inserts()
            except BaseException as exc:
                self._abandon_inserts(exc)
                raise
        return counts

    def _import_locked(self, chunks: Iterable[list[tuple]],
                       on_written: Callable[[int, list[tuple]], None] | None) -> tuple[int, int]:
        written = skipped = 0
        versions: dict[str, int] = {}
        tombstones: set[str] = set()
        ruled: set[str] = set()  # streams with a rules row
        fresh: list[tuple] = []
        touched: dict[str, list] = {}  # stream -> [version, first at, last at, truncate_before of a new stream]

        def flush() -> None:
            nonlocal written
            if not fresh:
                return
            self._insert_events(fresh)
            if on_written is not None:  # the rows took consecutive positions, the log's last (no other append is in flight)
                last = self._one("SELECT max(position) FROM events")[0]
                on_written(last - len(fresh) + 1, [r[1:] for r in fresh])
            written += len(fresh)
            kept = [(sid, category_of(sid), v, first, last, tb) for sid, (v, first, last, tb) in touched.items()
                    if tb or sid in ruled]
            if kept:  # a plain stream is its events; one with rules, or truncated, keeps a row
                self._run_many(
                    "INSERT INTO stream_rules (stream_id, category, version, created_at, updated_at, truncate_before)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(stream_id) DO UPDATE SET"
                    " version=excluded.version, updated_at=excluded.updated_at,"
                    " deleted=CASE WHEN stream_rules.deleted=1 THEN 0 ELSE stream_rules.deleted END", kept)
            ruled.update(sid for sid, t in touched.items() if t[3])
            fresh.clear()
            touched.clear()

        # into an empty store (moving a store: export | import), every stream is new or known
        # from the lines already read: no need to ask the database about each chunk's streams
        self._import_from = self.head_position()
        empty = self._import_from == 0 and self._one("SELECT 1 FROM stream_rules LIMIT 1") is None
        for chunk in chunks:
            unseen = {r[2] for r in chunk if r[2] not in versions}
            if empty:
                versions.update(dict.fromkeys(unseen, 0))
            elif unseen:
                self._load_versions(versions, unseen, tombstones, ruled)
            for row in chunk:
                line, eid, sid, ver, etype, data, meta, at = row
                current = versions[sid]
                if ver <= current:
                    stored = self._one("SELECT stream_id, version FROM events WHERE event_id=?", (eid,))
                    if (stored is not None and tuple(stored) == (sid, ver)) or (  # or an earlier line of this chunk
                            stored is None and any(r[1] == eid and r[2] == sid and r[3] == ver for r in fresh)):
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
                fresh.append(row)
                t = touched.get(sid)
                if t is None:
                    touched[sid] = [ver, at, at, gap]
                else:
                    t[0] = ver
                    t[2] = at
                if sid == LIFECYCLE_STREAM:
                    flush()
                    target = self._import_lifecycle(etype, codec.loads(data), at)
                    if target is not None:
                        version, deleted = self._rules_row(target)[:2]
                        versions[target] = version
                        ruled.add(target)
                        if deleted == TOMBSTONE:
                            tombstones.add(target)
            flush()
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

    def _explain_clash(self, rows: list[tuple]) -> str:
        """Which line of ``rows`` (as ``import_rows`` takes them) uses an event id already taken,
        and where: earlier in the file (this import wrote it, or holds it in ``rows``) or in the
        store before the import."""
        seen: dict[str, tuple] = {}
        for line, eid, sid, ver, *_ in rows:
            if eid in seen:
                return f"line {line}: event id {eid} appears twice in the file (first at {seen[eid][2]}@{seen[eid][3]})"
            seen[eid] = (line, eid, sid, ver)
            stored = self._one("SELECT stream_id, version, position FROM events WHERE event_id=?", (eid,))
            if stored is not None and (stored[0], stored[1]) != (sid, ver):
                if stored[2] > self._import_from:
                    return f"line {line}: event id {eid} appears twice in the file (first at {stored[0]}@{stored[1]})"
                return f"line {line}: event id {eid} is already stored at {stored[0]}@{stored[1]}"
        return "an event id in the file is used twice"
