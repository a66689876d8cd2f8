"""The TUI at 80x24 and 160x45: columns fit the width, ids are cut in the middle, nothing vanishes."""

from __future__ import annotations

import re

import pytest

from tests.tui_support import drive, make_shop_store, screen_text, wait_for

SIZES = [(80, 24), (160, 45)]
LONG = ["order-o1000099990", "order-o1000099991"]


@pytest.fixture
def long_db(tmp_path):
    """The shop store and two streams whose ids differ only at their end."""
    from evsh import open_store

    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    store = open_store(path)
    from evsh.store.base import NewEvent

    for sid in LONG:
        store.append(sid, [NewEvent("NoteAdded", {"text": "x" * 300})], expected_version=0)
    store.close()
    return path


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


@pytest.mark.parametrize("size", SIZES)
def test_columns_fit_the_width(long_db, size):
    async def body(pilot, app):
        await wait_for(pilot, lambda: app.streams.total == 7 and app.streams.widest, "the streams")
        await pilot.press("end")
        await wait_for(pilot, lambda: app.events.current and app.events.current.record.position == 10, "the end")
        def payloads_shown() -> bool:
            shown = screen_text(app)
            return all(any(n in line and '{"text"' in line for line in shown.splitlines()) for n in ("99990", "99991"))

        await wait_for(pilot, payloads_shown, "both long streams' rows")
        text = screen_text(app)
        # the two long ids stay apart, in the streams pane and in the events list
        rows = [line for line in text.splitlines() if "99990" in line or "99991" in line]
        assert any("99990" in r for r in rows) and any("99991" in r for r in rows), text
        # every event row keeps its time and a payload cut with "…"
        event_rows = [r for r in lines_with(text, "NoteAdded") if "{\"text\"" in r]
        assert event_rows, text
        for row in event_rows:
            assert re.search(r"\d\d-\d\d \d\d:\d\d", row), row
        assert all("…" in row.split('{"text"', 1)[1] for row in event_rows), text
        if size[0] >= 160:
            assert re.search(r"20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", event_rows[0]), event_rows  # the year
            assert "InventoryReserved" in text and "PaymentProcessed" in text  # types never cut
            assert "order-o1000099990" in text  # the streams pane is as wide as its ids
        # the categories list shows its rows
        tree = app.query_one("#categories")
        assert tree.size.height >= 3, tree.size
        assert "order" in text and "payment" in text

    drive(long_db, size, body, tail=False)


@pytest.mark.parametrize("size", SIZES)
def test_middle_cut_and_columns(size):
    from evsh.tui.widgets.lists import event_columns, fit, fit_middle

    assert fit_middle("order-o1000099990", 12) == "order…099990"
    assert fit_middle("short", 12) == "short".ljust(12)
    assert fit("abcdef", 4) == "abc…"
    cols = event_columns(size[0] - 24, all_log=True, key_digits=7, stream_width=15, type_width=26)
    assert cols.payload >= 8 and cols.time >= 11
    if size[0] >= 160:
        assert cols.type == 26 and cols.stream == 15 and cols.time == 19


@pytest.fixture
def late_db(tmp_path):
    """A stream whose one event comes after 1,000 others: position 1001, version 1."""
    from evsh import open_store
    from evsh.store.base import NewEvent

    path = str(tmp_path / "late.db")
    store = open_store(path)
    store.append("note-many", [NewEvent("NoteAdded", {"text": f"n{i}"}) for i in range(1000)])
    store.append("note-late", [NewEvent("NoteAdded", {"text": "y" * 300})])
    store.close()
    return path


@pytest.mark.parametrize("size", SIZES)
def test_a_streams_rows_keep_their_positions_and_payload(late_db, size):
    """In a stream, positions (1001) may be wider than versions (1): neither is cut."""
    async def body(pilot, app):
        from evsh.tui.data import Source

        app.load_source(Source("note-late"))
        await wait_for(pilot, lambda: app.events.source.stream_id == "note-late" and app.events.current, "the stream")

        def row_shown() -> bool:
            return any(line.split("▕")[-1].lstrip().startswith("1001 ") and '{"text"' in line
                       for line in screen_text(app).splitlines())

        await wait_for(pilot, row_shown, "its row")
        row = next(line for line in screen_text(app).splitlines() if '{"text"' in line and "NoteAdded" in line)
        assert "…" in row.split('{"text"', 1)[1], row
    drive(late_db, size, body, tail=False)
