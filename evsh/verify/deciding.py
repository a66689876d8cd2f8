"""Deciding depends on the events alone: a command decided against an aggregate loaded in a
fresh process (class and module state as at import) gives what it gave live.

Shared by the verify property, its replay worker and the `expect decision` directive of
reproducer scripts; imports nothing heavy. State kept in class attributes or module globals
(a counter of opened accounts read in a command) makes the live decision differ.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from decimal import Decimal
from typing import Any

from ..domain.registry import Domain

PLAIN = (int, float, str, bytes, bool, type(None), Decimal, list, dict, set, tuple, frozenset)
# values a command may make fresh on purpose (it may read the clock or make an id): not compared
VOLATILE = [
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"), "<uuid>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<time>"),
]


def domain_modules(domain: Domain) -> list[Any]:
    """The modules the domain's code lives in (the domain module and where its classes and
    handlers come from; evsh's own modules left out, its samples kept)."""
    names = {domain.module.__name__}
    for cls in domain.aggregates.values():
        names.add(cls.__module__)
    for kind in ("reactor", "upcaster"):
        for item in domain.of_kind(kind):
            fn = getattr(item, "fn", item)
            names.add(getattr(fn, "__module__", "") or "")
    out = []
    for n in sorted(names):
        mod = sys.modules.get(n)
        if mod is not None and (not n.startswith("evsh.") or n.startswith("evsh.samples")):
            out.append(mod)
    return out


def snapshot(domain: Domain) -> list[tuple[Any, str, Any]]:
    """Plain data in the domain's module globals and aggregate class attributes, as now."""
    from ..domain.model import Aggregate

    owners: list[Any] = [*domain_modules(domain), *domain.aggregates.values()]
    evsh_own = set(dir(Aggregate)) | {"_commands", "_applier_refs", "_appliers_cache", "_defaults"}
    out = []
    for owner in owners:
        for name, value in list(vars(owner).items()):
            if name.startswith("__") or not isinstance(value, PLAIN) or (isinstance(owner, type) and name in evsh_own):
                continue
            try:
                out.append((owner, name, copy.deepcopy(value)))
            except Exception:  # noqa: BLE001 - not copyable: left alone
                continue
    return out


def restore(saved: list[tuple[Any, str, Any]]) -> None:
    """Put the snapshot's values back: the state a fresh process starts with."""
    for owner, name, value in saved:
        try:
            setattr(owner, name, copy.deepcopy(value))
        except (AttributeError, TypeError):
            continue


def export(saved: list[tuple[Any, str, Any]]) -> str:
    """The snapshot as text another process can adopt (owners by name, values pickled)."""
    import base64
    import pickle

    rows = []
    for owner, name, value in saved:
        key = ("class", owner.category) if isinstance(owner, type) else ("module", owner.__name__)
        try:
            rows.append((key, name, pickle.dumps(value)))
        except Exception:  # noqa: BLE001 - a value that does not pickle: not carried over
            continue
    return base64.b64encode(pickle.dumps(rows)).decode("ascii")


def adopt(domain: Domain, text: str) -> list[tuple[Any, str, Any]]:
    """A snapshot exported by a fresh process (state as at import), on this process's objects:
    restoring it makes this process start an example as a new one would."""
    import base64
    import pickle

    out = []
    for (kind, owner_name), name, blob in pickle.loads(base64.b64decode(text)):
        owner = domain.aggregates.get(owner_name) if kind == "class" else sys.modules.get(owner_name)
        if owner is not None:
            out.append((owner, name, pickle.loads(blob)))
    return out


def masked(decision: Any) -> str:
    text = json.dumps(decision, sort_keys=True, default=str)
    for pattern, word in VOLATILE:
        text = pattern.sub(word, text)
    return text


def same_decision(here: dict[str, Any], there: dict[str, Any], again: dict[str, Any] | None = None) -> bool:
    """Are the two decisions the same? Values that look like a UUID or a time are not compared,
    nor fields where ``again`` (a second decision in a fresh process) differs from ``there``:
    a command may draw a random number (that goes into its event, as it should); a value that
    a fresh process decides the same way twice, but this process another way, is state kept
    outside the events."""
    if masked(here) == masked(there):
        return True
    if again is None or "events" not in there or "events" not in again or "events" not in here:
        return False
    if [t for t, _ in there["events"]] != [t for t, _ in again["events"]]:
        return True  # a fresh process does not decide the same twice: nothing to judge by
    if [t for t, _ in here["events"]] != [t for t, _ in there["events"]]:
        return False

    def without(decision: dict[str, Any]) -> list:
        out = []
        for (t, data), (_, a), (_, b) in zip(decision["events"], there["events"], again["events"]):
            out.append([t, {k: v for k, v in data.items() if a.get(k) == b.get(k)}])
        return out

    return masked(without(here)) == masked(without(there))


def decide_dry(engine: Any, domain: Domain, aggregate: str, id: str, command: str, params: dict[str, str],
               upto: int | None = None) -> dict[str, Any]:
    """The command decided against the stream's events (those at or before position ``upto``),
    nothing written: ``{"events": [[type, data], ...]}`` or ``{"rejected": reason}``."""
    from ..errors import CommandRejected
    from ..store import codec

    cls = domain.aggregate(aggregate)
    spec = cls.find_command(command)
    agg = cls(id)
    records = (r for r in engine.read_stream(cls.stream_id(id)) if upto is None or r.position <= upto)
    engine.apply_records(agg, records)
    try:
        emitted = engine.decide(agg, spec, spec.bind(dict(params)))
    except CommandRejected as exc:
        return {"rejected": exc.reason}
    return {"events": [[es.name, json.loads(codec.dumps(data))] for es, data in emitted]}


def step_params(argv: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a step's command line (after ``exec AGG ID COMMAND``)."""
    return {argv[i][2:]: argv[i + 1] for i in range(0, len(argv) - 1, 2)}
