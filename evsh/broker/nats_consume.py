"""Consuming from NATS JetStream (nats-py): a durable pull consumer on the relay's stream,
explicit acknowledgements after the inbox's commit. Imported only by `evsh consume --from
nats://...` (nats-py is the ``broker`` extra).

Subjects are ``evsh.<routing key>`` (``evsh.order.created``); the prefix is read from the
stream's own subjects (a stream on ``t1.>`` gives ``t1.order.created``). One ``--bind`` pattern
becomes the consumer's filter subject (``order.#`` -> ``evsh.order.>``); several are filtered
here (servers before 2.10 take one filter subject), the others acknowledged unrecorded.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Sequence

from ..engine.routing import matches
from ..errors import BadInput, BrokerError
from .consume import Consumer, Delivery
from .urls import BrokerURL

PREFIX = "evsh."
ACK_WAIT = 30.0  # seconds before JetStream redelivers an unacknowledged message


def subject_of(pattern: str, prefix: str = PREFIX) -> str:
    """A topic pattern as a NATS subject filter: ``#`` -> ``>`` (last word only), ``*`` stays."""
    words = pattern.split(".")
    if "#" in words[:-1]:
        raise BadInput(f"pattern {pattern!r}: NATS takes '#' as the last word only (order.#)")
    return prefix + ".".join(">" if w == "#" else w for w in words)


def stream_prefix(subjects: Sequence[str] | None) -> str:
    """``["evsh.>"]`` -> ``evsh.``: where routing keys start in the stream's subjects."""
    for s in subjects or ():
        if s.endswith(".>"):
            return s[:-1]
    return PREFIX


async def _connect(url: BrokerURL) -> Any:
    try:
        import nats
        from nats.errors import Error as NatsError
    except ModuleNotFoundError:
        raise BrokerError("nats-py is not installed: pip install 'evsh[broker]'") from None
    opts: dict[str, Any] = {"connect_timeout": 3, "max_reconnect_attempts": 60, "reconnect_time_wait": 0.5,
                            "allow_reconnect": True}

    async def quiet(exc: Exception) -> None:  # nats-py prints errors by default
        pass

    opts["error_cb"] = quiet
    try:
        return await nats.connect(url.url, **opts)
    except (NatsError, OSError, asyncio.TimeoutError) as exc:
        text = " ".join(str(exc).split())[:120]
        if "authorization" in text.lower():
            raise BrokerError(f"NATS at {url.shown} refused the credentials") from None
        raise BrokerError(f"no NATS server answers at {url.shown} ({type(exc).__name__}{': ' + text if text else ''});"
                          " start one with `nats-server -js`") from None


def check(url: BrokerURL, stream: str, subjects: Sequence[str]) -> None:
    """Before the store is opened: the patterns, the server and the stream (BrokerError or
    BadInput otherwise), so a consumer that cannot run writes nothing."""
    for p in subjects:
        subject_of(p)

    async def probe() -> None:
        from nats.js.errors import NotFoundError

        nc = await _connect(url)
        try:
            try:
                await nc.jetstream().stream_info(stream)
            except NotFoundError:
                raise BrokerError(f"NATS at {url.shown} has no stream {stream!r}: start a relay to it first"
                                  " (evsh relay --to nats://...)") from None
        finally:
            await nc.close()

    asyncio.run(probe())


def run(url: BrokerURL, consumer: Consumer, *, stream: str, durable: str, subjects: Sequence[str],
        prefetch: int = 200, once: bool = False, idle_exit: float | None = None,
        stop: Callable[[], bool] | None = None, on_progress: Callable[[int | None], None] | None = None) -> None:
    """Consume until ``stop()``, or (``once``) until nothing is pending and nothing is held, or
    after ``idle_exit`` seconds without a message."""
    for p in subjects:
        subject_of(p)  # bad input before anything connects
    asyncio.run(_run(url, consumer, stream, durable, list(subjects), prefetch, once, idle_exit,
                     stop or (lambda: False), on_progress))


async def _run(url: BrokerURL, consumer: Consumer, stream: str, durable: str, patterns: list[str],
               prefetch: int, once: bool, idle_exit: float | None,
               stop: Callable[[], bool], on_progress: Callable[[int | None], None] | None) -> None:
    from nats.errors import Error as NatsError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import AckPolicy, ConsumerConfig
    from nats.js.errors import NotFoundError

    nc = await _connect(url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except NotFoundError:
            raise BrokerError(f"NATS at {url.shown} has no stream {stream!r}: start a relay to it first"
                              " (evsh relay --to nats://...)") from None
        prefix = stream_prefix(info.config.subjects)
        filters = [subject_of(p, prefix) for p in patterns]
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT, max_ack_pending=max(prefetch * 5, 1000))
        subject = filters[0] if len(filters) == 1 else prefix + ">"
        try:
            psub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        except NatsError as exc:
            raise BrokerError(f"NATS at {url.shown} refused the consumer {durable!r}: {exc}") from None
        last_message = last_report = time.monotonic()
        while not stop():
            try:
                msgs = await psub.fetch(prefetch, timeout=0.2)
            except (NatsTimeout, asyncio.TimeoutError):
                msgs = []
            except NatsError as exc:
                if nc.is_closed:
                    raise BrokerError(f"NATS at {url.shown} went away ({type(exc).__name__})") from None
                await asyncio.sleep(0.2)  # reconnecting: the server redelivers what was not acknowledged
                continue
            now = time.monotonic()
            batch = []
            for m in msgs:
                key = m.subject[len(prefix):] if m.subject.startswith(prefix) else m.subject
                if len(filters) > 1 and not any(matches(p, key) for p in patterns):
                    await m.ack()  # not for this consumer
                    continue
                headers = dict(m.headers or {})
                batch.append(Delivery(headers.get("Nats-Msg-Id"), headers, m.data, headers.get("evsh-type"), m,
                                      (m.metadata.num_delivered or 1) > 1))
            if msgs:
                last_message = now
            settle = [*consumer.receive(batch), *consumer.expire()]
            if settle:  # the acks go out together, not one round of the loop each
                await asyncio.gather(*(_settle(d.token) for d in settle))
            if on_progress and now - last_report >= 1.0:  # what the server still has for it: the lag
                last_report = now
                info = await _info(psub)
                on_progress(info.num_pending if info is not None else None)
            if not msgs:
                if once and not consumer.holding:
                    info = await _info(psub)
                    if info is not None and not info.num_pending and not info.num_ack_pending:
                        break
                if idle_exit is not None and now - last_message >= idle_exit:
                    break
        if on_progress:
            on_progress(None)
    finally:
        try:
            await nc.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass


async def _info(psub: Any) -> Any:
    """The consumer's info, or None while the connection is down (it reconnects)."""
    from nats.errors import Error as NatsError

    try:
        return await psub.consumer_info()
    except (NatsError, asyncio.TimeoutError):
        return None


async def _settle(msg: Any) -> None:
    from nats.errors import Error as NatsError

    try:
        await msg.ack()
    except NatsError:  # lost connection: JetStream redelivers it, and the inbox sees a duplicate
        pass
