"""Records whose metadata is decoded when first read, tried the way an unlucky user would: a
damaged text in a page, records used as tuples, old pickle protocols, threads. Each test failed
before its fix and pins what a user saw before metadata was lazy, or what they should see."""

from __future__ import annotations

import inspect
import json
import pickle
import sqlite3
import sys
import threading

import pytest

from evsh.errors import StoreError
from evsh.store.base import NewEvent
from evsh.store.sqlite import open_store

SHOP = ("--domain", "shop")
ITEMS = '[{"product_id":"p1","quantity":2,"unit_price":"9.50"}]'


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path / "s.db"))
    s.append("a-1", [NewEvent("T", {"n": n}, {"correlation_id": f"c{n}"}) for n in range(5)])
    yield s
    s.close()


def _corrupt_metadata(db: str, position: int, text: str = '{"correlation_id":') -> None:
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET metadata = ? WHERE position = ?", (text, position))
    conn.commit()
    conn.close()


# ----------------------------------------------------------------------------- one bad row, a whole page


def test_one_corrupt_metadata_text_does_not_dead_letter_the_healthy_events_of_its_page(cli, db_path):
    """One event's stored metadata is damaged (a cut-short text). `evsh reactors run` must stop
    at it with one line naming the event and the store's damage (exit 4), park nothing and keep
    its checkpoint before it, so that once the row is repaired a second run handles everything.
    (Found when a page's metadata was first decoded whole: the healthy orders of the page failed
    too, were blamed on the reactor, retried, parked, and the checkpoint moved past them.)"""
    mode = ("--mode", "async")
    assert cli(*SHOP, *mode, "exec", "inventory", "p1", "add-stock", "--quantity", "100").exit_code == 0
    for i in range(1, 4):
        r = cli(*SHOP, *mode, "exec", "order", f"o{i}", "create", "--customer-id", "c1", "--items", ITEMS)
        assert r.exit_code == 0, r.stderr
    listed = json.loads(cli("log", "--json").stdout)
    bad = next(e for e in listed if e["stream_id"] == "order-o2")
    with sqlite3.connect(db_path) as conn:
        intact = conn.execute("SELECT metadata FROM events WHERE position = ?", (bad["position"],)).fetchone()[0]
    _corrupt_metadata(db_path, bad["position"])
    r = cli(*SHOP, *mode, "reactors", "run")
    assert r.exit_code == 4
    assert f"event order-o2@1 (position {bad['position']}): its stored metadata is not JSON" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert json.loads(cli(*SHOP, "dlq", "list", "--json").stdout or "[]") == []
    _corrupt_metadata(db_path, bad["position"], intact)  # repaired
    r = cli(*SHOP, *mode, "reactors", "run")
    assert r.exit_code == 0, r.stderr
    assert json.loads(cli(*SHOP, "dlq", "list", "--json").stdout or "[]") == []
    states = [json.loads(cli(*SHOP, "state", "order", f"o{i}", "--json").stdout)["status"] for i in range(1, 4)]
    assert states == ["confirmed"] * 3


def test_a_healthy_records_metadata_is_not_a_value_error_because_a_neighbour_is_corrupt(tmp_path):
    """An intact event of a page holding a damaged metadata text reads its own metadata (it was
    an orjson.JSONDecodeError, which evsh takes for the handler's own failure); the damaged one
    raises StoreCorrupt, which the reactor and projection runners stop on."""
    s = open_store(str(tmp_path / "s.db"))
    s.append("a-1", [NewEvent("T", {"n": n}, {"correlation_id": f"c{n}"}) for n in range(4)])
    s.close()
    _corrupt_metadata(str(tmp_path / "s.db"), 3)
    s = open_store(str(tmp_path / "s.db"))
    try:
        recs = list(s.read_all())
        assert [r.metadata for r in recs[:2]] == [{"correlation_id": "c0"}, {"correlation_id": "c1"}]
        with pytest.raises(StoreError):
            recs[2].metadata
    finally:
        s.close()


# ----------------------------------------------------------------------------- the record as a tuple


def test_a_record_unpacks_and_iterates_with_its_metadata_as_a_dict(store):
    """`for position, eid, sid, version, type, data, meta, at in store.read_all()` (RecordedEvent
    is a NamedTuple: unpacking, `list(rec)`, `match rec: case (..., meta, _)`) gives the metadata
    dict, not the page's undecoded holder; `rec.metadata in rec` and `rec.index(...)` find it."""
    for rec in store.read_all():
        *_, meta, _at = rec
        assert meta == rec.metadata and type(meta) is dict
        assert list(rec)[6] == rec.metadata
        assert rec.metadata in rec and rec.index(rec.metadata) == 6 and rec.count(rec.metadata) == 1
        match rec:
            case (_, _, _, _, _, _, {"correlation_id": str()}, _):
                pass
            case _:
                raise AssertionError("a sequence pattern did not see the metadata dict")


def test_a_record_equals_the_plain_tuple_of_its_values(store):
    """A record equals the plain tuple of its values (a test's expected row), and not another."""
    rec = list(store.read_all())[0]
    values = (rec.position, rec.event_id, rec.stream_id, rec.version, rec.type, rec.data, rec.metadata,
              rec.recorded_at)
    assert rec == values and values == rec and not rec != values
    assert rec != values[:6] + ({}, values[7])


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_record_pickles_with_the_old_protocols(store, protocol):
    """A record read from SQLite pickles with every protocol (0 and 1 too: old shelve files,
    some caches), its metadata decoded."""
    rec = list(store.read_all())[0]
    back = pickle.loads(pickle.dumps(rec, protocol=protocol))
    assert back == rec and back.metadata == {"correlation_id": "c0"}


# ----------------------------------------------------------------------------- threads


def _line_of(fn, needle: str) -> int:
    src, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(src) if needle in line)


def _pause_in_decode_at(line: int, paused: threading.Event, go: threading.Event):
    import evsh.store.recorded as recorded

    code = recorded.PageMetadata._decode.__code__

    def tracer(frame, event, arg):
        if frame.f_code is not code:
            return None

        def local(frame, event, arg):
            if event == "line" and frame.f_lineno == line:
                paused.set()
                go.wait(5)
            return local
        return local

    return tracer


def _race(recs, line: int):
    """Thread B starts decoding the page and is held at ``line`` of PageMetadata._decode while
    the main thread reads (decodes) a record's metadata and marks it; B then goes on."""
    paused, go = threading.Event(), threading.Event()
    tracer = _pause_in_decode_at(line, paused, go)
    out = {}

    def reader():
        sys.settrace(tracer)
        try:
            out["b"] = recs[1].metadata
        except BaseException as exc:  # noqa: BLE001 - what the other thread got is the finding
            out["b"] = exc
        finally:
            sys.settrace(None)

    t = threading.Thread(target=reader)
    t.start()
    assert paused.wait(5)
    mine = recs[0].metadata
    mine["seen"] = True
    go.set()
    t.join(10)
    return out["b"]


def test_metadata_read_in_two_threads_at_once_is_one_dict_and_never_raises(store):
    """What a user sees: two threads (a thread pool handling events of one page) reading
    `event.metadata` at the same moment. The one that found the page not yet decoded is held
    just before it decodes, while the other decodes it and changes its record's dict; it must
    then get its record's metadata (no error) from the same decode (the change is kept)."""
    import evsh.store.recorded as recorded

    recs = list(store.read_all())
    got = _race(recs, _line_of(recorded.PageMetadata._decode, "with _DECODING"))
    assert got == {"correlation_id": "c1"}
    assert recs[0].metadata.get("seen") is True


# ----------------------------------------------------------------------------- memory
