"""Pilot tests of `evsh tui`: navigation, selection, time travel, find, live tail, commands, safety."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.tui_support import MARKUP, make_app, make_shop_store, ready, run, wait_for

SIZE = (120, 40)


@pytest.fixture
def shop_db(tmp_path):
    path = str(tmp_path / "shop.db")
    make_shop_store(path)
    return path


def current(app):
    row = app.events.current
    return row.view if row is not None else None


def cur(app, attr):
    """An attribute of the highlighted event, or None while its page is loading."""
    rec = current(app)
    return getattr(rec, attr) if rec is not None else None


def test_opens_on_all_and_jumps_to_the_last_event(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert app.events.source.stream_id is None
            assert app.events.total == 8
            assert current(app).position == 1
            await pilot.press("end")
            await wait_for(pilot, lambda: current(app) and cur(app, "position") == 8, "the last event")
            await pilot.press("up", "up")
            await wait_for(pilot, lambda: cur(app, "position") == 6, "two rows up")
            await pilot.press("home")
            await wait_for(pilot, lambda: cur(app, "position") == 1, "the first event")

    run(scenario())


def test_category_tree_filter_and_stream_selection(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            tree = app.query_one("#categories")
            await wait_for(pilot, lambda: len(tree.root.children) == 5, "the categories")
            assert [n.data for n in tree.root.children] == ["$all", "inventory", "note", "order", "payment"]
            assert "2 streams" in tree.root.children[3].label.plain
            # choose the category `order` with the keyboard
            tree.focus()
            await pilot.press("home", "down", "down", "down", "enter")
            await wait_for(pilot, lambda: app.streams.category == "order" and app.streams.total == 2, "order streams")
            # move into the streams list: the highlighted stream's events are shown
            await pilot.press("s", "down")
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o2" and current(app), "order-o2")
            assert [current(app).type] == ["OrderCreated"]
            # the text filter narrows the list
            app.query_one("#filter").focus()
            await pilot.press(*"o1")
            await wait_for(pilot, lambda: app.streams.total == 1, "the filtered list")
            await pilot.press("enter", "enter")
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o1" and app.events.total == 2,
                           "order-o1's events")
            # `a` goes back to the global log
            await pilot.press("a")
            await wait_for(pilot, lambda: app.events.source.stream_id is None and app.events.total == 8, "$all")

    run(scenario())


def test_time_travel_shows_state_at_each_version_and_the_diff(shop_db):
    async def scenario():
        from evsh.tui.data import Source

        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            app.load_source(Source("order-o1"))
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o1" and current(app), "order-o1")
            state = app.query_one("#state")
            await wait_for(pilot, lambda: state.shown and state.shown[:2] == ("order-o1", 1), "state at version 1")
            _, _, st, changes = state.shown
            assert st["status"] == "created" and st["total_amount"] == "19.00"
            assert ("~", "status", "new", "created") in changes
            await pilot.press("down")
            await wait_for(pilot, lambda: state.shown and state.shown[:2] == ("order-o1", 2), "state at version 2")
            _, _, st, changes = state.shown
            assert st["status"] == "confirmed"
            assert ("~", "status", "created", "confirmed") in changes
            assert not any(path.startswith("items") for _, path, _, _ in changes)  # unchanged parts stay out
            await pilot.press("up")
            await wait_for(pilot, lambda: state.shown and state.shown[:2] == ("order-o1", 1), "back at version 1")
            assert state.shown[2]["status"] == "created"

    run(scenario())


def test_find_by_type_text_and_time_then_next_and_previous(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("slash")
            await wait_for(pilot, lambda: app.screen.query("#type"), "the find form")
            await pilot.press(*"OrderCreated", "enter")
            await wait_for(pilot, lambda: cur(app, "position") == 2, "the first OrderCreated")
            await pilot.press("n")
            await wait_for(pilot, lambda: cur(app, "position") == 6, "the next OrderCreated")
            await pilot.press("N")
            await wait_for(pilot, lambda: cur(app, "position") == 2, "the previous one")
            # text in the payload, case-insensitive
            await pilot.press("slash")
            await wait_for(pilot, lambda: app.screen.query("#text"), "the find form")
            app.screen.query_one("#type").value = ""
            app.screen.query_one("#text").focus()
            await pilot.press(*"CHANGED MIND", "enter")
            await wait_for(pilot, lambda: cur(app, "position") == 7, "the cancellation")
            # a time range
            await pilot.press("home", "slash")
            await wait_for(pilot, lambda: app.screen.query("#since"), "the find form")
            app.screen.query_one("#text").value = ""
            app.screen.query_one("#since").value = "2026-01-01 00:00:04"
            app.screen.query_one("#until").value = "2026-01-01 00:00:05"
            app.screen.query_one("#until").focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: cur(app, "position") == 5, "the first event from 00:00:04")
            await pilot.press("n")
            await wait_for(pilot, lambda: cur(app, "position") == 6, "the next in range")
            await pilot.press("n")
            await wait_for(pilot, lambda: any("no later match" in str(n.message) for n in app._notifications),
                           "the no-match notice")
            assert current(app).position == 6

    run(scenario())


def test_go_to_position_and_version(shop_db):
    async def scenario():
        from evsh.tui.data import Source

        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("g")
            await wait_for(pilot, lambda: app.screen.query("#target"), "the go-to form")
            await pilot.press(*"5", "enter")
            await wait_for(pilot, lambda: cur(app, "position") == 5, "position 5")
            app.load_source(Source("order-o2"))
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o2" and current(app), "order-o2")
            await pilot.press("g", *"v2", "enter")
            await wait_for(pilot, lambda: cur(app, "version") == 2, "version 2")
            await pilot.press("g", *"xyz", "enter")
            await wait_for(pilot, lambda: "give a number" in getattr(app.screen, "error", ""), "the error")
            await pilot.press("escape")

    run(scenario())


def test_live_tail_shows_appends_by_another_process_without_moving_the_cursor(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("down", "down")
            await wait_for(pilot, lambda: cur(app, "position") == 3, "position 3")
            env = {**os.environ, "EVSH_DB": shop_db}
            proc = subprocess.run(
                [sys.executable, "-m", "evsh", "append", "note-n2", "NoteAdded", '{"text": "from elsewhere"}'],
                env=env, capture_output=True, text=True, check=False,
            )
            assert proc.returncode == 0, proc.stderr
            await wait_for(pilot, lambda: app.events.total == 9, "the appended event")
            assert app.events.cursor == 2 and current(app).position == 3
            tree = app.query_one("#categories")
            await wait_for(pilot, lambda: "2 streams" in tree.root.children[2].label.plain
                           and "9 events" in tree.root.children[0].label.plain, "the new counts")
            await pilot.press("end")
            await wait_for(pilot, lambda: cur(app, "position") == 9 and cur(app, "stream_id") == "note-n2",
                           "the new event")

    run(scenario())


def test_command_form_runs_a_command_and_shows_a_rejection(shop_db):
    async def scenario():
        from evsh.tui.data import Source

        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            app.load_source(Source("order-o1"))
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o1" and current(app), "order-o1")
            await pilot.press("x")
            await wait_for(pilot, lambda: app.screen.query("#command"), "the command form")
            form = app.screen
            form.query_one("#command").value = "confirm"
            await wait_for(pilot, lambda: form.built == "confirm", "the confirm form")
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: form.result.startswith("rejected"), "the rejection")
            assert "already confirmed" in form.result
            form.query_one("#command").value = "cancel"
            await wait_for(pilot, lambda: form.built == "cancel", "the cancel form")
            form.query_one("#param-reason").focus()
            await pilot.press(*"no longer wanted", "enter")
            await wait_for(pilot, lambda: form.result.startswith("ok"), "the outcome")
            assert "OrderCancelled" in form.result
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.events.total == 3, "the new event in the list")
            await pilot.press("end")
            await wait_for(pilot, lambda: cur(app, "type") == "OrderCancelled"
                           and current(app).data["reason"] == "no longer wanted", "the new event")
            assert current(app).metadata["actor"] == "tui"

    run(scenario())


def test_command_form_reports_bad_parameter_values(shop_db):
    async def scenario():
        from evsh.tui.data import Source

        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            app.load_source(Source("inventory-p1"))
            await wait_for(pilot, lambda: app.events.source.stream_id == "inventory-p1" and current(app), "p1")
            await pilot.press("x")
            await wait_for(pilot, lambda: app.screen.query("#command"), "the command form")
            form = app.screen
            form.query_one("#command").value = "add_stock"
            await wait_for(pilot, lambda: form.built == "add_stock", "the add-stock form")
            form.query_one("#param-quantity").value = "many"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: form.result.startswith("error"), "the error")
            assert "integer" in form.result
            assert app.browser.head() == 8

    run(scenario())


def test_markup_in_payloads_is_shown_literally(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=(160, 40)) as pilot:
            await ready(pilot)
            await pilot.press("end")
            await wait_for(pilot, lambda: cur(app, "stream_id") == "note-n1", "the note")
            line = app.events.render_row(app.events.current, 200).plain
            assert "[bold]loud[/bold] [link=https://example.com]click[/link]" in line
            detail = app.query_one("#detail")
            await wait_for(pilot, lambda: detail.rec is not None and detail.rec.stream_id == "note-n1", "detail")
            svg = app.export_screenshot()
            assert "[bold]loud[/bold]" in svg.replace("&#160;", " ")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.query("#event-full"), "the event screen")
            svg = app.export_screenshot()
            assert "[link=https://example.com]click[/link]" in svg.replace("&#160;", " ")
            assert MARKUP.startswith("[bold]")

    run(scenario())


def test_event_screen_follows_causation_and_the_correlation_chain(tmp_path):
    from evsh import load_domain, open_store
    from evsh.engine.engine import Engine

    path = str(tmp_path / "chain.db")
    store = open_store(path)
    eng = Engine(store, load_domain("shop"))
    first = eng.execute("order", "o1", "create",
                        {"customer_id": "c1", "items": [{"product_id": "p1", "quantity": 1, "unit_price": "5"}]})
    cause = first.events[0]
    eng.execute("payment", "o1", "process", {"order_id": "o1", "amount": "5"},
                correlation_id=first.correlation_id, causation_id=cause.event_id)
    store.close()

    async def scenario():
        app = make_app(path)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("end")
            await wait_for(pilot, lambda: cur(app, "type") == "PaymentProcessed", "the payment")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.query("#links") and app.screen.cause is not None, "links")
            screen = app.screen
            assert screen.cause.event_id == cause.event_id
            assert [e.type for e in screen.chain] == ["OrderCreated", "PaymentProcessed"]
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.rec.event_id == cause.event_id, "the causing event")
            await pilot.press("backspace")
            await wait_for(pilot, lambda: screen.rec.type == "PaymentProcessed", "back")
            await pilot.press("g")
            await wait_for(pilot, lambda: app.screen is not screen and cur(app, "type") == "PaymentProcessed",
                           "shown in the log")

    run(scenario())


def test_help_and_command_palette_list_actions(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", "help")
            await pilot.press("escape")
            await wait_for(pilot, lambda: type(app.screen).__name__ != "HelpScreen", "closed help")
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert {"Find events", "Run a command", "Projections", "Metrics"} <= set(titles)

    run(scenario())


def test_tui_refuses_without_a_terminal(cli, db_path):
    cli("init")
    result = cli("tui")
    assert result.exit_code == 2
    assert "evsh log --json" in result.stderr


def test_other_commands_do_not_import_textual(tmp_path):
    code = "import sys, evsh.cli.main as m; m.cli.get_command(None, 'tui'); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_holes_left_by_a_scavenge_are_found_after_a_quick_open(shop_db):
    import sqlite3

    conn = sqlite3.connect(shop_db)
    conn.execute("DELETE FROM events WHERE position IN (2, 3)")  # what a scavenge leaves: holes
    conn.commit()
    conn.close()

    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.events.total == 6 and app.events.index.verified, "the exact index")
            await pilot.press("end")
            await wait_for(pilot, lambda: cur(app, "position") == 8, "the last event")
            await pilot.press("home", "down")
            await wait_for(pilot, lambda: cur(app, "position") == 4, "the event after the hole")

    run(scenario())


def test_mouse_click_highlights_and_a_second_click_opens(shop_db):
    async def scenario():
        app = make_app(shop_db)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.click("#events", offset=(10, 3))
            await wait_for(pilot, lambda: cur(app, "position") == 4, "the clicked row")
            await pilot.click("#events", offset=(10, 3))
            await wait_for(pilot, lambda: type(app.screen).__name__ == "EventScreen", "the event screen")
            assert app.screen.rec.position == 4
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.streams.total == 5 and app.streams.item(2), "the streams")
            await pilot.click("#streams", offset=(3, 2))  # inventory-p1, note-n1, order-o1
            await wait_for(pilot, lambda: app.events.source.stream_id == "order-o1" and app.events.total == 2,
                           "the clicked stream's events")

    run(scenario())
