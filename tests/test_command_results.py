"""A command gives events: it yields them, or returns one, a list of them or nothing. Anything
else (a generator that also returns 5, a plain `return 5`, a yielded 5) is the domain code's
error naming the command and what it must give (exit 5), and nothing is written."""

from __future__ import annotations

import textwrap

import pytest

from evsh import load_domain, open_store
from evsh.engine.wiring import build_engine
from evsh.errors import DomainCodeError

THINGS = """
    from evsh import Aggregate, command, event

    @event
    class ThingMade:
        n: int = 0

    class Thing(Aggregate):
        @command
        def yields_and_returns(self):
            yield ThingMade(1)
            return 5

        @command
        def returns_only_a_value(self):
            if False:
                yield ThingMade()
            return 5

        @command
        def returns_five(self):
            return 5

        @command
        def yields_five(self):
            yield 5

        @command
        def yields_one(self):
            yield ThingMade(1)
            return

        @command
        def returns_a_list(self):
            return [ThingMade(1), ThingMade(2)]

        @command
        def returns_nothing(self):
            return None
"""
WRONG = {"yields-and-returns": "returned 5 as well as yielding", "returns-only-a-value": "returned 5 as well as yielding",
         "returns-five": "gave 5 (int), not an @event instance", "yields-five": "gave 5 (int), not an @event instance"}
RIGHT = {"yields-one": 1, "returns-a-list": 2, "returns-nothing": 0}


@pytest.fixture
def things(tmp_path):
    path = tmp_path / "things.py"
    path.write_text(textwrap.dedent(THINGS))
    return str(path)


@pytest.mark.parametrize("command", WRONG)
def test_a_command_that_gives_something_else_is_an_error(cli, things, command):
    r = cli("--domain", things, "exec", "thing", "t1", command)
    assert r.exit_code == 5
    name = command.replace("-", "_")
    assert r.stderr.startswith(f"evsh: domain code raised: {things}:")
    assert f"command thing.{name} {WRONG[command]}; a command yields its events" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert cli("log", "--json").stdout.strip() == "[]"


@pytest.mark.parametrize("command", RIGHT)
def test_the_ways_to_give_events_still_work(cli, things, command):
    r = cli("--domain", things, "exec", "thing", "t1", command)
    assert r.exit_code == 0, r.stderr
    assert cli("log", "--json").stdout.count('"ThingMade"') == RIGHT[command]


def test_the_engine_raises_domain_code_error(things, tmp_path):
    with open_store(str(tmp_path / "e.db")) as store:
        engine = build_engine(store, load_domain(things))
        with pytest.raises(DomainCodeError, match="thing.returns_only_a_value returned 5"):
            engine.execute("thing", "t1", "returns_only_a_value")
        assert store.head_position() == 0
