"""The SQLite store against a plain in-memory model (hypothesis RuleBasedStateMachine).

Every append is made with a generated expected version (exact right, exact wrong, any,
no-stream, exists), fresh ids, ids re-sent (whole batches, slices of them, out of order) and
ids reused on other streams. The model decides what must happen: a write, an idempotent
no-op, a ConcurrencyError or an IdConflict; the store must agree every time, and its reads
(paged small on purpose) must show exactly the model's log: gap-free versions and positions,
nothing lost, nothing duplicated, also after the store is closed and opened again.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

import evsh.store.reads as sqlite_mod
from evsh import ConcurrencyError, IdConflict, NewEvent, open_store
from evsh.store.base import ANY, EXISTS, NO_STREAM
from evsh.store.recorded import category_of

STREAMS = ["order-1", "order-2", "user-ä", "inventory-p-1", "lonely"]
TYPES = ["OrderCreated", "OrderConfirmed", "Ünïcode"]

payloads = st.dictionaries(
    st.text(max_size=4),
    st.one_of(st.integers(), st.text(max_size=6), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)),
    max_size=3,
)


@dataclass
class Stored:
    event_id: str
    stream_id: str
    version: int
    type: str
    data: dict
    metadata: dict


class Model:
    """What a correct store holds: the log in order, and each stream's ids in order."""

    def __init__(self) -> None:
        self.log: list[Stored] = []
        self.by_id: dict[str, Stored] = {}
        self.streams: dict[str, list[str]] = {}

    def version(self, stream: str) -> int:
        return len(self.streams.get(stream, []))

    def matches(self, expected: object, current: int) -> bool:
        if expected == ANY:
            return True
        if expected == NO_STREAM:
            return current == 0
        if expected == EXISTS:
            return current > 0
        return expected == current

    def already_stored(self, stream: str, ids: list[str], expected: object) -> bool:
        """Stored in this stream, in this order, consecutively, and (with an exact expected
        version or no-stream) exactly where that expected version puts them."""
        if not all(i in self.by_id for i in ids):
            return False
        first = self.by_id[ids[0]]
        if isinstance(expected, int) and first.version != expected + 1:
            return False
        if expected == NO_STREAM and first.version != 1:
            return False
        return all(
            self.by_id[i].stream_id == stream and self.by_id[i].version == first.version + n for n, i in enumerate(ids)
        )

    def outcome(self, stream: str, ids: list[str], expected: object) -> str:
        """'write', 'idempotent', 'conflict' (version) or 'id-conflict', as documented."""
        if len(set(ids)) != len(ids):
            return "id-conflict"
        current = self.version(stream)
        if not self.matches(expected, current):
            return "idempotent" if self.already_stored(stream, ids, expected) else "conflict"
        if any(i in self.by_id for i in ids):
            return "idempotent" if self.already_stored(stream, ids, expected) else "id-conflict"
        return "write"

    def write(self, stream: str, events: list[NewEvent], ids: list[str]) -> None:
        for ev, eid in zip(events, ids):
            version = self.version(stream) + 1
            rec = Stored(eid, stream, version, ev.type, ev.data, ev.metadata)
            self.log.append(rec)
            self.by_id[eid] = rec
            self.streams.setdefault(stream, []).append(eid)


def expected_versions(current: int):
    return st.one_of(
        st.just(current if current else NO_STREAM),
        st.integers(min_value=0, max_value=current + 2),
        st.sampled_from([ANY, NO_STREAM, EXISTS]),
        st.sampled_from(["Any", "no_stream", str(current)]),  # the spellings a CLI user types
    )


class StoreMachine(RuleBasedStateMachine):
    batches = Bundle("batches")

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="evsh-model-")
        self.path = f"{self.folder}/store.db"
        self.store = open_store(self.path)
        self.model = Model()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---------------------------------------------------------------- the one check of every append
    def _append(self, stream: str, events: list[NewEvent], expected: object) -> None:
        ids = [str(uuid.UUID(e.event_id)) for e in events]
        want = self.model.outcome(stream, ids, self._norm(expected))
        head_before = self.store.head_position()
        try:
            result = self.store.append(stream, events, expected)
        except ConcurrencyError as exc:
            assert want == "conflict", f"store raised a version conflict, model says {want}"
            assert exc.actual == self.model.version(stream)
        except IdConflict:
            assert want == "id-conflict", f"store raised an id conflict, model says {want}"
        else:
            assert want in ("write", "idempotent"), f"store accepted an append the model refuses ({want})"
            if want == "write":
                assert not result.idempotent
                self.model.write(stream, events, ids)
                assert [r.event_id for r in result.events] == ids
                assert [r.position for r in result.events] == list(range(head_before + 1, head_before + 1 + len(ids)))
            else:
                assert result.idempotent and result.events == ()
            assert result.version == self.model.version(stream)
        assert self.store.head_position() == len(self.model.log)

    @staticmethod
    def _norm(expected: object) -> object:
        if isinstance(expected, str):
            e = expected.lower().replace("_", "-")
            if e.isdigit():
                e = int(e)
            expected = e
        return NO_STREAM if expected == 0 else expected

    # ---------------------------------------------------------------- rules
    @initialize()
    def smaller_pages(self) -> None:
        # Reads page through the log; small pages make every read cross page boundaries.
        sqlite_mod.PAGE = 3

    @rule(target=batches, stream=st.sampled_from(STREAMS), data=st.data(),
          contents=st.lists(st.tuples(st.sampled_from(TYPES), payloads), min_size=1, max_size=4))
    def append_fresh(self, stream, data, contents):
        expected = data.draw(expected_versions(self.model.version(stream)), label="expected")
        events = [NewEvent(t, d, {"n": i}, str(uuid.uuid4())) for i, (t, d) in enumerate(contents)]
        self._append(stream, events, expected)
        return (stream, events)

    @rule(batch=batches, data=st.data())
    def resend_batch(self, batch, data):
        """A writer retrying after a lost reply: same ids, same place, any expected version."""
        stream, events = batch
        expected = data.draw(expected_versions(self.model.version(stream)), label="expected")
        self._append(stream, events, expected)

    @rule(batch=batches, data=st.data())
    def resend_part(self, batch, data):
        """A slice of a batch (consecutive: idempotent) or its ids shuffled (not: a conflict)."""
        stream, events = batch
        start = data.draw(st.integers(0, len(events) - 1), label="start")
        end = data.draw(st.integers(start + 1, len(events)), label="end")
        part = data.draw(st.permutations(events[start:end]), label="part")
        expected = data.draw(expected_versions(self.model.version(stream)), label="expected")
        self._append(stream, list(part), expected)

    @rule(batch=batches, stream=st.sampled_from(STREAMS), data=st.data(), fresh=st.integers(0, 2))
    def reuse_id_elsewhere(self, batch, stream, data, fresh):
        """An id already stored, sent again on some stream (maybe another) among fresh ids."""
        _, events = batch
        old = data.draw(st.sampled_from(events), label="reused")
        new = [NewEvent("OrderCreated", {}, {}, str(uuid.uuid4())) for _ in range(fresh)]
        where = data.draw(st.integers(0, fresh), label="at")
        batch_events = new[:where] + [NewEvent(old.type, {"changed": True}, {}, old.event_id)] + new[where:]
        expected = data.draw(expected_versions(self.model.version(stream)), label="expected")
        self._append(stream, batch_events, expected)

    @rule(stream=st.sampled_from(STREAMS))
    def same_id_twice_in_a_batch(self, stream):
        eid = str(uuid.uuid4())
        self._append(stream, [NewEvent("A", {}, {}, eid), NewEvent("B", {}, {}, eid)], ANY)

    @rule(batch=batches, stream=st.sampled_from(STREAMS))
    def id_in_another_spelling(self, batch, stream):
        """Event ids are UUIDs: upper case or without hyphens is the same id."""
        _, events = batch
        spelled = [NewEvent(e.type, e.data, e.metadata, uuid.UUID(e.event_id).hex.upper()) for e in events]
        self._append(stream, spelled, ANY)

    @rule()
    def reopen(self):
        self.store.close()
        self.store = open_store(self.path, create=False)

    @rule(stream=st.sampled_from(STREAMS), start=st.integers(0, 8), backwards=st.booleans(),
          limit=st.one_of(st.none(), st.integers(0, 6)))
    def read_stream(self, stream, start, backwards, limit):
        ids = self.model.streams.get(stream, [])
        got = [r.event_id for r in self.store.read_stream(stream, start or None, backwards=backwards, limit=limit)]
        if backwards:
            want = list(reversed(ids if not start else ids[:start]))
        else:
            want = ids[max(start, 1) - 1:]
        if limit is not None:
            want = want[:limit]
        assert got == want

    @rule(start=st.integers(0, 12), backwards=st.booleans(), limit=st.one_of(st.none(), st.integers(0, 7)),
          categories=st.lists(st.sampled_from(["order", "user", "inventory", "lonely", "ord"]), max_size=2),
          types=st.lists(st.sampled_from(TYPES), max_size=2))
    def read_all(self, start, backwards, limit, categories, types):
        log = list(enumerate(self.model.log, 1))
        if backwards:
            log = [x for x in reversed(log) if not start or x[0] <= start]
        else:
            log = [x for x in log if x[0] >= start]
        log = [x for x in log if (not types or x[1].type in types)
               and (not categories or category_of(x[1].stream_id) in categories)]
        want = [(pos, rec.event_id) for pos, rec in log]
        if limit is not None:
            want = want[:limit]
        got = [(r.position, r.event_id) for r in self.store.read_all(
            start if (start or backwards) else 1, backwards=backwards, limit=limit, categories=categories, types=types)]
        assert got == want

    # ---------------------------------------------------------------- invariants
    @invariant()
    def log_is_the_model(self):
        got = list(self.store.read_all())
        assert [r.position for r in got] == list(range(1, len(self.model.log) + 1)), "positions must be gap-free"
        assert [(r.event_id, r.stream_id, r.version, r.type, r.data, r.metadata) for r in got] == [
            (m.event_id, m.stream_id, m.version, m.type, m.data, m.metadata) for m in self.model.log
        ], "the log lost, duplicated, reordered or changed an event"

    @invariant()
    def streams_are_gap_free(self):
        infos = {s.stream_id: s for s in self.store.streams()}
        assert set(infos) == set(self.model.streams)
        for stream, ids in self.model.streams.items():
            records = list(self.store.read_stream(stream))
            assert [r.version for r in records] == list(range(1, len(ids) + 1))
            assert [r.event_id for r in records] == ids
            assert infos[stream].version == self.store.stream_version(stream) == len(ids)
            assert infos[stream].category == category_of(stream)


@pytest.fixture
def restore_page_size():
    page = sqlite_mod.PAGE
    yield
    sqlite_mod.PAGE = page


def test_store_matches_the_model(restore_page_size):
    from hypothesis import settings

    run_state_machine_as_test(StoreMachine, settings=settings(stateful_step_count=25))
