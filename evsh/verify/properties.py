"""The properties `evsh verify` checks on a domain, each over generated command sequences.

A property runs the sequence on a fresh store (a sandbox), then checks one promise of event
sourcing: commands only accept or reject; replaying a stream gives the same state every time,
in chunks and in a fresh process; projections rebuilt from scratch equal the live ones, and
are unchanged by an event delivered twice; reactors do nothing more on a redelivered event.
A broken promise raises PropertyFailed with a message and the .evsh lines that show it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ..domain.model import Aggregate
from ..domain.registry import Domain
from ..errors import BadInput, CommandRejected, DomainCodeError, EvshError, ProjectionFailed
from ..store import codec
from ..store.base import RecordedEvent
from .strategies import Step


class PropertyFailed(Exception):
    """A property does not hold for one example. ``tail``: the .evsh lines that check it."""

    def __init__(self, message: str, tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.tail = list(tail)


def plain(value: Any) -> Any:
    """A value as the JSON a user sees (Decimals as strings): what states are compared as."""
    return json.loads(codec.dumps(value))


def diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    lines = []
    for key in sorted(set(a) | set(b), key=str):
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            lines.append(f"{key}: {json.dumps(a.get(key, '<missing>'), default=str)} != "
                         f"{json.dumps(b.get(key, '<missing>'), default=str)}")
    return "; ".join(lines) or "(equal)"


# ----------------------------------------------------------------------------- the sandbox

@dataclass
class StepOutcome:
    step: Step
    outcome: str  # ok | rejected | error | invalid
    message: str = ""


class Sandbox:
    """A fresh store with an engine for one example; removed when closed."""

    def __init__(self, domain: Domain, folder: str, options: dict[str, Any] | None = None) -> None:
        from ..engine.wiring import build_engine
        from ..store.connect import open_store

        self.domain = domain
        self.folder = tempfile.mkdtemp(prefix="example-", dir=folder)
        self.path = os.path.join(self.folder, "verify.db")
        self.store = open_store(self.path)
        self.options = dict(options or {})
        self.engine = build_engine(self.store, domain, **self.options)
        self.outcomes: list[StepOutcome] = []

    def close(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, steps: Sequence[Step], after_each: Callable[[int], None] | None = None) -> list[StepOutcome]:
        """Run every step; a rejection, a domain error or invalid input is recorded, not raised."""
        for n, step in enumerate(steps):
            try:
                self.engine.execute(step.aggregate, step.id, step.command, step.kwargs)
                self.outcomes.append(StepOutcome(step, "ok"))
            except CommandRejected as exc:
                self.outcomes.append(StepOutcome(step, "rejected", exc.reason))
            except DomainCodeError as exc:
                self.outcomes.append(StepOutcome(step, "error", str(exc)))
            except BadInput as exc:
                self.outcomes.append(StepOutcome(step, "invalid", str(exc)))
            except EvshError as exc:
                self.outcomes.append(StepOutcome(step, "error", str(exc)))
            except Exception as exc:  # evsh itself broke: reported, never hidden
                self.outcomes.append(StepOutcome(step, "error", f"internal error: {type(exc).__name__}: {exc}"))
            if after_each is not None:
                after_each(n)
        return self.outcomes

    def instances(self) -> list[tuple[type[Aggregate], str]]:
        """Every aggregate instance that has a stream, in stream-id order."""
        out = []
        for cat, cls in sorted(self.domain.aggregates.items()):
            for info in self.store.streams(cat):
                out.append((cls, info.stream_id.split("-", 1)[1]))
        return out

    def replay(self, cls: type[Aggregate], id: str, chunks: Sequence[int] = ()) -> dict[str, Any]:
        """State from a full replay of the stream; with ``chunks``, applied in pieces of those sizes."""
        agg = cls(id)
        records = list(self.engine.read_stream(cls.stream_id(id)))
        if not chunks:
            self.engine.apply_records(agg, iter(records))
        else:
            i = 0
            sizes = list(chunks)
            while i < len(records):
                size = max(1, sizes.pop(0) if sizes else len(records))
                self.engine.apply_records(agg, iter(records[i:i + size]))
                i += size
        return plain(agg.state())

    def tables(self, specs: Sequence[Any]) -> dict[str, list[list[Any]]]:
        """Rows of these declared tables, sorted, as JSON values: what "equal tables" means."""
        out = {}
        for spec in specs:
            rows = [plain(list(r.values())) for r in self.store.table(spec).rows_where()]
            out[spec.name] = sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))
        return out


def script_lines(outcomes: Sequence[StepOutcome]) -> list[str]:
    """The steps as .evsh lines; rejected ones expected to be rejected, so the script goes on."""
    out = []
    for o in outcomes:
        line = o.step.line()
        if o.outcome == "rejected":
            line = "expect rejected " + line
        elif o.outcome == "invalid":
            line = "expect error " + line
        out.append(line)
    return out


# ----------------------------------------------------------------------------- properties

@dataclass
class Property:
    name: str
    promise: str
    check: Callable[["Context", Sequence[Step], Any], None]
    needs: Callable[[Domain], str] = lambda d: ""  # a reason to skip, or ""
    max_examples_factor: float = 1.0
    note: Callable[[Domain], str] = lambda d: ""  # shown beside the result


@dataclass
class Context:
    """What a property check gets besides the example: the domain, a temp folder, a worker."""

    domain: Domain
    folder: str
    worker: Any = None
    options: dict[str, Any] = field(default_factory=dict)

    def sandbox(self) -> Sandbox:
        return Sandbox(self.domain, self.folder, self.options)


def _commands_only_accept_or_reject(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    with ctx.sandbox() as box:
        for o in box.run(steps):
            if o.outcome == "error":
                raise PropertyFailed(f"`{o.step.line()}` raised instead of accepting or rejecting: {o.message}")


def _replay_deterministic(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    import hypothesis.strategies as st

    with ctx.sandbox() as box:
        box.run(steps)
        for cls, id in box.instances():
            sid = cls.stream_id(id)
            tail = [f"expect replay {cls.category} {shlex.quote(id)}"]
            first = box.replay(cls, id)
            second = box.replay(cls, id)
            if first != second:
                raise PropertyFailed(f"{sid}: two full replays give different states: {diff(first, second)}", tail)
            n = box.store.stream_version(sid)
            chunks = data.draw(st.lists(st.integers(1, max(1, n)), max_size=n), label=f"chunks of {sid}")
            chunked = box.replay(cls, id, chunks)
            if chunked != first:
                raise PropertyFailed(
                    f"{sid}: replaying in chunks {chunks} differs from a full replay: {diff(first, chunked)}", tail
                )
            loaded = plain(box.engine.load(cls, id).state())
            if loaded != first:
                raise PropertyFailed(
                    f"{sid}: the engine's load (snapshots included) differs from a full replay: {diff(first, loaded)}",
                    tail,
                )
            at = data.draw(st.integers(1, max(1, n)), label=f"snapshot version of {sid}")
            from_snapshot = _snapshot_and_tail(box, cls, id, at)
            if from_snapshot is not None and from_snapshot != first:
                raise PropertyFailed(
                    f"{sid}: a snapshot at version {at} plus the events after it differs from a full replay:"
                    f" {diff(first, from_snapshot)}",
                    [f"snapshot {cls.category} {shlex.quote(id)}", f"expect replay {cls.category} {shlex.quote(id)}"],
                )


def _snapshot_and_tail(box: Sandbox, cls: type[Aggregate], id: str, at: int) -> dict[str, Any] | None:
    """State loaded from a snapshot taken at version ``at`` plus the tail; None when the state
    cannot be snapshotted and the aggregate does not ask for snapshots (so none is ever taken)."""
    from ..engine import snapshots

    past = box.engine.load(cls, id, at)
    try:
        text = snapshots.dump_state(past)
    except snapshots.Unsnapshottable as exc:
        if not cls.snapshot_every:
            return None
        raise PropertyFailed(f"{cls.stream_id(id)} asks for snapshots (snapshot_every) but its state cannot be"
                             f" snapshotted: {exc}", [f"snapshot {cls.category} {shlex.quote(id)}"]) from None
    box.store.save_snapshot(cls.stream_id(id), cls.category, past.version, cls.state_version, text)
    return plain(box.engine.load(cls, id).state())


def _replay_fresh_process(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    with ctx.sandbox() as box:
        box.run(steps)
        instances = box.instances()
        if not instances:
            return
        here = {cls.stream_id(id): box.replay(cls, id) for cls, id in instances}
        there = ctx.worker.states(box.path, [(cls.category, id) for cls, id in instances])
        for cls, id in instances:
            sid = cls.stream_id(id)
            if here[sid] != there.get(sid):
                raise PropertyFailed(
                    f"{sid}: a fresh process replays a different state: {diff(here[sid], there.get(sid) or {})}",
                    [f"expect replay {cls.category} {shlex.quote(id)}"],
                )


EXACTLY_ONCE_NAME = "VERIFY_EXACTLY_ONCE"


def exactly_once(domain: Domain) -> set[str]:
    """Projections and reactors the domain declares as relying on evsh's exactly-once delivery
    (``VERIFY_EXACTLY_ONCE = ["customer_orders", ...]``): the redelivery checks leave them out."""
    from ..errors import DomainError

    names = getattr(domain.module, EXACTLY_ONCE_NAME, ())
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise DomainError(f"{EXACTLY_ONCE_NAME} must be a list of projection and reactor names")
    return set(names)


def _projections(domain: Domain) -> dict[str, Any]:
    from ..engine import projections

    return projections.declared(domain)


def _needs_projections(domain: Domain) -> str:
    return "" if _projections(domain) else "the domain declares no projections"


def _needs_redeliverable_projections(domain: Domain) -> str:
    if not _projections(domain):
        return "the domain declares no projections"
    if set(_projections(domain)) <= exactly_once(domain):
        return f"every projection is declared exactly-once ({EXACTLY_ONCE_NAME})"
    return ""


def _projection_rebuild(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """Live tables (inline, or caught up in random batch sizes between commands) == a rebuild."""
    import hypothesis.strategies as st

    from ..engine import projections

    declared = _projections(ctx.domain)
    with ctx.sandbox() as box:
        def maybe_catch_up(n: int) -> None:
            if data.draw(st.booleans(), label=f"catch up after step {n + 1}"):
                projections.run(box.engine, batch_size=data.draw(st.integers(1, 4), label="batch size"))

        box.run(steps, maybe_catch_up)
        results = projections.run(box.engine, batch_size=data.draw(st.integers(1, 4), label="batch size"))
        for res in results:
            if res.error is not None:
                raise PropertyFailed(f"projection {res.name} failed: {res.error}")
        for name, p in declared.items():
            live = box.tables(p.tables)
            projections.rebuild(box.engine, name, batch_size=data.draw(st.integers(1, 5), label="rebuild batch"))
            rebuilt = box.tables(p.tables)
            if live != rebuilt:
                raise PropertyFailed(
                    f"projection {name}: its tables differ from a rebuild from scratch: {_table_diff(live, rebuilt)}",
                    [*(["projections run"] if p.mode != "inline" else []), f"expect rebuild projection {name}"],
                )


class _Undo(Exception):
    """Leaves a trial delivery's transaction, rolling every change back."""


def _deliver_trial(box: Sandbox, p: Any, sequence: Sequence[tuple[RecordedEvent, bool]]) -> dict[str, list]:
    """The projection's tables after delivering ``sequence`` to fresh tables, one event at a time;
    nothing stays in the store. A duplicate (flag True) that the tables refuse as an existing
    row is a refusal, not a change."""
    from ..engine import projections
    from ..store.tables import Tables

    try:
        with box.store.transaction() as store:
            store.drop_tables(p.table_names)
            store.ensure_tables(p.tables, owner=f"projection:{p.name}")
            for ev, duplicate in sequence:
                try:
                    with store.transaction():
                        projections.apply_events(p, Tables(store, p.tables), [ev])
                except ProjectionFailed as exc:
                    if duplicate and exc.reason.startswith("RowExists:"):
                        continue
                    raise
            raise _Undo(box.tables(p.tables))
    except _Undo as done:
        return done.args[0]
    raise AssertionError("unreachable")  # pragma: no cover


def _projection_redelivery(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """An event delivered twice (again right away, or again with everything after it, as a lost
    checkpoint redelivers) builds the same tables as one clean delivery."""
    from ..engine import projections

    skip = exactly_once(ctx.domain)
    declared = {n: p for n, p in _projections(ctx.domain).items() if n not in skip}
    with ctx.sandbox() as box:
        box.run(steps)
        projections.run(box.engine)
        for name, p in declared.items():
            if not p.handlers:
                continue
            events = list(box.engine.read_all(types=p.types))
            clean = _deliver_trial(box, p, [(e, False) for e in events])
            for k, ev in enumerate(events):
                plain_seq = [(e, False) for e in events]
                trials = {
                    "again right away": plain_seq[:k + 1] + [(ev, True)] + plain_seq[k + 1:],
                    "again with every event after it": plain_seq + [(e, True) for e in events[k:]],
                }
                for how, seq in trials.items():
                    try:
                        got = _deliver_trial(box, p, seq)
                    except ProjectionFailed as exc:
                        raise PropertyFailed(
                            f"projection {name}: delivering {ev.type} (position {ev.position}) {how} raised: {exc}",
                            [*(["projections run"] if p.mode != "inline" else []),
                             f"redeliver projection {name} {ev.position}"],
                        ) from None
                    if got != clean:
                        raise PropertyFailed(
                            f"projection {name}: delivering {ev.type} (position {ev.position}) a second time"
                            f" ({how}) changed its tables: {_table_diff(clean, got)}",
                            [*(["projections run"] if p.mode != "inline" else []),
                             *(f"redeliver projection {name} {e.position}"
                               for e in (events[k:] if how.startswith("again with") else [ev])),
                             f"expect rebuild projection {name}"],
                        )


def _reactor_specs(domain: Domain) -> list[Any]:
    return list(domain.of_kind("reactor"))


def _needs_reactors(domain: Domain) -> str:
    specs = _reactor_specs(domain)
    if not specs:
        return "the domain declares no reactors"
    if {r.name for r in specs} <= exactly_once(domain):
        return f"every reactor is declared exactly-once ({EXACTLY_ONCE_NAME})"
    return ""


def redelivery_note(domain: Domain, kind: str) -> str:
    """Which of the domain's projections or reactors the redelivery check left out, and why."""
    names = set(_projections(domain)) if kind == "projection" else {r.name for r in _reactor_specs(domain)}
    left_out = sorted(names & exactly_once(domain))
    return f"not checked, declared exactly-once: {', '.join(left_out)}" if left_out else ""


def _doubled(domain: Domain, seen: list[tuple[str, Any, str]]) -> Domain:
    """A copy of the domain whose reactors handle every event twice in a row (a duplicate
    delivered right away); ``seen`` collects (reactor, event, what the second call did) when
    it did anything: sent a command that was accepted, or changed rows of its tables."""
    import copy
    import dataclasses

    from ..store.tables import RowExists

    def wrap(spec: Any) -> Any:
        fn = spec.fn
        names = [t.name for t in spec.tables]

        def twice(event: Any, ctx: Any) -> Any:
            fn(event, ctx)
            before = _rows_now(ctx, names)
            sent = len(ctx.sent)
            try:
                fn(event, ctx)
            except RowExists:
                for n in names:
                    ctx.table(n).discard()  # the table refused the duplicate row: nothing changed
                return None
            except Exception as exc:  # noqa: BLE001 - the handler's own error on a duplicate
                seen.append((spec.name, event, f"raised {type(exc).__name__}: {exc}"))
                return None
            done = [o for o in ctx.sent[sent:] if o.outcome == "ok" and o.events]
            if done:
                what = ", ".join(f"{o.name} on {o.stream_id} ({', '.join(e.type for e in o.events)})" for o in done)
                seen.append((spec.name, event, f"sent {what}"))
            elif _rows_now(ctx, names) != before:
                seen.append((spec.name, event, "changed its rows"))
            return None

        return dataclasses.replace(spec, fn=twice)

    twin = copy.copy(domain)
    twin.declarations = {k: list(v) for k, v in domain.declarations.items()}
    skip = exactly_once(domain)
    twin.declarations["reactor"] = [r if r.name in skip else wrap(r) for r in domain.of_kind("reactor")]
    return twin


def _rows_now(ctx: Any, names: Sequence[str]) -> dict[str, list[str]]:
    """The rows of a reactor's tables as the handler sees them (its pending writes included)."""
    from ..store.tables import RowExists

    out = {}
    for n in names:
        table = ctx.table(n)
        try:
            rows = table.rows_where()
        except RowExists:  # a duplicate row the table refuses at flush: drop it, nothing changed
            table.discard()
            rows = table.rows_where()
        out[n] = sorted(map(repr, rows))
    return out


def _reactor_redelivery(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """Handling an event a second time, right after the first (a duplicate delivery), causes no
    accepted command and changes no row. (evsh's processed-event record already skips
    redeliveries; this checks the handler itself, as at-least-once delivery would need.)"""
    seen: list[tuple[str, Any, str]] = []
    with Sandbox(_doubled(ctx.domain, seen), ctx.folder, ctx.options) as box:
        box.run(steps)
    if not seen:
        return
    reactor, event, what = seen[0]
    with ctx.sandbox() as clean:  # what a script on a new store has before it redelivers
        clean.run(steps)
        head = clean.store.head_position()
    position = event.record.position  # the runs agree up to the first duplicate that mattered
    raise PropertyFailed(
        f"reactor {reactor}: handling {event.type} (position {position}) a second time right away {what}",
        [f"redeliver reactor {reactor} {position}", f'expect query "SELECT count(*) FROM events" = {head}'],
    )


def _table_diff(a: dict[str, list], b: dict[str, list]) -> str:
    out = []
    for t in sorted(set(a) | set(b)):
        ra = [json.dumps(r) for r in a.get(t, [])]
        rb = [json.dumps(r) for r in b.get(t, [])]
        if ra != rb:
            only_a = [r for r in ra if r not in rb][:3]
            only_b = [r for r in rb if r not in ra][:3]
            out.append(f"{t}: {len(ra)} rows vs {len(rb)}; only before: {only_a}; only after: {only_b}")
    return "; ".join(out)


PROPERTIES: list[Property] = [
    Property("commands accept or reject", "a command emits events or raises Rejected; nothing else",
             _commands_only_accept_or_reject),
    Property("replay is deterministic",
             "replaying a stream twice, in chunks, via load, or from a snapshot plus the tail gives one state",
             _replay_deterministic),
    Property("replay in a fresh process", "another process replays every stream to the same state",
             _replay_fresh_process),
    Property("projections rebuild-equivalent", "live tables (inline or caught up in any batches) equal a rebuild",
             _projection_rebuild, _needs_projections),
    Property("projections redelivery-idempotent", "an event delivered twice changes no projection row",
             _projection_redelivery, _needs_redeliverable_projections,
             note=lambda d: redelivery_note(d, "projection")),
    Property("reactors redelivery-idempotent", "an event handled twice causes no new event or row",
             _reactor_redelivery, _needs_reactors, note=lambda d: redelivery_note(d, "reactor")),
]
