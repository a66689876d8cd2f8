"""Shared helpers of the TUI tests: a small shop store with a fixed clock and fixed ids."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, Awaitable, Callable

MARKUP = "[bold]loud[/bold] [link=https://example.com]click[/link] [red]x"


def fixed_clock(start_minute: int = 0) -> Callable[[], str]:
    counter = itertools.count(start_minute * 60)

    def now() -> str:
        n = next(counter)
        return f"2026-01-01T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000Z"

    return now


def fixed_ids(start: int = 1) -> Callable[[], str]:
    counter = itertools.count(start)
    return lambda: str(uuid.UUID(int=next(counter)))


def make_shop_store(path: str) -> None:
    """A few orders, payments and stock, and a note whose payload is full of markup.

    Written by a bare engine (no installed features), so the history stays the same whatever
    features the domain grows.
    """
    from evsh import load_domain, open_store
    from evsh.engine.engine import Engine

    store = open_store(path, clock=fixed_clock())
    eng = Engine(store, load_domain("shop"), clock=fixed_clock(), new_id=fixed_ids())
    item = {"product_id": "p1", "quantity": 2, "unit_price": "9.50"}
    eng.execute("inventory", "p1", "add_stock", {"quantity": 10})
    eng.execute("order", "o1", "create", {"customer_id": "c1", "items": [item]})
    eng.execute("payment", "o1", "process", {"order_id": "o1", "amount": "19.00"})
    eng.execute("inventory", "p1", "reserve", {"order_id": "o1", "quantity": 2})
    eng.execute("order", "o1", "confirm", {})
    eng.execute("order", "o2", "create", {"customer_id": "c2", "items": [{**item, "quantity": 1}]})
    eng.execute("order", "o2", "cancel", {"reason": "changed mind"})
    eng.append("note-n1", "NoteAdded", {"text": MARKUP}, event_id=str(uuid.UUID(int=999)))
    store.close()


def make_app(path: str, **kw: Any):
    from evsh import load_domain, open_store
    from evsh.engine.wiring import build_engine
    from evsh.tui.app import EvshApp

    engine = build_engine(open_store(path, create=False), load_domain("shop"))
    app = EvshApp(engine, poll_interval=kw.pop("poll_interval", 0.05), **kw)
    app.counts_interval = 0.0
    return app


async def wait_for(pilot: Any, condition: Callable[[], Any], what: str = "condition", timeout: float = 20.0) -> None:
    """Wait for a condition (never for a fixed time); fail with ``what`` after a generous timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: app.events.total and app.events.current is not None, "the events list")


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)


def screen_text(app: Any) -> str:
    """What the terminal shows, as plain text lines (for assertions on layout)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def drive(path: str, size: tuple[int, int], body: Callable[[Any, Any], Awaitable[None]], **kw: Any) -> None:
    """Run ``body(pilot, app)`` on the app over the store at ``path``, in a terminal of ``size``,
    once its events list shows (``kw`` go to :func:`make_app`)."""
    async def scenario() -> None:
        app = make_app(path, **kw)
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            await body(pilot, app)

    run(scenario())
