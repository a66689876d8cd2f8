"""The same evsh on both backends: bundled demos run on PostgreSQL and, with their fixed clock
and seeded ids, print exactly what they print on SQLite; a store moves from a file to a server
and back losing nothing, and importing it again imports 0 (tests/services.py: a schema of each
test's own)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files

import pytest

from tests.services import need_postgres, postgres_url

SHOP = ("--domain", "shop")


def demo(name: str) -> str:
    return str(files("evsh.samples").joinpath("demos", name))


# ----------------------------------------------------------------------------- demos on both backends

@pytest.mark.parametrize("name", ["happy_path", "projection_rebuild", "outage", "registration_fanout"])
def test_bundled_demos_run_on_postgresql(cli, name):
    """(test_demos.py runs every demo on SQLite.)"""
    with postgres_url() as url:
        r = cli("demo", name, db=url)
        assert r.exit_code == 0, r.stderr
        assert "evsh demo" in r.stdout and r.stderr == ""


@pytest.mark.parametrize("name", ["happy_path.evsh", "concurrency.evsh", "time_travel.evsh", "shop_story.evsh"])
def test_a_demo_with_a_fixed_clock_and_seeded_ids_prints_the_same_on_both_backends(cli, tmp_path, name):
    """The demo's header fixes the clock and seeds the ids: positions, ids, times, payloads and
    read models print alike, whichever store holds them."""
    a = cli("run", "--echo", demo(name), db=str(tmp_path / "a.db"))
    assert a.exit_code == 0, a.stderr
    with postgres_url() as url:
        b = cli("run", "--echo", demo(name), db=url)
    assert b.exit_code == 0, b.stderr
    assert b.stdout == a.stdout


# ----------------------------------------------------------------------------- moving a store

def test_moving_a_store_to_postgresql_and_back_loses_nothing_and_is_idempotent(cli, tmp_path):
    src = str(tmp_path / "shop.db")
    assert cli(*SHOP, "seed", "--orders", "5", "--seed", "3", db=src).exit_code == 0
    assert cli("append", "odd-1", "Odd", '{"n": 1.10, "big": 123456789012345678901234567890, "s": "\\u00e9\\u0000x"}',
               db=src).exit_code == 0
    exported = cli("export", db=src).stdout
    n = len(exported.splitlines())
    need_postgres()
    # `evsh --db shop.db export | evsh --db postgresql://... import -`, as a user types it
    evsh = [sys.executable, "-m", "evsh"]
    with postgres_url() as url:
        env = {**os.environ, "EVSH_DB": ""}
        pipe = f"{' '.join(evsh)} --db {src} export | {' '.join(evsh)} --db '{url}' import -"
        done = subprocess.run(["bash", "-o", "pipefail", "-c", pipe], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert f"imported {n}" in done.stdout
        assert cli("export", db=url).stdout == exported  # positions, ids, times, payloads: all of it
        again = cli("import", "-", input=exported, db=url)
        assert again.exit_code == 0 and "imported 0" in again.stdout, again.stdout
        assert cli("export", db=url).stdout == exported
        state = cli(*SHOP, "state", "order", "1", "--json", db=src).stdout
        assert cli(*SHOP, "state", "order", "1", "--json", db=url).stdout == state
        # and back, into a new file
        back = str(tmp_path / "back.db")
        assert cli("import", "-", input=cli("export", db=url).stdout, db=back).exit_code == 0
        assert cli("export", db=back).stdout == exported
        assert "imported 0" in cli("import", "-", input=exported, db=back).stdout
