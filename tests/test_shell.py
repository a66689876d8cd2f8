"""`evsh shell`: a real terminal (pty), completion, and piped input behaving like `evsh run -`."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

ITEMS = '\'[{"product_id":"p1","quantity":2,"unit_price":"10.00"}]\''


# ----------------------------------------------------------------------------- piped input

@pytest.mark.parametrize("script", [
    f"exec order o1 create --customer-id c1 --items {ITEMS}\nexpect stream order-o1 count=1\n",
    f"exec order o1 create --customer-id c1 --items {ITEMS}\nexec order o1 confirm\nexec order o1 confirm\nsay after\n",
    "frobnicate order o1\n",
    "expect stream order-o1 count=2\n",
])
def test_shell_with_piped_input_behaves_exactly_like_run_stdin(cli, tmp_path, script):
    a = cli("--domain", "shop", "--mode", "step", "shell", input=script, db=str(tmp_path / "a.db"))
    b = cli("--domain", "shop", "--mode", "step", "run", "-", input=script, db=str(tmp_path / "b.db"))
    assert (a.exit_code, a.stderr.replace("a.db", "b.db")) == (b.exit_code, b.stderr)
    strip = lambda s: "\n".join(line.split("  2026")[0] for line in s.splitlines())  # noqa: E731 - times differ
    assert strip(a.stdout) == strip(b.stdout)


# ----------------------------------------------------------------------------- completion

@pytest.fixture
def completer(cli, db_path):
    from evsh.cli.context import AppContext
    from evsh.shell.repl import EvshCompleter

    r = cli("--domain", "shop", "--mode", "step", "run", "-", input=(
        f"exec order o1 create --customer-id c1 --items {ITEMS}\n"
        f"exec order o2 create --customer-id c1 --items {ITEMS}\n"
        "exec user u1 register --email a@b.c --username ann\n"))
    assert r.exit_code == 0, r.stderr
    app = AppContext(db=db_path, domain_spec="shop")
    yield lambda text: [c.text.strip() for c in EvshCompleter(app, evsh_group()).get_completions(_doc(text), None)]
    app.close()


def _doc(text):
    from prompt_toolkit.document import Document

    return Document(text)


@pytest.mark.parametrize("text, expected, absent", [
    ("st", ["state", "streams"], ["exec"]),
    ("", ["exec", "state", "expect", "say", "repeat", "help", "exit"], ["shell", "demo"]),
    ("exec ", ["order", "user", "inventory", "payment"], []),
    ("exec order ", ["o1", "o2"], ["u1"]),
    ("exec order o", ["o1", "o2"], []),
    ("exec order o1 ", ["create", "confirm", "cancel"], ["register"]),
    ("exec order o1 cancel --", ["--reason", "--json", "--actor"], ["--customer-id"]),
    ("exec order o1 create --customer-id c1 --", ["--items"], ["--customer-id"]),
    ("state ", ["order", "user"], []),
    ("state user ", ["u1"], ["o1"]),
    ("state order o1 --", ["--at-version", "--json"], []),
    ("read ", ["order-o1", "order-o2", "user-u1", "$all"], []),
    ("read order-", ["order-o1", "order-o2"], ["user-u1"]),
    ("read order-o1 --", ["--from-version", "--backwards", "--limit", "--json"], []),
    ("log --type Order", ["OrderCreated", "OrderConfirmed"], ["UserRegistered"]),
    ("log --category ", ["order", "user"], []),
    ("expect ", ["state", "stream", "query", "rejected", "conflict", "replay"], []),
    ("expect state order ", ["o1", "o2"], []),
    ("expect state order o1 ", ["status=", "total_amount=", "--at-version"], []),
    ("expect stream ", ["order-o1", "$all"], []),
    ("expect stream order-o1 ", ["count=", "OrderCreated"], []),
    ("expect rejected ", ["exec", "append"], []),
    ("expect rejected exec order o1 ", ["confirm", "cancel"], []),
    ("help ", ["exec", "run"], []),
])
def test_completion(completer, text, expected, absent):
    got = completer(text)
    for word in expected:
        assert word in got, (text, got)
    for word in absent:
        assert word not in got, (text, got)


def test_completion_without_a_store_or_domain_offers_commands_and_no_errors(tmp_path):
    from evsh.cli.context import AppContext
    from evsh.shell.repl import EvshCompleter

    app = AppContext(db=str(tmp_path / "none.db"), domain_spec=None)
    c = EvshCompleter(app, evsh_group())
    assert "exec" in [x.text.strip() for x in c.get_completions(_doc("ex"), None)]
    assert list(c.get_completions(_doc("read "), None)) == [] or all(
        x.text.strip() == "$all" for x in c.get_completions(_doc("read "), None))
    assert list(c.get_completions(_doc("exec order "), None)) == []
    assert not os.path.exists(tmp_path / "none.db")  # completion never creates a store


# ----------------------------------------------------------------------------- a real terminal

def _spawn(tmp_path, *args):
    pexpect = pytest.importorskip("pexpect")
    evsh = shutil.which("evsh", path=os.path.dirname(sys.executable)) or "evsh"
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "COLUMNS": "120",
           "EVSH_HISTORY": str(tmp_path / "history")}
    for var in ("EVSH_DB", "EVSH_DOMAIN"):
        env.pop(var, None)
    return pexpect, pexpect.spawn(evsh, ["--db", str(tmp_path / "s.db"), *args, "shell"], env=env, cwd=str(tmp_path),
                                  encoding="utf-8", timeout=30, dimensions=(40, 120))


def test_interactive_shell_in_a_pty(tmp_path):
    pexpect, c = _spawn(tmp_path, "--domain", "shop")
    prompt = "(s.db · shop)>"
    c.expect_exact(prompt)
    c.sendline("exec user u1 register --email a@b.c --username ann")
    c.expect("UserRegistered")
    c.expect_exact(prompt)
    # tab completion: aggregate, id, command and parameter names are filled in
    c.send("exec us\t")
    c.expect_exact("er")
    c.send("u\t")
    c.expect_exact("1")
    c.send("reg\t")
    c.expect_exact("ister")
    c.send("--em\t")
    c.expect_exact("ail")
    c.send("b@b.c --username bob\r")
    # an error is printed and the shell goes on
    c.expect_exact("rejected: user u1 is already registered")
    c.expect_exact(prompt)
    c.sendline("frobnicate order o1")
    c.expect_exact("unknown command 'frobnicate'")
    c.expect_exact(prompt)
    # a repeat block continues on `...` lines until `end`
    c.sendline("repeat 2")
    c.expect_exact("...")
    c.sendline("say hello ${i}")
    c.expect_exact("...")
    c.sendline("end")
    c.expect_exact("hello 2")
    c.expect_exact(prompt)
    c.sendline("help")
    c.expect_exact("Directives")
    c.expect_exact(prompt)
    c.sendline("exit")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    history = (tmp_path / "history").read_text()
    # lines holding personal values (the shop's email and username) stay out of the file
    assert "a@b.c" not in history and "ann" not in history and "b@b.c" not in history
    assert "frobnicate order o1" in history
    assert "say hello ${i}" in history


def test_history_is_kept_across_sessions_and_ctrl_d_leaves(tmp_path):
    pexpect, c = _spawn(tmp_path)
    c.expect_exact("(s.db)>")
    c.sendline("init")
    c.expect_exact("created store")
    c.expect_exact("(s.db)>")
    c.sendeof()
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    pexpect, c = _spawn(tmp_path)
    c.expect_exact("(s.db)>")
    c.send("\x1b[A")  # up arrow: the previous session's line comes back
    c.expect_exact("init")
    c.send("\r")
    c.expect_exact("store already exists")
    c.sendline("exit")
    c.expect(pexpect.EOF)


def evsh_group():
    """The evsh click group, which the shell is handed (it does not import the CLI)."""
    from evsh.cli.main import cli

    return cli
