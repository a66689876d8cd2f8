"""The shell and scripts as a newcomer meets them (issue 18): leaving, clearing and loading a
domain at the prompt and in piped input, did-you-mean, a help that lists everything, a summary
after `evsh run`, paths beside the script, and directives that fail instead of passing silently."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_shell import _spawn

SHOP = ("--domain", "shop")
THINGS = '''
from evsh import Aggregate, applies, command, event


@event
class Named:
    name: str


class Thing(Aggregate):
    name: str = ""

    @command
    def rename(self, new_name: str):
        yield Named(name=new_name)

    @applies
    def _named(self, e: Named) -> None:
        self.name = e.name
'''


def test_a_piped_session_ending_with_exit_runs_and_leaves(cli):
    r = cli(*SHOP, "shell", input="exec inventory p1 add-stock --quantity 2\nclear\nexit\n")
    assert r.exit_code == 0, r.stderr
    assert "StockAdded" in r.stdout
    r = cli(*SHOP, "shell", input="quit 3\nexec inventory p1 add-stock --quantity 2\n")
    assert r.exit_code == 3
    assert cli("read", "inventory-p1", "--nl").stdout.count("\n") == 1  # the line after quit did not run
    r = cli(*SHOP, "run", "-", input="exit two\n")
    assert r.exit_code == 2 and "use `exit` or `exit N`" in r.stderr


@pytest.mark.parametrize("line, meant", [("staet order 1", "state"), ("exec order 1001 confrim", "confirm"),
                                         ("exec ordr 1001 confirm", "order"), ("tabels", "tables")])
def test_did_you_mean(cli, line, meant):
    r = cli(*SHOP, "run", "-", input=line + "\n")
    assert r.exit_code == 2
    assert f"(did you mean `{meant}`?)" in r.stderr, r.stderr


@pytest.mark.parametrize("columns", [80, 160])
def test_help_lists_every_command_wraps_whole_words_and_uses_the_loaded_domain(cli, tmp_path, columns):
    r = cli(*SHOP, "run", "-", input="help\n", env={"COLUMNS": str(columns)})
    out = r.stdout
    assert r.exit_code == 0, r.stderr
    assert all(len(line) <= columns for line in out.splitlines())
    words = set(out.replace(",", " ").replace(":", " ").split())
    from evsh.cli.main import COMMANDS

    assert set(COMMANDS) <= words  # tui, demo and shell too, said why they are not here
    refused = {line.split()[0]: line for line in out.split("Not here:\n")[1].split("\n\n")[0].splitlines()
               if not line.startswith("    ")}
    assert set(refused) == {"tui", "demo", "shell"}
    assert "exec order o1 create --customer-id VALUE --items VALUE" in out
    (tmp_path / "things.py").write_text(THINGS)
    out = cli("--domain", str(tmp_path / "things.py"), "run", "-", input="help\n").stdout
    assert "exec thing t1 rename --new-name VALUE" in out and "order" not in out


def test_domain_is_loaded_and_changed_inside_a_session(cli, tmp_path):
    (tmp_path / "things.py").write_text(THINGS)
    script = f"domain\ndomain shop\nexec inventory p1 add-stock --quantity 2\ndomain {tmp_path / 'things.py'}\n" \
             "exec thing t1 rename --new-name n\nexpect state thing t1 name=n\n"
    r = cli("shell", input=script)
    assert r.exit_code == 0, r.stderr
    assert "no domain loaded" in r.stdout and "domain shop (shop): aggregates inventory, order, payment, user" in r.stdout
    r = cli("shell", input="domain nosuch_module_here\n")
    assert r.exit_code == 2


def test_run_ends_with_a_summary_and_documents_memory_stores(cli):
    script = "exec inventory p1 add-stock --quantity 2\nexpect state inventory p1 on_hand=2\n" \
             "expect stream inventory-p1 count=1\n"
    for _ in range(2):  # a store in memory: the same script runs again from nothing
        r = cli(*SHOP, "run", "-", input=script, db=":memory:")
        assert r.exit_code == 0, r.stderr
        assert r.stderr == "ran 3 lines: 2 expectations held\n"
    assert "--db :memory:" in cli("run", "--help").stdout


def test_import_and_run_inside_a_script_read_beside_the_script(cli, tmp_path, monkeypatch):
    folder = tmp_path / "scripts"
    folder.mkdir()
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "2").exit_code == 0
    assert cli("export", "-o", str(folder / "events.jsonl")).exit_code == 0
    (folder / "inner.evsh").write_text("expect stream inventory-p1 count=1\n")
    (folder / "outer.evsh").write_text("import events.jsonl\nrun inner.evsh\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = cli(*SHOP, "run", str(folder / "outer.evsh"), db=str(tmp_path / "copy.db"))
    assert r.exit_code == 0, r.stderr
    assert "imported 1 event" in r.stdout


def test_directives_that_find_nothing_to_check_fail(cli):
    assert cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "2").exit_code == 0
    assert cli(*SHOP, "projections", "run").exit_code == 0
    r = cli(*SHOP, "run", "-", input="redeliver projection customer_orders 1\n")
    assert r.exit_code == 2 and "does not handle StockAdded" in r.stderr
    r = cli(*SHOP, "run", "-", input="redeliver reactor welcome_email 1\n")
    assert r.exit_code == 2 and "does not listen to StockAdded" in r.stderr
    r = cli(*SHOP, "run", "-", input="expect replay order nosuch\n")
    assert r.exit_code == 1 and "does not exist" in r.stderr


def test_a_passing_expectation_is_ticked_at_the_prompt(tmp_path):
    pexpect, c = _spawn(tmp_path, "--domain", "shop")
    prompt = "(s.db · shop)>"
    c.expect_exact(prompt)
    c.sendline("exec inventory p1 add-stock --quantity 2")
    c.expect_exact(prompt)
    c.sendline("expect state inventory p1 on_hand=2")
    c.expect_exact("✓ inventory-p1: on_hand = 2")
    c.expect_exact(prompt)
    c.sendline("clear")
    c.expect_exact(prompt)
    c.sendline("exit")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0


def test_the_shell_does_not_import_the_command_line():
    """No import cycle: the shell is handed the click group; it never imports evsh.cli.main."""
    code = ("import sys, evsh.shell.repl, evsh.shell.script, evsh.shell.expectations;"
            " print('evsh.cli.main' in sys.modules, 'evsh.cli.scripts' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_domain_loaded_at_the_prompt_keeps_its_personal_values_out_of_the_history(tmp_path):
    pexpect, c = _spawn(tmp_path)
    c.expect_exact("(s.db)>")
    c.sendline("domain shop")
    c.expect_exact("(s.db · shop)>")
    c.sendline("exec user u1 register --email a@b.c --username ann")
    c.expect_exact("UserRegistered")
    c.expect_exact("(s.db · shop)>")
    c.sendline("exit")
    c.expect(pexpect.EOF)
    c.close()
    history = (tmp_path / "history").read_text()
    assert "domain shop" in history and "a@b.c" not in history and "ann" not in history
