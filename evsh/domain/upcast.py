"""Declaring upcasters: how a stored event of an old schema becomes the current one, on read.

Stored events are never rewritten. Each upcaster takes one step, from ``(type, version)`` to
``(to_type or type, version + 1)``; steps chain (v1 -> v2 -> v3), so each schema change is
written once and old events of any age come out current::

    @upcaster("CustomerSignedUp", 1, to_type="UserRegistered")   # an event type renamed
    def signed_up_v1(data):
        return {"user_id": data["id"], "email": data["mail"], "username": data["name"]}

    @upcaster("OrderCreated", 2)                                   # a field added, with a default
    def order_created_v2(data):
        return {**data, "currency": "EUR"}

The function receives the payload (a dict it may change) and, if it takes two parameters, the
metadata too; it returns the payload of the next version. Bump ``@event(version=N)`` of the
class to the last version of the chain.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import DomainError

KIND = "upcaster"
# Each step is also listed in its module's ``__evsh_upcasters__``: upcasters all named `_` still
# count (a module's globals keep only the last function of a name).
MODULE_LIST = "__evsh_upcasters__"


@dataclass(frozen=True)
class UpcastStep:
    type: str
    version: int
    to_type: str
    to_version: int
    fn: Callable[..., dict[str, Any]]
    with_metadata: bool

    @property
    def where(self) -> str:
        try:
            code = self.fn.__code__
            return f"{code.co_filename}:{code.co_firstlineno}"
        except AttributeError:
            return ""

    def apply(self, data: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
        out = self.fn(data, metadata) if self.with_metadata else self.fn(data)
        if not isinstance(out, dict):
            raise TypeError(f"upcaster {self.fn.__name__} returned {type(out).__name__}, not a dict payload")
        return out


def upcaster(event_type: str, from_version: int, *, to_type: str | None = None,
             to_version: int | None = None) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Declare the step from ``event_type`` at schema ``from_version`` to the next version (and maybe name)."""
    if not isinstance(event_type, str) or not event_type:
        raise DomainError("upcaster: the event type must be a non-empty string")
    if type(from_version) is not int or from_version < 1:
        raise DomainError(f"upcaster for {event_type}: from_version must be an integer of 1 or more")
    target = to_version if to_version is not None else from_version + 1
    if type(target) is not int or (target <= from_version and (to_type or event_type) == event_type):
        raise DomainError(f"upcaster for {event_type} v{from_version}: to_version must be higher")

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(params) not in (1, 2):
            raise DomainError(f"upcaster {fn.__name__}: takes (data) or (data, metadata)")
        step = UpcastStep(event_type, from_version, to_type or event_type, target, fn, len(params) == 2)
        fn.__evsh_kind__ = KIND  # type: ignore[attr-defined]
        fn.__evsh_upcast__ = step  # type: ignore[attr-defined]
        module = sys.modules.get(fn.__module__)
        if module is not None:
            module.__dict__.setdefault(MODULE_LIST, []).append(step)
        return fn

    return wrap
