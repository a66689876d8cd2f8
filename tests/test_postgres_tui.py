"""The TUI on a PostgreSQL store: it opens, lists the events, opens one, and its live tail shows
an event another connection appends (a schema of the test's own; tests/services.py)."""

from __future__ import annotations

from tests.services import postgres_url
from tests.tui_support import make_app, make_shop_store, ready, run, wait_for

SIZE = (120, 40)


def test_the_tui_opens_lists_and_opens_an_event_on_postgresql():
    from evsh.store.base import NewEvent
    from evsh.store.connect import open_store
    from evsh.tui.screens.event import EventScreen

    with postgres_url() as url:
        make_shop_store(url)

        async def scenario():
            app = make_app(url)
            async with app.run_test(size=SIZE) as pilot:
                await ready(pilot)
                assert app.events.total == 8
                assert app.events.current.view.position == 1
                await pilot.press("end")
                await wait_for(pilot, lambda: app.events.current and app.events.current.view.position == 8, "the end")
                assert app.events.current.view.type == "NoteAdded"
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, EventScreen), "the event screen")
                assert app.screen.rec.type == "NoteAdded" and app.screen.rec.position == 8
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, EventScreen), "back to the log")
                with open_store(url) as other:  # another process appends: the tail shows it
                    other.append("note-n2", [NewEvent("NoteAdded", {"text": "from elsewhere"})])
                await wait_for(pilot, lambda: app.events.total == 9, "the appended event")
            app.engine.store.close()

        run(scenario())
