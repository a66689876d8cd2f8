"""`evsh demo services` end to end on a real RabbitMQ: three processes, three stores, the payment
service stopped and started again, and every order completed. Asserts each store's final state."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from evsh import build_engine, load_domain, open_store
from evsh.domain.services import restrict
from tests.services import need_rabbitmq


def evsh(*args: str, cwd: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    return subprocess.run([sys.executable, "-m", "evsh", *args], capture_output=True, text=True, cwd=cwd,
                          env={**env, "COLUMNS": "120"}, timeout=120)


def engine(folder, svc):
    return build_engine(open_store(os.path.join(folder, f"{svc}.db")), restrict(load_domain("shop_services"), svc))


def test_the_services_demo_completes_every_order_in_every_store(tmp_path):
    need_rabbitmq()
    folder = str(tmp_path / "services")
    res = evsh("demo", "services", "--dir", folder, "--orders", "8", cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr
    held = re.search(r"payments queue holds (\d+) messages; (\d+) orders wait", res.stdout)
    assert held and int(held[1]) >= 4 and int(held[2]) == 4  # buffered by the broker while payments is down
    assert "8 open" not in res.stdout and ", 0 open" in res.stdout
    orders, payments, inventory = (engine(folder, s) for s in ("orders", "payments", "inventory"))
    ids = [f"o{n}" for n in range(1, 9)]
    # o5 is above the payment limit, o7 asks for a product out of stock: the rest are confirmed
    assert {o: orders.load("order", o).status for o in ids} == {
        o: ("cancelled" if o in ("o5", "o7") else "confirmed") for o in ids}
    assert {o: payments.load("payment", o).status for o in ids} == {
        o: {"o5": "declined", "o7": "refunded"}.get(o, "processed") for o in ids}
    p1, p2 = inventory.load("inventory", "p1"), inventory.load("inventory", "p2")
    assert (p1.on_hand, p1.held, p2.held) == (1000, 6, 12)
    # each service holds its own events once, and the others' it listens to, as replicas
    for e, own in ((orders, "order"), (payments, "payment"), (inventory, "inventory")):
        events = list(e.store.read_all())
        assert len({ev.event_id for ev in events}) == len(events)
        assert all("source_position" not in ev.metadata for ev in events if ev.stream_id.startswith(own + "-"))
        assert any("source_position" in ev.metadata for ev in events)
    # the trace follows o1 across the three stores
    assert "[payments]" in res.stdout and "[inventory]" in res.stdout and "OrderConfirmed" in res.stdout


def test_without_a_broker_the_demo_says_how_to_start_one(tmp_path):
    res = evsh("demo", "services", "--broker", "amqp://guest:guest@127.0.0.1:1/", cwd=str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "docker run" in res.stderr and "Traceback" not in res.stderr
