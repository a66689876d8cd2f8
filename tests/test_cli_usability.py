"""The command line reads as a newcomer expects (issue 18): `evsh tables`, global options after
the command, at 80 columns and at a wide terminal."""

from __future__ import annotations

import json
import re

import pytest

SHOP = ("--domain", "shop")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(cli, columns: int, *args: str) -> list[str]:
    r = cli(*args, env={"COLUMNS": str(columns), "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    return [ANSI.sub("", line) for line in r.stdout.splitlines()]


@pytest.fixture
def built(cli):
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "3").exit_code == 0
    assert cli(*SHOP, "projections", "run").exit_code == 0
    return cli


@pytest.mark.parametrize("columns", [80, 160])
def test_tables_lists_read_model_tables_with_columns_and_rows(built, columns):
    lines = on_terminal(built, columns, *SHOP, "tables")
    assert lines[0].split() == ["table", "owner", "rows", "columns"]
    assert all(len(line) <= columns for line in lines)
    row = next(line for line in lines if line.startswith("inventory_levels "))
    assert row.split()[1:3] == ["projection:inventory_levels", "1"]
    assert "product_id" in row
    docs = [json.loads(line) for line in built(*SHOP, "tables", "--nl").stdout.splitlines()]
    levels = next(d for d in docs if d["name"] == "inventory_levels")
    assert levels["rows"] == 1 and {"name": "product_id", "kind": "text", "key": True} in levels["columns"]


def test_global_options_after_the_command_are_taken(cli, tmp_path):
    other = str(tmp_path / "other.db")
    r = cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "2", db=other)
    assert r.exit_code == 0, r.stderr
    # the test fixture puts --db first (a store that does not exist); the later one wins
    r = cli("read", "inventory-p1", "--nl", "--db", other)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["type"] == "StockAdded"
    r = cli("state", "inventory", "p1", "--json", f"--db={other}", "--domain", "shop")
    assert r.exit_code == 0 and json.loads(r.stdout)["on_hand"] == 2, r.stderr
    r = cli("dlq", "list", "--db", other, "--debug")
    assert r.exit_code == 0, r.stderr


def test_a_global_option_among_a_commands_parameters_is_named(cli):
    r = cli("exec", "inventory", "p1", "add-stock", "--quantity", "2", "--domain", "shop")
    assert r.exit_code == 2
    assert "--domain is a global option: put it before the command" in r.stderr
    r = cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "2", "--mode", "step")
    assert r.exit_code == 2 and "--mode is a global option" in r.stderr
    r = cli("read", "x", "--nosuch")  # anything else stays a usage error
    assert r.exit_code == 2 and "No such option" in r.stderr


def test_printed_commands_work_as_typed(tmp_path, monkeypatch):
    """`make demo` runs .venv/bin/evsh: when `evsh` on PATH is not that program, the commands
    evsh prints for copying name the one that ran."""
    from evsh.cli.invocation import evsh_command

    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "evsh"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert evsh_command(".venv/bin/evsh", path="/nonexistent") == ".venv/bin/evsh"
    assert evsh_command(str(exe), path=str(bin_dir)) == "evsh"  # on PATH and the same program
    other = tmp_path / "other"
    other.mkdir()
    (other / "evsh").write_text("#!/bin/sh\n")
    (other / "evsh").chmod(0o755)
    assert evsh_command(str(exe), path=str(other)) == ".venv/bin/evsh"
    assert evsh_command(str(tmp_path / "evsh" / "__main__.py")).endswith(" -m evsh")


def test_the_demo_heading_in_a_pipe_is_short(cli, tmp_path):
    r = cli("demo", db=str(tmp_path / "demo.db"))
    assert r.exit_code == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) < 400
    assert "── What to try next ──" in r.stdout


def _pty(tmp_path, *args, env=None, columns=100):
    import os
    import shutil
    import sys

    pexpect = pytest.importorskip("pexpect")
    if shutil.which("less") is None:
        pytest.skip("no less on this machine")
    evsh = shutil.which("evsh", path=os.path.dirname(sys.executable)) or "evsh"
    full = {**os.environ, "TERM": "xterm", **(env or {})}
    for var in ("PAGER", "LESS", "EVSH_DB", "EVSH_DOMAIN"):
        full.pop(var, None)
    return pexpect, pexpect.spawn(evsh, ["--db", str(tmp_path / "s.db"), *args], env=full, cwd=str(tmp_path),
                                  encoding="utf-8", timeout=30, dimensions=(24, columns))


@pytest.mark.parametrize("columns", [80, 160])
def test_a_long_listing_on_a_terminal_is_paged_and_a_short_one_is_not(cli, tmp_path, columns):
    lines = "".join(f"append s-{i} Ev '{{}}'\n" for i in range(1, 61))
    assert cli("run", "-", input=lines, db=str(tmp_path / "s.db")).exit_code == 0
    pexpect, c = _pty(tmp_path, "log", columns=columns)
    c.expect_exact("position")
    c.expect(r"\n:")  # less's prompt: the rest waits for the reader
    assert "s-60" not in c.before
    c.send("q")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    pexpect, c = _pty(tmp_path, "log", "--last", "5", columns=columns)  # fits the screen: printed, no pager waiting
    c.expect_exact("s-60")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


@pytest.mark.parametrize("args, meant", [(("staet", "order", "1"), "state"), (("tabels",), "tables"),
                                         (("streams", "metta", "x"), "meta"), (("dlq", "lst"), "list")])
def test_a_mistyped_command_gets_the_closest_one(cli, args, meant):
    r = cli(*args)
    assert r.exit_code == 2
    assert f"(did you mean `{meant}`?)" in r.stderr and r.stderr.count("\n") == 1
