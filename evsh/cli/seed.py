"""`evsh seed`: fill an empty store with a large, realistic, reproducible shop history."""

from __future__ import annotations

import time

import click

from ..errors import BadInput
from ..sanitise import safe
from ..store.connect import shown
from ..wording import counted
from .context import app
from .params import Count, Seconds
from .render import progress


@click.command()
@click.option("--orders", type=Count(min=1), required=True, help="How many orders to place.")
@click.option("--customers", type=Count(min=1), default=None, help="Registered users (default orders/5).")
@click.option("--products", type=Count(min=1), default=50, show_default=True, help="Products in stock.")
@click.option("--seed", "seed_value", type=int, default=0, show_default=True,
              help="The same seed gives the same history (personal fields are sealed under new keys each time).")
@click.option("--days", type=Seconds(0.01, 36_500, unit="days"), default=7.0, show_default=True,
              help="Spread the history over this many days of event time.")
def seed(orders: int, customers: int | None, products: int, seed_value: int, days: float) -> None:
    """Fill an empty store with a shop history (uses the bundled shop unless --domain names another).

    Personal fields are encrypted under a key per user, as commands write them, so a seeded
    user can be forgotten (`evsh forget u1`).
    """
    from ..engine.seeding import shop_history
    from ..engine.shredding import shredder
    from ..store.base import NewEvent

    a = app()
    if not a.domain_spec:
        a.domain_spec = "shop"  # the history drives the shop's aggregates; reactors must know them too
    domain = a.domain(required=True)
    customers = customers or max(1, orders // 5)
    store = a.store(create=True)
    if store.head_position() != 0:
        raise BadInput(f"evsh seed fills an empty store, and {a.db} already holds events; pass a new --db")
    engine = a.engine(create=True)
    transforms = list(engine.write_transforms)  # what a command's events go through: personal fields encrypted
    sh = shredder(engine)
    # evsh's one write transform (encryption) changes only events declaring personal fields: the
    # other 96% of a seed skip the call, which would cost about a tenth of the seed's time
    personal_only = sh is not None and transforms == [sh.encrypt]

    def stored_as(batch: list[tuple[str, NewEvent]]) -> list[NewEvent]:
        if sh is not None:  # the chunk's subjects get their keys in one statement, not a transaction each
            specs = [(sid, domain.event_type(ev.type), ev) for sid, ev in batch]
            sh.keys.ensure(sh.subject_of(spec, sid, ev.data) for sid, spec, ev in specs
                           if spec and any(ev.data.get(f) is not None for f in spec.personal))
        out = []
        for stream_id, ev in batch:
            for transform in transforms:
                ev = transform(stream_id, ev)
            out.append(ev)
        return out

    start = time.perf_counter()
    with progress(orders, "seeding orders") as bar:
        task = bar.add_task("seeding orders", total=orders)
        rows = shop_history(
            domain, engine.decide, orders=orders, customers=customers, products=products, seed=seed_value,
            days=days, on_order=lambda n: bar.update(task, completed=n) if n % 500 == 0 or n == orders else None,
            written=stored_as if transforms else None, personal_only=personal_only,
        )
        with store.transaction():  # the history, the read models and the reactors' move past it commit together
            from ..engine.projections.alongside import Alongside

            store.lock_appends(exclusive=True)  # first, as every appender takes it, before the read models' rows
            alongside = Alongside(engine)  # read models built as the history is written, not read back after
            # the history is made on this thread: sealing a chunk keeps its subjects' keys in the store
            written, _ = store.import_rows(rows, on_written=alongside.written if alongside else None)
            alongside.finish()
            from ..engine.reactors import skip_history

            skip_history(engine, 0)  # history is not news: no e-mail for a seeded registration
    elapsed = time.perf_counter() - start
    click.echo(safe(f"seeded {counted(written, 'event')} ({counted(orders, 'order')}, {counted(customers, 'customer')},"
                    f" {counted(products, 'product')}) in {elapsed:.1f} s into {shown(a.db)}"))
    from .projections import build_read_models

    build_read_models(engine)
