"""`evsh consume`: events from a broker into this store, to its reactors and projections."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from ..sanitise import safe
from .context import app
from .params import Count, Seconds


@click.command()
@click.option("--from", "source", required=True, metavar="URL",
              help="amqp://user:password@host:5672/ (RabbitMQ) or nats://host:4222 (NATS JetStream).")
@click.option("--queue", default=None, metavar="NAME", help="RabbitMQ: the durable queue to read (declared with --bind).")
@click.option("--bind", "binds", multiple=True, metavar="PATTERN",
              help="RabbitMQ: bind the queue to the exchange with this topic pattern (order.#); repeatable."
                   " NATS: only these subjects. Default with --service: the categories the service consumes.")
@click.option("--exchange", default="evsh", show_default=True, help="RabbitMQ: the topic exchange.")
@click.option("--stream", default="EVSH", show_default=True, metavar="NAME", help="NATS: the JetStream stream.")
@click.option("--durable", default=None, metavar="NAME", help="NATS: the durable pull consumer's name.")
@click.option("--name", default=None, metavar="NAME",
              help="This consumer's name in the store's counters and dead letters (default: the queue or durable).")
@click.option("--prefetch", type=Count(min=1), default=200, show_default=True,
              help="Messages the broker hands over before they are acknowledged.")
@click.option("--hold", type=Seconds(), default=30.0, show_default=True, metavar="SECONDS",
              help="How long a message ahead of its stream waits for the versions before it, then is parked.")
@click.option("--once", is_flag=True, help="Stop when the queue is empty and nothing is held.")
@click.option("--idle-exit", type=Seconds(), default=None, metavar="SECONDS",
              help="Stop after this many seconds without a message.")
@click.option("--json", "as_json", is_flag=True, help="At the end, the counts as one JSON object.")
def consume(source: str, queue: str | None, binds: tuple[str, ...], exchange: str, stream: str,
            durable: str | None, name: str | None, prefetch: int, hold: float, once: bool,
            idle_exit: float | None, as_json: bool) -> None:
    """Consume events relayed from other stores: each is recorded here (once, by its event id,
    in its stream's order) and reaches this store's reactors and projections like a local one.

    \b
    evsh consume --from amqp://guest:guest@127.0.0.1:5672/ --queue payments \\
        --bind 'order.#'
    evsh consume --from nats://127.0.0.1:4222 --stream EVSH --durable payments
    evsh --domain shop_services --service payments \\
        consume --from amqp://... --queue payments

    Messages are acknowledged after the commit; a message that is not an evsh event, or cannot be
    recorded, goes to `evsh dlq` (reactor consumer:NAME) and is acknowledged. Exit 4 when the broker
    cannot be reached or goes away (unacknowledged messages are then redelivered).
    """
    from ..broker.consume import Consumer, progress_line
    from ..broker.inbox import Inbox
    from ..broker.urls import check_exchange, check_pattern, check_queue, check_stream, check_word, parse_url
    from ..store.base import check_name
    from ..errors import BadInput

    url = parse_url(source)
    for b in binds:  # every name is checked before anything connects
        check_pattern(b, "--bind")
    if queue is not None:
        check_queue(queue)
    if durable is not None:
        check_word(durable, "--durable")
    if name is not None:
        check_name(name, "--name")
    a = app()
    domain = a.domain()
    svc = getattr(domain, "service", None)
    bindings = list(binds)
    if not bindings and svc is not None:
        from ..domain.services import bindings as service_bindings

        bindings = service_bindings(domain, svc)
    if url.kind == "amqp":
        check_exchange(exchange)
        queue = queue or (svc.name if svc is not None else None)
        if not queue:
            raise BadInput("RabbitMQ needs --queue NAME (and --bind PATTERN to declare it)")
        label = name or queue
    else:
        check_stream(stream)
        durable = durable or name or (svc.name if svc is not None else None)
        if not durable:
            raise BadInput("NATS needs --durable NAME (the durable consumer keeps its place)")
        label = name or durable
    # the broker first: a consumer that cannot run (no broker, no queue or stream) writes nothing
    if url.kind == "amqp":
        from ..broker import amqp_consume

        amqp_consume.check(url, exchange, queue or "", bindings)
    else:
        from ..broker import nats_consume

        nats_consume.check(url, stream, bindings)
    engine = a.engine(create=True)
    inbox = Inbox(engine, label, source=url.destination(exchange if url.kind == "amqp" else stream))
    consumer = Consumer(inbox, hold=hold)
    err = sys.stderr
    live = err.isatty()
    stopping = {"now": False}
    seen: dict[str, int | None] = {"depth": None}

    def on_term(signum: int, frame: Any) -> None:  # noqa: ARG001 - a polite stop: finish the batch
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_term)

    def progress(depth: int | None) -> None:
        if depth is not None:
            seen["depth"] = depth
        if live:
            err.write("\r\x1b[2K" + safe(f"{label}: {progress_line(consumer.counts, seen['depth'])}"))
            err.flush()

    try:
        if url.kind == "amqp":
            amqp_consume.run(url, consumer, exchange=exchange, queue=queue or "", bindings=bindings,
                             prefetch=prefetch, once=once, idle_exit=idle_exit, stop=lambda: stopping["now"],
                             on_progress=progress)
        else:
            nats_consume.run(url, consumer, stream=stream, durable=durable or "", subjects=bindings,
                             prefetch=prefetch, once=once, idle_exit=idle_exit, stop=lambda: stopping["now"],
                             on_progress=progress)
    finally:
        if live:
            err.write("\n")
    c = consumer.counts
    if as_json:
        from .render import emit_json_object

        emit_json_object({"consumer": label, **c.as_dict(), "reactor_error": c.reactor_error})
    else:
        click.echo(safe(f"{label}: {progress_line(c)}"))
        if c.dead_lettered:
            click.echo(safe(f"{label}: last dead letter: {c.last_reason} (see evsh dlq list)"), err=True)
        if c.reactor_error:
            click.echo(safe(f"{label}: a reactor failed: {c.reactor_error} (see evsh reactors)"), err=True)
