"""Reading the newest first, the state as of a time, and saying so when there is nothing."""

from __future__ import annotations

import json

SHOP = ("--domain", "shop")


def positions(out: str) -> list[int]:
    return [json.loads(line)["position"] for line in out.splitlines()]


def fill(cli, clock: str = "fixed:2026-01-01T10:00:00Z,1m") -> None:
    for i in range(1, 6):
        r = cli(*SHOP, "--clock", clock, "exec", "inventory", "p1", "add-stock", "--quantity", str(i))
        assert r.exit_code == 0, r.stderr


def test_log_newest_first_and_the_last_n(cli):
    fill(cli)
    assert positions(cli("log", "--backwards", "--nl").stdout) == [5, 4, 3, 2, 1]
    assert positions(cli("log", "--backwards", "--limit", "2", "--nl").stdout) == [5, 4]
    assert positions(cli("log", "--backwards", "--from-position", "3", "--nl").stdout) == [3, 2, 1]
    assert positions(cli("log", "--last", "2", "--nl").stdout) == [4, 5]
    assert positions(cli("log", "--last", "9", "--nl").stdout) == [1, 2, 3, 4, 5]
    r = cli("log", "--last", "2", "--backwards")
    assert r.exit_code == 2 and "--last" in r.stderr and r.stderr.count("\n") == 1


def test_nothing_to_show_is_said_on_stderr_with_exit_0(cli):
    fill(cli)
    for args, said in [(("read", "order-999"), "no events: order-999 does not exist"),
                       (("log", "--category", "nosuch"), "no events match --category nosuch"),
                       ((*SHOP, "state", "order", "999"), "no events: order-999 does not exist")]:
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        assert r.stdout == "" and said in r.stderr, (args, r.stderr)
    r = cli(*SHOP, "state", "order", "999", "--json")  # a script still gets the state: version 0
    assert json.loads(r.stdout)["version"] == 0 and "does not exist" in r.stderr


def test_state_as_of_a_time(cli):
    fill(cli)  # versions 1..5 at 10:00, 10:01, ... (one clock step per reading)
    times = [json.loads(line)["recorded_at"] for line in cli("read", "inventory-p1", "--nl").stdout.splitlines()]
    at_third = json.loads(cli(*SHOP, "state", "inventory", "p1", "--at-time", times[2], "--json").stdout)
    at_version = json.loads(cli(*SHOP, "state", "inventory", "p1", "--at-version", "3", "--json").stdout)
    assert at_third == at_version and at_third["version"] == 3
    before = json.loads(cli(*SHOP, "state", "inventory", "p1", "--at-time", "2025-12-31", "--json").stdout)
    assert before["version"] == 0
    r = cli(*SHOP, "state", "inventory", "p1", "--at-time", "yesterday")
    assert r.exit_code == 2 and "ISO 8601" in r.stderr
    r = cli(*SHOP, "state", "inventory", "p1", "--at-time", times[2], "--at-version", "1")
    assert r.exit_code == 2
