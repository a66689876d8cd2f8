"""Publishing to NATS JetStream with nats-py: subject ``<prefix>.<routing key>`` (prefix ``evsh``)
captured by a stream (default ``EVSH``, subjects ``evsh.>``, created when missing), header
``Nats-Msg-Id`` = event id so that the server drops a duplicate inside the stream's duplicate
window, and acknowledgements pipelined (``publish_async``, then wait for every PubAck).

nats-py is asyncio; the relay is not, so this publisher keeps a private event loop and runs each
call to completion on it. The client's own reconnection is off: a lost connection ends the
batch with ``lost`` and the relay reconnects (with backoff) and republishes from its checkpoint.
Imported only by the command that publishes (nats-py is an optional dependency: ``evsh[broker]``).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Sequence

import nats
import nats.errors
import nats.js.errors

from ..errors import BrokerError
from .message import H_TYPE, Message
from .relay import Published
from .urls import BrokerURL

_NOT_IN_SUBJECT = set(" \t\r\n*>")


def connection_error(url: BrokerURL, exc: BaseException) -> BrokerError:
    """One line for a connection that could not be made."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "authorization" in text.lower() or "authentication" in text.lower():
        return BrokerError(f"{url.shown}: the server refused the credentials")
    if isinstance(exc, (nats.errors.NoServersError, OSError, asyncio.TimeoutError)):
        return BrokerError(f"{url.shown}: no NATS server answers there")
    return BrokerError(f"{url.shown}: cannot connect ({text})")


async def connect_client(url: BrokerURL, timeout: float) -> Any:
    """A NATS connection without automatic reconnection (callers reconnect on their terms)."""
    async def quiet(_exc: Exception) -> None:  # nats-py would print every error on stderr
        pass

    return await nats.connect(servers=[url.url], connect_timeout=timeout, allow_reconnect=False,
                              max_reconnect_attempts=0, error_cb=quiet)


class NatsPublisher:
    """Publishes to one JetStream stream."""

    def __init__(self, url: BrokerURL, stream: str, *, subject_prefix: str = "evsh", timeout: float = 10.0) -> None:
        self.url = url
        self.target = stream
        self.prefix = subject_prefix
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._js: Any = None

    def connect(self) -> None:
        """Connect, and create the stream (subjects ``<prefix>.>``) when it is missing."""
        self.close()
        try:  # nats-py keeps trying a refused address until its timeout: ask the socket first
            socket.create_connection((self.url.host, self.url.port), timeout=self.timeout).close()
        except OSError as exc:
            raise connection_error(self.url, exc) from None
        try:
            self._nc = self._loop.run_until_complete(asyncio.wait_for(connect_client(self.url, self.timeout),
                                                                      self.timeout + 1))
        except Exception as exc:  # nats-py raises several unrelated types for "no server"
            raise connection_error(self.url, exc) from None
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            self._loop.run_until_complete(self._ensure_stream())
        except nats.js.errors.ServiceUnavailableError:
            self.close()
            raise BrokerError(f"{self.url.shown}: JetStream is not enabled on this server (start it with -js)") from None
        except (nats.errors.Error, asyncio.TimeoutError) as exc:
            self.close()
            raise BrokerError(f"{self.url.shown}: cannot use stream {self.target!r} ({exc or type(exc).__name__})") from None

    async def _ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self.target)
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(name=self.target, subjects=[f"{self.prefix}.>"])

    def subject(self, m: Message) -> str:
        return f"{self.prefix}.{m.routing_key}"

    def publish(self, messages: Sequence[Message]) -> Published:
        """Publish all messages, then wait for every acknowledgement (or the timeout)."""
        if not messages:
            return Published(0)
        return self._loop.run_until_complete(self._publish(messages))

    async def _publish(self, messages: Sequence[Message]) -> Published:
        futures: list[Any] = []
        refused: tuple[int, str] | None = None
        lost: str | None = None
        for i, m in enumerate(messages):
            if _NOT_IN_SUBJECT & set(m.routing_key) or "" in m.routing_key.split("."):
                refused = (i, f"routing key {m.routing_key!r} cannot be part of a NATS subject")
                break
            headers = {"Nats-Msg-Id": m.message_id, H_TYPE: m.type, **m.headers}
            try:
                futures.append(await self._js.publish_async(self.subject(m), m.body, stream=self.target,
                                                            headers=headers, wait_stall=self.timeout))
            except Exception as exc:  # the connection went away while publishing
                lost = f"publishing failed ({' '.join(str(exc).split()) or type(exc).__name__})"
                break
        if futures:
            await self._wait(futures)
        confirmed = 0
        for f in futures:
            if not f.done() or f.cancelled():
                return Published(confirmed, "no acknowledgement from the server"
                                 + (" (connection lost)" if self._nc.is_closed else f" within {self.timeout:g}s"),
                                 lost=True)
            exc = f.exception()
            if exc is not None:
                text = " ".join(str(exc).split()) or type(exc).__name__
                if isinstance(exc, nats.js.errors.NoStreamResponseError):
                    text = f"no stream takes subject {self.subject(messages[confirmed])!r}"
                return Published(confirmed, f"the server refused it: {text}")
            confirmed += 1
        if lost is not None:
            return Published(confirmed, lost, lost=True)
        if refused is not None:
            return Published(confirmed, refused[1])
        return Published(confirmed)

    async def _wait(self, futures: list[Any]) -> None:
        """Until every future is done, the connection closed, or the timeout passed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.timeout
        pending = set(futures)
        while pending and not self._nc.is_closed and loop.time() < end:
            _, pending = await asyncio.wait(pending, timeout=min(0.1, max(0.0, end - loop.time())))

    def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            try:
                self._loop.run_until_complete(asyncio.wait_for(nc.close(), 2))
            except Exception:  # closing a broken connection: nothing more to do
                pass
