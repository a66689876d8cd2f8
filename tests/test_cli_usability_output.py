"""Every listing takes the same output options (issue 18): --json is one document, --nl one
object per line, --csv/--tsv where rows fit, --limit N; JSON is compact unless on a terminal."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SHOP = ("--domain", "shop")
ITEMS = '[{"product_id": "p1", "quantity": 1, "unit_price": "9.50"}]'

# command -> whether its rows fit a CSV table
LISTINGS = {
    ("read", "inventory-p1"): True, ("log",): True, ("streams",): True, ("projections",): True,
    ("reactors",): True, ("stats",): True, ("keys",): True,
    ("sql", "select stream_id, version from events"): True, ("tables",): True, ("snapshots",): True,
    ("trace", "inventory-p1"): False, ("state", "inventory", "p1"): False,
    ("streams", "meta", "inventory-p1"): False,
}


@pytest.fixture
def store(cli):
    for q in ("3", "4"):
        assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", q).exit_code == 0
    assert cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS).exit_code == 0
    assert cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@example.com", "--username", "ann").exit_code == 0
    assert cli(*SHOP, "snapshot", "inventory", "p1").exit_code == 0
    assert cli(*SHOP, "projections", "run").exit_code == 0
    return cli


@pytest.mark.parametrize("command", list(LISTINGS), ids=" ".join)
def test_every_listing_has_json_nl_and_where_rows_fit_csv_tsv(store, command):
    r = store(*SHOP, *command, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)  # one document
    assert "\n  " not in r.stdout  # compact: not indented for a pipe
    r = store(*SHOP, *command, "--nl")
    assert r.exit_code == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines and all(isinstance(o, dict) for o in lines)
    if isinstance(doc, list):
        assert lines == doc
    for fmt, sep in (("--csv", ","), ("--tsv", "\t")):
        r = store(*SHOP, *command, fmt)
        if not LISTINGS[command]:
            assert r.exit_code == 2 and "No such option" in r.stderr
            continue
        assert r.exit_code == 0, r.stderr
        rows = list(csv.DictReader(io.StringIO(r.stdout), delimiter=sep))
        assert len(rows) == len(lines)
        assert set(rows[0]) == set(lines[0])
    r = store(*SHOP, *command, "--json", "--nl")
    assert r.exit_code == 2 and "give one" in r.stderr


@pytest.mark.parametrize("command", [c for c in LISTINGS if c[0] not in ("state",) and c[:2] != ("streams", "meta")],
                         ids=" ".join)
def test_limit_on_every_listing(store, command):
    every = store(*SHOP, *command, "--nl").stdout.splitlines()
    assert len(every) >= 1
    r = store(*SHOP, *command, "--nl", "--limit", "1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == every[:1]
    assert store(*SHOP, *command, "--nl", "--limit", "0").stdout == ""


@pytest.mark.parametrize("columns", [80, 160])
def test_a_document_is_indented_on_a_terminal(store, columns):
    r = store(*SHOP, "state", "inventory", "p1", "--json",
              env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0 and "\n  " in r.stdout
    assert json.loads(r.stdout)["on_hand"] == 7
    r = store(*SHOP, "state", "inventory", "p1", "--nl")
    assert r.stdout.count("\n") == 1 and json.loads(r.stdout)["on_hand"] == 7


def test_an_empty_listing_is_an_empty_document(store):
    assert store("dlq", "list", "--json").stdout == "[]\n"
    assert store("dlq", "list", "--nl").stdout == ""
    assert store("dlq", "list", "--csv", "--limit", "3").stdout == ""


@pytest.mark.parametrize("columns", [80, 160])
def test_limit_on_a_terminal_table(store, columns):
    r = store(*SHOP, "streams", "--limit", "1", env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    lines = [ANSI.sub("", line) for line in r.stdout.splitlines()]
    if "created_at" not in lines[0]:
        assert lines.pop() == "not shown: created_at (--vertical or --json shows it)"
    assert lines[0].split()[0] == "stream" and len(lines) == 2
    assert all(len(line) <= columns for line in lines)


@pytest.mark.parametrize("columns", [80, 160])
@pytest.mark.parametrize("command, whole", [
    (("projections",), ["customer_orders", "inventory_levels", "order_details", "order_statistics"]),
    (("reactors",), ["order_workflow", "user_notifications", "welcome_email"]),
    (("streams",), ["inventory-p1", "order-o1", "user-u1"]),
    (("keys",), ["u1"]), (("snapshots",), ["inventory-p1"]),
], ids=lambda v: v[0] if isinstance(v, tuple) else None)
def test_listings_never_cut_names_at_80_columns(store, columns, command, whole):
    r = store(*SHOP, *command, env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    lines = [ANSI.sub("", line).rstrip() for line in r.stdout.splitlines()]
    assert all(len(line) <= columns for line in lines)
    firsts = [line.split()[0] for line in lines[1:]]
    for name in whole:
        assert name in firsts, (name, lines)
