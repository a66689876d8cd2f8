"""Listings read well at 80 columns and at a wide terminal: position, stream, version and type
are never cut or wrapped, the payload takes what is left and ends with "…", SQL rows stay on one
line, and output that is not a terminal is never wrapped."""

from __future__ import annotations

import re

import pytest

SHOP = ("--domain", "shop")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_PRODUCT = "keyboard-deluxe"


@pytest.fixture
def shop_store(cli):
    assert cli(*SHOP, "exec", "inventory", LONG_PRODUCT, "add-stock", "--quantity", "5").exit_code == 0
    items = f'[{{"product_id": "{LONG_PRODUCT}", "quantity": 1, "unit_price": "9.50"}}]'
    assert cli(*SHOP, "exec", "order", "o1000123", "create", "--customer-id", "c1", "--items", items).exit_code == 0
    return cli


def on_terminal(cli, columns: int, *args: str) -> list[str]:
    r = cli(*args, env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    return [ANSI.sub("", line) for line in r.stdout.splitlines()]


@pytest.mark.parametrize("columns", [80, 120, 200])
@pytest.mark.parametrize("command", [("log",), ("read", "order-o1000123"), ("read", f"inventory-{LONG_PRODUCT}")])
def test_event_listings_never_cut_the_columns_people_read(shop_store, columns, command):
    lines = on_terminal(shop_store, columns, *command)
    assert lines[0].split()[:4] == ["position", "stream", "version", "type"]
    rows = lines[1:]
    assert rows
    for line in rows:
        assert len(line.rstrip()) <= columns, line
        position, stream, version, type_ = line.split()[:4]
        assert position.isdigit() and version.isdigit()
        assert stream.startswith(("order-", "inventory-", "payment-")) and "…" not in stream
        assert type_[0].isupper() and "…" not in type_ and type_.isalpha()
    if command[-1] != "order-o1000123":
        assert any(f"inventory-{LONG_PRODUCT}" in line for line in rows)
        assert any("InventoryReserved" in line for line in rows)
    payloads = [line[line.index("{"):].rstrip() for line in rows]
    assert all(p.endswith(("}", "…")) for p in payloads)
    if columns == 80:
        assert any(p.endswith("…") for p in payloads)  # cut, and said so
        assert all(len(p) >= 8 for p in payloads)  # and still something to read


def test_sql_rows_stay_on_one_line_at_80_columns(shop_store):
    lines = on_terminal(shop_store, 80, "sql", "select stream_id, type, data, metadata from events")
    rows = lines[1:]
    assert len(rows) == 5  # one line per row, however long the text
    assert all(len(line) <= 80 for line in rows)


def test_output_that_is_not_a_terminal_is_never_wrapped(shop_store):
    r = shop_store("log", env={"COLUMNS": "40"})
    assert r.exit_code == 0
    order_line = next(line for line in r.stdout.splitlines() if "OrderCreated" in line)
    assert order_line.rstrip().endswith('"total_amount":"9.50"}')  # the whole payload, on its line
    long = "x" * 300
    r = shop_store(*SHOP, "exec", "order", "o2", "cancel", "--reason", long, env={"COLUMNS": "40"})
    assert r.exit_code == 1  # rejected: no such order
    assert "\n" not in r.stderr.rstrip("\n")  # one line, however long


@pytest.mark.parametrize("length", [40, 80])
def test_an_id_as_wide_as_the_line_leaves_the_payload_out_and_keeps_its_start_and_end(cli, length):
    very_long = "keyboard-" + "x" * (length - 13) + "0042"
    assert cli(*SHOP, "exec", "inventory", very_long, "add-stock", "--quantity", "5").exit_code == 0
    lines = on_terminal(cli, 80, "log")
    assert lines[0].split() == ["position", "stream", "version", "type"]
    position, stream, version, type_ = lines[1].split()
    assert (position, version, type_) == ("1", "1", "StockAdded") and len(lines[1]) <= 80
    if len(f"inventory-{very_long}") + len("position  ") + len("  version  StockAdded") <= 80:
        assert stream == f"inventory-{very_long}"
    else:
        assert stream.startswith("inventory-keyboard-") and stream.endswith("0042") and "…" in stream
