"""Long jobs say what they do and leave things ready (issue 18): seed builds the read models,
`--days N` is at most N days, `projections run` on an inline projection says it is inline."""

from __future__ import annotations

import json
from datetime import datetime

SHOP = ("--domain", "shop")


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_seed_spreads_history_over_at_most_days_and_builds_read_models(cli):
    r = cli("seed", "--orders", "400", "--days", "2")
    assert r.exit_code == 0, r.stderr
    assert "seeded " in r.stdout and "400 orders, 80 customers, 50 products" in r.stdout
    assert "read models up to date: 4 projections" in r.stdout
    first, last = json.loads(cli("sql", "select min(recorded_at) a, max(recorded_at) b from events", "--nl").stdout).values()
    days = (when(last) - when(first)).total_seconds() / 86400
    assert 1.5 <= days <= 2, days
    listed = [json.loads(line) for line in cli(*SHOP, "projections", "--nl").stdout.splitlines()]
    assert listed and all(p["lag"] == 0 and p["built_version"] is not None for p in listed)


def test_projections_run_says_an_inline_projection_is_up_to_date(cli):
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "1").exit_code == 0
    r = cli(*SHOP, "projections", "run")
    assert r.exit_code == 0, r.stderr
    assert "customer_orders: inline, kept up to date by every append (checkpoint 1)" in r.stdout
    assert "inventory_levels: handled 1 event, checkpoint 1" in r.stdout


def test_import_shows_progress_on_a_terminal_only(cli, tmp_path):
    for i in range(3):
        assert cli(*SHOP, "exec", "inventory", f"p{i}", "add-stock", "--quantity", "1").exit_code == 0
    export = str(tmp_path / "x.jsonl")
    assert cli("export", "-o", export).exit_code == 0
    r = cli("import", export, db=str(tmp_path / "quiet.db"))
    assert r.exit_code == 0 and r.stdout == "imported 3 events\n" and r.stderr == ""
    r = cli("import", export, db=str(tmp_path / "shown.db"), env={"TTY_COMPATIBLE": "1", "COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "importing x.jsonl" in r.stderr and "100%" in r.stderr
    r = cli("import", export, db=str(tmp_path / "shown.db"))
    assert r.stdout == "imported 0 events (3 already stored, skipped)\n"
    terminal = {"TTY_COMPATIBLE": "1", "COLUMNS": "120"}
    r = cli("export", "-o", str(tmp_path / "again.jsonl"), env=terminal)  # to a file: progress on the terminal
    assert "exporting" in r.stderr and "100%" in r.stderr and "exported 3 events" in r.stderr
    r = cli("export", env=terminal)  # to stdout, whose reader shares the terminal: no bar
    assert r.stderr == "" and r.stdout.count("\n") == 3


def test_import_with_a_domain_leaves_read_models_built(cli, tmp_path):
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "4").exit_code == 0
    export = str(tmp_path / "x.jsonl")
    assert cli("export", "-o", export).exit_code == 0
    copy = str(tmp_path / "copy.db")
    r = cli(*SHOP, "import", export, db=copy)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("imported 1 event\nread models up to date: 4 projections in ")
    rows = json.loads(cli("sql", "select on_hand from inventory_levels", "--json", db=copy).stdout)
    assert rows == [{"on_hand": 4}]
