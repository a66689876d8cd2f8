"""The servers some tests talk to (PostgreSQL; the brokers), each test in its own namespace.

CI (`.ci/run`) sets EVSH_REQUIRE_SERVICES=1: a server that does not answer fails those tests.
Elsewhere they are skipped, and the session ends with one line saying how to run them.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import pytest

PG_URL = os.environ.get("EVSH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
AMQP_URL = os.environ.get("EVSH_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("EVSH_TEST_NATS", "nats://127.0.0.1:4222")
SKIPPED: dict[str, int] = {}


def required() -> bool:
    return os.environ.get("EVSH_REQUIRE_SERVICES") == "1"


@lru_cache(maxsize=None)
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used for tests (None: it can)."""
    try:
        import psycopg
    except ModuleNotFoundError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {PG_URL} ({' '.join(str(exc).split())[:120]})"
    return None


def need_postgres() -> None:
    """Skip (or, in CI, fail) the calling test when PostgreSQL does not answer."""
    _need("PostgreSQL", postgres_problem())


def need_throwaway_postgres() -> None:
    """Skip (or, in CI, fail) the calling test when no server of its own can be started."""
    from tests import pg_throwaway

    _need("a throwaway PostgreSQL", pg_throwaway.problem())


def _need(what: str, problem: str | None) -> None:
    if problem is None:
        return
    if required():
        pytest.fail(f"{what} is required here: {problem}")
    SKIPPED[what] = SKIPPED.get(what, 0) + 1
    pytest.skip(problem)


@lru_cache(maxsize=None)
def rabbitmq_problem() -> str | None:
    """Why RabbitMQ cannot be used for tests (None: it can)."""
    try:
        import pika
    except ModuleNotFoundError:
        return "pika is not installed (pip install 'evsh[broker]')"
    try:
        params = pika.URLParameters(AMQP_URL)
        params.socket_timeout = params.blocked_connection_timeout = 3
        params.connection_attempts = 1
        pika.BlockingConnection(params).close()
    except Exception as exc:  # pika raises several unrelated types for "no broker"
        return f"no RabbitMQ at {AMQP_URL.split('@')[-1]} ({' '.join(str(exc).split())[:120] or type(exc).__name__})"
    return None


def need_rabbitmq() -> None:
    """Skip (or, in CI, fail) the calling test when RabbitMQ does not answer."""
    _need("RabbitMQ", rabbitmq_problem())


@lru_cache(maxsize=None)
def nats_problem() -> str | None:
    """Why NATS JetStream cannot be used for tests (None: it can)."""
    import asyncio
    import importlib.util

    if importlib.util.find_spec("nats") is None:
        return "nats-py is not installed (pip install 'evsh[broker]')"

    async def probe() -> None:
        import nats

        nc = await nats.connect(NATS_URL, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=0)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 5))
    except Exception as exc:  # no server, or no JetStream
        return f"no NATS JetStream at {NATS_URL} ({' '.join(str(exc).split())[:120] or type(exc).__name__})"
    return None


def need_nats() -> None:
    """Skip (or, in CI, fail) the calling test when NATS JetStream does not answer."""
    _need("NATS", nats_problem())


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def postgres_url() -> Iterator[str]:
    """A store URL in a schema of its own, dropped afterwards."""
    need_postgres()
    schema = "evsh_test_" + uuid.uuid4().hex[:12]
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}schema={schema}"
    finally:
        drop_schema(schema)


_THROWAWAY: list = []  # the throwaway server standing in for PG_URL, when one was started


def start_throwaway_postgres() -> str | None:
    """Outside CI, when no server answers at PG_URL but PostgreSQL's binaries are installed:
    start a throwaway one (tests/pg_throwaway.py) and point PG_URL (and EVSH_TEST_POSTGRES, for
    processes the tests start) at it. A line saying so, or None when nothing was started."""
    global PG_URL
    if required() or postgres_problem() is None or "psycopg" in (postgres_problem() or ""):
        return None
    from tests import pg_throwaway

    why = pg_throwaway.problem()
    if why is not None:
        return None
    down = postgres_problem()
    server = pg_throwaway.ThrowawayServer()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure: say so, leave nothing behind
        server.stop()
        return f"no PostgreSQL answered and a throwaway server did not start ({exc})"
    _THROWAWAY.append(server)
    PG_URL = os.environ["EVSH_TEST_POSTGRES"] = server.url
    postgres_problem.cache_clear()
    return f"{down}: the PostgreSQL tests run on a throwaway server ({server.url}, initdb in {server.dir})"


def stop_throwaway_postgres() -> None:
    while _THROWAWAY:
        _THROWAWAY.pop().stop()


def is_service_skip(report) -> bool:
    """Whether a test report is a skip because a server did not answer (need_postgres)."""
    problem = postgres_problem() if "PostgreSQL" in SKIPPED else None
    return bool(problem) and problem in str(getattr(report, "longrepr", ""))


def summary_line() -> str | None:
    if not SKIPPED:
        return None
    parts = ", ".join(f"{n} on {what}" for what, n in sorted(SKIPPED.items()))
    return (f"skipped {parts}: the server did not answer; start it (see tests/services.py) or run"
            " `bash .ci/run` on a machine that has it")
