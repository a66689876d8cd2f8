"""The command form at 80x24 and 160x45: nothing chosen for an existing aggregate; after choosing
from the drop-down, tab reaches the first parameter and what is typed there is what runs."""

from __future__ import annotations

import pytest

from tests.tui_support import drive, make_shop_store, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def shop_db(tmp_path):
    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    return path


@pytest.mark.parametrize("size", SIZES)
def test_choose_then_tab_then_type(shop_db, size):
    async def body(pilot, app):
        await pilot.press("down")  # order-o1@1: an existing order
        await wait_for(pilot, lambda: app.events.current.record.stream_id == "order-o1", "order-o1")
        await pilot.press("x")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandScreen", "the form")
        form = app.screen
        assert form.command is None  # not `create`: the order exists
        assert form.built == ""
        await pilot.press("ctrl+s")
        assert form.result == "choose a command first"
        names = list(form.specs)
        await pilot.press("enter")  # open the drop-down, go to `cancel`, choose it
        await wait_for(pilot, lambda: type(app.focused).__name__ == "SelectOverlay", "the drop-down")
        for _ in range(names.index("cancel") + 1):  # the prompt is the first line
            await pilot.press("down")
        await pilot.press("enter", "tab")
        await pilot.press(*"because")
        await wait_for(pilot, lambda: form.built == "cancel", "the cancel form")
        reason = form.query_one("#param-reason")
        assert reason.value == "because" and app.focused is reason
        await pilot.press("enter")
        await wait_for(pilot, lambda: form.result.startswith("ok"), "the outcome")
        rec = list(app.engine.read_stream("order-o1"))[-1]
        assert rec.type == "OrderCancelled" and rec.data["reason"] == "because"

    drive(shop_db, size, body, tail=False)
