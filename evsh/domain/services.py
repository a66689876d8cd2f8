"""One domain, run in one store or as services: which service owns which aggregates.

A domain module declares its services next to its aggregates, reactors and projections::

    ORDERS = service("orders", aggregates=["order", "user"],
                     reactors=["order_completion", "welcome_email"], projections=["order_details"])
    PAYMENTS = service("payments", aggregates=["payment"], reactors=["payment_on_order"])

Without ``--service`` nothing changes: every aggregate, reactor and projection runs in one
store. With ``evsh --service payments ...`` the engine sees only that service's reactors and
projections, and refuses commands on aggregates other services own. Its reactors subscribe
exactly as before (``on=["order.created"]``): remote events reach them because the service's
consumer records them in its store (:mod:`evsh.broker.inbox`). Which categories a service
consumes is derived from what its reactors and projections listen to, plus ``consumes`` for
categories they only read (``ctx.load("order", id)``); :func:`bindings` gives the broker
bindings (``order.#``): whole categories, so each replicated stream arrives gap-free.

Pure declarations: this module imports nothing of the engine, the store or any front end.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import BadInput, DomainError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Service:
    """One service of a domain: the aggregates it owns, the reactors and projections it runs,
    and the categories it reads without listening to them."""

    name: str
    aggregates: tuple[str, ...]
    reactors: tuple[str, ...] = ()
    projections: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()
    __evsh_kind__: str = field(default="service", init=False, repr=False)


def service(name: str, *, aggregates: Iterable[str], reactors: Iterable[str] = (),
            projections: Iterable[str] = (), consumes: Iterable[str] = ()) -> Service:
    """Declare a service of the domain (see the module's docstring)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DomainError(f"service name {name!r}: use lower-case letters, digits and _")
    aggs = tuple(aggregates)
    if not aggs:
        raise DomainError(f"service {name}: it must own at least one aggregate")
    return Service(name, aggs, tuple(reactors), tuple(projections), tuple(consumes))


def services(domain: Any) -> dict[str, Service]:
    """The services a domain declares, by name; checked against what it declares."""
    out: dict[str, Service] = {}
    owner: dict[str, str] = {}
    reactors = {r.name for r in domain.of_kind("reactor")}
    for s in domain.of_kind("service"):
        if not isinstance(s, Service):
            continue
        if s.name in out and out[s.name] is not s:
            raise DomainError(f"two services are named {s.name}")
        for a in s.aggregates:
            cat = domain.aggregate(a).category
            if owner.setdefault(cat, s.name) != s.name:
                raise DomainError(f"aggregate {cat} is owned by services {owner[cat]} and {s.name}; it has one owner")
        for r in s.reactors:
            if r not in reactors:
                raise DomainError(f"service {s.name}: no reactor {r!r} in the domain")
        for p in s.projections:
            if p not in domain.projections:
                raise DomainError(f"service {s.name}: no projection {p!r} in the domain")
        out[s.name] = s
    return out


def owned(domain: Any, svc: Service) -> frozenset[str]:
    return frozenset(domain.aggregate(a).category for a in svc.aggregates)


def _type_categories(domain: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for cat, agg in domain.aggregates.items():
        for type_name in agg.appliers():
            out.setdefault(type_name, cat)
    return out


def consumed(domain: Any, svc: Service) -> list[str]:
    """Categories the service receives from others: what its reactors and projections listen
    to, and what it names in ``consumes``, less what it owns."""
    by_type = _type_categories(domain)
    every = set(domain.aggregates)
    cats: set[str] = set(svc.consumes)
    for r in domain.of_kind("reactor"):
        if r.name not in svc.reactors:
            continue
        cats.update(by_type[t] for t in r.types if t in by_type)
        cats.update(r.categories)
        for topic in r.topics:
            head = topic.split(".", 1)[0]
            cats.update(every if head in ("*", "#") else {head})
    for name in svc.projections:
        cats.update(by_type[t] for t in domain.projections[name].types if t in by_type)
    return sorted(cats - owned(domain, svc))


def bindings(domain: Any, svc: Service) -> list[str]:
    """The broker bindings of the service's queue: ``category.#`` for each consumed category."""
    return [f"{cat}.#" for cat in consumed(domain, svc)]


def restrict(domain: Any, name: str) -> Any:
    """The domain as service ``name`` sees it: its reactors and projections only, and commands
    on the aggregates it owns only (other aggregates are replicas, loadable but read-only)."""
    known = services(domain)
    svc = known.get(name)
    if svc is None:
        names = ", ".join(sorted(known)) or "none: declare them with evsh.service(...)"
        raise BadInput(f"no service {name!r} in domain {domain.name} (services: {names})")
    view = copy.copy(domain)
    view.declarations = dict(domain.declarations)
    view.declarations["reactor"] = [r for r in domain.of_kind("reactor") if r.name in svc.reactors]
    view.declarations["projection"] = [p for p in domain.of_kind("projection")
                                       if getattr(p, "name", None) in svc.projections]
    view.projections = {n: p for n, p in domain.projections.items() if n in svc.projections}
    view.service = svc
    mine = owned(domain, svc)
    owners = {cat: s.name for s in known.values() for cat in owned(domain, s)}

    def owns(category: str) -> None:
        """Raise BadInput for a command on an aggregate this service does not own."""
        if category not in mine:
            other = owners.get(category)
            whose = f"service {other}" if other else "no service"
            raise BadInput(f"aggregate {category} belongs to {whose}, not to {name}: its events reach"
                           f" {name} through `evsh consume`; send the command to {other or 'its owner'}")

    view.check_owner = owns
    return view
