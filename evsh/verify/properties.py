"""The properties `evsh verify` checks on a domain, each over generated command sequences.

A property runs the sequence on a fresh store (a sandbox), then checks one promise of event
sourcing: commands only accept or reject; replaying a stream gives the same state every time,
in chunks and in a fresh process; projections rebuilt from scratch equal the live ones, and
are unchanged by an event delivered twice; reactors do nothing more on a redelivered event and
do not fail on the events they get; deciding depends on the events alone; upcasters are pure.
A broken promise raises PropertyFailed with a message and the .evsh lines that show it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..domain.model import Aggregate
from ..domain.registry import Domain
from .more_properties import expected_errors, _decision_from_events, _needs_upcasters, _reactors_healthy, _upcasters
from .redelivery import (_needs_projections, _needs_reactors, _needs_redeliverable_projections, _projection_redelivery,
                         _projections, _reactor_redelivery, _table_diff, redelivery_note)
from .sandbox import Context, PropertyFailed, Sandbox, StepOutcome, diff, plain, script_lines
from .strategies import Step

__all__ = ["Context", "PROPERTIES", "Property", "PropertyFailed", "Sandbox", "StepOutcome", "script_lines"]


@dataclass
class Property:
    name: str
    promise: str
    check: Callable[["Context", Sequence[Step], Any], None]
    needs: Callable[[Domain], str] = lambda d: ""  # a reason to skip, or ""
    max_examples_factor: float = 1.0
    note: Callable[[Domain], str] = lambda d: ""  # shown beside the result


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


def _any_reactors(domain: Domain) -> str:
    expected_errors(domain)  # a malformed declaration is bad usage, before any example runs
    return "" if domain.of_kind("reactor") else "the domain declares no reactors"


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
    Property("deciding depends on the events alone",
             "a command decided in a fresh process, from the same events, gives the same events or rejection",
             _decision_from_events),
    Property("reactors healthy", "no reactor raises on the events it gets (unless declared expected)",
             _reactors_healthy, _any_reactors),
    Property("upcasters pure", "old events upcast the same twice and in a fresh process, input untouched,"
             " and are read and applied as today's", _upcasters, _needs_upcasters),
]
