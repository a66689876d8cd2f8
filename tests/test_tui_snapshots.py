"""Snapshots of the TUI's main screens (update with `pytest --snapshot-update` after checking them).

The store is written with a fixed clock and fixed ids, so nothing on screen depends on the time
of the run; the live tail is paused so no poll can change the screen mid-shot.
"""

from __future__ import annotations

import pytest

from tests.tui_support import make_app, make_shop_store, wait_for

SIZE = (120, 36)


@pytest.fixture
def shop_db(tmp_path):
    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    return path


async def settled(pilot, stream_id: str, version: int, with_state: bool = True) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: len(app.query_one("#categories").root.children) == 5, "the categories")
    await wait_for(pilot, lambda: app.streams.total == 5 and app.streams.current is not None, "the streams")
    detail = app.query_one("#detail")
    await wait_for(pilot, lambda: detail.rec is not None and (detail.rec.stream_id, detail.rec.version)
                   == (stream_id, version), "the detail")
    state = app.query_one("#state")
    if with_state:
        await wait_for(pilot, lambda: state.shown and state.shown[:2] == (stream_id, version), "the state")
    else:
        await wait_for(pilot, lambda: "no aggregate" in state.message, "the no-state message")


def test_snapshot_browser_with_state_and_diff(shop_db, snap_compare):
    async def before(pilot):
        app = pilot.app
        await wait_for(pilot, lambda: app.events.total == 8, "the log")
        await pilot.press("down", "down", "down", "down")  # order-o1@2, OrderConfirmed
        await settled(pilot, "order-o1", 2)
        app.query_one("#panel").active = "tab-state"
        await pilot.pause()

    assert snap_compare(make_app(shop_db, tail=False), terminal_size=SIZE, run_before=before)


def test_snapshot_event_screen_with_causal_links(shop_db, snap_compare):
    async def before(pilot):
        app = pilot.app
        await wait_for(pilot, lambda: app.events.total == 8, "the log")
        await pilot.press("end")
        await settled(pilot, "note-n1", 1, with_state=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query("#links") and hasattr(app.screen, "chain"), "the links")

    assert snap_compare(make_app(shop_db, tail=False), terminal_size=SIZE, run_before=before)


def test_snapshot_command_form(shop_db, snap_compare):
    async def before(pilot):
        app = pilot.app
        await wait_for(pilot, lambda: app.events.total == 8, "the log")
        await pilot.press("down")  # order-o1@1
        await settled(pilot, "order-o1", 1)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.screen.query("#command"), "the form")  # nothing chosen: o1 exists
        app.screen.query_one("#command").value = "cancel"
        await wait_for(pilot, lambda: app.screen.built == "cancel", "the cancel form")
        app.screen.query_one("#param-reason").value = "[bold]not markup[/bold]"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen.result.startswith("ok"), "the outcome")

    assert snap_compare(make_app(shop_db, tail=False), terminal_size=SIZE, run_before=before)
