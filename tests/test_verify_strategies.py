"""Strategies learned from command signatures: every type hint gets values the command accepts
through its own parameter binding, a generated step's command line reads back as the same
values, and a domain module's overrides (dict or decorator, by parameter, name, type or command)
are obeyed."""

from __future__ import annotations

import enum
import textwrap
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsh import Aggregate, DomainError, applies, command, event, load_domain
from evsh.cli.domain_cmds import parse_param_args
from evsh.verify.strategies import Strategies


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@dataclass(frozen=True)
class Part:
    sku: str
    count: int
    price: Decimal
    size: Size = Size.SMALL


@dataclass(frozen=True)
class Crate:
    label: str
    parts: tuple[Part, ...]
    notes: dict[str, int]


@event
class Shipped:
    crate_id: str


class Crate_(Aggregate):
    category = "crate"

    @command
    def ship(self, crate: Crate, urgent: bool, weight: Decimal,
             tags: list[str], backup: Optional[Part] = None, count: int = 1, ratio: float = 0.5):
        yield Shipped(self.id)

    @applies
    def _shipped(self, e: Shipped) -> None:
        pass


class Route(Aggregate):
    @command
    def choose(self, mode: Literal["air", "sea"]):
        yield Shipped(self.id)


def test_a_literal_of_strings_binds_from_text_and_from_its_values():
    spec = Route.find_command("choose")
    assert spec.bind({"mode": "air"}) == {"mode": "air"}


def _domain(tmp_path, body: str):
    path = tmp_path / "dom.py"
    path.write_text(textwrap.dedent(body))
    return load_domain(str(path))


class _FakeDomain:
    """A Domain-shaped object around this test module's aggregate."""

    def __init__(self, overrides=None):
        import types

        self.name = "test"
        self.module = types.SimpleNamespace(VERIFY_STRATEGIES=overrides) if overrides else types.SimpleNamespace()
        self.aggregates = {"crate": Crate_}

    def of_kind(self, kind):
        return []


STEPS = Strategies(_FakeDomain()).steps()


@given(Strategies(_FakeDomain()).for_hint(Literal["air", "sea"]))
def test_literals_are_generated_from_their_values(mode):
    assert mode in ("air", "sea")


@given(STEPS)
def test_generated_values_are_what_the_command_binds(step):
    spec = Crate_.find_command(step.command)
    assert spec.bind(step.kwargs) == step.kwargs


@given(STEPS)
def test_a_steps_command_line_reads_back_as_the_same_values(step):
    """The reproducer scripts spell steps as `exec` lines: they must mean the same command."""
    argv = step.argv()
    assert argv[:4] == ["exec", "crate", step.id, "ship"]
    spec = Crate_.find_command(step.command)
    back = spec.bind(parse_param_args(argv[4:]))
    want = step.kwargs
    assert back.keys() == want.keys()
    for k in want:
        if isinstance(want[k], float):
            assert back[k] == pytest.approx(want[k], rel=0, abs=0) or repr(back[k]) == repr(want[k])
        else:
            assert back[k] == want[k]


def test_overrides_by_parameter_name_type_and_ids():
    overrides = {
        "crate.ship.weight": lambda s: s.just(Decimal("7.25")),
        "tags": [["x"], ["y", "z"]],
        Part: lambda s: s.builds(Part, s.just("P"), s.just(3), s.just(Decimal("1.00"))),
        "crate.ids": ["only"],
    }
    strategies = Strategies(_FakeDomain(overrides))

    @given(strategies.steps())
    def check(step):
        kw = step.kwargs
        assert step.id == "only"
        assert kw["weight"] == Decimal("7.25")
        assert kw["tags"] in (["x"], ["y", "z"])
        assert all(p.sku == "P" and p.count == 3 for p in kw["crate"].parts)
        assert kw["backup"] in (None, Part("P", 3, Decimal("1.00")))

    check()


def test_a_command_can_be_excluded_and_a_decorator_declares_a_strategy(tmp_path):
    domain = _domain(tmp_path, """
        from evsh import Aggregate, applies, command, event
        from evsh.verify import strategy

        @event
        class Noted:
            text: str

        class Pad(Aggregate):
            @command
            def note(self, text: str):
                yield Noted(text)

            @command
            def wipe(self):
                yield Noted("")

            @applies
            def _noted(self, e: Noted) -> None:
                pass

        VERIFY_STRATEGIES = {"pad.wipe": None}

        @strategy("pad.note.text")
        def texts(st):
            return st.sampled_from(["hello", "world"])
        """)
    strategies = Strategies(domain)
    assert [name for _, name, _ in strategies.commands()] == ["note"]

    @given(strategies.steps())
    def check(step):
        assert step.command == "note" and step.kwargs["text"] in ("hello", "world")

    check()


def test_bad_overrides_are_domain_errors(tmp_path):
    with pytest.raises(DomainError, match="must be a dict"):
        Strategies(_domain(tmp_path, "VERIFY_STRATEGIES = [1]\n"))
    strategies = Strategies(_FakeDomain({"tags": 42}))
    with pytest.raises(DomainError, match="give a strategy"):
        strategies.commands()


def test_sequences_meet_the_same_ids():
    """Ids and text come from a small pool of words, so generated commands meet each other."""
    seen = set()

    @given(st.lists(STEPS, min_size=5, max_size=5))
    def check(steps):
        seen.update(s.id for s in steps)

    check()
    assert seen <= {"a", "b", "c"}
