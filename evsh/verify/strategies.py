"""Hypothesis strategies learned from a domain: command sequences from the commands' signatures.

Every command parameter has a type hint; each hint gets a strategy (text, numbers, Decimals,
enums, lists, dicts, nested dataclasses...). Values are drawn mostly from a small pool of short
words so that generated commands meet each other: the same aggregate ids, the same customer
and product ids. A domain module overrides any of this (see docs/verify.md):

    VERIFY_STRATEGIES = {
        "user.register.email": lambda st: st.emails(),   # one parameter of one command
        "quantity": lambda st: st.integers(1, 5),         # every parameter of that name
        Item: lambda st: st.builds(Item, ...),            # every value of that type
        "order.ids": ["o1", "o2"],                        # the ids of an aggregate's instances
        "payment.refund": None,                           # never generate this command
    }

or with the decorator ``@evsh.verify.strategy("user.register.email")`` on a function that
takes the ``hypothesis.strategies`` module. Values may be strategies, functions of the
strategies module (so a domain module need not import hypothesis), or lists to sample from.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import shlex
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from ..domain import types as T
from ..domain.registry import Domain
from ..errors import DomainError

OVERRIDES_NAME = "VERIFY_STRATEGIES"
STRATEGY_KIND = "verify_strategy"
# Short words shared by every text parameter and id: generated commands refer to each other.
WORDS = ("a", "b", "c")


def strategy(key: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a domain's own strategy: ``@strategy("user.register.email")`` over ``def f(st)``.

    The key is ``aggregate.command.param``, ``param``, a type, ``aggregate.ids`` or
    ``aggregate.command`` (a function returning None there excludes the command).
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__evsh_kind__ = STRATEGY_KIND  # type: ignore[attr-defined]
        fn.__evsh_strategy_for__ = key  # type: ignore[attr-defined]
        return fn

    return wrap


@dataclass(frozen=True)
class Step:
    """One generated command: ``exec AGGREGATE ID COMMAND --param value ...``."""

    aggregate: str
    id: str
    command: str
    params: tuple[tuple[str, Any], ...]

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)

    def argv(self) -> list[str]:
        """The ``evsh exec`` words of this step (values as the command line spells them)."""
        from ..domain.naming import kebab

        out = ["exec", self.aggregate, self.id, kebab(self.command)]
        for name, value in self.params:
            out += ["--" + kebab(name), as_text(value)]
        return out

    def line(self) -> str:
        return shlex.join(self.argv())

    def __str__(self) -> str:
        return self.line()


def as_text(value: Any) -> str:
    """A typed value as ``evsh exec`` reads it back: plain text for scalars, JSON otherwise."""
    from ..store import codec

    encoded = T.encode(value)
    if isinstance(encoded, str):
        return encoded
    if isinstance(encoded, bool):
        return "true" if encoded else "false"
    return codec.dumps(encoded).lstrip()


class Strategies:
    """The strategies of one domain, with its overrides applied."""

    def __init__(self, domain: Domain, *, words: tuple[str, ...] = WORDS) -> None:
        import hypothesis.strategies as st

        self.st = st
        self.domain = domain
        self.words = words
        self.overrides: dict[Any, Any] = {}
        raw = getattr(domain.module, OVERRIDES_NAME, None)
        if raw is not None:
            if not isinstance(raw, dict):
                raise DomainError(f"{OVERRIDES_NAME} must be a dict (key -> strategy), not {type(raw).__name__}")
            self.overrides.update(raw)
        for fn in domain.of_kind(STRATEGY_KIND):
            self.overrides[fn.__evsh_strategy_for__] = fn
        self._by_type: dict[Any, Any] = {}

    # ------------------------------------------------------------------ overrides
    def _resolve(self, key: Any, value: Any) -> Any:
        st = self.st
        if value is None:
            return None
        if isinstance(value, st.SearchStrategy):
            return value
        if isinstance(value, (list, tuple)):
            if not value:
                raise DomainError(f"{OVERRIDES_NAME}[{key!r}]: an empty list gives nothing to draw")
            return st.sampled_from(list(value))
        if callable(value):
            try:
                out = value(st)
            except Exception as exc:  # the user's strategy function raised
                raise DomainError(f"{OVERRIDES_NAME}[{key!r}] raised {type(exc).__name__}: {exc}") from None
            if out is None:
                return None
            return self._resolve(key, out)
        raise DomainError(
            f"{OVERRIDES_NAME}[{key!r}]: give a strategy, a function of hypothesis.strategies, or a list of values"
        )

    def _override(self, *keys: Any) -> tuple[bool, Any]:
        for key in keys:
            try:
                if key in self.overrides:
                    return True, self._resolve(key, self.overrides[key])
            except TypeError:  # an unhashable hint
                continue
        return False, None

    # ------------------------------------------------------------------ values by type hint
    def text(self):
        st = self.st
        return st.one_of(
            st.sampled_from(self.words),
            st.sampled_from(self.words),
            st.sampled_from(self.words),
            st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=8),
        )

    def for_hint(self, hint: Any) -> Any:
        """A strategy of values of ``hint`` (overrides by type first)."""
        found, strat = self._override(hint)
        if found and strat is not None:
            return strat
        try:
            cached = self._by_type.get(hint)
        except TypeError:
            cached = None
        if cached is not None:
            return cached
        strat = self._build(hint)
        try:
            self._by_type[hint] = strat
        except TypeError:
            pass
        return strat

    def _build(self, hint: Any) -> Any:
        st = self.st
        if hint is Any or hint is object:
            return st.one_of(self.text(), st.integers(-5, 50), st.booleans(), st.none())
        if hint is str:
            return self.text()
        if hint is bool:
            return st.booleans()
        if hint is int:
            # mostly small positive counts (what commands accept), sometimes anything at all
            return st.one_of(st.integers(1, 10), st.integers(1, 10), st.integers(1, 10), st.integers(-3, 100), st.integers())
        if hint is float:
            return st.floats(allow_nan=False, allow_infinity=False, width=64)
        if hint is Decimal:
            return st.one_of(
                st.decimals(min_value="0.01", max_value=100, places=2),
                st.decimals(min_value="0.01", max_value=100, places=2),
                st.decimals(min_value=-10, max_value=5000, places=2),
            )
        if hint is _dt.datetime:
            return st.datetimes(
                min_value=_dt.datetime(2000, 1, 1), max_value=_dt.datetime(2100, 1, 1), timezones=st.just(_dt.timezone.utc)
            )
        if hint is _dt.date:
            return st.dates(min_value=_dt.date(2000, 1, 1), max_value=_dt.date(2100, 1, 1))
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return st.sampled_from(list(hint))
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self._dataclass(hint)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin in (typing.Union, types.UnionType):
            parts = [st.none() if a is type(None) else self.for_hint(a) for a in args]
            return st.one_of(*parts)
        if origin is typing.Literal:
            return st.sampled_from(list(args))
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            return st.tuples(*(self.for_hint(a) for a in args))
        if origin in (list, tuple, typing.Sequence, set, frozenset):
            item = self.for_hint(args[0]) if args else self.for_hint(Any)
            seq = st.one_of(st.lists(item, min_size=1, max_size=3), st.lists(item, max_size=3))
            if origin is tuple:
                return seq.map(tuple)
            if origin is set:
                return seq.map(set)
            if origin is frozenset:
                return seq.map(frozenset)
            return seq
        if origin in (dict, typing.Mapping):
            key = self.for_hint(args[0]) if args else self.text()
            val = self.for_hint(args[1]) if len(args) > 1 else self.for_hint(Any)
            return st.dictionaries(key, val, max_size=3)
        if hint is list:
            return self.for_hint(list[Any])
        if hint is dict:
            return self.for_hint(dict[str, Any])
        raise DomainError(
            f"evsh verify cannot generate values of type {T.describe(hint)}; "
            f"give a strategy for it in {OVERRIDES_NAME} (see docs/verify.md)"
        )

    def _dataclass(self, cls: type) -> Any:
        st = self.st
        hints = T.field_hints(cls)
        required: dict[str, Any] = {}
        optional: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            found, strat = self._override(f"{cls.__name__}.{f.name}")
            strat = strat if found and strat is not None else self.for_hint(hints.get(f.name, Any))
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required[f.name] = strat
            else:
                optional[f.name] = strat
        if not optional:
            return st.fixed_dictionaries(required).map(lambda kw: cls(**kw))
        return st.fixed_dictionaries(required, optional=optional).map(lambda kw: cls(**kw))

    # ------------------------------------------------------------------ commands and sequences
    def ids(self, category: str) -> Any:
        found, strat = self._override(f"{category}.ids", "ids")
        if found and strat is not None:
            return strat
        return self.st.sampled_from(self.words)

    def _by_name(self, name: str, hint: Any) -> Any:
        """A text parameter whose name says what it holds (``email``) gets such values too."""
        if hint is str and "email" in name.lower():
            return self.st.one_of(self.st.emails(), self.text())
        return self.for_hint(hint)

    def command_params(self) -> list[tuple[str, str, list[tuple[str, Any, Any]]]]:
        """(category, command, [(parameter, hint, strategy)]) for every command not excluded."""
        out = []
        for category, agg in sorted(self.domain.aggregates.items()):
            for name, spec in agg.commands().items():
                found, strat = self._override(f"{category}.{name}")
                if found and strat is None:
                    continue  # excluded by the domain
                params = []
                for p in spec.params:
                    hit, ps = self._override(f"{category}.{name}.{p.name}", p.name)
                    params.append((p.name, p.hint, ps if hit and ps is not None else self._by_name(p.name, p.hint)))
                out.append((category, name, params))
        return out

    def commands(self) -> list[tuple[str, str, Any]]:
        """(category, command, strategy of a Step) for every command not excluded."""
        st = self.st
        out = []
        for category, name, plist in self.command_params():
            params = {pname: strat for pname, _, strat in plist}
            steps = st.tuples(self.ids(category), st.fixed_dictionaries(params)).map(
                lambda t, c=category, n=name, order=tuple(params): Step(
                    c, t[0], n, tuple((k, t[1][k]) for k in order)
                )
            )
            out.append((category, name, steps))
        return out

    def steps(self) -> Any:
        commands = self.commands()
        if not commands:
            raise DomainError(f"domain {self.domain.name} declares no commands to generate")
        return self.st.one_of(*(s for _, _, s in commands))

    def sequences(self, max_steps: int = 12) -> Any:
        return self.st.lists(self.steps(), min_size=1, max_size=max_steps)
