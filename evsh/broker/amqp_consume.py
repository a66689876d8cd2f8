"""Consuming from RabbitMQ (AMQP 0-9-1, pika): a durable queue bound to the topic exchange,
manual acknowledgements after the inbox's commit, a prefetch window. Imported only by
`evsh consume --from amqp://...` (pika is the ``broker`` extra)."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from ..errors import BrokerError
from .consume import Consumer, Delivery
from .urls import BrokerURL

IDLE_TICK = 0.02  # seconds the loop waits for a message before it looks at held ones and the clock


def connect(url: BrokerURL) -> Any:
    """A blocking pika connection; BrokerError (one line, no password) when it cannot be had."""
    try:
        import pika
        import pika.exceptions as pe
    except ModuleNotFoundError:
        raise BrokerError("pika is not installed: pip install 'evsh[broker]'") from None
    params = pika.URLParameters(url.url)
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.blocked_connection_timeout = 30
    try:
        return pika.BlockingConnection(params)
    except pe.ProbableAuthenticationError:
        raise BrokerError(f"RabbitMQ at {url.shown} refused the credentials") from None
    except pe.ProbableAccessDeniedError:
        raise BrokerError(f"RabbitMQ at {url.shown} refused access to the virtual host") from None
    except pe.AMQPError as exc:
        raise BrokerError(f"no RabbitMQ answers at {url.shown} ({type(exc).__name__}{_said(exc)}); start one,"
                          " e.g. `docker run -d -p 5672:5672 rabbitmq:3`") from None


def _said(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f": {text[:120]}" if text else ""


def declare(channel: Any, url: BrokerURL, exchange: str, queue: str, bindings: Sequence[str]) -> int:
    """The topic exchange, the durable queue and its bindings; with no bindings the queue must
    exist already. Returns the queue's depth."""
    import pika.exceptions as pe

    try:
        channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        if bindings:
            ok = channel.queue_declare(queue, durable=True)
            for key in bindings:
                channel.queue_bind(queue, exchange, routing_key=key)
        else:
            ok = channel.queue_declare(queue, passive=True)
    except pe.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            raise BrokerError(f"RabbitMQ at {url.shown} has no queue {queue!r}: give --bind PATTERN to declare it")\
                from None
        raise BrokerError(f"RabbitMQ at {url.shown} refused the queue {queue!r}: {exc.reply_text}") from None
    except pe.AMQPError as exc:
        raise BrokerError(f"RabbitMQ at {url.shown}: {type(exc).__name__}{_said(exc)}") from None
    return ok.method.message_count


def check(url: BrokerURL, exchange: str, queue: str, bindings: Sequence[str]) -> None:
    """Before the store is opened: the broker answers, and the queue exists or can be declared
    (BrokerError otherwise), so a consumer that cannot run writes nothing."""
    conn = connect(url)
    try:
        declare(conn.channel(), url, exchange, queue, bindings)
    finally:
        try:
            if conn.is_open:
                conn.close()
        except Exception:  # noqa: BLE001 - closing a connection the broker closed
            pass


def queue_depth(url: BrokerURL, queue: str) -> int | None:
    """Messages waiting in ``queue`` (ready, not delivered), or None when it cannot be asked."""
    try:
        conn = connect(url)
    except BrokerError:
        return None
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    except Exception:  # noqa: BLE001 - a gauge: no answer is an answer
        return None
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def run(url: BrokerURL, consumer: Consumer, *, exchange: str, queue: str, bindings: Sequence[str],
        prefetch: int = 200, once: bool = False, idle_exit: float | None = None,
        stop: Callable[[], bool] | None = None, on_progress: Callable[[int | None], None] | None = None) -> None:
    """Consume until ``stop()``, or (``once``) until the queue is empty and nothing is held, or
    after ``idle_exit`` seconds without a message. Raises BrokerError when the broker goes away
    (the unsettled messages are redelivered to the next consumer)."""
    import pika.exceptions as pe

    conn = connect(url)
    try:
        channel = conn.channel()
        depth = declare(channel, url, exchange, queue, bindings)
        channel.basic_qos(prefetch_count=prefetch)
        last_message = time.monotonic()
        last_report = 0.0
        batch: list[Delivery] = []

        def settle(done: list[Delivery]) -> None:
            """Acknowledge: one frame for every tag below the first held one (each delivery is
            settled or held when it is received, so all of those are settled), the rest one by one."""
            if not done:
                return
            held = consumer.held_tokens()
            first_held = min(held) if held else None
            below = [d.token for d in done if first_held is None or d.token < first_held]
            if below:
                channel.basic_ack(max(below), multiple=True)
            for d in done:
                if first_held is not None and d.token > first_held:
                    channel.basic_ack(d.token)

        for method, props, body in channel.consume(queue, inactivity_timeout=IDLE_TICK):
            now = time.monotonic()
            if method is not None:
                batch.append(Delivery(props.message_id, props.headers, body, props.type, method.delivery_tag,
                                      method.redelivered))
                last_message = now
                if len(batch) < 50 and channel.get_waiting_message_count():
                    continue  # gather what pika already has: one reaction round for the lot
            if batch:
                settle(consumer.receive(batch))
                batch = []
            settle(consumer.expire())
            if on_progress and now - last_report >= 1.0:  # the queue's depth is the consumer's lag
                last_report = now
                on_progress(channel.queue_declare(queue, passive=True).method.message_count)
            if stop and stop():
                break
            if method is None:
                if once and not consumer.holding:
                    depth = channel.queue_declare(queue, passive=True).method.message_count
                    if depth == 0:
                        break
                if idle_exit is not None and now - last_message >= idle_exit:
                    break
        channel.cancel()
        if on_progress:
            on_progress(None)
    except pe.AMQPError as exc:
        raise BrokerError(f"RabbitMQ at {url.shown} went away ({type(exc).__name__}{_said(exc)});"
                          " unacknowledged messages will be redelivered") from None
    finally:
        try:
            if conn.is_open:
                conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass
