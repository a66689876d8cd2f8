"""`evsh seed`: a reproducible shop history that obeys the shop's rules and is not news to reactors."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone


def sealed(export: str) -> list[dict]:
    """Exported events with the ciphertext of personal fields blanked (it depends on the keys)."""
    events = [json.loads(line) for line in export.splitlines()]
    for e in events:
        for k, v in e["data"].items():
            if isinstance(v, str) and v.startswith("evsh:pii:1:"):
                e["data"][k] = "<sealed>"
    return events


def test_same_seed_same_history_and_rules_hold(cli, tmp_path):
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    r = cli("seed", "--orders", "120", "--seed", "7", db=a)
    assert r.exit_code == 0, r.stderr
    assert cli("seed", "--orders", "120", "--seed", "7", db=b).exit_code == 0
    # the same events, ids, order and times; personal fields are sealed under random keys, and read back the same
    assert sealed(cli("export", db=a).stdout) == sealed(cli("export", db=b).stdout)
    assert cli("--domain", "shop", "log", "--json", db=a).stdout == cli("--domain", "shop", "log", "--json", db=b).stdout
    events = [json.loads(line) for line in cli("export", db=a).stdout.splitlines()]
    types = {e["type"] for e in events}
    assert {"StockAdded", "UserRegistered", "OrderCreated", "PaymentProcessed", "OrderConfirmed"} <= types
    # every order ended confirmed or cancelled, as the shop's workflow decides
    for n in (1, 60, 120):
        state = json.loads(cli("--domain", "shop", "--mode", "async", "state", "order", f"o{n}", "--json", db=a).stdout)
        assert state["status"] in ("confirmed", "cancelled")
    # causal metadata: each order's follow-up events share the order's correlation id
    o1 = [e for e in events if e["data"].get("order_id") == "o1"]
    assert len({e["metadata"]["correlation_id"] for e in o1}) == 1 and len(o1) >= 3
    # ids are UUIDv7 at the event's time, so the history's ids grow with the log
    ids = [e["event_id"] for e in events]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    for e in events[:50]:
        ms = int(e["event_id"].replace("-", "")[:12], 16)
        assert datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] == e["recorded_at"][:23]
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


def test_seeded_history_is_not_news_to_reactors(cli):
    assert cli("seed", "--orders", "30").exit_code == 0
    r = cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "1")
    assert r.exit_code == 0, r.stderr
    reactors = {r["name"]: r for r in json.loads(cli("--domain", "shop", "reactors", "--json").stdout)}
    assert reactors["welcome_email"]["handled"] == 0 and reactors["welcome_email"]["lag"] == 0
    assert reactors["order_workflow"]["handled"] == 1  # only the new StockAdded


def test_seed_refuses_a_store_with_events_and_writes_nothing(cli):
    assert cli("append", "order-x", "Noted", "{}").exit_code == 0
    r = cli("seed", "--orders", "5")
    assert r.exit_code == 2 and "empty store" in r.stderr
    assert len(json.loads(cli("log", "--json").stdout)) == 1
