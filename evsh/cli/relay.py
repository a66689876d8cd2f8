"""`evsh relay`: publish the store's log to RabbitMQ or NATS JetStream (the outbox relay)."""

from __future__ import annotations

import signal
from typing import Any

import click

from ..errors import BadInput, BrokerError
from ..sanitise import rich_text, safe
from ..wording import counted, number
from .context import app
from .params import Count, Seconds


@click.command()
@click.option("--to", "to", required=True, metavar="URL",
              help="amqp://user:password@host:5672/vhost (RabbitMQ) or nats://host:4222 (NATS JetStream).")
@click.option("--exchange", default=None, metavar="NAME", help="RabbitMQ: the topic exchange (default evsh).")
@click.option("--stream", default=None, metavar="NAME", help="NATS: the JetStream stream (default EVSH).")
@click.option("--subject-prefix", default="evsh", show_default=True, metavar="WORD",
              help="NATS: subjects are WORD.<routing key>; a new stream takes WORD.>.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@click.option("--category", "categories", multiple=True, help="Only events of this category (repeatable).")
@click.option("--topic", "topics", multiple=True, help="Only events whose routing key matches (order.*, #; repeatable).")
@click.option("--once", is_flag=True, help="Publish what the log holds now, then exit (for scripts and tests).")
@click.option("--wait", is_flag=True, help="If another relay is active for this destination, wait for it (default: exit 3).")
@click.option("--source", default=None, metavar="NAME", help="The store's name in messages (default: the file's name).")
@click.option("--batch-size", type=Count(min=1), default=500, show_default=True, help="Messages per confirmed batch.")
@click.option("--poll", type=Seconds(), default=0.2, show_default=True, metavar="SECONDS",
              help="How often to look for new events when caught up.")
@click.option("--lease", type=Seconds(min=0.1), default=15.0, show_default=True, metavar="SECONDS",
              help="How long this relay stays the active one without renewal (after a crash, the wait).")
@click.option("--timeout", type=Seconds(min=0.1), default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the broker (connecting, confirmations).")
@click.option("--include-copies", is_flag=True,
              help="Also publish events this store copied from other stores (evsh consume); by default "
                   "each event is published only by the store that wrote it.")
def relay(to: str, exchange: str | None, stream: str | None, subject_prefix: str, types: tuple[str, ...],
          categories: tuple[str, ...], topics: tuple[str, ...], once: bool, wait: bool, source: str | None,
          batch_size: int, poll: float, lease: float, timeout: float, include_copies: bool) -> None:
    """Publish events to a broker, in log order, confirmed (the outbox relay).

    \b
    Each event becomes one message: message id = event id, the routing key
    evsh uses (order.created), evsh-* headers, and the JSON `evsh export`
    writes as the body (docs/broker.md). The checkpoint is kept in the store
    per destination and advances only over confirmed events: after a crash,
    a nack or a lost connection the relay publishes again from there
    (at-least-once). A message no queue takes (RabbitMQ) stops the relay
    before it. One relay per store and destination runs at a time; a second
    one exits 3 (or waits, with --wait).
    """
    from ..broker.message import source_name
    from ..broker.urls import (DEFAULT_EXCHANGE, DEFAULT_STREAM, check_exchange, check_pattern, check_stream,
                               check_word, parse_url)
    from ..engine.routing import EventFilter
    from ..store.base import check_name

    url = parse_url(to)
    if url.kind == "amqp":
        if stream is not None:
            raise BadInput("--stream is for nats:// URLs; RabbitMQ takes --exchange")
        target = check_exchange(exchange or DEFAULT_EXCHANGE)
    else:
        if exchange is not None:
            raise BadInput("--exchange is for amqp:// URLs; NATS takes --stream")
        target = check_stream(stream or DEFAULT_STREAM)
        check_word(subject_prefix, "--subject-prefix")
    for t in types:
        check_name(t, "--type")
    for c in categories:
        check_name(c, "--category")
    for t in topics:
        check_pattern(t, "--topic")
    a = app()
    name = check_name(source, "--source") if source is not None else source_name(a.db)
    store = a.store()  # an existing store: a relay never creates one
    try:
        if url.kind == "amqp":
            from ..broker.amqp import AmqpPublisher

            publisher: Any = AmqpPublisher(url, target, timeout=timeout)
        else:
            from ..broker.nats import NatsPublisher

            publisher = NatsPublisher(url, target, subject_prefix=subject_prefix, timeout=timeout)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("pika", "nats"):
            raise
        raise BrokerError(f"{url.scheme}:// needs the {exc.name.split('.')[0]} client: pip install 'evsh[broker]'"
                          ) from None
    from ..broker.relay import Relay

    r = Relay(store, publisher, url.destination(target), name, filter=EventFilter(types, categories, topics),
              batch_size=batch_size, poll=poll, lease_ttl=lease, copies=include_copies)
    stopping = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:  # noqa: ARG001
        stopping["now"] = True

    publisher.connect()  # an unreachable broker or refused credentials: exit 4, nothing written
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    shown = safe(f"{url.shown} {'exchange' if url.kind == 'amqp' else 'stream'} {target}")
    view = _View(shown, warn=not once)  # with --once an error is the command's one line
    try:
        r.take_lease(wait=wait, stop=lambda: stopping["now"])
        if not once:  # scripts may wait for this line
            click.echo(f"evsh: relaying to {shown}; Ctrl-C stops after the current batch", err=True)
        with view:
            r.run(once=once, stop=lambda: stopping["now"], on_progress=view.update, connected=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        publisher.close()
        try:
            r.release()
        except Exception:  # the lease expires by itself; the error that got here matters more
            pass
    click.echo(f"published {counted(r.published, 'event')} to {shown}; checkpoint"
               f" {view.last.checkpoint if view.last else 0}, lag {number(r.lag())}")


class _View:
    """Progress and lag on a terminal (stderr), redrawn in place; nothing when not a terminal."""

    def __init__(self, shown: str, warn: bool = True) -> None:
        from .render import console

        self.console = console(stderr=True)
        self.shown = shown
        self.live: Any = None
        self.last: Any = None
        self.errors: set[str] = set()
        self.warn = warn

    def __enter__(self) -> "_View":
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(rich_text(""), console=self.console, transient=True, refresh_per_second=8)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, p: Any) -> None:
        self.last = p
        if self.warn and p.error and p.error not in self.errors:  # each distinct error once, not once per retry
            self.errors.add(p.error)
            line = safe(f"evsh: warning: not confirmed: {p.error}")
            if self.live is not None:
                self.live.console.print(rich_text(line))
            else:
                click.echo(line, err=True)
        if self.live is not None:
            self.live.update(rich_text(f"checkpoint {p.checkpoint}  head {p.head}  lag {p.lag}  published"
                                       f" {p.published}  -> {self.shown}"))
