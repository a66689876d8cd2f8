"""Workers on PostgreSQL: real processes on one server store share the work, survive a killed
peer and a lost connection, wake on NOTIFY, and every effect happens exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
from decimal import Decimal

import pytest

from evsh import load_domain, open_store
from evsh.engine.wiring import build_engine
from tests.pg_throwaway import ThrowawayServer
from tests.services import need_throwaway_postgres, postgres_url

SHOP = load_domain("shop")
LEASE = 1.0  # seconds: --lease of the workers here
POLL = 0.1  # seconds: --poll of the workers here


@pytest.fixture
def pg():
    with postgres_url() as url:
        yield url


def _sql(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    """Look at the store as an operator would: straight SQL in its schema."""
    import psycopg

    schema = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["schema"]
    base = url.split("?")[0]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return conn.execute(sql, params or None).fetchall()


def _shop(url: str):
    store = open_store(url)
    engine = build_engine(store, SHOP, mode="async")
    for p in ("p0", "p1", "p2", "p9"):
        engine.execute("inventory", p, "add_stock", {"quantity": 1000})
    return store, engine


def _orders(engine, start: int, count: int) -> None:
    for n in range(start, start + count):
        price = Decimal("9.50") if n % 7 else Decimal("2000")  # every seventh is declined
        engine.execute("order", f"o{n}", "create", {
            "customer_id": f"c{n % 4}",
            "items": [{"product_id": f"p{n % 3}", "quantity": 1, "unit_price": price}],
        })


def _users(engine, start: int, count: int) -> None:
    for n in range(start, start + count):
        engine.execute("user", f"u{n}", "register", {"email": f"u{n}@example.com", "username": f"user{n}"})


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "EVSH_DB": url, "EVSH_DOMAIN": "shop", "EVSH_MODE": "async"}


def _spawn(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "evsh", *args], env=_env(url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _reactors_settled(url: str, orders: int, users: int) -> bool:
    head = _sql(url, "SELECT coalesce(max(position), 0) FROM events")[0][0]
    cps = [r[0] for r in _sql(url, "SELECT position FROM checkpoints WHERE name LIKE 'reactor:%'")]
    ended = _sql(url, "SELECT count(*) FROM events WHERE type IN ('OrderConfirmed', 'OrderCancelled')")[0][0]
    return ended == orders and len(cps) == 3 and all(cp == head for cp in cps) and _count(url, "notifications") == users


def _count(url: str, table: str) -> int:
    exists = _sql(url, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0][0]
    return _sql(url, f'SELECT count(*) FROM "{table}"')[0][0] if exists else 0


# what every reactor-sent command was caused by: an event handled twice would show as two
# commands with one cause (those that wrote events are known from the events' metadata)
SENT = ("SELECT metadata->>'causation_id' AS cause, metadata->>'command' AS name, stream_id,"
        " metadata->>'command_id' AS command_id FROM events WHERE metadata->>'actor' LIKE 'reactor:%'"
        " UNION SELECT causation_id, name, stream_id, command_id FROM commands WHERE reactor IS NOT NULL")


def _exactly_once(url: str, orders: int, users: int) -> None:
    twice = _sql(url, f"SELECT cause, name, stream_id, count(DISTINCT command_id) FROM ({SENT}) s"
                      " GROUP BY cause, name, stream_id HAVING count(DISTINCT command_id) > 1")
    assert twice == []
    payments = _sql(url, f"SELECT count(DISTINCT command_id) FROM ({SENT}) s WHERE name='payment.process'")[0][0]
    assert payments == orders
    assert _count(url, "sent_emails") == users  # side effects in the reactors' own tables, once each
    assert _count(url, "notifications") == users
    dup = _sql(url, "SELECT reactor, event_id FROM reactor_processed GROUP BY 1, 2 HAVING count(*) > 1")
    assert dup == []


def _wait_for(what: str, done, procs, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        alive = [p for p in procs if p.returncode is None]
        assert all(p.poll() is None for p in alive), [p.communicate() for p in alive if p.poll() is not None]
        time.sleep(0.05)


def _stop(procs) -> list[tuple[str, str]]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=30))
        except subprocess.TimeoutExpired:
            p.kill()
            outs.append(p.communicate())
    return outs


def test_four_reactor_workers_one_killed_midway_every_effect_once_and_takeover_within_the_lease(pg):
    store, engine = _shop(pg)
    _orders(engine, 0, 40)
    _users(engine, 0, 5)
    cmd = ["reactors", "run", "--follow", "--poll", str(POLL), "--lease", str(LEASE), "--batch-size", "3"]
    workers = [_spawn(pg, *cmd, "--worker", f"w{i}") for i in range(4)]
    try:
        for w in workers:
            assert "following" in w.stderr.readline()
        lease = "SELECT owner FROM reactor_leases WHERE name='order_workflow'"
        progress = "SELECT position FROM checkpoints WHERE name='reactor:order_workflow'"
        _wait_for("a worker is into the orders", lambda: _sql(pg, lease) and _sql(pg, progress)
                  and _sql(pg, progress)[0][0] > 0, workers)
        holder = _sql(pg, lease)[0][0]
        victim = workers[int(holder[1:])]
        victim.kill()  # SIGKILL, most likely inside a batch: its transaction dies with it
        killed_at = time.monotonic()
        victim.wait()
        _orders(engine, 40, 20)  # more arrive while the others run
        _users(engine, 5, 5)
        _wait_for("another worker took the reactor over",
                  lambda: (_sql(pg, lease) or [(holder,)])[0][0] != holder, workers)
        takeover = time.monotonic() - killed_at
        _wait_for("every order is settled", lambda: _reactors_settled(pg, 60, 10), workers)
    finally:
        outs = _stop(workers)
    # the documented bound: the lease runs out, then the next poll finds it (plus a batch and
    # this test's own polling on a busy two-core machine)
    assert takeover <= LEASE + POLL + 2.0, takeover
    assert [w.returncode for w in workers if w is not victim] == [0, 0, 0], outs
    _exactly_once(pg, 60, 10)
    assert {engine.load("order", f"o{n}").status for n in range(60)} == {"confirmed", "cancelled"}
    # released on Ctrl-C; only the killed worker's may be left (expired)
    assert {r[0] for r in _sql(pg, "SELECT owner FROM reactor_leases")} <= {holder}
    store.close()


def _projections_at(url: str, head: int) -> bool:
    cps = dict(_sql(url, "SELECT name, position FROM checkpoints WHERE name LIKE 'projection:%'"))
    catch_up = {f"projection:{n}" for n in ("order_details", "inventory_levels", "order_statistics")}
    return catch_up <= set(cps) and all(cps[n] == head for n in catch_up)


def _read_models(url: str) -> dict[str, list[tuple]]:
    tables = ("order_details", "inventory_levels", "order_statistics", "order_statistics_orders")
    return {t: sorted(map(repr, _sql(url, f'SELECT * FROM "{t}"'))) for t in tables}


def test_three_projection_followers_one_killed_the_read_models_equal_a_rebuild(pg):
    store, engine = _shop(pg)
    _orders(engine, 0, 150)
    followers = [_spawn(pg, "projections", "run", "--follow", "--batch-size", "7", "--interval", "0.1")
                 for _ in range(3)]
    try:
        cps = "SELECT min(position) FROM checkpoints WHERE name LIKE 'projection:%'"
        _wait_for("the followers are under way", lambda: (_sql(pg, cps)[0][0] or 0) > 20, followers)
        followers[0].kill()  # SIGKILL, most likely inside a batch
        followers[0].wait()
        _orders(engine, 150, 60)
        head = lambda: _sql(pg, "SELECT max(position) FROM events")[0][0]  # noqa: E731
        _wait_for("every projection is at the head", lambda: _projections_at(pg, head()), followers)
    finally:
        outs = _stop(followers)
    assert [f.returncode for f in followers[1:]] == [0, 0], outs
    followed = _read_models(pg)
    assert sum(len(rows) for rows in followed.values()) > 200
    for name in ("order_details", "inventory_levels", "order_statistics"):
        r = subprocess.run([sys.executable, "-m", "evsh", "projections", "rebuild", name], env=_env(pg),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert _read_models(pg) == followed
    store.close()


def test_followers_wake_on_notify_well_before_their_poll_interval(pg):
    store, engine = _shop(pg)
    env = {**_env(pg), "EVSH_POLL_INTERVAL": "5"}
    tail = subprocess.Popen([sys.executable, "-m", "evsh", "log", "--follow", "--nl", "--type", "UserRegistered"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = _spawn(pg, "reactors", "run", "welcome_email", "--follow", "--poll", "5")
    try:
        _users(engine, 0, 1)
        assert "u0" in tail.stdout.readline()  # caught up: from now on it waits
        assert "following" in worker.stderr.readline()
        _wait_for("the worker sent the first welcome", lambda: _count(pg, "sent_emails") == 1, [worker], 10)
        time.sleep(0.5)  # both are idle, inside their wait
        seen, handled = [], []
        for n in range(1, 4):
            started = time.monotonic()
            _users(engine, n, 1)
            line = tail.stdout.readline()
            seen.append(time.monotonic() - started)
            assert f"u{n}" in line
            _wait_for("the worker handled it", lambda: _count(pg, "sent_emails") == n + 1, [worker], 10)
            handled.append(time.monotonic() - started)
            time.sleep(0.3)
    finally:
        tail.send_signal(signal.SIGINT)
        tail.communicate(timeout=30)
        _stop([worker])
    # a poll every 5 s would take 2.5 s on average: NOTIFY wakes them at once
    assert max(seen) < 1.0, seen
    assert max(handled) < 1.5, handled
    store.close()


def _terminate(url: str, pids: list[int]) -> int:
    """Cut the workers' connections from the server side, as a restart or a network cut would."""
    names = [f"evsh/{p}" for p in pids]
    rows = _sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ANY(%s)",
                (names,))
    return len(rows)


def _through_an_outage(url: str, outage) -> None:
    """A reactor worker and a projection follower on the shop while ``outage(store, engine,
    procs)`` cuts them off and goes on ordering (it returns the store it goes on with, and the
    orders and users there are then): both say they connected again, every order is settled
    once, and the followed read models equal a rebuild."""
    store, engine = _shop(url)
    _orders(engine, 0, 20)
    _users(engine, 0, 3)
    worker = _spawn(url, "reactors", "run", "--follow", "--poll", str(POLL), "--batch-size", "2")
    follower = _spawn(url, "projections", "run", "--follow", "--batch-size", "5", "--interval", "0.1")
    procs = [worker, follower]
    outs = None
    try:
        assert "following" in worker.stderr.readline()
        store, orders, users = outage(store, engine, procs)
        _wait_for("every order is settled", lambda: _reactors_settled(url, orders, users), procs, timeout=60)
        head = lambda: _sql(url, "SELECT max(position) FROM events")[0][0]  # noqa: E731
        _wait_for("every projection is at the head", lambda: _projections_at(url, head()), procs)
    except AssertionError as failed:  # what the workers said, with what they did not do
        outs = _stop(procs)
        raise AssertionError(f"{failed}; the workers said: {outs}") from None
    finally:
        if outs is None:
            outs = _stop(procs)
    assert [p.returncode for p in procs] == [0, 0], outs
    # each outlived the outage: it lost its connection and connected again, or (a slow start on a
    # busy machine) it was still opening its store and waited for the server instead of exiting
    assert all("connected again after a lost connection" in err or "evsh: connected\n" in err for _, err in outs), outs
    _exactly_once(url, orders, users)
    followed = _read_models(url)
    r = subprocess.run([sys.executable, "-m", "evsh", "projections", "rebuild", "order_statistics"], env=_env(url),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert _read_models(url) == followed
    store.close()


def test_workers_reconnect_after_their_connections_are_cut_and_nothing_is_lost_or_doubled(pg):
    def cut_three_times(store, engine, procs):
        cut = 0
        for round in range(3):  # cut their connections while they work, three times
            time.sleep(0.3)
            cut += _terminate(pg, [p.pid for p in procs])
            _orders(engine, 20 + 10 * round, 10)
            _users(engine, 3 + round, 1)
        assert cut >= 4  # both had a connection each time (and the listeners, when waiting)
        return store, 50, 6

    _through_an_outage(pg, cut_three_times)


def test_workers_go_on_through_a_server_restart_and_nothing_is_lost_or_doubled():
    """The server itself stopped (fast: every connection cut, every open transaction rolled
    back) and started again a second later, under a reactor worker and a projection follower:
    a server of the test's own, since the shared one must not be restarted."""
    need_throwaway_postgres()
    with ThrowawayServer() as server:
        url = f"{server.url}?schema=evsh_restart"

        def restart(store, engine, procs):
            time.sleep(0.3)  # into their work
            store.close()
            server.restart(down_for=1.0)
            store = open_store(url)
            engine = build_engine(store, SHOP, mode="async")
            _orders(engine, 20, 10)
            _users(engine, 3, 1)
            return store, 30, 4

        _through_an_outage(url, restart)


def test_workers_started_while_the_server_is_down_wait_for_it_then_do_their_work():
    """A worker and a follower started while the database is away (a machine booting, a restart)
    say so and wait with backoff, where they exited with a store error; once it is back they
    catch up: every order settled once, the read models at the head."""
    need_throwaway_postgres()
    with ThrowawayServer() as server:
        url = f"{server.url}?schema=evsh_late"
        store, engine = _shop(url)
        _orders(engine, 0, 10)
        _users(engine, 0, 2)
        store.close()
        server._pg_ctl("stop")
        procs = [_spawn(url, "reactors", "run", "--follow", "--poll", str(POLL)),
                 _spawn(url, "projections", "run", "--follow", "--interval", "0.1")]
        try:
            for p in procs:
                line = p.stderr.readline()
                assert "cannot reach the store yet" in line and "trying again in" in line, line
            server._pg_ctl("start")
            _wait_for("every order is settled", lambda: _reactors_settled(url, 10, 2), procs, timeout=60)
            head = _sql(url, "SELECT max(position) FROM events")[0][0]
            _wait_for("every projection is at the head", lambda: _projections_at(url, head), procs)
        finally:
            outs = _stop(procs)
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all("evsh: connected\n" in err for _, err in outs), outs
        _exactly_once(url, 10, 2)


def test_workers_stopped_while_the_server_is_away_stop_cleanly():
    """Ctrl-C while a worker waits for a server that went away ends it as Ctrl-C does otherwise
    (exit 0, one line saying what stays), not with the lost connection's error (exit 4)."""
    need_throwaway_postgres()
    with ThrowawayServer() as server:
        url = f"{server.url}?schema=evsh_away"
        store, engine = _shop(url)
        _orders(engine, 0, 3)
        store.close()
        procs = [_spawn(url, "reactors", "run", "--follow", "--poll", str(POLL)),
                 _spawn(url, "projections", "run", "--follow", "--interval", "0.1")]
        try:
            assert "following" in procs[0].stderr.readline()
            _wait_for("every order is settled", lambda: _reactors_settled(url, 3, 0), procs)
            head = lambda: _sql(url, "SELECT max(position) FROM events")[0][0]  # noqa: E731
            _wait_for("every projection is at the head", lambda: _projections_at(url, head()), procs)
            server._pg_ctl("stop")
            for p in procs:
                while "connection lost" not in (line := p.stderr.readline()):
                    assert line, "the worker ended instead of waiting for the server"
        finally:
            outs = _stop(procs)
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all("store error" not in err for _, err in outs), outs
        # the worker cannot read the reactors' state to print it: it says why instead
        assert "evsh: stopped while the store could not be reached" in outs[0][1], outs


def test_the_tui_tail_wakes_on_notify_well_before_its_poll_interval(pg):
    from evsh.store.base import NewEvent
    from tests.tui_support import make_app, make_shop_store, ready, run, wait_for

    make_shop_store(pg)

    async def scenario():
        app = make_app(pg, poll_interval=5.0)  # the poll would find it after 2.5 s on average
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: app.known_head == 8, "the first look at the tail")
            await pilot.pause(0.5)  # the watcher is waiting
            with open_store(pg) as writer:
                started = time.monotonic()
                writer.append("note-n2", [NewEvent("NoteAdded", {"text": "from elsewhere"})])
            await wait_for(pilot, lambda: app.events.total == 9, "the appended event", timeout=10)
            return time.monotonic() - started

    took = run(scenario())
    assert took < 1.5, took
