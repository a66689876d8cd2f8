"""Declaring reactors in a domain module: what they subscribe to and what they do.

A reactor turns events into commands (a process manager, a saga) or into side effects (rows in
tables it declares, such as ``sent_emails``). It is a plain function of the event and a context::

    @reactor("order_workflow", on=["order.created", "payment.*", "inventory.*"])
    def order_workflow(event, ctx):
        if event.type == "OrderCreated":
            ctx.send("payment", event.order_id, "process", order_id=event.order_id, amount=event.total_amount)

``on`` takes event types (``OrderCreated`` or the class), categories (``order``) and topic
patterns over routing keys (``order.*``, ``#``), in any mix; an event matching any of them is
delivered. ``ctx.send(aggregate, id, command, **params)`` runs a command and returns its
outcome (a rejection is an outcome, not an exception); ``ctx.load(aggregate, id)`` gives an
aggregate's current state; ``ctx.table(name)`` a declared table. A handler that raises is
retried ``attempts`` times with exponential ``backoff`` (seconds), then the event is parked in
the dead-letter table (``on_failure="park"``) or the reactor stops there (``"stop"``).

Pure declarations: this module imports nothing of the engine, the store or any front end.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import DomainError
from .naming import event_spec

FAILURE_POLICIES = ("park", "stop")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CATEGORY = re.compile(r"^[a-z0-9_]+$")
_TYPE = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_WORD = re.compile(r"^[A-Za-z0-9_$]+$")


@dataclass(frozen=True)
class ReactorSpec:
    """One declared reactor. Called like its function, so it stays testable as plain Python."""

    name: str
    fn: Callable[[Any, Any], Any]
    types: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    tables: tuple[Any, ...] = ()  # TableSpec objects (evsh.table(...)) the handler writes
    attempts: int = 3
    backoff: float = 0.05
    on_failure: str = "park"
    description: str = ""
    __evsh_kind__: str = field(default="reactor", init=False, repr=False)

    def __call__(self, event: Any, ctx: Any) -> Any:
        return self.fn(event, ctx)

    @property
    def subscriptions(self) -> list[str]:
        """What it listens to, as a user wrote it (types, categories, patterns)."""
        return [*self.types, *self.categories, *self.topics]


def _type_name(item: Any) -> str | None:
    spec = event_spec(item)
    return spec.name if spec is not None else None


def classify(items: Iterable[Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Split ``on=`` items into (event types, categories, topic patterns)."""
    types: list[str] = []
    cats: list[str] = []
    topics: list[str] = []
    for item in items:
        name = _type_name(item)
        if name is not None:
            types.append(name)
            continue
        if not isinstance(item, str) or not item:
            raise DomainError(f"reactor subscription {item!r}: give an event type, a category or a topic pattern")
        if "." in item or "*" in item or "#" in item:
            topics.append(item)
        elif _TYPE.match(item):
            types.append(item)
        elif _CATEGORY.match(item):
            cats.append(item)
        else:
            raise DomainError(
                f"reactor subscription {item!r}: an event type is CamelCase (OrderCreated), a category is"
                " lower case (order), a topic pattern has dots (order.*, #)"
            )
    return tuple(dict.fromkeys(types)), tuple(dict.fromkeys(cats)), tuple(dict.fromkeys(topics))


def reactor(
    name: str | None = None,
    *,
    on: Iterable[Any] | Any = (),
    tables: Iterable[Any] = (),
    attempts: int = 3,
    backoff: float = 0.05,
    on_failure: str = "park",
) -> Callable[[Callable[[Any, Any], Any]], ReactorSpec]:
    """Declare a reactor: ``@reactor("welcome_email", on=["UserRegistered"], tables=[sent_emails])``."""
    if isinstance(on, (str, type)):
        on = [on]

    def wrap(fn: Callable[[Any, Any], Any]) -> ReactorSpec:
        rname = name or fn.__name__
        if not _NAME.match(rname):
            raise DomainError(f"reactor name {rname!r}: use letters, digits and _")
        types, cats, topics = classify(on)
        if not (types or cats or topics):
            raise DomainError(f"reactor {rname}: say what it listens to, e.g. on=['OrderCreated'] or on=['#']")
        for t in topics:
            for word in t.split("."):
                if word not in ("*", "#") and not _WORD.match(word):
                    raise DomainError(f"reactor {rname}: topic pattern {t!r} has a bad word {word!r}")
        if not isinstance(attempts, int) or attempts < 1:
            raise DomainError(f"reactor {rname}: attempts must be 1 or more")
        if backoff < 0:
            raise DomainError(f"reactor {rname}: backoff must not be negative")
        if on_failure not in FAILURE_POLICIES:
            raise DomainError(f"reactor {rname}: on_failure must be one of {', '.join(FAILURE_POLICIES)}")
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) < 2:
            raise DomainError(f"reactor {rname}: the handler takes (event, ctx)")
        return ReactorSpec(
            rname, fn, types, cats, topics, tuple(tables), attempts, float(backoff), on_failure,
            (inspect.getdoc(fn) or "").split("\n")[0],
        )

    return wrap
