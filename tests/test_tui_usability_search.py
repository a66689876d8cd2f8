"""Text search: the same matches whether narrowed in SQL or not (escaping, case, encrypted and
upcast payloads), progress on screen and escape stops it, at 80x24 and 160x45."""

from __future__ import annotations

import pytest

from tests.tui_support import drive, make_shop_store, wait_for

SIZES = [(80, 24), (160, 45)]
TRICKY = ["50%_off\\now", "Ünïcode ÉTÉ", "MiXeD CaSe"]


@pytest.fixture
def search_db(tmp_path):
    """The shop store, notes with LIKE's special characters, and a user whose email is encrypted."""
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    engine = build_engine(open_store(path), load_domain("shop"))
    for n, text in enumerate(TRICKY):
        engine.append(f"note-t{n}", "NoteAdded", {"text": text})
    engine.execute("user", "u1", "register", {"email": "secret.person@example.com", "username": "sp"})
    engine.store.close()
    return path


def browser_of(path):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.data import Browser

    return Browser(build_engine(open_store(path, create=False), load_domain("shop")))


@pytest.mark.parametrize("needle", ["%", "_", "\\", "50%_off", "%_o", "ÉTÉ", "été", "mixed case", "MIXED",
                                    "secret.person", "SECRET.PERSON@", "o1", "nothing-like-this", '"text"'])
def test_sql_search_finds_what_a_scan_finds(search_db, needle):
    from evsh.tui.data import Source
    from evsh.tui.search import Criteria

    b = browser_of(search_db)
    try:
        idx = b.index(Source())
        c = Criteria(text=needle)
        for backwards, start in ((False, 0), (True, idx.total - 1)):
            fast = [b.find(idx, start, c, backwards=backwards, inclusive=True, window=w) for w in (1, 3, 50_000)]
            slow = b.find(idx, start, c, backwards=backwards, inclusive=True, in_sql=False)
            assert fast == [slow] * 3, (needle, backwards)
    finally:
        b.engine.store.close()


def test_encrypted_field_is_in_the_database_only_encrypted(search_db):
    import sqlite3

    rows = sqlite3.connect(search_db).execute("SELECT data FROM events WHERE type = 'UserRegistered'").fetchall()
    assert rows and all("secret.person" not in r[0] for r in rows)  # so finding it needed the read path


def test_progress_is_reported(search_db):
    from evsh.tui.data import Source
    from evsh.tui.search import Criteria

    b = browser_of(search_db)
    try:
        idx = b.index(Source())
        seen: list[float] = []
        assert b.find(idx, 0, Criteria(text="nothing-like-this"), progress=seen.append, window=2) is None
        assert seen and seen == sorted(seen) and 0 < seen[-1] <= 1
    finally:
        b.engine.store.close()


@pytest.fixture
def long_db(tmp_path):
    from evsh import open_store
    from evsh.store.base import NewEvent

    path = str(tmp_path / "long.db")
    store = open_store(path)
    store.append("note-many", [NewEvent("NoteAdded", {"text": f"n{i}"}) for i in range(30000)])
    store.close()
    return path


@pytest.mark.parametrize("size", SIZES)
def test_search_shows_progress_and_escape_stops_it(long_db, size):
    async def body(pilot, app):
        app.search_window = 1  # a report and a check for escape after every event: slow enough to see
        await pilot.press("slash")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FindScreen", "the find form")
        text = app.screen.query_one("#text")
        text.value = "nothing-like-this"
        text.focus()
        await wait_for(pilot, lambda: app.focused is text, "the text field")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.searching and app.search_done > 0, "progress")
        assert "escape stops" in str(app.query_one("#events-title").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.searching, "the search to stop")
        assert app.events.cursor == 0
        assert app.search_done < 1

    drive(long_db, size, body, tail=False)


def test_chain_near_is_the_chain_around_the_event(search_db):
    b = browser_of(search_db)
    try:
        for position in range(1, b.head() + 1):
            rec = b.event_at(position)
            corr = rec.metadata["correlation_id"]
            whole = [e.position for e in b.chain(corr)]
            assert [e.position for e in b.chain_near(corr, position)] == whole
            assert [e.position for e in b.chain_near(corr, position, window=0)] == [position]
    finally:
        b.engine.store.close()
