"""Pilot tests of the TUI's projections, reactors/dead-letters and metrics screens."""

from __future__ import annotations

import textwrap

from tests.tui_support import run, wait_for

SIZE = (120, 40)

FRAGILE = textwrap.dedent('''
    from evsh import Aggregate, applies, command, event, reactor

    BROKEN = {"on": True}

    @event
    class Pinged:
        n: int

    class Bell(Aggregate):
        rings: int = 0

        @command
        def ping(self, n: int):
            yield Pinged(n)

        @applies
        def _pinged(self, e: Pinged) -> None:
            self.rings += 1

    @reactor("fragile", on=["Pinged"], attempts=1, backoff=0)
    def fragile(event, ctx):
        if BROKEN["on"]:
            raise RuntimeError(f"cannot handle ping {event.n}")
''')


def open_app(path, domain):
    from evsh import open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.app import EvshApp

    app = EvshApp(build_engine(open_store(path, create=False), domain), poll_interval=0.05)
    app.ops_refresh = 0.05
    return app


def test_projections_screen_lists_status_and_rebuilds_with_progress(tmp_path):
    from evsh import load_domain

    from tests.tui_support import make_shop_store

    path = str(tmp_path / "shop.db")
    make_shop_store(path)  # written without projections: they start unbuilt
    domain = load_domain("shop")

    async def scenario():
        app = open_app(path, domain)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.events.total == 8, "the log")
            await pilot.press("p")
            await wait_for(pilot, lambda: getattr(app.screen, "data", None), "the projections")
            screen = app.screen
            names = [p["name"] for p in screen.data]
            assert "order_details" in names
            table = screen.query_one("#projections")
            table.move_cursor(row=names.index("order_details"))
            await pilot.press("b")
            await wait_for(pilot, lambda: screen.rebuild_state.startswith("rebuilt"), "the rebuild")
            await wait_for(pilot, lambda: next(p for p in screen.data if p["name"] == "order_details")["lag"] == 0,
                           "the refreshed status")
            row = next(p for p in screen.data if p["name"] == "order_details")
            assert row["rows"] == 2 and row["checkpoint"] == 8
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is not screen, "back to the browser")

    run(scenario())


def test_reactors_screen_retries_and_discards_parked_events(tmp_path):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine

    domain_file = tmp_path / "fragile.py"
    domain_file.write_text(FRAGILE)
    domain = load_domain(str(domain_file))
    path = str(tmp_path / "bell.db")
    store = open_store(path)
    eng = build_engine(store, domain)
    eng.execute("bell", "b1", "ping", {"n": 1})
    eng.execute("bell", "b1", "ping", {"n": 2})
    store.close()

    async def scenario():
        app = open_app(path, domain)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.events.total == 2, "the log")
            await pilot.press("r")
            await wait_for(pilot, lambda: len(getattr(app.screen, "parked", [])) == 2, "two parked events")
            screen = app.screen
            assert screen.status_rows[0]["name"] == "fragile" and screen.status_rows[0]["parked"] == 2
            assert "cannot handle ping 1" in screen.parked[0]["error"]
            screen.query_one("#dead-letters").focus()
            await pilot.press("y")
            await wait_for(pilot, lambda: "failed again" in getattr(screen, "last_message", ""), "a failed retry")
            domain.module.BROKEN["on"] = False
            await pilot.press("y")
            await wait_for(pilot, lambda: "retried" in screen.last_message, "a retry")
            await wait_for(pilot, lambda: len(screen.parked) == 1, "one parked event left")
            await pilot.press("d")
            await wait_for(pilot, lambda: "discarded" in screen.last_message and not screen.parked, "the discard")
            assert screen.status_rows[0]["parked"] == 0

    run(scenario())


def test_metrics_screen_shows_events_per_minute_and_handlers(tmp_path):
    from evsh import load_domain, open_store
    from evsh.broker import state
    from evsh.engine.wiring import build_engine

    domain_file = tmp_path / "fragile.py"
    domain_file.write_text(FRAGILE.replace('BROKEN = {"on": True}', 'BROKEN = {"on": False}'))
    domain = load_domain(str(domain_file))
    path = str(tmp_path / "bell.db")
    store = open_store(path)
    eng = build_engine(store, domain)
    for n in range(5):
        eng.execute("bell", "b1", "ping", {"n": n})
    dest = "amqp://127.0.0.1:5672/%2F#evsh"  # a broker relay that has 2 of the 5 events confirmed
    assert state.acquire(store, dest, "me", 0.0, 1.0, "2026-01-01T00:00:00Z")
    state.advance(store, dest, "me", 2, 2, 0.0, 1.0, "2026-01-01T00:00:00Z")
    store.close()

    async def scenario():
        app = open_app(path, domain)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.events.total == 5, "the log")
            await pilot.press("m")
            await wait_for(pilot, lambda: getattr(app.screen, "counts", None), "the metrics")
            screen = app.screen
            assert sum(screen.counts) == 5 and len(screen.counts) == 60
            fragile = [s for s in screen.series if s.name == "fragile"]
            assert fragile and sum(s.handled for s in fragile) == 5
            relays = [(s.name, s.handled, s.lag) for s in screen.series if s.kind == "relay"]
            assert relays == [(dest, 2, 3)], "the relay's confirmed events and lag"

    run(scenario())

