"""Appending to a stream: all or nothing, with optimistic concurrency and idempotent re-sends.

Positions are the events table's integer key, assigned (max + 1) under the write lock, so they
follow commit order; a scavenge never removes the newest event, so no position is ever handed
out twice (an AUTOINCREMENT key would promise the same at the cost of one more page written per
commit).
"""

from __future__ import annotations

import sqlite3
from typing import Sequence

from ..base import ANY, AppendHook, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from ..batches import Claims, IdTaken, prepare_batch
from .connection import store_error


class Appends(Claims):
    """The write side of the events table (a mixin of the SQLite store)."""

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
        *,
        hooks: Sequence[AppendHook] = (),
    ) -> AppendResult:
        ids, encoded, expected = prepare_batch(stream_id, events, expected_version)
        conn = self.conn
        try:
            with self.transaction():
                claimed = self._claim(stream_id, expected, ids)
                if claimed is None:
                    return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
                current, ruled = claimed
                now = self.clock()  # only for what is written: a demo clock steps on each reading
                if ruled:  # the rules need the version (max-count), and it outlives scavenged events
                    conn.execute(
                        "UPDATE stream_rules SET version=?, updated_at=?, deleted=0 WHERE stream_id=?",
                        (current + len(events), now, stream_id),
                    )
                recorded = []
                version = current
                for eid, ev, (_, etype, data, meta) in zip(ids, events, encoded):
                    version += 1
                    # OR IGNORE: a stored id leaves no row; IdTaken then rolls the batch back
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO events (event_id, stream_id, version, type, data, metadata,"
                        " recorded_at) VALUES (?,?,?,?,?,?,?)",
                        (eid, stream_id, version, etype, data, meta, now),
                    )
                    if cur.rowcount != 1:
                        raise IdTaken(eid)
                    recorded.append(RecordedEvent(cur.lastrowid, eid, stream_id, version, ev.type, ev.data,
                                                  ev.metadata, now))
                result = tuple(recorded)
                self._appended(stream_id, recorded[-1])
                for hook in hooks:
                    hook(self, result)
                return AppendResult(stream_id, version, result)
        except IdTaken as taken:
            return self._taken(stream_id, ids, expected, taken)
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None
