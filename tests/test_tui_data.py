"""The TUI's row index: row numbers <-> positions and versions, with holes after a scavenge."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evsh import open_store
from evsh.engine.engine import Engine
from evsh.store.base import NewEvent
from evsh.tui.data import Browser, Source, diff
from evsh.tui.search import Criteria


def filled(path: str, n: int, stream_every: int = 3) -> Browser:
    store = open_store(path)
    for i in range(n):
        store.append(f"s-{i % stream_every}", [NewEvent("Happened", {"i": i, "text": f"item {i}"})])
    return Browser(Engine(store))


def remove(browser: Browser, positions: set[int]) -> None:
    """What a scavenge leaves behind: holes in positions and in stream versions."""
    conn = browser.store.conn
    conn.executemany("DELETE FROM events WHERE position = ?", [(p,) for p in positions])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 60), gone=st.sets(st.integers(1, 60)), block_shift=st.sampled_from([1, 2, 10]))
def test_rows_map_to_the_stored_positions_in_order(tmp_path_factory, n, gone, block_shift):
    import evsh.tui.data as data

    old = data.BLOCK_SHIFT
    data.BLOCK_SHIFT = block_shift
    try:
        path = str(tmp_path_factory.mktemp("idx") / "s.db")
        b = filled(path, n)
        remove(b, gone)
        stored = [r[0] for r in b.store.conn.execute("SELECT position FROM events ORDER BY position")]
        index = b.index(Source())
        assert index.total == len(stored)
        assert [b.key_of_row(index, r) for r in range(index.total)] == stored
        for row, pos in enumerate(stored):
            assert b.row_of_key(index, pos) == row
        # pages read by position ranges give exactly the stored rows, in order
        got = [row.record.position for start in range(0, index.total, 7) for row in b.page(index, start, 7)]
        assert got == stored
        # one stream, keyed by version
        versions = [r[0] for r in b.store.conn.execute(
            "SELECT version FROM events WHERE stream_id='s-1' ORDER BY version")]
        sidx = b.index(Source("s-1"))
        assert [row.record.version for row in b.page(sidx, 0, 100)] == versions
        b.store.close()
    finally:
        data.BLOCK_SHIFT = old


def test_extend_adds_appended_rows_after_holes(tmp_path):
    b = filled(str(tmp_path / "s.db"), 20)
    remove(b, {3, 4, 10})
    index = b.index(Source())
    assert index.total == 17
    b.store.append("s-9", [NewEvent("Happened", {"i": 99})])
    assert b.extend(index) == 1
    assert index.total == 18
    assert b.page(index, 17, 5)[0].record.position == 21
    assert b.extend(index) == 0


def test_find_scans_by_type_text_and_time_in_both_directions(tmp_path):
    b = filled(str(tmp_path / "s.db"), 30)
    index = b.index(Source())
    hit = b.find(index, 0, Criteria(text="ITEM 17"))
    assert b.page(index, hit, 1)[0].record.data["i"] == 17
    assert b.find(index, hit, Criteria(text="item 17")) is None
    assert b.find(index, hit, Criteria(text="item 1"), backwards=True) == 16  # "item 16" is the nearest
    assert b.find(index, hit, Criteria(text="item 9"), backwards=True) == 9
    assert b.find(index, 0, Criteria(type="Nope")) is None
    assert b.find(index, 0, Criteria(type="Happened"), inclusive=True) == 0


def test_diff_names_added_removed_and_changed_paths():
    before = {"status": "new", "items": [{"q": 1}], "gone": 1}
    after = {"status": "created", "items": [{"q": 2}], "new": True}
    assert diff(before, after) == [
        ("~", "status", "new", "created"),
        ("~", "items[0].q", 1, 2),
        ("+", "new", None, True),
        ("-", "gone", 1, None),
    ]
    assert diff(after, after) == []


def test_deleted_streams_are_hidden_from_pages_and_listings(tmp_path):
    b = filled(str(tmp_path / "s.db"), 9)
    b.store.delete_stream("s-1")
    index = b.index(Source())
    rows = b.page(index, 0, 100)
    hidden = [r.record.position for r in rows if r.view is None]
    assert hidden == [r.record.position for r in rows if r.record.stream_id == "s-1"] and hidden
    assert b.stream_count("s") == 2
    assert [r[0] for r in b.stream_page(None, "", 0, 10)] == ["$streams", "s-0", "s-2"]  # the deletion is recorded
    assert ("s", 2) in b.categories()
    assert b.find(index, 0, Criteria(text="item 1"), inclusive=True) != b.row_of_key(index, 2)
    assert b.event_at(2) is None


def test_a_quick_index_is_verified_and_replaced_when_positions_have_holes(tmp_path):
    b = filled(str(tmp_path / "s.db"), 30)
    quick = b.index(Source(), quick=True)
    assert not quick.verified and quick.total == 30
    assert b.verify(quick) is None and quick.verified
    remove(b, {5, 6, 7})
    quick = b.index(Source(), quick=True)
    assert quick.total == 30  # it trusts first..last
    exact = b.verify(quick)
    assert exact is not None and exact.total == 27
    assert [r.record.position for r in b.page(exact, 0, 100)] == [p for p in range(1, 31) if p not in (5, 6, 7)]
