"""The bundled demos (sample_data/demos, installed as evsh.samples) and `evsh demo`."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from click.testing import CliRunner

DEMOS = sorted(p.name for p in files("evsh.samples").joinpath("demos").iterdir() if p.name.endswith(".evsh"))
REQUIRED = ["happy_path", "payment_declined", "out_of_stock", "concurrency", "projection_rebuild", "time_travel",
            "registration_fanout", "shop_story"]


def demo_path(name: str) -> str:
    return str(files("evsh.samples").joinpath("demos", name))


def test_the_demos_the_issue_asks_for_are_bundled():
    for name in REQUIRED:
        assert f"{name}.evsh" in DEMOS


@pytest.mark.parametrize("name", DEMOS)
def test_every_demo_runs_and_its_expectations_hold(cli, name):
    text = Path(demo_path(name)).read_text()
    assert text.startswith("#!/usr/bin/env -S evsh ")  # executable, and says how it runs
    assert "expect " in text  # a demo is also an acceptance test
    r = cli("run", demo_path(name))
    assert r.exit_code == 0, r.stderr
    assert r.stderr.startswith("ran ") and " expectations held" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("name", ["happy_path.evsh", "concurrency.evsh", "time_travel.evsh"])
def test_a_demo_is_repeatable_with_its_fixed_clock_and_ids(cli, tmp_path, name):
    a = cli("run", "--echo", demo_path(name), db=str(tmp_path / "a.db"))
    b = cli("run", "--echo", demo_path(name), db=str(tmp_path / "b.db"))
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout


def test_a_broken_expectation_in_a_demo_would_fail(cli, tmp_path):
    text = Path(demo_path("happy_path.evsh")).read_text().replace("status=confirmed", "status=cancelled", 1)
    broken = tmp_path / "broken.evsh"
    broken.write_text(text)
    r = cli("run", str(broken))
    assert r.exit_code == 1
    assert "expected: cancelled" in r.stderr and "actual:   confirmed" in r.stderr


# ----------------------------------------------------------------------------- evsh demo

@pytest.fixture
def evsh_here(tmp_path, monkeypatch):
    """`evsh ARGS` in an empty folder, with no --db: what a new user types."""
    from evsh.cli.main import cli as group

    monkeypatch.chdir(tmp_path)
    for var in ("EVSH_DB", "EVSH_DOMAIN", "EVSH_MODE", "EVSH_CLOCK", "EVSH_IDS", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)

    def run(*args):
        return CliRunner().invoke(group, list(args), env={"COLUMNS": "120"}, catch_exceptions=False)

    return run


def test_evsh_demo_tells_the_story_then_reuses_the_store(evsh_here, tmp_path):
    r = evsh_here("demo")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert (tmp_path / "evsh-demo.db").exists()
    for part in ("A new sample store: evsh-demo.db", "$ evsh exec order 1001 create", "OrderConfirmed",
                 "PaymentRefunded",  # the compensation
                 "$ evsh streams", "order_details", "$ evsh trace order-1002", "What to try next",
                 "tui", "shell", "run FILE.evsh"):
        assert part in out, part
    assert r.stderr == ""
    again = evsh_here("demo")
    assert again.exit_code == 0
    assert "already holds the shop story" in again.stdout
    assert "$ evsh exec" not in again.stdout  # nothing is written twice
    assert "$ evsh trace order-1002" in again.stdout
    con = sqlite3.connect(tmp_path / "evsh-demo.db")
    assert con.execute("SELECT count(*) FROM streams WHERE stream_id = 'order-1001'").fetchone()[0] == 1


def test_evsh_demo_fresh_starts_over_and_the_output_is_deterministic(evsh_here):
    first = evsh_here("demo")
    fresh = evsh_here("demo", "--fresh")
    assert fresh.exit_code == 0
    assert "A new sample store" in fresh.stdout
    assert fresh.stdout == first.stdout


def test_evsh_demo_never_touches_a_store_it_did_not_make(evsh_here, tmp_path):
    assert evsh_here("--db", "mine.db", "append", "note-1", "Noted", "{}").exit_code == 0
    for args in (("--db", "mine.db", "demo"), ("--db", "mine.db", "demo", "--fresh")):
        r = evsh_here(*args)
        assert r.exit_code == 2
        assert "holds events that no demo wrote" in r.stderr
    con = sqlite3.connect(tmp_path / "mine.db")
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_evsh_demo_list_and_named_demos(evsh_here, tmp_path):
    r = evsh_here("demo", "--list")
    assert r.exit_code == 0
    for name in DEMOS:
        assert re.search(rf"^{name[:-5]}\s+\S", r.stdout, re.M), name
    r = evsh_here("demo", "concurrency")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "evsh-demo-concurrency.db").exists()
    assert "✓ conflict" in r.stdout
    assert evsh_here("demo", "concurrency").exit_code == 0  # a named demo starts from nothing each time
    r = evsh_here("demo", "nope")
    assert r.exit_code == 2
    assert "no bundled demo 'nope'" in r.stderr


def test_evsh_demo_works_from_any_folder_in_a_new_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    env["COLUMNS"] = "100"
    proc = subprocess.run([sys.executable, "-m", "evsh", "demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "What to try next" in proc.stdout
    assert (tmp_path / "evsh-demo.db").exists()


def test_evsh_demo_is_not_thrown_off_by_the_environment_or_a_project_config(evsh_here, tmp_path, monkeypatch):
    (tmp_path / "evsh.toml").write_text('[evsh]\nmode = "async"\nclock = "system"\n')
    monkeypatch.setenv("EVSH_MODE", "step")
    monkeypatch.setenv("EVSH_IDS", "random")
    r = evsh_here("demo")
    assert r.exit_code == 0, r.stderr
    assert "order.confirm order-1001" in r.stdout  # the workflow ran inline, as the story needs
    r = evsh_here("--db", "x.db", "run", demo_path("happy_path.evsh"))  # the script's line beats the environment
    assert r.exit_code == 0, r.stderr


def test_the_fresh_tip_names_the_store_the_demo_used(evsh_here, tmp_path):
    r = evsh_here("--db", "other.db", "demo")
    assert r.exit_code == 0, r.stderr
    assert "--db other.db demo --fresh" in r.stdout  # plain `evsh demo --fresh` would start over elsewhere
    again = evsh_here("--db", "other.db", "demo", "--fresh")  # the tip, as typed
    assert again.exit_code == 0, again.stderr
    assert "A new sample store: other.db" in again.stdout
    assert not (tmp_path / "evsh-demo.db").exists()
    assert "evsh demo --fresh" in evsh_here("demo").stdout


def test_no_fresh_tip_on_a_server_where_fresh_is_refused(evsh_here):
    from tests.services import postgres_url

    with postgres_url() as url:
        r = evsh_here("--db", url, "demo")
        assert r.exit_code == 0, r.stderr
        assert "What to try next" in r.stdout
        assert "--fresh" not in r.stdout.split("What to try next")[1]
