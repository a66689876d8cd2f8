"""Metrics: per-minute buckets in the store, `evsh stats` (table, JSON, Prometheus text)."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from evsh.engine import metrics

SHOP = ("--domain", "shop")
ITEMS = '[{"product_id":"p1","quantity":1,"unit_price":"9.50"}]'
PROM_LINE = re.compile(r'^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*\})? -?[0-9.e+-]+$')


def orders(cli, n, *opts):
    cli(*SHOP, *opts, "exec", "inventory", "p1", "add-stock", "--quantity", "100")
    for i in range(n):
        assert cli(*SHOP, *opts, "exec", "order", f"o{i}", "create", "--customer-id", "c1", "--items", ITEMS).exit_code == 0


def test_stats_count_what_reactors_handled_with_latency_percentiles(cli):
    orders(cli, 3)
    out = json.loads(cli(*SHOP, "stats", "--json").stdout)
    wf = {s["event_type"]: s for s in out["series"] if s["kind"] == "reactor" and s["name"] == "order_workflow"}
    assert wf["OrderCreated"]["handled"] == 3
    assert wf["PaymentProcessed"]["handled"] == 3
    assert wf["InventoryReserved"]["handled"] == 3
    assert wf["OrderCreated"]["errors"] == 0
    p50, p95, p99 = (wf["OrderCreated"][k] for k in ("latency_p50", "latency_p95", "latency_p99"))
    assert 0 < p50 <= p95 <= p99
    assert wf["OrderCreated"]["lag"] == 0
    by_sub = json.loads(cli(*SHOP, "stats", "--json", "--by-subscriber").stdout)["series"]
    total = next(s for s in by_sub if s["name"] == "order_workflow")
    assert total["handled"] == sum(s["handled"] for s in wf.values())
    text = cli(*SHOP, "stats").stdout
    assert "order_workflow" in text and "events per minute" in text


def test_buckets_are_per_minute_not_per_event(cli, db_path):
    import sqlite3

    orders(cli, 2, "--clock", "fixed:2026-01-01T10:00:00Z")
    orders_later = ("--clock", "fixed:2026-01-01T10:05:00Z")
    cli(*SHOP, *orders_later, "exec", "order", "o9", "create", "--customer-id", "c1", "--items", ITEMS)
    conn = sqlite3.connect(db_path)
    minutes = [m for (m,) in conn.execute(
        "SELECT DISTINCT minute FROM metrics WHERE name='order_workflow' AND event_type='OrderCreated' ORDER BY 1")]
    assert minutes == ["2026-01-01T10:00", "2026-01-01T10:05"]
    rows, handled = conn.execute("SELECT count(*), sum(handled) FROM metrics"
                                 " WHERE name='order_workflow' AND event_type='OrderCreated'").fetchone()
    assert (rows, handled) == (2, 3)  # one bucket per minute, not a row per event
    out = json.loads(cli(*SHOP, "stats", "--json").stdout)
    created = next(s for s in out["series"] if s["name"] == "order_workflow" and s["event_type"] == "OrderCreated")
    assert created["per_minute"] == {"2026-01-01T10:00": 2, "2026-01-01T10:05": 1}
    since = json.loads(cli(*SHOP, "stats", "--json", "--since", "2026-01-01T10:01").stdout)
    created = next(s for s in since["series"] if s["name"] == "order_workflow" and s["event_type"] == "OrderCreated")
    assert created["handled"] == 1


def test_prometheus_exposition_format(cli):
    orders(cli, 2)
    text = cli(*SHOP, "stats", "--prometheus").stdout
    lines = text.strip().splitlines()
    families = {}
    for line in lines:
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            families[name] = kind
        elif not line.startswith("# HELP "):
            assert PROM_LINE.match(line), line
    assert families["evsh_events_handled_total"] == "counter"
    assert families["evsh_handling_latency_seconds"] == "summary"
    assert families["evsh_lag_events"] == "gauge"
    assert 'evsh_events_handled_total{kind="reactor",name="order_workflow",event_type="OrderCreated"} 2' in lines
    assert any(line.startswith('evsh_handling_latency_seconds{kind="reactor",name="order_workflow",'
                               'event_type="OrderCreated",quantile="0.99"}') for line in lines)


def test_other_subscribers_record_through_the_same_api(cli, db_path):
    from evsh import open_store

    orders(cli, 1)
    store = open_store(db_path)
    with store.transaction() as conn:
        metrics.record(conn, "projection", 'odd "name"', "OrderCreated", 10, errors=1, retries=1,
                       latencies=[0.001] * 10, lag=3, at="2026-01-01T00:00:00Z")
    store.close()
    series = json.loads(cli(*SHOP, "stats", "--json").stdout)["series"]
    p = next(s for s in series if s["kind"] == "projection" and s["name"] == 'odd "name"')
    assert (p["handled"], p["errors"], p["retries"]) == (10, 1, 1)
    assert 0.001 <= p["latency_p50"] < 0.0013
    assert 'name="odd \\"name\\""' in cli(*SHOP, "stats", "--prometheus").stdout


@given(st.lists(st.floats(min_value=1e-7, max_value=50.0), min_size=1, max_size=200))
def test_percentiles_bound_the_recorded_latencies(latencies):
    buf = metrics.Buffer()
    for lat in latencies:
        buf.handled("reactor", "r", "E", lat)
    acc = buf._acc[("reactor", "r", "E")]
    qs = [metrics.percentile(acc.hist, q) for q in (0.0, 0.5, 0.95, 0.99, 1.0)]
    assert qs == sorted(qs)
    top = qs[-1]
    assert max(latencies) <= top <= max(max(latencies) * 1.26, 1e-6)  # buckets are 26% wide
    ordered = sorted(latencies)
    median = ordered[(len(ordered) - 1) // 2]
    assert median <= qs[1] * 1.0000001


@given(st.one_of(st.floats(min_value=0.0, max_value=1e4), st.sampled_from([metrics.bucket_bound(i) for i in range(metrics.BUCKETS)])))
def test_a_latency_falls_in_the_first_bucket_whose_bound_holds_it(seconds):
    b = metrics.bucket_of(seconds)
    assert 0 <= b < metrics.BUCKETS
    if b < metrics.BUCKETS - 1:  # the last bucket takes everything longer
        assert seconds <= metrics.bucket_bound(b)
    assert b == 0 or metrics.bucket_bound(b - 1) < seconds


def test_a_flush_adds_to_the_stored_histogram(cli, db_path):
    from evsh import open_store

    store = open_store(db_path)
    at = "2026-01-01T10:00:00Z"
    metrics.record(store, "reactor", "r", "E", 2, latencies=[1e-6, 1e-3], at=at)
    metrics.record(store, "reactor", "r", "E", 1, latencies=[1e-3], at=at)
    row = store.table(metrics.METRICS).get(("2026-01-01T10:00", "reactor", "r", "E"))
    assert row["handled"] == 3 and json.loads(row["latency_hist"]) == {"0": 1, "30": 2}
    store.close()
