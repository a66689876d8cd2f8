"""Listings read well at 80 columns and at a wide terminal: position, stream, version and type
are never cut or wrapped, the payload takes what is left and ends with "…", a column left out is
named on a line of its own, rows too wide for the line are shown as vertical records (every
column whole), and output that is not a terminal is never wrapped."""

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
    if "recorded_at" not in lines[0]:  # left out, and said so on the last line
        assert lines.pop() == "not shown: recorded_at (--vertical or --json shows it)"
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


def records(lines: list[str]) -> list[dict[str, str]]:
    """Vertical records (``-[ RECORD n ]`` then ``column | value``, a long value folded onto the
    next lines) as dicts."""
    out: list[dict[str, str]] = []
    name = ""
    for line in lines:
        if line.startswith("-[ RECORD "):
            assert line.startswith(f"-[ RECORD {len(out) + 1} ]")
            out.append({})
        elif " | " in line and not line.startswith(" "):
            name, _, value = line.partition(" | ")
            name = name.strip()
            out[-1][name] = value.rstrip()
        else:  # the rest of a folded value
            out[-1][name] += line.strip()
    return out


def test_sql_rows_too_wide_for_80_columns_are_shown_as_records_with_every_column(shop_store):
    lines = on_terminal(shop_store, 80, "sql", "select * from events")
    assert all(len(line.rstrip()) <= 80 for line in lines)
    shown = records(lines)
    assert len(shown) == 5
    assert list(shown[0]) == ["position", "event_id", "stream_id", "version", "type", "data", "metadata",
                              "recorded_at"]
    assert shown[0]["position"] == "1" and shown[0]["stream_id"] == f"inventory-{LONG_PRODUCT}"
    assert shown[1]["data"] == \
        '{"order_id":"o1000123","customer_id":"c1","items":[{"product_id":"keyboard-deluxe","quantity":1,"unit_price":"9.50"}],"total_amount":"9.50"}'
    assert '"command":"order.create"' in shown[1]["metadata"]  # folded over lines, and whole
    # rows that fit stay a table, one line each
    lines = on_terminal(shop_store, 80, "sql", "select position, stream_id, type from events")
    assert lines[0].split() == ["position", "stream_id", "type"] and len(lines) == 6


def test_vertical_is_there_to_ask_for_and_the_other_forms_are_unchanged(shop_store):
    lines = on_terminal(shop_store, 200, "sql", "select position, type from events limit 2", "--vertical")
    assert records(lines) == [{"position": "1", "type": "StockAdded"}, {"position": "2", "type": "OrderCreated"}]
    piped = shop_store("sql", "select position, type from events limit 1", "-x").stdout
    assert piped.splitlines()[1:] == ["position | 1", "type     | StockAdded"]
    assert shop_store("sql", "select position, type from events limit 1", "--csv").stdout == \
        "position,type\n1,StockAdded\n"
    r = shop_store("sql", "select 1", "--vertical", "--json")
    assert r.exit_code == 2 and "give one" in r.stderr


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
def test_an_id_too_wide_for_the_table_shows_the_events_as_records_with_the_id_whole(cli, length):
    very_long = "keyboard-" + "x" * (length - 13) + "0042"
    assert cli(*SHOP, "exec", "inventory", very_long, "add-stock", "--quantity", "5").exit_code == 0
    lines = on_terminal(cli, 80, "log")
    assert all(len(line.rstrip()) <= 80 for line in lines)
    if len(f"inventory-{very_long}") + len("position    version  StockAdded    {...}") <= 80:
        assert lines[0].split() == ["position", "stream", "version", "type", "data"]
        assert lines[1].split()[1] == f"inventory-{very_long}"
    else:
        (shown,) = records(lines)
        assert shown["stream"] == f"inventory-{very_long}" and shown["type"] == "StockAdded"
        assert shown["data"] == f'{{"product_id":"{very_long}","quantity":5}}' and shown["recorded_at"]


def test_a_long_event_type_in_the_log_leaves_no_stream_cut_and_no_column_out(shop_store):
    long_type = "InventoryReservationRequestedByTheNightlyRebalancingJob"
    r = shop_store("append", "rebalance-r1", long_type, '{"product_id": "keyboard-deluxe"}')
    assert r.exit_code == 0, r.stderr
    lines = on_terminal(shop_store, 80, "log", "--last", "3")
    assert all(len(line.rstrip()) <= 80 for line in lines)
    shown = records(lines)
    assert [s["stream"] for s in shown] == [f"inventory-{LONG_PRODUCT}", "order-o1000123", "rebalance-r1"]
    assert shown[-1]["type"] == long_type and shown[-1]["data"] == '{"product_id":"keyboard-deluxe"}'
    assert all(s["recorded_at"] and s["version"].isdigit() for s in shown)
