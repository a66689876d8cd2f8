"""SQLite decodes a page of events in one statement (evsh.store.sqlite.reads): the pages must hold
the records, the marked positions and the errors that decoding the rows one by one gives."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evsh.store.reads as reads
from evsh.errors import StoreCorrupt
from evsh.store.base import NewEvent
from evsh.store.reads import Reads
from evsh.store.sqlite import open_store

MARK = "evsh:pii:1:"
TEXTS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["\n, ", ", ", " ", "\x1f", "\n,", MARK, f"{MARK}k:abc", "[", "]", '"', "\\", "é", "\u2028"]),
)
VALUES = st.one_of(
    st.integers(),  # beyond 64 bits: stored by the exact codec (a leading space)
    TEXTS,
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
)
PAYLOADS = st.dictionaries(TEXTS, VALUES, max_size=3)
EVENTS = st.lists(st.tuples(st.sampled_from(["a-1", "a-2", "b-1"]), st.sampled_from(["T", "U"]), PAYLOADS, PAYLOADS),
                  min_size=1, max_size=25)


def _rows_path(store, method: str, *args, **kw):
    """The same read decoded row by row (the shared implementation every backend has)."""
    return [(recs, set(marked)) for recs, marked in getattr(Reads, method)(store, *args, **kw)]


def _page_path(store, method: str, *args, **kw):
    return [(recs, set(marked)) for recs, marked in getattr(store, method)(*args, **kw)]


@settings(max_examples=40)
@given(events=EVENTS, page=st.integers(1, 7), limit=st.one_of(st.none(), st.integers(1, 30)),
       backwards=st.booleans())
def test_pages_decoded_in_sql_are_the_rows_decoded_one_by_one(tmp_path_factory, monkeypatch_session, events, page,
                                                             limit, backwards):
    monkeypatch_session.setattr(reads, "PAGE", page)
    store = open_store(str(tmp_path_factory.mktemp("pages") / "s.db"))
    try:
        for stream, type_, data, meta in events:
            store.append(stream, [NewEvent(type_, data, meta, str(uuid.uuid4()))])
        start = 0 if not backwards else 10_000
        for kw in ({}, {"types": ["U"]}, {"categories": ["a"]}):
            for marked in ("", MARK):
                want = _rows_path(store, "read_all_records", start, limit=limit, backwards=backwards, marked=marked, **kw)
                assert _page_path(store, "read_all_records", start, limit=limit, backwards=backwards, marked=marked,
                                  **kw) == want
        for stream in ("a-1", "b-1", "c-1"):
            want = _rows_path(store, "read_stream_records", stream, None, limit=limit, backwards=backwards, marked=MARK)
            assert _page_path(store, "read_stream_records", stream, None, limit=limit, backwards=backwards,
                              marked=MARK) == want
    finally:
        store.close()


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def store_with_texts(tmp_path, events: int, texts: dict[int, str], column: str = "data"):
    """A store of ``events`` events (data ``{"n": n}``) whose stored ``column`` (data or metadata)
    at these positions is replaced by these texts."""
    store = open_store(str(tmp_path / "s.db"))
    store.append("a-1", [NewEvent("T", {"n": n}) for n in range(events)])
    store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.executemany(f"UPDATE events SET {column} = ? WHERE position = ?", [(t, p) for p, t in texts.items()])
    conn.commit()
    conn.close()
    return open_store(str(tmp_path / "s.db"))


def test_a_page_with_a_text_that_is_not_json_raises_what_the_rows_raise(tmp_path):
    store = store_with_texts(tmp_path, 5, {3: '{"n":'})  # cut short
    with pytest.raises(StoreCorrupt, match=r"event a-1@3 \(position 3\): its stored data is not JSON") as rows_error:
        _rows_path(store, "read_all_records", 1)
    with pytest.raises(StoreCorrupt) as page_error:
        _page_path(store, "read_all_records", 1)
    assert str(page_error.value) == str(rows_error.value)
    store.close()


def test_texts_joined_by_a_page_that_would_parse_together_are_still_refused(tmp_path):
    """Two broken texts whose halves make JSON together: the page's count tells, and the rows raise."""
    store = store_with_texts(tmp_path, 3, {1: '{"n":[1', 2: "2]}"})
    with pytest.raises(StoreCorrupt, match=r"position 1\): its stored data is not JSON"):
        list(store.read_all())
    store.close()


def test_a_page_of_plain_events_is_decoded_in_one_statement(tmp_path, monkeypatch):
    import evsh.store.sqlite.reads as sqlite_reads

    store = open_store(str(tmp_path / "s.db"))
    store.append("a-1", [NewEvent("T", {"n": n, "s": "x, y"}, {"m": n}) for n in range(10)])
    want = [r for recs, _ in Reads.read_all_records(store, 1) for r in recs]

    def row_by_row(rows):
        raise AssertionError("a plain page was decoded row by row")

    monkeypatch.setattr(sqlite_reads, "records_of", row_by_row)
    assert list(store.read_all()) == want
    assert list(store.read_stream("a-1", backwards=True)) == want[::-1]
    store.close()


@pytest.mark.parametrize("enabled", [True, False])
def test_decoding_a_page_pauses_the_collector_and_leaves_it_as_it_found_it(tmp_path, monkeypatch, enabled):
    import gc

    import evsh.store.recorded as recorded

    store = open_store(str(tmp_path / "s.db"))
    store.append("a-1", [NewEvent("T", {"n": n}) for n in range(3)])
    seen = []
    orjson_loads = recorded.codec.fast_loads

    def loads(text):
        seen.append(gc.isenabled())
        if text == '{"n":1}':
            raise RuntimeError("decoding failed")
        return orjson_loads(text)

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        monkeypatch.setattr(recorded.codec, "fast_loads", loads)
        assert [r.data for r in store.read_stream("a-1")] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError):
            recorded.records_of(Reads.raw_rows(store, 1, 10))  # row by row: the failing text raises
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
        store.close()
    assert seen and not any(seen)


def test_a_streams_records_carry_its_id_as_a_plain_string(tmp_path):
    class Name(str):
        pass

    store = open_store(str(tmp_path / "s.db"))
    store.append("a-1", [NewEvent("T", {"n": n}) for n in range(3)])
    recs = list(store.read_stream(Name("a-1")))
    assert [r.stream_id for r in recs] == ["a-1"] * 3
    assert all(type(r.stream_id) is str for r in recs)
    store.close()
