"""Upcasting on the one read path: old events come out in the current schema, stored ones never change.

The chain of steps a domain declares (see :mod:`evsh.domain.upcast`) is checked once when the
engine is built (no two steps from the same place, no loops) and applied to every event read
through the engine, so reads, replays, projections, reactors, ``export --upcast`` and the TUI
all see the same events. An upcast event keeps its stored type and version in
``metadata.upcast_from``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..domain.registry import Domain, user_code_error
from ..domain.upcast import KIND, MODULE_LIST, UpcastStep
from ..errors import USER_CODE_FAILURES, BadInput, DomainError, EvshError
from ..store.base import RecordedEvent
from .engine import Engine


def declared_steps(domain: Domain) -> list[UpcastStep]:
    steps: dict[int, UpcastStep] = {}
    for step in domain.module.__dict__.get(MODULE_LIST, []):
        steps[id(step)] = step
    for fn in domain.of_kind(KIND):
        step = getattr(fn, "__evsh_upcast__", None)
        if step is not None:
            steps[id(step)] = step
    return list(steps.values())


@dataclass
class Upcaster:
    """The domain's upcasting steps, indexed by where they start."""

    steps: dict[tuple[str, int], UpcastStep] = field(default_factory=dict)
    # The stored types some step starts at: every other event (nearly all of a long stream) is
    # passed on after one set lookup.
    starts: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.starts = frozenset(type_ for type_, _ in self.steps)

    @classmethod
    def of(cls, domain: Domain) -> "Upcaster":
        table: dict[tuple[str, int], UpcastStep] = {}
        for step in declared_steps(domain):
            key = (step.type, step.version)
            if key in table and table[key].fn is not step.fn:
                raise DomainError(f"two upcasters start at {step.type} v{step.version}: "
                                  f"{table[key].fn.__name__} and {step.fn.__name__}")
            table[key] = step
        up = cls(table)
        for key in table:
            up.chain(*key)  # raises on a loop
        return up

    def chain(self, type_: str, version: int) -> list[UpcastStep]:
        """The steps an event of this type and version goes through."""
        out: list[UpcastStep] = []
        seen = {(type_, version)}
        step = self.steps.get((type_, version))
        while step is not None:
            out.append(step)
            nxt = (step.to_type, step.to_version)
            if nxt in seen:
                raise DomainError(f"upcasters loop: {type_} v{version} comes back to {nxt[0]} v{nxt[1]}")
            seen.add(nxt)
            step = self.steps.get(nxt)
        return out

    def aliases(self) -> dict[str, set[str]]:
        """Current type name -> older stored names that upcast to it (so type filters find old events)."""
        out: dict[str, set[str]] = {}
        for (type_, version) in self.steps:
            chain = self.chain(type_, version)
            final = chain[-1].to_type
            if final != type_:
                out.setdefault(final, set()).add(type_)
        return out

    def __call__(self, rec: RecordedEvent) -> RecordedEvent:
        if rec.type not in self.starts:
            return rec
        meta = rec.metadata
        version = meta.get("schema_version", 1)
        step = self.steps.get((rec.type, version))
        if step is None:
            return rec
        type_, data = rec.type, rec.data
        while step is not None:
            try:
                data = step.apply(dict(data), meta)  # a copy: readers may hold the stored record (TUI caches)
            except EvshError:
                raise
            except USER_CODE_FAILURES as exc:  # sys.exit() or a KeyboardInterrupt of its own too
                raise user_code_error(
                    exc, f"upcasting {type_} v{version} (event {rec.stream_id}@{rec.version}) with {step.fn.__name__}"
                ) from None
            type_, version = step.to_type, step.to_version
            step = self.steps.get((type_, version))
        new_meta = {**meta, "schema_version": version,
                    "upcast_from": {"type": rec.type, "schema_version": meta.get("schema_version", 1)}}
        return rec._replace(type=type_, data=data, metadata=new_meta)


def install(engine: Engine, options: dict[str, Any]) -> None:
    """Add the upcasting transform when the domain declares upcasters (nothing otherwise)."""
    if engine.domain is None or options.get("upcast") is False:
        return
    up = Upcaster.of(engine.domain)
    if not up.steps:
        return
    engine.transforms.append(up.__call__)  # called for every event read: a bound method costs less
    for current, old in up.aliases().items():
        engine.type_aliases.setdefault(current, set()).update(old)


# ----------------------------------------------------------------------------- checking and exporting

@dataclass
class CheckRow:
    type: str
    schema_version: int
    count: int = 0
    upcast: int = 0
    failed: int = 0
    unknown: int = 0
    first_error: str = ""
    first_position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "schema_version": self.schema_version, "count": self.count,
                "upcast": self.upcast, "failed": self.failed, "unknown_type": self.unknown,
                "first_error": self.first_error, "first_position": self.first_position}


def check_event(engine: Engine, rec: RecordedEvent) -> tuple[str, str]:
    """("ok"|"upcast"|"unknown"|"failed", error) for one stored event run through the read path and the codec."""
    domain = engine.require_domain()
    try:
        seen = engine.view(rec)
    except EvshError as exc:
        return "failed", str(exc)
    if seen is None:
        return "ok", ""
    spec = domain.event_type(seen.type)
    if spec is None:
        return "unknown", ""
    version = seen.metadata.get("schema_version", 1)
    if version != spec.schema_version:
        how = "no upcaster from" if version < spec.schema_version else "newer than the code's"
        return "failed", f"{how} {seen.type} v{version} (the code reads v{spec.schema_version})"
    try:
        spec.decode(seen.data)
    except BadInput as exc:
        return "failed", str(exc)
    return ("upcast" if seen is not rec and "upcast_from" in seen.metadata else "ok"), ""


def check_store(engine: Engine, records: Iterable[RecordedEvent], on_event: Any = None) -> list[CheckRow]:
    """Every stored event through upcasters and the codec, grouped by stored type and version. Writes nothing."""
    rows: dict[tuple[str, int], CheckRow] = {}
    for rec in records:
        if rec.stream_id.startswith("$"):
            continue
        key = (rec.type, rec.metadata.get("schema_version", 1))
        row = rows.get(key)
        if row is None:
            row = rows[key] = CheckRow(*key)
        row.count += 1
        status, error = check_event(engine, rec)
        if status == "upcast":
            row.upcast += 1
        elif status == "unknown":
            row.unknown += 1
        elif status == "failed":
            row.failed += 1
            if not row.first_error:
                row.first_error, row.first_position = error, rec.position
        if on_event:
            on_event(rec)
    return sorted(rows.values(), key=lambda r: (r.type, r.schema_version))


def export_view(engine: Engine, records: Iterable[RecordedEvent]) -> Iterator[RecordedEvent]:
    """Stored events in the current schema, for ``export --upcast``; personal fields stay encrypted."""
    from .shredding import reseal

    for rec in records:
        seen = engine.view(rec)
        if seen is not None:
            yield reseal(engine, seen)
