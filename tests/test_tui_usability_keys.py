"""The TUI's keys at 80x24 and 160x45: the tail follows, the State tab has a key, help says it
all and scrolls, the filter box lets go, never-built projections say so."""

from __future__ import annotations

import pytest

from tests.tui_support import drive, make_shop_store, screen_text, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def shop_db(tmp_path):
    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    return path


def append_note(path: str, sid: str, text: str) -> None:
    """An append by another connection (as another process would)."""
    from evsh import open_store
    from evsh.store.base import NewEvent

    store = open_store(path, create=False)
    store.append(sid, [NewEvent("NoteAdded", {"text": text})])
    store.close()


def position(app):
    row = app.events.current
    return row.record.position if row is not None else None


@pytest.mark.parametrize("size", SIZES)
def test_live_tail_follows_from_the_last_row(shop_db, size):
    async def body(pilot, app):
        await pilot.press("end")
        await wait_for(pilot, lambda: position(app) == 8, "the last event")
        for n in range(30):  # more than a screenful: the list scrolls to keep up
            append_note(shop_db, "note-tail", f"n{n}")
        await wait_for(pilot, lambda: app.events.total == 38 and position(app) == 38, "following the tail")
        await wait_for(pilot, lambda: "note-tail" in screen_text(app), "the new rows on screen")
        lst = app.events
        assert lst.scroll_offset.y + lst.scrollable_content_region.height > 37  # the last row is on screen
        # away from the end, new events only raise the count
        await pilot.press("home")
        await wait_for(pilot, lambda: position(app) == 1, "the first event")
        append_note(shop_db, "note-tail", "later")
        await wait_for(pilot, lambda: app.events.total == 39, "the count")
        assert position(app) == 1

    drive(shop_db, size, body)


@pytest.mark.parametrize("size", SIZES)
def test_state_tab_has_a_key(shop_db, size):
    async def body(pilot, app):
        await pilot.press("down")  # order-o1@1
        panel = app.query_one("#panel")
        await pilot.press("v")
        assert panel.active == "tab-state"
        state = app.query_one("#state")
        await wait_for(pilot, lambda: state.shown and state.shown[:2] == ("order-o1", 1), "the state")
        await pilot.press("v")
        assert panel.active == "tab-event"

    drive(shop_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_help_lists_every_key_and_scrolls(shop_db, size):
    async def body(pilot, app):
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
        await wait_for(pilot, lambda: "evsh tui: keys" in screen_text(app) and "Moving" in screen_text(app),
                       "the top of the keys")
        dialog = app.screen.query_one("#dialog")
        assert dialog.region.right <= size[0] and dialog.region.bottom <= size[1]  # never cut off
        keys = app.screen.query_one("Static:last-of-type").render()
        from evsh.tui.screens.help import KEYS

        listed = {(k, what) for _, rows in KEYS for k, what in rows}
        keys_text = " ".join(f"{k} {w}" for k, w in listed)
        for needed in ("ctrl+s", "State tab", "leave the filter box", "rebuild", "retry", "stop a search"):
            assert needed in keys_text, needed
        assert keys is not None
        await pilot.press("end")
        await wait_for(pilot, lambda: "quit" in screen_text(app), "the end of the keys")  # it scrolls
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ != "HelpScreen", "help closed")

    drive(shop_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_escape_leaves_the_filter_box(shop_db, size):
    async def body(pilot, app):
        flt = app.query_one("#filter")
        flt.focus()
        await pilot.press("n", "1")
        await wait_for(pilot, lambda: app.streams.total == 1, "the filtered list")
        await pilot.press("escape")
        assert app.focused is app.streams
        await pilot.press("v")  # an app key again, not filter text
        assert flt.value == "n1"
        assert app.query_one("#panel").active == "tab-state"

    drive(shop_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_projections_never_built_say_so(shop_db, size):
    async def body(pilot, app):
        from evsh.engine import projections

        never = {p["name"] for p in projections.status(app.engine) if p["built_version"] is None}
        assert never, "the fixture should have a projection never built"
        await pilot.press("p")
        await wait_for(pilot, lambda: getattr(app.screen, "data", None) is not None, "the projections")
        table = app.screen.query_one("#projections")
        states = {table.get_row(name)[0].plain: table.get_row(name)[6].plain for name in never}
        assert set(states.values()) == {"not built yet"}, states

    drive(shop_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_the_focused_pane_is_tinted(shop_db, size):
    async def body(pilot, app):
        panes = [app.events, app.streams, app.query_one("#categories")]
        for pane in panes:
            pane.focus()

            def only_it_tinted() -> bool:
                tints = [p.styles.background_tint.a for p in panes]
                return tints[panes.index(pane)] > 0 and sum(t > 0 for t in tints) == 1

            await wait_for(pilot, lambda: app.focused is pane and only_it_tinted(), "only the focused pane tinted")
    drive(shop_db, size, body, tail=False)
