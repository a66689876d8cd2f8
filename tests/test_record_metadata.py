"""A record read from a SQLite page holds its metadata undecoded until it is first read
(evsh.store.recorded.PageMetadata). Whoever holds the record must not be able to tell, but by
the time it takes: the same dict on every read, equal, printed, pickled, copied and replaced as
a record decoded row by row, and the same error for a text that is not JSON."""

from __future__ import annotations

import copy
import pickle

import pytest

import evsh.store.recorded as recorded
from evsh.store.base import NewEvent
from evsh.store.reads import Reads
from evsh.store.sqlite import open_store

from .test_read_pages import store_with_texts


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path / "s.db"))
    s.append("a-1", [NewEvent("T", {"n": n}, {"correlation_id": f"c{n}", "by": {"user": "u"}}) for n in range(5)])
    s.append("b-1", [NewEvent("U", {"n": 9}, {"correlation_id": "c9"})])
    yield s
    s.close()


def _rows(store):
    return [r for recs, _ in Reads.read_all_records(store, 1) for r in recs]


def test_metadata_is_one_dict_per_record_kept_across_reads(store):
    recs = list(store.read_all())
    assert type(recs[0][6]) is recorded.PageMetadata  # held undecoded: the case under test
    first = recs[0].metadata
    assert first is recs[0].metadata
    first["seen"] = True
    assert recs[0].metadata == {"correlation_id": "c0", "by": {"user": "u"}, "seen": True}
    assert [r.metadata["correlation_id"] for r in recs] == ["c0", "c1", "c2", "c3", "c4", "c9"]
    assert "seen" not in recs[1].metadata


def test_a_record_holding_metadata_undecoded_behaves_as_one_decoded_row_by_row(store):
    for lazy, plain in zip(list(store.read_all()), _rows(store)):
        assert type(lazy[6]) is recorded.PageMetadata and type(plain[6]) is dict
        assert lazy == plain and plain == lazy and not lazy != plain
        assert repr(lazy) == repr(plain)
        assert lazy.as_dict() == plain.as_dict() and lazy._asdict() == plain._asdict()
        for back in (pickle.loads(pickle.dumps(lazy)), copy.deepcopy(lazy), copy.copy(lazy)):
            assert back == plain and type(back[6]) is dict
        moved = lazy._replace(position=lazy.position + 100)
        assert moved.metadata == plain.metadata and moved.position == plain.position + 100
        assert lazy._replace(data={}).metadata == plain.metadata
    assert list(store.read_all())[0] != _rows(store)[1]


def test_metadata_no_one_reads_is_never_decoded_and_a_page_decodes_once(store, monkeypatch):
    texts = []
    loads = recorded.codec.fast_loads

    def counting(text):
        texts.append(text)
        return loads(text)

    recs = list(store.read_all())
    monkeypatch.setattr(recorded.codec, "fast_loads", counting)
    assert [r.data["n"] for r in recs] == [0, 1, 2, 3, 4, 9]
    assert texts == []
    assert [r.metadata["correlation_id"] for r in recs][-1] == "c9"
    assert len(texts) == 1  # the page's metadata, in one decode


@pytest.mark.parametrize("texts", [{3: '{"m":'}, {2: '{"n":[1', 3: "2]}"}, {2: ""}, {2: ' {"big": 1'}],
                         ids=["cut-short", "halves-that-parse-together", "empty", "exact-codec-cut-short"])
def test_an_event_whose_metadata_is_damaged_says_so_and_its_neighbours_read_theirs(tmp_path, texts):
    """A damaged text is the store's fault, not a handler's: reading that event's metadata raises
    StoreCorrupt (which runners stop on) naming the event and the decoder's complaint, and the
    other events of its page, metadata intact, read theirs."""
    from evsh.errors import StoreCorrupt

    s = store_with_texts(tmp_path, 4, texts, "metadata")
    try:
        first = min(texts)
        with pytest.raises(StoreCorrupt, match=rf"event a-1@{first} \(position {first}\): its stored metadata is not"):
            _rows(s)  # row by row: the first damaged event named
        recs = list(s.read_all())
        assert [r.data["n"] for r in recs] == [0, 1, 2, 3]
        for rec in recs:
            if rec.position in texts:
                with pytest.raises(StoreCorrupt, match=rf"event a-1@{rec.version} \(position {rec.position}\):"
                                                      r" its stored metadata is not JSON \(.+\); the store is damaged"):
                    rec.metadata
            else:
                assert rec.metadata == {}
    finally:
        s.close()


def test_metadata_texts_that_split_into_more_values_than_events_are_a_corrupt_store(tmp_path):
    """Two JSON values in one row's text, joined by what joins a page's texts: no event can be
    given its own, so reading any of the page's metadata says the store is damaged."""
    from evsh.errors import StoreCorrupt

    s = store_with_texts(tmp_path, 4, {2: "1\n,2"}, "metadata")
    try:
        recs = list(s.read_all())
        with pytest.raises(StoreCorrupt, match="event a-1@1 .position 1.: its page's metadata does not split"):
            recs[0].metadata
    finally:
        s.close()
