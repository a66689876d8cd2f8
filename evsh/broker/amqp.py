"""Publishing to RabbitMQ (AMQP 0-9-1) with pika: a durable topic exchange, publisher confirms
pipelined, and ``mandatory`` so that a message no queue takes is an error, not a silent drop.

pika's BlockingConnection waits for each confirmation before the next publish (one round trip
per message); this publisher drives pika's asynchronous SelectConnection instead: it publishes a
whole batch, then runs the I/O loop until every delivery tag is acked or nacked (or the
connection is lost, or ``timeout`` passes). RabbitMQ returns an unroutable mandatory message
(``basic.return``) before it acks it, so a returned message counts as failed even though acked.
Imported only by the command that publishes (pika is an optional dependency: ``evsh[broker]``).
"""

from __future__ import annotations

from typing import Any, Sequence

import pika
import pika.exceptions as pex

from ..errors import BrokerError
from .message import CONTENT_TYPE, Message
from .relay import Published
from .urls import BrokerURL


def connection_error(url: BrokerURL, exc: BaseException) -> BrokerError:
    """One line for a connection that could not be made: refused credentials, or no broker."""
    if isinstance(exc, (pex.ProbableAuthenticationError, pex.AuthenticationError)):
        return BrokerError(f"{url.shown}: the broker refused the credentials")
    if isinstance(exc, pex.ProbableAccessDeniedError):
        return BrokerError(f"{url.shown}: access to virtual host {url.vhost!r} refused")
    if isinstance(exc, pex.ConnectionClosedByBroker) and exc.reply_code in (403, 530):
        return BrokerError(f"{url.shown}: the broker refused the connection ({exc.reply_text})")
    text = " ".join(str(exc).split())
    return BrokerError(f"{url.shown}: no broker answers there" + (f" ({text})" if text else ""))


def parameters(url: BrokerURL, timeout: float) -> pika.URLParameters:
    params = pika.URLParameters(url.url)
    params.socket_timeout = timeout
    params.connection_attempts = 1
    params.blocked_connection_timeout = timeout
    return params


class AmqpPublisher:
    """Publishes to one exchange (declared durable topic) through one confirming channel."""

    def __init__(self, url: BrokerURL, exchange: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.target = exchange
        self.timeout = timeout
        self._conn: Any = None
        self._channel: Any = None
        self._error: BaseException | None = None
        self._lost: str | None = None
        self._tag = 0  # the last delivery tag used on this channel
        self._pending: dict[int, int] = {}  # delivery tag -> index in the batch
        self._acked: set[int] = set()
        self._failed: dict[int, str] = {}  # index -> why
        self._index_of: dict[str, int] = {}  # message id -> index (for basic.return)

    # ------------------------------------------------------------------ connecting
    def connect(self) -> None:
        """Open a connection and a confirming channel, and declare the exchange (durable topic)."""
        self.close()
        self._error, self._lost, self._tag = None, None, 0
        ready = []
        try:
            self._conn = pika.SelectConnection(
                parameters(self.url, self.timeout),
                on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_close,
            )
        except (pex.AMQPError, OSError) as exc:
            raise connection_error(self.url, exc) from None

        def declared(_frame: Any) -> None:
            self._channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                           callback=lambda _f: (ready.append(True), self._conn.ioloop.stop()))

        self._declared = declared
        self._run_until(lambda: bool(ready) or self._error is not None or self._lost is not None)
        if self._error is not None or not ready:
            err = self._error or BrokerError(f"{self.url.shown}: {self._lost or 'no answer from the broker'}")
            self.close()
            raise err if isinstance(err, BrokerError) else connection_error(self.url, err)

    def _on_channel(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.exchange_declare(exchange=self.target, exchange_type="topic", durable=True, callback=self._declared)

    def _on_open_error(self, _conn: Any, exc: BaseException) -> None:
        self._error = exc
        self._conn.ioloop.stop()

    def _on_close(self, _conn: Any, reason: BaseException) -> None:
        if self._error is None and self._lost is None:
            self._lost = f"the connection was closed ({' '.join(str(reason).split())})"
        self._conn.ioloop.stop()

    def _on_channel_closed(self, _channel: Any, reason: BaseException) -> None:
        if isinstance(reason, pex.ChannelClosedByBroker) and reason.reply_code == 406:
            self._error = BrokerError(f"{self.url.shown}: exchange {self.target!r} exists with other settings"
                                      f" ({reason.reply_text})")
        elif self._lost is None:
            self._lost = f"the channel was closed ({' '.join(str(reason).split())})"
        if self._conn is not None and self._conn.is_open:
            self._conn.close()
        else:
            self._conn.ioloop.stop()

    def _run_until(self, done: Any) -> None:
        """Run pika's I/O loop until ``done()``, the connection closes or the timeout passes
        (the callbacks stop the loop whenever something happened that ``done`` may be waiting for)."""
        conn = self._conn
        expired: list[bool] = []
        timer = conn.ioloop.call_later(self.timeout, lambda: (expired.append(True), conn.ioloop.stop()))
        while not done() and not expired and not conn.is_closed:
            conn.ioloop.start()
        if not expired:
            conn.ioloop.remove_timeout(timer)

    # ------------------------------------------------------------------ publishing
    def publish(self, messages: Sequence[Message]) -> Published:
        """Publish all messages (mandatory, persistent), then wait for their confirmations."""
        if not messages:
            return Published(0)
        self._pending, self._acked, self._failed = {}, set(), {}
        self._index_of = {m.message_id: i for i, m in enumerate(messages)}
        ch = self._channel
        try:
            for i, m in enumerate(messages):
                props = pika.BasicProperties(message_id=m.message_id, type=m.type, content_type=CONTENT_TYPE,
                                             delivery_mode=2, headers=m.headers, app_id="evsh")
                ch.basic_publish(self.target, m.routing_key, m.body, props, mandatory=True)
                self._tag += 1
                self._pending[self._tag] = i
        except (pex.AMQPError, OSError) as exc:
            self._lost = self._lost or f"publishing failed ({' '.join(str(exc).split())})"
        if self._lost is None and self._error is None:
            self._run_until(lambda: not self._pending or self._lost is not None or self._error is not None)
        confirmed = 0
        while confirmed < len(messages) and confirmed in self._acked and confirmed not in self._failed:
            confirmed += 1
        if confirmed == len(messages):
            return Published(confirmed)
        if confirmed in self._failed:
            return Published(confirmed, self._failed[confirmed])
        if isinstance(self._error, BrokerError):
            return Published(confirmed, str(self._error), lost=True)
        return Published(confirmed, self._lost or f"no confirmation within {self.timeout:g}s", lost=True)

    def _on_return(self, _channel: Any, method: Any, props: Any, _body: bytes) -> None:
        i = self._index_of.get(props.message_id)
        if i is not None:
            self._failed.setdefault(i, f"unroutable: no queue is bound to exchange {self.target!r} for routing key"
                                       f" {method.routing_key!r} ({method.reply_text})")

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ack = method.NAME == "Basic.Ack"
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for t in tags:
            i = self._pending.pop(t, None)
            if i is None:
                continue
            if ack:
                self._acked.add(i)
            else:
                self._failed.setdefault(i, "the broker refused the message (basic.nack)")
        if not self._pending:
            self._conn.ioloop.stop()

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is None:
            return
        try:
            if conn.is_open:
                conn.close()
                self._conn = conn
                self._run_until(lambda: conn.is_closed)
        except Exception:  # closing a broken connection: nothing more to do
            pass
        self._conn = None
