"""Redelivery properties: an event delivered twice changes no projection row, and a reactor
handling it a second time causes nothing. Each failure comes with the .evsh lines that replay
exactly the interleaving that failed: the commands up to the one that wrote the event, the
redelivery right there, then the rest, then the check of the promise itself.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..domain.registry import Domain
from ..errors import ProjectionFailed
from ..store.base import RecordedEvent
from .sandbox import Context, PropertyFailed, Sandbox, script_lines
from .strategies import Step


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
    """An event delivered twice (again right after the command that wrote it, or again with
    everything after it, as a lost checkpoint redelivers) builds the same tables as one clean
    delivery."""
    from ..engine import projections

    skip = exactly_once(ctx.domain)
    declared = {n: p for n, p in _projections(ctx.domain).items() if n not in skip}
    with ctx.sandbox() as box:
        outcomes = box.run(steps)
        projections.run(box.engine)
        for name, p in declared.items():
            if not p.handlers:
                continue
            catch_up = ["projections run"] if p.mode != "inline" else []
            events = list(box.engine.read_all(types=p.types))
            clean = _deliver_trial(box, p, [(e, False) for e in events])
            for k, ev in enumerate(events):
                j = next((i for i, o in enumerate(outcomes) if o.head >= ev.position), len(outcomes) - 1)
                # right after the events of the step's own command (before what reactors did next)
                start = outcomes[j - 1].head if j > 0 else 0
                upto = max(ev.position, start + len(outcomes[j].events)) if outcomes else ev.position
                cut = next((i for i, e in enumerate(events) if e.position > upto), len(events))
                plain_seq = [(e, False) for e in events]
                right_away = [*script_lines(outcomes[:j + 1]), *catch_up, f"redeliver projection {name} {ev.position}",
                              *script_lines(outcomes[j + 1:]), *catch_up, f"expect rebuild projection {name}"]
                lost = [*script_lines(outcomes), *catch_up,
                        *(f"redeliver projection {name} {e.position}" for e in events[k:]),
                        f"expect rebuild projection {name}"]
                trials = {
                    "again right after the command that wrote it": (
                        plain_seq[:cut] + [(ev, True)] + plain_seq[cut:], right_away),
                    "again with every event after it": (plain_seq + [(e, True) for e in events[k:]], lost),
                }
                for how, (seq, script) in trials.items():
                    try:
                        got = _deliver_trial(box, p, seq)
                    except ProjectionFailed as exc:
                        raise PropertyFailed(
                            f"projection {name}: delivering {ev.type} (position {ev.position}) {how} raised: {exc}",
                            script=[*script[:-1]],
                        ) from None
                    if got != clean:
                        raise PropertyFailed(
                            f"projection {name}: delivering {ev.type} (position {ev.position}) a second time"
                            f" ({how}) changed its tables: {_table_diff(clean, got)}",
                            script=script,
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
    position = event.record.position  # the runs agree up to the first duplicate that mattered
    with ctx.sandbox() as clean:  # the interleaving: the commands up to the one that led to it
        outcomes = clean.run(steps)
    j = next((i for i, o in enumerate(outcomes) if o.head >= position), len(outcomes) - 1)
    raise PropertyFailed(
        f"reactor {reactor}: handling {event.type} (position {position}) a second time right away {what}",
        script=[*script_lines(outcomes[:j + 1]), f"expect idempotent reactor {reactor} {position}"],
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

