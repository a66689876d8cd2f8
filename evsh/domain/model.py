"""What a domain module is written with: events, aggregates, commands, appliers.

A small, explicit vocabulary in plain Python. Events are frozen dataclasses registered by
``@event``; aggregates subclass :class:`Aggregate`, mark command methods with ``@command`` and
appliers with ``@applies``. Commands yield (or return) events; appliers evolve state from events
only, deterministically and without I/O.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import re
import typing
import warnings
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable

from ..errors import BadInput, CommandRejected, DomainCodeError, DomainError
from . import types as T
from . import naming
from .naming import kebab, snake_case

Rejected = CommandRejected  # what domain code raises: `raise Rejected("no empty orders")`


class EventNameWarning(UserWarning):
    """An event class is named like a command (events are facts, named in the past tense)."""


_IMPERATIVE = re.compile(
    r"^(Create|Add|Update|Delete|Remove|Cancel|Confirm|Process|Reserve|Release|Register|Send|Make|Set|"
    r"Place|Ship|Do|Refund|Change|Submit|Approve|Reject|Start|Stop|Open|Close|Pay|Book|Assign|Move|Rename)"
    r"[A-Z0-9]"
)
# Past forms that do not end in -ed (an event named with one as its last word is a fact: BookLent)
_IRREGULAR_PAST = frozenset("""
    ate became began begun bent bound bought brought broke broken built burnt came caught
    chose chosen cut dealt did done drew drawn drove driven dug eaten fed fell fallen felt
    fled flew flown fought found forbade forbidden forgave forgiven forgot forgotten froze frozen
    gave given got gotten gone grew grown heard held hid hidden hit hung hurt kept knew known laid
    led left lent let lit lost made meant met overridden overrode paid put quit ran read redone
    rewritten rode ridden rose risen rung said sat saw seen sent set shaken shook shot shown
    shrank shrunk shut slept sold sought spent split spoke spoken spun stole stolen stood struck
    stuck swept swore sworn taken taught thought threw thrown told took tore torn undid undone
    understood upheld went withdrawn withdrew woke woken won wore worn wrote written
""".split())
_NOT_PAST = frozenset({"bed", "breed", "embed", "feed", "need", "red", "seed", "shred", "speed"})


def named_like_a_command(type_name: str) -> bool:
    """Whether an event type is named like a command (``PayOrder``, ``CloseAccount``): it starts
    with an imperative verb, and its last word is not in the past tense (``BookAdded``,
    ``BookLent`` and ``PaymentSent`` are facts)."""
    if not _IMPERATIVE.match(type_name):
        return False
    last = snake_case(type_name).rsplit("_", 1)[-1]
    past = (last.endswith("ed") and last not in _NOT_PAST) or last in _IRREGULAR_PAST
    return not past


@dataclass(frozen=True)
class EventSpec:
    """How one event type is written and read."""

    name: str
    cls: type
    schema_version: int
    fields: tuple[str, ...]
    personal: tuple[str, ...] = ()
    subject: str | None = None

    def decode(self, data: dict[str, Any]) -> Any:
        """The payload as an event instance, validated; BadInput names the type and field."""
        return _event_decoder(self)(data, self.name)

    def encode(self, instance: Any) -> dict[str, Any]:
        """The event's fields as JSON values. Text, whole numbers and None, most fields of most
        events, are kept as they are without a call to :func:`types.encode` (the same result)."""
        out = {}
        for name in self.fields:
            v = getattr(instance, name)
            t = type(v)
            out[name] = v if t is str or t is int or v is None else T.encode(v)
        return out


def _event_decoder(spec: EventSpec) -> T.Decoder:
    dec = spec.cls.__dict__.get("_evsh_decoder")
    if dec is None:
        dec = T.decoder(spec.cls)
        setattr(spec.cls, "_evsh_decoder", dec)
    return dec


def event(
    cls: type | None = None,
    *,
    name: str | None = None,
    version: int = 1,
    personal: Iterable[str] = (),
    subject: str | None = None,
) -> Any:
    """Declare an event type: a frozen dataclass, validated when written and when read.

    ``name`` overrides the stored type name; ``version`` is the payload's schema version (see
    upcasters); ``personal`` lists fields that identify a person, encrypted per ``subject``.
    """

    def wrap(c: type) -> type:
        if not dataclasses.is_dataclass(c):
            c = dataclass(frozen=True)(c)
        type_name = name or c.__name__
        if named_like_a_command(type_name):
            warnings.warn(
                f"event {type_name} is named like a command; events are facts, named in the past tense",
                EventNameWarning,
                stacklevel=3,
            )
        field_names = tuple(f.name for f in dataclasses.fields(c))
        for pf in personal:
            if pf not in field_names:
                raise DomainError(f"event {type_name}: personal field {pf!r} is not a field")
        setattr(c, naming.EVENT_ATTR, EventSpec(type_name, c, version, field_names, tuple(personal), subject))
        return c

    return wrap(cls) if cls is not None else wrap


def event_spec(obj: Any) -> EventSpec | None:
    return naming.event_spec(obj)


# ----------------------------------------------------------------------------- commands

@dataclass(frozen=True)
class Param:
    name: str
    hint: Any
    required: bool
    default: Any = None

    @property
    def option(self) -> str:
        return "--" + kebab(self.name)

    def convert(self, value: Any) -> Any:
        if isinstance(value, str) and self.hint is not str:
            return T.from_text(value, self.hint, self.name)
        return T.decoder(self.hint)(value, self.name)


@dataclass
class CommandSpec:
    name: str
    fn: Callable[..., Any]
    doc: str = ""
    _params: list[Param] | None = None
    _known: frozenset[str] | None = None

    @property
    def cli_name(self) -> str:
        return kebab(self.name)

    def wrong_result(self, agg: Any, what: str) -> DomainCodeError:
        """The error of this command giving something other than events (``what``): names the
        command and its file and line, and says what a command gives."""
        code = getattr(self.fn, "__code__", None)
        return DomainCodeError(f"command {type(agg).category}.{self.name} {what}; a command yields its events,"
                               " or returns one event, a list of events or nothing",
                               f"{code.co_filename}:{code.co_firstlineno}" if code is not None else "")

    @property
    def params(self) -> list[Param]:
        """Parameters from the method's signature and type hints (resolved on first use)."""
        if self._params is None:
            try:
                hints = typing.get_type_hints(self.fn)
            except NameError as exc:
                raise DomainError(f"command {self.name}: cannot resolve a type hint ({exc})") from None
            out = []
            for p in list(inspect.signature(self.fn).parameters.values())[1:]:
                if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                hint = hints.get(p.name, str)
                required = p.default is inspect.Parameter.empty
                out.append(Param(p.name, hint, required, None if required else p.default))
            self._params = out
        return self._params

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """Convert and check parameter values (names in snake or kebab case)."""
        params = self.params
        known = self._known
        if known is None:
            known = self._known = frozenset(p.name for p in params)
        given = values if values.keys() <= known else {_param_key(k, known): v for k, v in values.items()}
        for k in given:
            if k not in known:
                raise BadInput(
                    f"command {self.cli_name}: unknown parameter --{kebab(k)}"
                    + (f" (it takes {', '.join(p.option for p in self.params)})" if self.params else " (it takes none)")
                )
        out = {}
        for p in params:
            if p.name in given:
                out[p.name] = p.convert(given[p.name])
            elif p.required:
                raise BadInput(f"command {self.cli_name}: missing parameter {p.option} ({T.describe(p.hint)})")
        return out


def _param_key(given: str, known: frozenset[str]) -> str:
    """A parameter as given (``late-days``, ``from``) -> its name in the signature (``late_days``,
    ``from_``: the option drops the trailing underscore, see naming.kebab)."""
    snake = given.replace("-", "_")
    return snake + "_" if snake not in known and snake + "_" in known else snake


def command(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Mark an aggregate method as a command. It yields or returns the events it decides on.

    Its name is the method's without a trailing underscore (``def return_`` is ``return``)."""

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__evsh_command__ = name or naming.python_name(f.__name__)
        return f

    return wrap(fn) if fn is not None else wrap


def applies(target: Any = None) -> Any:
    """Mark a method as the applier of an event type: ``@applies(OrderCreated)``, or bare
    ``@applies`` with the event type taken from the parameter's annotation."""

    def wrap(f: Callable[..., Any], ev: Any) -> Callable[..., Any]:
        f.__evsh_applies__ = ev
        return f

    if callable(target) and not isinstance(target, type):
        return wrap(target, None)
    return lambda f: wrap(f, target)


# ----------------------------------------------------------------------------- aggregates

_EMPTY_COPIES = (list, dict, set)  # what deepcopy of an empty one of these makes: a new empty one


class Aggregate:
    """Base of every aggregate: state fields are class annotations with defaults.

    ``category`` (default: the class name in snake_case) names its streams ``category-id``.
    """

    category: ClassVar[str] = ""
    snapshot_every: ClassVar[int | None] = None
    state_version: ClassVar[int] = 1

    _commands: ClassVar[dict[str, CommandSpec]]
    _applier_refs: ClassVar[list[tuple[Callable[..., Any], Any]]]
    _appliers_cache: ClassVar[dict[str, tuple[Callable[..., Any], EventSpec]] | None]
    _defaults: ClassVar[list[tuple[str, Any]]]

    id: str
    version: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("category"):
            cls.category = snake_case(cls.__name__)
        if "-" in cls.category or not cls.category:
            raise DomainError(f"aggregate {cls.__name__}: category {cls.category!r} must be non-empty, without '-'")
        commands: dict[str, CommandSpec] = {}
        refs: list[tuple[Callable[..., Any], Any]] = []
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                cname = getattr(value, "__evsh_command__", None)
                if cname:
                    commands[cname] = CommandSpec(cname, value, inspect.getdoc(value) or "")
                if hasattr(value, "__evsh_applies__"):
                    refs.append((value, value.__evsh_applies__))
        cls._commands = commands
        cls._applier_refs = refs
        cls._appliers_cache = None
        defaults = []
        for klass in reversed(cls.__mro__):
            for attr, ann in vars(klass).get("__annotations__", {}).items():
                if attr.startswith("_") or attr in ("id", "version", "category", "snapshot_every", "state_version"):
                    continue
                if "ClassVar" in str(ann):
                    continue
                defaults.append((attr, getattr(klass, attr, None)))
        seen: dict[str, Any] = {}
        for attr, default in defaults:
            seen[attr] = default
        cls._defaults = list(seen.items())

    def __init__(self, id: str) -> None:
        self.id = id
        self.version = 0
        for attr, default in self._defaults:
            if isinstance(default, (list, dict, set)):  # each aggregate its own (an empty one: a new one)
                default = type(default)() if not default and type(default) in _EMPTY_COPIES else copy.deepcopy(default)
            setattr(self, attr, default)

    @classmethod
    def appliers(cls) -> dict[str, tuple[Callable[..., Any], EventSpec]]:
        """Event type name -> (applier, spec); resolved on first use so hints may be forward refs."""
        if cls._appliers_cache is None:
            table: dict[str, tuple[Callable[..., Any], EventSpec]] = {}
            for fn, target in cls._applier_refs:
                if target is None:
                    hints = typing.get_type_hints(fn)
                    params = [p for p in list(inspect.signature(fn).parameters)[1:]]
                    target = hints.get(params[0]) if params else None
                spec = event_spec(target)
                if spec is None:
                    raise DomainError(f"{cls.__name__}.{fn.__name__}: @applies needs an @event class")
                table[spec.name] = (fn, spec)
            cls._appliers_cache = table
        return cls._appliers_cache

    @classmethod
    def replayers(cls) -> dict[str, tuple[Callable[..., Any], Callable[[Any, str], Any], str]]:
        """Event type name -> (applier, the payload's decoder, the name): the replay loop's table,
        resolved once, so each stored event costs one lookup and two calls (spec.decode looks
        its decoder up on every event)."""
        cached = cls.__dict__.get("_replayers_cache")
        if cached is None:
            cached = {name: (fn, _event_decoder(spec), name) for name, (fn, spec) in cls.appliers().items()}
            cls._replayers_cache = cached
        return cached

    @classmethod
    def commands(cls) -> dict[str, CommandSpec]:
        return cls._commands

    @classmethod
    def find_command(cls, name: str) -> CommandSpec:
        """A command by name (kebab or snake case); BadInput lists the known ones."""
        key = name.replace("-", "_")
        spec = cls._commands.get(key) or cls._commands.get(naming.python_name(key))  # `return-` too
        if spec is None:
            from ..wording import did_you_mean

            names = [c.cli_name for c in cls._commands.values()]
            raise BadInput(f"aggregate {cls.category} has no command {name!r}{did_you_mean(name, names)}"
                           f" (commands: {', '.join(names) or 'none'})")
        return spec

    @classmethod
    def stream_id(cls, id: str) -> str:
        return f"{cls.category}-{id}"

    def state(self) -> dict[str, Any]:
        """The aggregate's fields as a JSON object (plus id and version)."""
        out: dict[str, Any] = {"id": self.id, "version": self.version}
        for attr, _ in self._defaults:
            out[attr] = T.encode(getattr(self, attr))
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} v{self.version}>"
