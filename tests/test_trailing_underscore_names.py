"""A command method or parameter named with a trailing underscore to avoid a Python keyword
(`def return_(self, from_: str)`) is `return` / `--from` on the command line, in help, in
traces and in the scripts `verify` writes, as click drops the underscore for options."""

from __future__ import annotations

import json
import textwrap

import pytest

from evsh import load_domain
from evsh.domain.naming import kebab
from evsh.verify.strategies import Step

LIBRARY = """
    from evsh import Aggregate, applies, command, event

    @event
    class BookAdded:
        title: str

    @event
    class BookReturned:
        late_days: int
        from_: str

    class Book(Aggregate):
        title: str = ""
        returns: int = 0

        @command
        def add(self, title: str):
            yield BookAdded(title)

        @command
        def return_(self, late_days: int = 0, from_: str = "desk"):
            yield BookReturned(late_days, from_)

        @applies
        def _added(self, e: BookAdded) -> None:
            self.title = e.title

        @applies
        def _returned(self, e: BookReturned) -> None:
            self.returns += 1
"""


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "library.py"
    path.write_text(textwrap.dedent(LIBRARY))
    return str(path)


def test_kebab_drops_a_trailing_underscore():
    assert kebab("return_") == "return" and kebab("late_days") == "late-days" and kebab("from_") == "from"
    assert kebab("_") == "-"


def test_the_command_is_return_on_the_command_line(cli, library):
    assert cli("--domain", library, "exec", "book", "b1", "add", "--title", "Dune").exit_code == 0
    r = cli("--domain", library, "exec", "book", "b1", "return", "--late-days", "3", "--from", "box")
    assert r.exit_code == 0, r.stderr
    state = json.loads(cli("--domain", library, "state", "book", "b1", "--json").stdout)
    assert state["returns"] == 1
    r = cli("--domain", library, "exec", "book", "b1", "return-")  # the spelling before still works
    assert r.exit_code == 0, r.stderr


def test_help_and_errors_name_it_return(cli, library):
    r = cli("--domain", library, "exec", "book", "b1", "--help")
    assert "add, return" in r.stdout and "return-" not in r.stdout and "return_" not in r.stdout
    r = cli("--domain", library, "exec", "book", "b1", "return", "--help")
    assert "evsh exec book ID return " in r.stdout and "--from " in r.stdout and "--from-" not in r.stdout
    r = cli("--domain", library, "exec", "book", "b1", "retrun")
    assert "commands: add, return)" in r.stderr


def test_the_trace_shows_book_return(cli, library):
    cli("--domain", library, "exec", "book", "b1", "add", "--title", "Dune")
    cli("--domain", library, "exec", "book", "b1", "return")
    r = cli("--domain", library, "trace", "book-b1")
    assert "book.return " in r.stdout and "return_" not in r.stdout


def test_the_api_takes_both_spellings(library):
    book = load_domain(library).aggregate("book")
    assert book.find_command("return") is book.find_command("return_") is book.find_command("return-")
    spec = book.find_command("return")
    assert spec.bind({"from": "box"}) == {"from_": "box"} == spec.bind({"from_": "box"})


def test_verify_scripts_spell_it_as_the_command_line_does(library):
    spec = load_domain(library).aggregate("book").find_command("return")
    step = Step("book", "b1", spec.name, (("late_days", 2), ("from_", "box")))
    assert step.line() == "exec book b1 return --late-days 2 --from box"
