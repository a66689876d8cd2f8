"""Contract tests of the event store protocol (evsh.store.base.EventStore).

They talk to the protocol only. Every backend registers a factory in ``STORE_FACTORIES``; a
server backend added later gets the whole suite by adding one entry.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

import pytest

from evsh.errors import BadInput, ConcurrencyError, IdConflict, StreamDeleted
from evsh.store.base import ANY, EXISTS, NO_STREAM, EventStore, NewEvent


def _sqlite_factory(tmp_path, monkeypatch) -> Callable[[], EventStore]:
    import evsh.store.reads as reads
    from evsh.store.sqlite import open_store

    # tiny pages, so that every read crosses page boundaries even on small test data
    monkeypatch.setattr(reads, "PAGE", 3)
    counter = iter(range(1_000_000))

    def make() -> EventStore:
        return open_store(str(tmp_path / f"contract-{next(counter)}.db"))

    return make


def _postgres_factory(tmp_path, monkeypatch) -> Callable[[], EventStore]:
    import evsh.store.reads as reads
    from evsh.store.postgres import open_store
    from tests.services import need_postgres, postgres_url

    need_postgres()
    monkeypatch.setattr(reads, "PAGE", 3)
    made: list = []

    def make() -> EventStore:
        cm = postgres_url()
        url = cm.__enter__()
        made.append(cm)
        return open_store(url)

    make.cleanup = lambda: [cm.__exit__(None, None, None) for cm in made]  # type: ignore[attr-defined]
    return make


STORE_FACTORIES = {"sqlite": _sqlite_factory, "postgresql": _postgres_factory}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def make_store(request, tmp_path, monkeypatch):
    made: list[EventStore] = []
    factory = STORE_FACTORIES[request.param](tmp_path, monkeypatch)

    def make() -> EventStore:
        s = factory()
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()
    getattr(factory, "cleanup", lambda: None)()


@pytest.fixture
def store(make_store):
    return make_store()


def ev(type_: str = "Happened", n: int = 0, event_id: str | None = None, **meta) -> NewEvent:
    return NewEvent(type_, {"n": n}, dict(meta), event_id)


def everything(store: EventStore) -> list:
    return list(store.read_all())


# ----------------------------------------------------------------------------- appending

def test_append_to_a_new_stream_assigns_versions_and_positions_from_one(store):
    res = store.append("order-1", [ev(n=1), ev(n=2), ev(n=3)])
    assert res.stream_id == "order-1"
    assert res.version == 3
    assert not res.idempotent
    assert [e.version for e in res.events] == [1, 2, 3]
    assert [e.position for e in res.events] == [1, 2, 3]
    assert store.stream_version("order-1") == 3
    assert store.head_position() == 3
    assert [e.data for e in store.read_stream("order-1")] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_recorded_events_carry_every_top_level_key(store):
    eid = str(uuid.uuid4())
    store.append("order-1", [NewEvent("OrderCreated", {"a": [1, {"b": None}]}, {"k": "v"}, eid)])
    (e,) = store.read_stream("order-1")
    d = e.as_dict()
    assert set(d) == {"event_id", "stream_id", "version", "position", "type", "data", "metadata", "recorded_at"}
    assert d["event_id"] == eid
    assert d["stream_id"] == "order-1"
    assert d["type"] == "OrderCreated"
    assert d["data"] == {"a": [1, {"b": None}]}
    assert d["metadata"] == {"k": "v"}
    assert e.category == "order"
    at = datetime.fromisoformat(d["recorded_at"].replace("Z", "+00:00"))
    assert at.utcoffset() == timezone.utc.utcoffset(None)


def test_what_append_returns_equals_what_is_read_back(store):
    res = store.append("a-1", [ev(n=1), ev(n=2)])
    assert list(res.events) == list(store.read_stream("a-1"))
    assert list(res.events) == everything(store)


def test_generated_event_ids_are_unique_uuids(store):
    res = store.append("a-1", [ev(), ev(), ev()])
    ids = [e.event_id for e in res.events]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(i)) == i for i in ids)


def test_generated_event_ids_are_time_ordered_uuid7(store):
    """Ids made one after another sort one after another (UUIDv7), so each lands at the right end
    of the event id index; the leading 48 bits are the time in milliseconds."""
    before = time.time_ns() // 1_000_000
    ids = []
    for _ in range(20):
        ids += [e.event_id for e in store.append("a-1", [ev(), ev()]).events]
    after = time.time_ns() // 1_000_000
    assert all(uuid.UUID(i).version == 7 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)
    # in creation order, but for ids made within the same 1/4096 ms (the rest of an id is random)
    assert all(a[:18] <= b[:18] for a, b in zip(ids, ids[1:]))
    assert all(before <= int(i.replace("-", "")[:12], 16) <= after for i in ids)


def test_payloads_round_trip_exactly(store):
    data = {"big": 2**64, "neg": -(2**70), "f": 0.1, "s": "å∑\u2028😀", "nested": {"l": [True, False, None]}}
    store.append("a-1", [NewEvent("T", data, {"also": 10**30})])
    (e,) = store.read_stream("a-1")
    assert e.data == data and type(e.data["big"]) is int
    assert e.metadata == {"also": 10**30}


def test_batch_is_one_consecutive_block_of_positions(store):
    store.append("a-1", [ev()])
    res = store.append("b-1", [ev(), ev(), ev()])
    assert [e.position for e in res.events] == [2, 3, 4]


@pytest.mark.parametrize(
    "events, message",
    [
        ([], "at least one event"),
        ([NewEvent("", {})], "event type"),
        ([NewEvent("Bad\nType", {})], "control"),
        ([NewEvent("T", [1, 2])], "data must be a JSON object"),  # type: ignore[arg-type]
        ([NewEvent("T", {}, "meta")], "metadata must be a JSON object"),  # type: ignore[arg-type]
        ([NewEvent("T", {}, {}, "not-a-uuid")], "not a UUID"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(store, events, message):
    with pytest.raises(BadInput, match=message):
        store.append("a-1", events)
    assert everything(store) == []
    assert store.stream_version("a-1") == 0


def test_one_bad_event_in_a_batch_refuses_the_whole_batch(store):
    with pytest.raises(BadInput):
        store.append("a-1", [ev(), NewEvent("", {})])
    assert everything(store) == []


@pytest.mark.parametrize("stream_id", ["", "a\x00b", "tab\there", "new\nline", "del\x7f", "-leading"])
def test_bad_stream_ids_are_refused(store, stream_id):
    with pytest.raises(BadInput):
        store.append(stream_id, [ev()])
    assert everything(store) == []


def test_a_stream_id_that_is_not_a_string_is_refused(store):
    with pytest.raises(BadInput):
        store.append(42, [ev()])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- expected versions

@pytest.mark.parametrize("expected", [0, NO_STREAM, "0", "no_stream", "NO-STREAM"])
def test_no_stream_accepts_a_new_stream_only(store, expected):
    assert store.append("a-1", [ev()], expected).version == 1
    with pytest.raises(ConcurrencyError):
        store.append("a-1", [ev()], expected)
    assert store.stream_version("a-1") == 1


def test_exists_needs_a_stream(store):
    with pytest.raises(ConcurrencyError):
        store.append("a-1", [ev()], EXISTS)
    store.append("a-1", [ev()])
    assert store.append("a-1", [ev()], EXISTS).version == 2
    assert store.append("a-1", [ev()], "exists").version == 3


def test_any_is_the_default_and_always_appends(store):
    store.append("a-1", [ev()])
    store.append("a-1", [ev()], ANY)
    store.append("a-1", [ev()], "any")
    assert store.stream_version("a-1") == 3


def test_exact_version_must_match(store):
    store.append("a-1", [ev(), ev()])
    assert store.append("a-1", [ev()], 2).version == 3
    assert store.append("a-1", [ev()], "3").version == 4
    for wrong in (1, 3, 5):
        with pytest.raises(ConcurrencyError):
            store.append("a-1", [ev()], wrong)
    assert store.stream_version("a-1") == 4


def test_an_exact_version_on_a_missing_stream_conflicts(store):
    with pytest.raises(ConcurrencyError):
        store.append("a-1", [ev()], 1)
    assert everything(store) == []


def test_concurrency_error_names_stream_expected_and_actual_and_writes_nothing(store):
    store.append("order-9", [ev(), ev()])
    head = store.head_position()
    with pytest.raises(ConcurrencyError) as info:
        store.append("order-9", [ev(), ev()], 5)
    err = info.value
    assert err.stream_id == "order-9" and err.expected == 5 and err.actual == 2
    text = str(err)
    assert "order-9" in text and "5" in text and "2" in text
    assert store.head_position() == head
    assert store.stream_version("order-9") == 2


@pytest.mark.parametrize("bad", [-1, "-1", "later", "", True, 1.5, None])
def test_malformed_expected_versions_are_bad_input(store, bad):
    with pytest.raises(BadInput, match="expected version"):
        store.append("a-1", [ev()], bad)
    assert everything(store) == []


# ----------------------------------------------------------------------------- event ids

@pytest.mark.parametrize(
    "spell",
    [
        str,
        lambda u: str(u).upper(),
        lambda u: "{" + str(u) + "}",
        lambda u: "urn:uuid:" + str(u),
        lambda u: u.hex.upper(),
        lambda u: u,
    ],
    ids=["canonical", "upper", "braces", "urn", "hex", "uuid-object"],
)
def test_any_uuid_spelling_is_stored_in_canonical_lowercase(store, spell):
    u = uuid.uuid4()
    res = store.append("a-1", [ev(event_id=spell(u))])
    assert res.events[0].event_id == str(u)
    assert [e.event_id for e in store.read_stream("a-1")] == [str(u)]


def test_reappending_the_same_ids_at_the_same_place_is_idempotent(store):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    first = store.append("a-1", [ev(event_id=i, n=k) for k, i in enumerate(ids)], NO_STREAM)
    store.append("b-1", [ev()])
    head = store.head_position()
    for expected in (NO_STREAM, ANY, 0):
        again = store.append("a-1", [ev(event_id=i, n=k) for k, i in enumerate(ids)], expected)
        assert again.idempotent
        assert again.events == ()
        assert again.version == 3
    # other spellings of the same ids are the same ids
    again = store.append("a-1", [ev(event_id=i.upper()) for i in ids])
    assert again.idempotent
    assert store.head_position() == head
    assert list(store.read_stream("a-1")) == list(first.events)


def test_reappending_a_tail_of_a_stream_is_idempotent(store):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    store.append("a-1", [ev(event_id=i) for i in ids])
    res = store.append("a-1", [ev(event_id=i) for i in ids[1:]], 1)
    assert res.idempotent and res.version == 3
    assert store.head_position() == 3


def test_an_id_stored_in_another_stream_is_a_conflict(store):
    eid = str(uuid.uuid4())
    store.append("a-1", [ev(event_id=eid)])
    with pytest.raises(IdConflict):
        store.append("b-1", [ev(event_id=eid)])
    assert store.stream_version("b-1") == 0
    assert store.head_position() == 1


def test_an_id_reused_at_another_place_in_the_same_stream_is_a_conflict(store):
    eid = str(uuid.uuid4())
    store.append("a-1", [ev(event_id=eid), ev()])
    with pytest.raises(IdConflict):
        store.append("a-1", [ev(), ev(event_id=eid)])
    with pytest.raises(IdConflict):
        store.append("a-1", [ev(event_id=eid)], 2)
    assert store.head_position() == 2


def test_a_batch_mixing_stored_and_new_ids_is_a_conflict_and_writes_nothing(store):
    eid = str(uuid.uuid4())
    store.append("a-1", [ev(event_id=eid)])
    with pytest.raises(IdConflict):
        store.append("a-1", [ev(event_id=eid), ev(event_id=str(uuid.uuid4()))])
    assert store.head_position() == 1


def test_the_same_id_twice_in_one_batch_is_a_conflict(store):
    eid = str(uuid.uuid4())
    with pytest.raises(IdConflict):
        store.append("a-1", [ev(event_id=eid), ev(event_id=eid.upper())])
    assert everything(store) == []


# ----------------------------------------------------------------------------- versions and positions

def rolled_back_positions_are_reused(store) -> bool:
    """SQLite hands out max + 1 inside the writing transaction: a rollback gives its positions
    back. PostgreSQL takes them from a sequence and lets other appenders go ahead before the
    commit (docs/postgresql.md): a rolled back append leaves its positions unused."""
    return store.backend == "sqlite"


def test_positions_rise_across_streams_and_failed_appends(store):
    store.append("a-1", [ev()])
    with pytest.raises(ConcurrencyError):
        store.append("a-1", [ev(), ev()], NO_STREAM)
    with pytest.raises(IdConflict):
        store.append("b-1", [ev(event_id=store.read_stream("a-1").__next__().event_id), ev()])
    store.append("b-1", [ev(), ev()])
    store.append("a-1", [ev()])
    all_ = everything(store)
    positions = [e.position for e in all_]
    assert positions == sorted(set(positions)) and positions[0] == 1
    if rolled_back_positions_are_reused(store):
        assert positions == [1, 2, 3, 4]
    else:  # the id clash was found after its two positions were taken
        assert positions == [1, 4, 5, 6]
    assert [(e.stream_id, e.version) for e in all_] == [("a-1", 1), ("b-1", 1), ("b-1", 2), ("a-1", 2)]


def test_a_stream_version_is_the_version_of_its_last_event(store):
    for k in range(1, 6):
        assert store.append("s-1", [ev(n=k)]).version == k
    assert [e.version for e in store.read_stream("s-1")] == [1, 2, 3, 4, 5]
    assert store.stream_version("s-1") == 5
    assert store.stream_version("missing-1") == 0


def test_an_empty_store_has_head_position_zero(store):
    assert store.head_position() == 0
    assert everything(store) == []
    assert list(store.streams()) == []


# ----------------------------------------------------------------------------- reading a stream

@pytest.fixture
def ten(store):
    store.append("s-1", [ev(n=k) for k in range(1, 11)])
    store.append("other-1", [ev(n=99)])
    return store


def ns(events) -> list[int]:
    return [e.data["n"] for e in events]


def test_read_stream_forwards_from_a_version_with_a_limit(ten):
    assert ns(ten.read_stream("s-1")) == list(range(1, 11))
    assert ns(ten.read_stream("s-1", 4)) == list(range(4, 11))
    assert ns(ten.read_stream("s-1", 4, limit=5)) == [4, 5, 6, 7, 8]
    assert ns(ten.read_stream("s-1", limit=0)) == []
    assert ns(ten.read_stream("s-1", 11)) == []


def test_read_stream_backwards(ten):
    assert ns(ten.read_stream("s-1", backwards=True)) == list(range(10, 0, -1))
    assert ns(ten.read_stream("s-1", 7, backwards=True)) == [7, 6, 5, 4, 3, 2, 1]
    assert ns(ten.read_stream("s-1", 7, backwards=True, limit=4)) == [7, 6, 5, 4]
    assert ns(ten.read_stream("s-1", backwards=True, limit=1)) == [10]


def test_reading_a_missing_stream_yields_nothing(ten):
    assert list(ten.read_stream("nothing-here")) == []
    assert list(ten.read_stream("nothing-here", backwards=True)) == []


def test_read_stream_does_not_mix_in_other_streams(ten):
    ten.append("s-10", [ev(n=1000)])
    ten.append("s", [ev(n=2000)])
    assert ns(ten.read_stream("s-1")) == list(range(1, 11))


# ----------------------------------------------------------------------------- the global log

@pytest.fixture
def mixed(store):
    store.append("order-1", [NewEvent("OrderCreated", {"n": 1}), NewEvent("OrderConfirmed", {"n": 2})])
    store.append("payment-1", [NewEvent("PaymentProcessed", {"n": 3})])
    store.append("order-2", [NewEvent("OrderCreated", {"n": 4})])
    store.append("orders-1", [NewEvent("OrderCreated", {"n": 5})])
    store.append("order", [NewEvent("OrderCreated", {"n": 6})])
    store.append("Order-3", [NewEvent("OrderCreated", {"n": 7})])
    store.append("order-4-x", [NewEvent("orderCreated", {"n": 8})])
    return store


def test_read_all_in_commit_order_from_a_position(mixed):
    assert ns(mixed.read_all()) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert ns(mixed.read_all(4)) == [4, 5, 6, 7, 8]
    assert ns(mixed.read_all(3, limit=2)) == [3, 4]
    assert ns(mixed.read_all(9)) == []


def test_read_all_filters_by_exact_case_sensitive_type(mixed):
    assert ns(mixed.read_all(types=["OrderCreated"])) == [1, 4, 5, 6, 7]
    assert ns(mixed.read_all(types=["OrderCreated", "PaymentProcessed"])) == [1, 3, 4, 5, 6, 7]
    assert ns(mixed.read_all(types=["ordercreated"])) == []
    assert ns(mixed.read_all(types=["Order"])) == []


def test_read_all_filters_by_exact_case_sensitive_category(mixed):
    # order-4-x belongs to category "order"; "orders-1" and "Order-3" do not
    assert ns(mixed.read_all(categories=["order"])) == [1, 2, 4, 6, 8]
    assert ns(mixed.read_all(categories=["Order"])) == [7]
    assert ns(mixed.read_all(categories=["ord"])) == []
    assert ns(mixed.read_all(categories=["order", "payment"])) == [1, 2, 3, 4, 6, 8]


def test_read_all_combines_type_and_category_filters(mixed):
    assert ns(mixed.read_all(types=["OrderCreated"], categories=["order"])) == [1, 4, 6]
    assert ns(mixed.read_all(2, types=["OrderCreated"], categories=["order"], limit=1)) == [4]


def test_read_all_filter_values_are_data_not_sql(mixed):
    assert ns(mixed.read_all(types=["x' OR '1'='1"])) == []
    assert ns(mixed.read_all(categories=["%"])) == []
    assert ns(mixed.read_all(categories=["_rder"])) == []


def test_read_all_backwards(mixed):
    assert ns(mixed.read_all(8, backwards=True)) == [8, 7, 6, 5, 4, 3, 2, 1]
    assert ns(mixed.read_all(5, backwards=True, limit=2)) == [5, 4]
    assert ns(mixed.read_all(8, backwards=True, types=["OrderConfirmed"])) == [2]


def test_reads_are_complete_across_many_pages(store):
    for k in range(0, 2500, 500):
        store.append("big-1", [ev(n=n) for n in range(k, k + 500)])
    assert ns(store.read_stream("big-1")) == list(range(2500))
    assert ns(store.read_all()) == list(range(2500))
    assert ns(store.read_stream("big-1", backwards=True)) == list(range(2499, -1, -1))
    assert len(list(store.read_all(limit=1234))) == 1234


def test_a_streams_rules_hide_the_same_events_within_a_page_and_across_pages(store):
    """PostgreSQL reads a stream's rules and first page in one statement and starts over in a
    snapshot when the stream is longer (pages are 3 events here): both must hide alike."""
    store.append("short-1", [ev(n=n) for n in range(2)])
    store.append("long-1", [ev(n=n) for n in range(10)])
    store.append("gone-1", [ev(n=n) for n in range(2)])
    store.truncate_stream("short-1", 2)
    store.set_stream_metadata("long-1", max_count=5, max_age=None)
    store.delete_stream("gone-1", hard=True)
    for reading in (False, True):
        with store.reading() if reading else contextlib.nullcontext():
            assert ns(store.read_stream("short-1")) == [1]
            assert ns(store.read_stream("long-1")) == [5, 6, 7, 8, 9]
            assert ns(store.read_stream("long-1", 7)) == [6, 7, 8, 9]
            assert ns(store.read_stream("long-1", limit=2)) == [5, 6]
            assert ns(store.read_stream("long-1", limit=4)) == [5, 6, 7, 8]
            assert ns(store.read_stream("gone-1")) == []
            assert ns(store.read_stream("nothing-1")) == []

    # appends at an exact version (a command's) to streams with rules keep them
    store.append("long-1", [ev(n=10)], 10)
    assert ns(store.read_stream("long-1")) == [6, 7, 8, 9, 10]
    with pytest.raises(ConcurrencyError):
        store.append("long-1", [ev(n=11)], 10)
    with pytest.raises(StreamDeleted):
        store.append("gone-1", [ev(n=2)], 2)
    store.append("soft-1", [ev(n=0)])
    store.delete_stream("soft-1")
    store.append("soft-1", [ev(n=1)], NO_STREAM)
    assert ns(store.read_stream("soft-1")) == [1] and store.stream_version("soft-1") == 2


# ----------------------------------------------------------------------------- streams

def test_streams_lists_every_stream_with_version_category_and_times(mixed):
    infos = {s.stream_id: s for s in mixed.streams()}
    assert set(infos) == {"order-1", "payment-1", "order-2", "orders-1", "order", "Order-3", "order-4-x"}
    o1 = infos["order-1"]
    assert (o1.category, o1.version) == ("order", 2)
    assert infos["order"].category == "order"
    assert infos["order-4-x"].category == "order"
    assert infos["orders-1"].category == "orders"
    for s in infos.values():
        assert s.created_at <= s.updated_at
        assert set(s.as_dict()) == {"stream_id", "category", "version", "created_at", "updated_at"}


def test_streams_of_one_category(mixed):
    assert sorted(s.stream_id for s in mixed.streams("order")) == ["order", "order-1", "order-2", "order-4-x"]
    assert [s.stream_id for s in mixed.streams("payment")] == ["payment-1"]
    assert list(mixed.streams("nothing")) == []


def test_streams_updated_at_moves_and_created_at_stays(store):
    times = iter(["2026-01-01T00:00:00.000000Z", "2026-01-02T00:00:00.000000Z"])
    if hasattr(store, "clock"):
        store.clock = lambda: next(times)
    else:  # pragma: no cover - backends without an injectable clock
        pytest.skip("backend has no clock")
    store.append("s-1", [ev()])
    store.append("s-1", [ev()])
    (info,) = store.streams()
    assert info.created_at == "2026-01-01T00:00:00.000000Z"
    assert info.updated_at == "2026-01-02T00:00:00.000000Z"
    assert info.version == 2


def test_streams_listing_crosses_pages_and_resumes_after_a_name(store):
    names = [f"c-{i:02d}" for i in range(10)]
    for n in names:
        store.append(n, [ev()])
    assert [s.stream_id for s in store.streams()] == names
    assert [s.stream_id for s in store.streams(after="c-04")] == names[5:]
    assert [s.stream_id for s in store.streams("c", limit=4)] == names[:4]


# ----------------------------------------------------------------------------- hooks and transactions

def test_append_hooks_see_the_recorded_events_inside_the_transaction(store):
    seen = []

    def hook(tx, recorded):
        seen.append([(e.stream_id, e.version, e.position, e.type) for e in recorded])

    store.append("a-1", [ev("X"), ev("Y")], hooks=[hook])
    assert seen == [[("a-1", 1, 1, "X"), ("a-1", 2, 2, "Y")]]


def test_a_failing_hook_rolls_the_append_back(store):
    def boom(tx, recorded):
        raise RuntimeError("projection failed")

    store.append("a-1", [ev()])
    with pytest.raises(RuntimeError, match="projection failed"):
        store.append("a-1", [ev(), ev()], hooks=[boom])
    assert store.stream_version("a-1") == 1
    assert store.head_position() == 1
    # and the store still works; the rolled back positions are reused, or not, by backend
    assert store.append("a-1", [ev()]).events[0].position == (2 if rolled_back_positions_are_reused(store) else 4)
    assert [e.position for e in everything(store)] == [1, store.head_position()]


def test_appends_in_one_transaction_commit_or_roll_back_together(store):
    with store.transaction():
        store.append("a-1", [ev()])
        store.append("b-1", [ev()])
    assert store.head_position() == 2
    with pytest.raises(ConcurrencyError):
        with store.transaction():
            store.append("c-1", [ev()])
            store.append("a-1", [ev()], NO_STREAM)
    assert store.stream_version("c-1") == 0
    assert store.head_position() == 2


def test_whatever_a_transaction_runs_first_is_inside_it(store):
    """PostgreSQL sends a transaction's BEGIN with its first statement: the first one must
    still commit or roll back with the rest, and a block that runs nothing is fine."""
    with store.transaction():
        pass
    for first in ("checkpoint", "append"):
        with pytest.raises(RuntimeError):
            with store.transaction():
                if first == "checkpoint":
                    store.set_checkpoint("p", 7)
                store.append("a-1", [ev()])
                store.set_checkpoint("q", 8)
                raise RuntimeError("undo")
        assert (store.checkpoint("p"), store.checkpoint("q"), store.head_position()) == (0, 0, 0)
    with store.transaction():
        store.set_checkpoint("p", 7)
        store.append("a-1", [ev()])
    assert (store.checkpoint("p"), store.head_position()) == (7, 1 if rolled_back_positions_are_reused(store) else 3)
    assert [e.version for e in everything(store)] == [1]


def test_a_failed_append_inside_a_transaction_leaves_the_rest_of_it_intact(store):
    with store.transaction():
        store.append("a-1", [ev()])
        with pytest.raises(ConcurrencyError):
            store.append("a-1", [ev()], NO_STREAM)
        store.append("b-1", [ev()])
    assert [(e.stream_id, e.version) for e in everything(store)] == [("a-1", 1), ("b-1", 1)]


def test_a_second_store_on_the_same_backend_sees_committed_events(make_store, store):
    other = type(store)(store.path, create=False) if hasattr(store, "path") else None
    if other is None:  # pragma: no cover
        pytest.skip("backend has no shared location")
    try:
        store.append("a-1", [ev(n=7)])
        assert ns(other.read_stream("a-1")) == [7]
        other.append("a-1", [ev(n=8)], 1)
        assert ns(store.read_stream("a-1")) == [7, 8]
    finally:
        other.close()


def test_a_row_kept_for_the_commit_commits_or_rolls_back_with_its_transaction(store):
    """``add_at_commit`` (a command's own record): PostgreSQL sends it with the COMMIT, SQLite
    writes it at once; either way it is there exactly when its transaction (or savepoint) stands,
    and the append lock is let go in every case."""
    from evsh import table

    notes = table("contract_notes", {"k": str, "v": str}, pk="k")
    store.ensure_tables([notes], owner="test")

    def keys():
        return sorted(r["k"] for r in store.table(notes).rows_where())

    with store.transaction():
        store.append("a-1", [ev()])
        store.table(notes).add_at_commit({"k": "kept", "v": "1"})
        store.table(notes).add_at_commit({"k": "kept", "v": "2"})  # a taken key is left alone
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.append("a-1", [ev()])
            store.table(notes).add_at_commit({"k": "rolled-back", "v": "x"})
            raise RuntimeError("undo")
    with store.transaction():
        store.append("b-1", [ev()])
        with pytest.raises(RuntimeError):
            with store.transaction():  # a savepoint
                store.table(notes).add_at_commit({"k": "savepoint", "v": "x"})
                raise RuntimeError("undo the savepoint only")
        store.table(notes).add_at_commit({"k": "outer", "v": "y"})
    store.table(notes).add_at_commit({"k": "alone", "v": "z"})  # no transaction: now
    with store.transaction():  # a transaction holding nothing else
        store.table(notes).add_at_commit({"k": "only", "v": "w"})
    with store.transaction(), store.transaction():  # nor its savepoint
        store.table(notes).add_at_commit({"k": "nested", "v": "v"})
    assert keys() == ["alone", "kept", "nested", "only", "outer"]
    assert store.table(notes).get("kept")["v"] == "1"
    assert [e.stream_id for e in everything(store)] == ["a-1", "b-1"]
    assert store.append("c-1", [ev()]).version == 1  # no lock was left behind
