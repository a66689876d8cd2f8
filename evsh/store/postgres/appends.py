"""Appending to a stream on PostgreSQL: all or nothing, optimistic concurrency, idempotent
re-sends, positions in commit order.

Under the append lock (see ``connection``) a batch reads the stream's state and the log's head,
then inserts its events at head + 1, head + 2, ... in one statement that also announces the new
head on the store's NOTIFY channel (delivered only if the transaction commits).
"""

from __future__ import annotations

from typing import Sequence

from ..base import ANY, AppendHook, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from ..batches import Claims, IdTaken, prepare_batch
from ..reads import STATE_SQL

# the stream's state and the log's head in one round trip (the head is remembered for the
# append-locked transaction: no one else can move it meanwhile)
STATE_AND_HEAD_SQL = f"SELECT s.*, (SELECT coalesce(max(position), 0) FROM events) FROM ({STATE_SQL}) AS s"

class Appends(Claims):
    """The write side of the events table (a mixin of the PostgreSQL store)."""

    def _stream_state(self, stream_id: str) -> tuple[int, int | None, bool]:
        current, deleted, ruled, head = self._one(STATE_AND_HEAD_SQL, (stream_id, stream_id))
        token = self.write_token()
        if token is not None:
            self._head = (token, head)
        return current, deleted, ruled

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
        *,
        hooks: Sequence[AppendHook] = (),
    ) -> AppendResult:
        ids, encoded, expected = prepare_batch(stream_id, events, expected_version)
        try:
            with self.transaction():
                self.lock_appends()
                claimed = self._claim(stream_id, expected, ids)
                if claimed is None:
                    return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
                current, ruled = claimed
                now = self.clock()  # only for what is written: a demo clock steps on each reading
                if ruled:  # the rules need the version (max-count), and it outlives scavenged events
                    self._run("UPDATE stream_rules SET version=%s, updated_at=%s, deleted=0 WHERE stream_id=%s",
                              (current + len(events), now, stream_id))
                head = self.head_position()
                rows = []
                recorded = []
                for i, (eid, ev, (_, etype, data, meta)) in enumerate(zip(ids, events, encoded), 1):
                    rows.extend((head + i, eid, stream_id, current + i, etype, data, meta, now))
                    recorded.append(RecordedEvent(head + i, eid, stream_id, current + i, ev.type, ev.data,
                                                  ev.metadata, now))
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(ids))
                written = self._one(
                    f"WITH ins AS (INSERT INTO events (position, event_id, stream_id, version, type, data, metadata,"
                    f" recorded_at) VALUES {values} ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"
                    " SELECT count(*), pg_notify(%s, %s) FROM ins",
                    (*rows, self.channel, str(head + len(ids))),
                )[0]
                if written != len(ids):
                    marks = ",".join("?" * len(ids))
                    taken = {r[0] for r in self._all(f"SELECT event_id FROM events WHERE event_id IN ({marks})", ids)}
                    raise IdTaken(next((e for e in ids if e in taken), ids[0]))
                result = tuple(recorded)
                self._appended(stream_id, recorded[-1])
                for hook in hooks:
                    hook(self, result)
                return AppendResult(stream_id, current + len(ids), result)
        except IdTaken as taken:
            return self._taken(stream_id, ids, expected, taken)
