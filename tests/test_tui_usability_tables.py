"""The read-model browser at 80x24 and 160x45: a projection's tables and their rows, paged."""

from __future__ import annotations

import pytest

from tests.tui_support import drive, make_shop_store, screen_text, wait_for

SIZES = [(80, 24), (160, 45)]


@pytest.fixture
def built_db(tmp_path):
    """The shop store with 150 more orders and its projections built."""
    from evsh import load_domain, open_store
    from evsh.engine import projections
    from evsh.engine.wiring import build_engine

    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    engine = build_engine(open_store(path), load_domain("shop"))
    item = {"product_id": "p1", "quantity": 1, "unit_price": "1.00"}
    for n in range(150):
        engine.execute("order", f"x{n:03d}", "create", {"customer_id": "[red]c", "items": [item]})
    for p in projections.status(engine):
        projections.rebuild(engine, p["name"])
    engine.store.close()
    return path


@pytest.mark.parametrize("size", SIZES)
def test_browse_a_projections_rows(built_db, size):
    async def body(pilot, app):
        from evsh.engine import projections

        names = [p for p in projections.status(app.engine) if p["tables"]]
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TablesScreen", "the browser")
        screen = app.screen
        await wait_for(pilot, lambda: screen.tables and screen.status, "the first table")
        assert {t for p in names for t in p["tables"]} <= set(screen.tables)
        # a table with more than a page of rows: go to it, page on and back
        big = next(n for n, t in screen.tables.items() if (t["rows"] or 0) > 100)
        lst = screen.query_one("#table-list")
        lst.focus()
        lst.move_cursor(row=lst.get_row_index(big))
        await wait_for(pilot, lambda: screen.current == big and screen.status.startswith(big), "the big table")
        assert "rows 1–100 of" in screen.status
        first_rows = list(screen.rows)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "rows 101–" in screen.status, "the second page")
        refreshed = screen.refreshes
        await wait_for(pilot, lambda: screen.refreshes > refreshed + 1, "a recount of the tables")
        assert "rows 101–" in screen.status and screen.current == big  # the page stays
        assert screen.rows and screen.rows[0] not in first_rows
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "rows 1–100 of" in screen.status, "the first page again")
        assert screen.rows == first_rows
        await wait_for(pilot, lambda: big[:10] in screen_text(app), "the table's name on screen")
        if "customer_id" in screen.tables[big]["pk"] + [c for c, _ in screen.tables[big]["columns"]]:
            await wait_for(pilot, lambda: "[red]c" in screen_text(app), "the data as typed, not markup")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ != "TablesScreen", "back")

    drive(built_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_projections_screen_opens_a_projections_tables(built_db, size):
    async def body(pilot, app):
        await pilot.press("p")
        await wait_for(pilot, lambda: getattr(app.screen, "data", None), "the projections")
        ops = app.screen
        name = ops.selected()
        want = next(p["tables"] for p in ops.data if p["name"] == name)
        await pilot.press("t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TablesScreen", "the browser")
        if want:
            await wait_for(pilot, lambda: app.screen.current == want[0], "the projection's table")

    drive(built_db, size, body, tail=False)
