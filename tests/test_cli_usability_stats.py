"""Projection metrics are recorded and a store whose events lie in the past shows them (issue 18)."""

from __future__ import annotations

import json
import re

import pytest

SHOP = ("--domain", "shop")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ITEMS = '[{"product_id": "p1", "quantity": 1, "unit_price": "9.50"}]'


@pytest.fixture
def past(cli):
    """Three events from 2025 (a fixed clock), read models built now."""
    for i in (1, 2, 3):
        r = cli(*SHOP, "--clock", f"fixed:2025-01-01T10:0{i}:00Z", "exec", "inventory", f"p{i}", "add-stock",
                "--quantity", "3")
        assert r.exit_code == 0, r.stderr
    assert cli(*SHOP, "projections", "run").exit_code == 0
    return cli


def handled(cli, *args) -> dict[str, int]:
    r = cli(*SHOP, "stats", "--by-subscriber", "--nl", *args)
    assert r.exit_code == 0, r.stderr
    return {s["name"]: s["handled"] for s in map(json.loads, r.stdout.splitlines())}


def test_projections_record_what_they_handle(past):
    assert handled(past)["inventory_levels"] == 3
    prom = past("stats", "--prometheus").stdout
    assert 'evsh_events_handled_total{kind="projection",name="inventory_levels",event_type="StockAdded"} 3' in prom
    # an inline projection records too, in the command's own transaction
    r = past(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS)
    assert r.exit_code == 0, r.stderr
    assert handled(past)["customer_orders"] == 1


@pytest.mark.parametrize("columns", [80, 160])
def test_the_window_in_event_time_shows_a_past_store(past, columns):
    env = {"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}
    r = past("stats", "--window", "event-time", "--minutes", "10", env=env)
    assert r.exit_code == 0, r.stderr
    first = ANSI.sub("", r.stdout.splitlines()[0])
    assert first.startswith("events per minute") and "███" in first and "09:54–10:03 UTC" in first
    doc = json.loads(past("stats", "--window", "event-time", "--since", "1m", "--json").stdout)
    assert doc["window"] == {"ends": "2025-01-01T10:03", "at": "event-time", "since": "2025-01-01T10:02"}
    r = past("stats", "--since", "soon")
    assert r.exit_code == 2


def test_the_monitoring_demo_shows_projections_at_work(cli, tmp_path):
    db = str(tmp_path / "mon.db")
    assert cli("demo", "monitoring", db=db).exit_code == 0
    r = cli("stats", "--by-subscriber", "--nl", db=db)
    counts = {(s["kind"], s["name"]): s["handled"] for s in map(json.loads, r.stdout.splitlines())}
    projections = {name: n for (kind, name), n in counts.items() if kind == "projection"}
    assert projections and all(n > 0 for n in projections.values()), projections


@pytest.mark.parametrize("columns", [80, 160])
def test_stats_at_80_columns_and_wide_never_cuts_who_and_how_many(cli, tmp_path, columns):
    db = str(tmp_path / "mon.db")
    assert cli("demo", "monitoring", db=db).exit_code == 0
    r = cli("stats", db=db, env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    lines = [ANSI.sub("", line).rstrip() for line in r.stdout.splitlines()]
    header = next(i for i, line in enumerate(lines) if line.startswith("kind"))
    assert lines[header].split()[:7] == ["kind", "name", "event", "type", "handled", "errors", "lag"]
    types = set(json.loads(line)["event_type"] for line in cli("stats", "--nl", db=db).stdout.splitlines())
    for line in lines:
        assert len(line) <= columns, line
    if columns == 80:  # the columns left out are named
        assert lines.pop() == "not shown: p50, p95, p99, retries, per minute (--vertical or --json shows them)"
    for line in lines[header + 1:]:
        kind, name, etype, handled = line.split()[:4]
        assert kind in ("projection", "reactor") and "…" not in name + etype
        assert etype in types | {"(all)"} and handled.replace(",", "").isdigit()
    if columns == 160:
        assert "p99" in lines[header] and "per minute" in lines[header]
