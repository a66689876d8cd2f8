"""What every backend checks about a batch of events before and after writing it."""

from __future__ import annotations

from typing import Sequence

from ..errors import BadInput, ConcurrencyError, IdConflict, StreamDeleted
from . import codec
from .base import (
    ANY,
    NO_STREAM,
    AppendResult,
    ExpectedVersion,
    NewEvent,
    RecordedEvent,
    canonical_event_id,
    check_name,
    check_stream_id,
    expected_matches,
    new_uuid,
    parse_expected_version,
)
from .reads import STATE_SQL
from .visibility import SOFT_DELETED, TOMBSTONE


class IdTaken(Exception):
    """An event id of the batch is stored already (raised inside the append's transaction, so the
    batch rolls back; then :meth:`Claims.taken` says whether it was an idempotent re-send)."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id


def prepare_batch(stream_id: str, events: Sequence[NewEvent], expected_version: ExpectedVersion
                  ) -> tuple[list[str], list[tuple[str, str, str, str]], ExpectedVersion]:
    """Check an append before its transaction: (event ids, encoded rows, expected version)."""
    check_stream_id(stream_id, reserved_ok=True)
    ids, encoded = encode_batch(events)
    expected = expected_version if expected_version in (ANY, NO_STREAM) else parse_expected_version(expected_version)
    if len(ids) > 1 and len(set(ids)) != len(ids):
        raise IdConflict(f"stream {stream_id!r}: the batch holds the same event id twice")
    return ids, encoded, expected


def encode_batch(events: Sequence[NewEvent]) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """Check a batch and encode its payloads: (event ids, (id, type, data, metadata) rows)."""
    if not events:
        raise BadInput("nothing to append: give at least one event")
    ids = []
    encoded = []
    for ev in events:
        check_name(ev.type, "event type")
        if not isinstance(ev.data, dict):
            raise BadInput(f"event {ev.type}: data must be a JSON object")
        if not isinstance(ev.metadata, dict):
            raise BadInput(f"event {ev.type}: metadata must be a JSON object")
        eid = canonical_event_id(ev.event_id) if ev.event_id is not None else new_uuid()
        ids.append(eid)
        encoded.append((eid, ev.type, codec.dumps(ev.data), codec.dumps(ev.metadata)))
    return ids, encoded


def stored_in_place(rows: list, stream_id: str, ids: list[str], expected: ExpectedVersion) -> bool:
    """Whether (event_id, stream_id, version) rows put ``ids`` consecutively in the stream, where
    an exact expected version (or no-stream) says the batch goes."""
    if len(rows) != len(ids):
        return False
    place = {eid: (sid, ver) for eid, sid, ver in rows}
    first = place[ids[0]][1]
    if (isinstance(expected, int) and first != expected + 1) or (expected == NO_STREAM and first != 1):
        return False
    return all(place[eid] == (stream_id, first + i) for i, eid in enumerate(ids))


class Claims:
    """What an append checks inside its transaction, and tells after it (a mixin of each store)."""

    def _claim(self, stream_id: str, expected: ExpectedVersion, ids: list[str]) -> tuple[int, bool] | None:
        """Check ``expected`` against the stream (inside the append's transaction, under the append
        lock): returns its version before the append and whether it has a rules row. None: these
        ids are already stored there (an idempotent re-send). Raises ConcurrencyError or
        StreamDeleted otherwise.

        A stream is its events: only one with lifecycle rules has a row to move on, so a plain
        append writes its events and nothing else (one page less per commit)."""
        current, deleted, ruled = self._stream_state(stream_id)
        if deleted == TOMBSTONE:
            raise StreamDeleted(f"stream {stream_id!r} was hard-deleted (a tombstone); it can never be written again")
        # a soft-deleted stream reads as no stream, and is written again after its last version
        soft = deleted == SOFT_DELETED
        if not expected_matches(expected, current) and not (soft and expected_matches(expected, 0)):
            if self._already_stored(stream_id, ids, expected):
                return None
            raise ConcurrencyError(stream_id, expected, current)
        return current, bool(ruled)

    def _stream_state(self, stream_id: str) -> tuple[int, int | None, bool]:
        """(version, deleted, has a rules row) of a stream, read under the append lock."""
        return self._one(STATE_SQL, (stream_id, stream_id))

    def _already_stored(self, stream_id: str, ids: list[str], expected: ExpectedVersion = ANY) -> bool:
        """True when these ids are stored, in this order, consecutively, in this stream, at the
        place an exact expected version (or no-stream) puts them."""
        marks = ",".join("?" * len(ids))
        rows = self._all(f"SELECT event_id, stream_id, version FROM events WHERE event_id IN ({marks})", ids)
        return stored_in_place(rows, stream_id, ids, expected)

    def _taken(self, stream_id: str, ids: list[str], expected: ExpectedVersion, taken: IdTaken) -> AppendResult:
        """After a batch rolled back on a stored id: an exact re-send is an idempotent success."""
        if self._already_stored(stream_id, ids, expected):
            return AppendResult(stream_id, self.stream_version(stream_id), (), idempotent=True)
        raise IdConflict(f"event id {taken.event_id} is already stored elsewhere; an event id may be used once")

    def _appended(self, stream_id: str, last: RecordedEvent) -> None:
        """After an append, inside its transaction: move the remembered head, tell listeners."""
        token = self.write_token()
        if token is not None:  # no one else appends meanwhile: the head is this event's position
            self._head = (token, last.position)
        for ref in self._append_listeners:
            listener = ref()
            if listener is not None:
                listener(stream_id, last.event_id)
            else:  # its engine is gone
                self._append_listeners = [r for r in self._append_listeners if r() is not None]
