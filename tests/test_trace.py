"""`evsh trace`: the causal tree by correlation id, event id, command id or stream; rejections show."""

from __future__ import annotations

import json

SHOP = ("--domain", "shop")
ITEMS = '[{"product_id":"p1","quantity":2,"unit_price":"9.50"},{"product_id":"p2","quantity":5,"unit_price":"1"}]'


def walk(node, depth=0):
    yield depth, node
    for child in node["children"]:
        yield from walk(child, depth + 1)


def flat(chain):
    return [(d, n.get("name") or n.get("type"), n.get("outcome")) for root in chain["roots"] for d, n in walk(root)]


def test_trace_shows_the_saga_across_aggregates_with_compensation(cli):
    cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "10")
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS, "--json")
    correlation = json.loads(r.stdout)["correlation_id"]
    out = json.loads(cli(*SHOP, "trace", correlation, "--json").stdout)
    assert out["kind"] == "correlation"
    (chain,) = out["traces"]
    assert flat(chain) == [
        (0, "order.create", "ok"),
        (1, "OrderCreated", None),
        (2, "payment.process", "ok"),
        (3, "PaymentProcessed", None),
        (4, "inventory.reserve", "ok"),
        (5, "InventoryReserved", None),
        (4, "inventory.reserve", "ok"),
        (5, "InventoryReservationFailed", None),
        (6, "inventory.release", "ok"),
        (7, "InventoryReleased", None),
        (6, "payment.refund", "ok"),
        (7, "PaymentRefunded", None),
        (6, "order.cancel", "ok"),
        (7, "OrderCancelled", None),
    ]
    reserve = chain["roots"][0]["children"][0]["children"][0]["children"][0]["children"][0]
    assert reserve["reactor"] == "order_workflow" and reserve["name"] == "inventory.reserve"
    assert [c["type"] for c in reserve["children"]] == ["InventoryReserved"]

    # the same chain from one of its events, from a command id and from a stream
    failed = next(n for _, n in walk(chain["roots"][0]) if n.get("type") == "InventoryReservationFailed")
    by_event = json.loads(cli(*SHOP, "trace", failed["event_id"], "--json").stdout)
    assert by_event["kind"] == "event" and flat(by_event["traces"][0]) == flat(chain)
    assert any(n.get("focus") for _, n in walk(by_event["traces"][0]["roots"][0]))
    by_command = json.loads(cli(*SHOP, "trace", reserve["command_id"], "--json").stdout)
    assert by_command["kind"] == "command" and flat(by_command["traces"][0]) == flat(chain)
    by_stream = json.loads(cli(*SHOP, "trace", "payment-o1", "--json").stdout)
    assert by_stream["kind"] == "stream" and [t["correlation_id"] for t in by_stream["traces"]] == [correlation]

    text = cli(*SHOP, "trace", correlation).stdout
    assert "order.cancel" in text and "by order_workflow" in text and "InventoryReservationFailed" in text


def test_a_rejected_command_that_left_no_event_still_shows(cli):
    r = cli(*SHOP, "exec", "order", "o9", "confirm", "--correlation-id", "5d1c7a34-1b8f-4c2e-9d55-0a7f2b9e6c11")
    assert r.exit_code == 1
    out = json.loads(cli(*SHOP, "trace", "5d1c7a34-1b8f-4c2e-9d55-0a7f2b9e6c11", "--json").stdout)
    (root,) = out["traces"][0]["roots"]
    assert root["name"] == "order.confirm" and root["outcome"] == "rejected"
    assert "does not exist" in root["reason"] and root["children"] == []
    by_stream = json.loads(cli(*SHOP, "trace", "order-o9", "--json").stdout)  # a stream with no events
    assert by_stream["traces"][0]["roots"][0]["outcome"] == "rejected"
    assert "rejected" in cli(*SHOP, "trace", "order-o9").stdout


def test_a_reactor_s_rejected_command_shows_in_the_chain(cli):
    # the order is cancelled by hand before the saga reserves stock (step mode lets us get in between)
    step = ("--mode", "step")
    cli(*SHOP, *step, "exec", "inventory", "p1", "add-stock", "--quantity", "10")
    r = cli(*SHOP, *step, "exec", "order", "o1", "create", "--customer-id", "c1", "--items",
            '[{"product_id":"p1","quantity":1,"unit_price":"3"}]', "--json")
    correlation = json.loads(r.stdout)["correlation_id"]
    cli(*SHOP, *step, "step")  # StockAdded
    cli(*SHOP, *step, "step")  # OrderCreated -> payment.process
    cli(*SHOP, *step, "exec", "payment", "o1", "refund", "--reason", "by hand")  # now refund will be rejected
    cli(*SHOP, *step, "exec", "inventory", "p1", "reserve", "--order-id", "o1", "--quantity", "1")
    for _ in range(6):
        cli(*SHOP, *step, "step")
    (chain,) = json.loads(cli(*SHOP, "trace", correlation, "--json").stdout)["traces"]
    assert (2, "payment.process", "ok") in flat(chain)
    # the saga's own reserve for o1 was refused: the stock was already held for it by hand
    rejected = [n for root in chain["roots"] for _, n in walk(root) if n.get("outcome") == "rejected"]
    assert rejected and rejected[0]["name"] == "inventory.reserve" and "already reserved" in rejected[0]["reason"]


def test_unknown_ids_are_bad_input(cli):
    cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "10")
    r = cli(*SHOP, "trace", "nothing-here")
    assert r.exit_code == 2 and "nothing-here" in r.stderr
    r = cli(*SHOP, "trace", "00000000-0000-4000-8000-000000000000")
    assert r.exit_code == 2


def test_history_without_command_records_is_traced_from_event_metadata(cli, tmp_path):
    src = str(tmp_path / "src.db")
    cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "10", db=src)
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items",
            '[{"product_id":"p1","quantity":1,"unit_price":"3"}]', "--json", db=src)
    correlation = json.loads(r.stdout)["correlation_id"]
    dump = str(tmp_path / "dump.jsonl")
    cli("export", "-o", dump, db=src)
    assert cli(*SHOP, "import", dump).exit_code == 0  # a fresh store: events, but no command records
    (chain,) = json.loads(cli(*SHOP, "trace", correlation, "--json").stdout)["traces"]
    (original,) = json.loads(cli(*SHOP, "trace", correlation, "--json", db=src).stdout)["traces"]
    assert flat(chain) == flat(original)  # successful commands are known from their events' metadata
    assert [(d, name) for d, name, _ in flat(chain)] == [
        (0, "order.create"), (1, "OrderCreated"), (2, "payment.process"), (3, "PaymentProcessed"),
        (4, "inventory.reserve"), (5, "InventoryReserved"), (6, "order.confirm"), (7, "OrderConfirmed")]


def test_a_streams_trace_shows_commands_refused_on_it_and_every_commands_parameters(cli):
    """`trace STREAM` includes the chains of commands refused on the stream (they wrote no event
    there), and every command shows the parameters it was given, written or refused."""
    import json

    shop = ("--domain", "shop")
    assert cli(*shop, "exec", "inventory", "kb", "add-stock", "--quantity", "5").exit_code == 0
    items = '[{"product_id": "kb", "quantity": 1, "unit_price": "49.90"}]'
    assert cli(*shop, "exec", "order", "5001", "create", "--customer-id", "dan", "--items", items).exit_code == 0
    refused = cli(*shop, "exec", "order", "5001", "create", "--customer-id", "eve", "--items", items)
    assert refused.exit_code == 1
    assert cli(*shop, "exec", "order", "5001", "cancel", "--reason", "arrived broken").exit_code == 0
    out = json.loads(cli(*shop, "trace", "order-5001", "--json").stdout)
    roots = [t["roots"][0] for t in out["traces"]]
    assert [(r["name"], r["outcome"]) for r in roots] == [
        ("order.create", "ok"), ("order.create", "rejected"), ("order.cancel", "ok")]
    assert roots[0]["params"]["customer_id"] == "dan" and roots[1]["params"]["customer_id"] == "eve"
    assert roots[2]["params"] == {"reason": "arrived broken"}
    sent = roots[0]["children"][0]["children"][0]  # payment.process, sent by the order workflow
    assert sent["name"] == "payment.process" and sent["params"] == {"order_id": "5001", "amount": "49.90"}
    shown = cli(*shop, "trace", "order-5001").stdout
    assert "(1 command, 1 event)" in shown and '{"reason":"arrived broken"}' in shown


def test_at_80_columns_every_node_of_the_tree_is_one_line_with_its_name_and_stream(cli):
    import re

    cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "10")
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS, "--json")
    (chain,) = json.loads(cli(*SHOP, "trace", "order-o1", "--json").stdout)["traces"]
    r = cli(*SHOP, "trace", "order-o1", env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in r.stdout.splitlines()][1:]
    nodes = [n for root in chain["roots"] for _, n in walk(root)]
    assert len(lines) == len(nodes)  # no node spilled onto a second line
    for line, (depth, node) in zip(lines, [d for root in chain["roots"] for d in walk(root)]):
        assert len(line) <= 80, line
        label = line[4 * (depth + 1):]  # the guide takes 4 cells a level
        if node["kind"] == "command":
            assert label.startswith(f"✓ {node['name']} {node['stream_id']}"), line
        else:
            assert label.startswith(f"● {node['type']} {node['stream_id']}@{node['version']}"), line
            assert f"#{node['position']}" in label
    assert '{"customer_id":"c1"' in lines[0] and "…" in lines[0]  # the parameters, cut to the line
