"""Appending to a stream on PostgreSQL: all or nothing, optimistic concurrency, idempotent
re-sends, positions that readers can trust.

Under the append lock (see ``locking``) a batch reads the stream's state, takes its positions
from the sequence (no one else takes any meanwhile, so they are consecutive) and inserts its
events in one statement; the last position is announced on the store's NOTIFY channel right
after the COMMIT. A batch that expects an exact version (a command's)
does all of it in one statement, which takes positions and inserts only when the stream is at
that version and has no lifecycle rules; otherwise the steps go one by one. A transaction rolled
back after taking positions leaves them unused: positions rise in the log but may skip.
"""

from __future__ import annotations

from typing import Sequence

from ..base import ANY, NO_STREAM, AppendHook, utc_now, AppendResult, ExpectedVersion, NewEvent, RecordedEvent
from ..batches import Claims, IdTaken, prepare_batch
from ..reads import STATE_SQL

# n positions, consecutive under the append lock (no one else takes any meanwhile): returns the
# one before the first. nextval n times, not setval: setval writes to the WAL on every call
TAKE_POSITIONS_SQL = ("SELECT nextval('events_position_seq') - 1,"
                      " (SELECT count(nextval('events_position_seq')) FROM generate_series(2, ?))")


def insert_if_at_sql(n: int) -> str:
    """State, positions and the batch's insert in one statement: takes positions and inserts only
    if the stream is at the expected version and has no rules row. Returns (current, deleted,
    ruled, the position before the batch's first, written)."""
    typed = "(1, ?::text, ?::text, ?::bigint, ?::text, ?::json, ?::json, ?::text)"
    rows = ", ".join([typed] + [f"({i}, ?, ?, ?, ?, ?, ?, ?)" for i in range(2, n + 1)])
    return (
        f"WITH st AS (SELECT * FROM ({STATE_SQL}) AS s(current, deleted, ruled)),"
        " taken AS (SELECT nextval('events_position_seq') - 1 AS base,"
        f" (SELECT count(nextval('events_position_seq')) FROM generate_series(2, {n})) AS more"
        " FROM st WHERE st.current = ? AND NOT st.ruled),"
        " ins AS (INSERT INTO events (position, event_id, stream_id, version, type, data, metadata, recorded_at)"
        " SELECT taken.base + v.i, v.event_id, v.stream_id, v.version, v.type, v.data, v.metadata, v.recorded_at"
        f" FROM taken, (VALUES {rows}) AS v(i, event_id, stream_id, version, type, data, metadata, recorded_at)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING 1)"
        " SELECT st.current, st.deleted, st.ruled, taken.base, w.n"
        " FROM st LEFT JOIN taken ON true, (SELECT count(*) AS n FROM ins) AS w"
    )


class Appends(Claims):
    """The write side of the events table (a mixin of the PostgreSQL store)."""

    def _take_positions(self, n: int) -> int:
        """``n`` consecutive positions for this append-locked transaction: the one before the first."""
        return self._one(TAKE_POSITIONS_SQL, (n,))[0]

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
                exact = 0 if expected == NO_STREAM else expected if isinstance(expected, int) else None
                now = None
                # a command's batch: one round trip when the stream is as expected. The clock is
                # read before knowing that, so only the real one (a demo clock steps per reading)
                if exact is not None and self.clock is utc_now:
                    now = self.clock()
                    done = self._insert_if_at(stream_id, events, ids, encoded, exact, now, hooks)
                    if done is not None:
                        return done
                claimed = self._claim(stream_id, expected, ids)
                if claimed is None:
                    return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
                current, ruled = claimed
                if now is None:  # only for what is written: a demo clock steps on each reading
                    now = self.clock()
                if ruled:  # the rules need the version (max-count), and it outlives scavenged events
                    self._run("UPDATE stream_rules SET version=%s, updated_at=%s, deleted=0 WHERE stream_id=%s",
                              (current + len(events), now, stream_id))
                head = self._take_positions(len(events))
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
                    " SELECT count(*) FROM ins",
                    rows,
                )[0]
                return self._recorded(stream_id, ids, written, recorded, hooks)
        except IdTaken as taken:
            return self._taken(stream_id, ids, expected, taken)

    def _insert_if_at(self, stream_id: str, events: Sequence[NewEvent], ids: list[str], encoded: list,
                      exact: int, now: str, hooks: Sequence[AppendHook]) -> AppendResult | None:
        """The batch written at version ``exact`` in one statement (None: the stream is elsewhere
        or has rules, nothing was written, and the caller takes the step-by-step way)."""
        rows = []
        for i, (eid, (_, etype, data, meta)) in enumerate(zip(ids, encoded), 1):
            rows.extend((eid, stream_id, exact + i, etype, data, meta, now))
        current, _, ruled, head, written = self._hot_rows(
            insert_if_at_sql(len(ids)), (stream_id, stream_id, exact, *rows))[0][:5]
        if current != exact or ruled:
            return None
        recorded = [RecordedEvent(head + i, eid, stream_id, exact + i, ev.type, ev.data, ev.metadata, now)
                    for i, (eid, ev) in enumerate(zip(ids, events), 1)]
        return self._recorded(stream_id, ids, written, recorded, hooks)

    def _recorded(self, stream_id: str, ids: list[str], written: int, recorded: list[RecordedEvent],
                  hooks: Sequence[AppendHook]) -> AppendResult:
        """After the insert: a taken id undoes the batch (IdTaken), else the hooks run on it."""
        if written != len(ids):
            marks = ",".join("?" * len(ids))
            taken = {r[0] for r in self._all(f"SELECT event_id FROM events WHERE event_id IN ({marks})", ids)}
            raise IdTaken(next((e for e in ids if e in taken), ids[0]))
        result = tuple(recorded)
        self._announce = recorded[-1].position  # NOTIFY after the COMMIT (locking.py)
        self._appended(stream_id, recorded[-1])
        for hook in hooks:
            hook(self, result)
        return AppendResult(stream_id, recorded[-1].version, result)
