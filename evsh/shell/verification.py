"""Directives for reproducer scripts: replay in a fresh process, rebuild, redeliver.

They exist so a bug found by ``evsh verify`` (or by hand) can be written down as a short
.evsh script that fails before the fix and passes after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from ..errors import BadInput, ExpectationFailed
from ..wording import counted


def _plain(value: Any) -> Any:
    """A state as the JSON a user sees (Decimals as strings), for comparisons across processes."""
    from ..store import codec

    return json.loads(codec.dumps(value))


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b), key=lambda k: (k not in a, str(k))):
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            out.append(f"{key}: {json.dumps(a.get(key, '<missing>'), default=str)} != "
                       f"{json.dumps(b.get(key, '<missing>'), default=str)}")
    return out


def fresh_process_state(app: Any, aggregate: str, id: str) -> dict[str, Any]:
    """The aggregate's state computed by a new evsh process (nothing cached, nothing shared)."""
    if not app.domain_spec:
        raise BadInput("expect replay needs a domain module: pass --domain")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    argv = [sys.executable, "-m", "evsh", "--db", app.db, "--domain", app.domain_spec, "state", aggregate, id, "--json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExpectationFailed(f"replay in a fresh process could not run: {exc}") from None
    if proc.returncode != 0:
        raise ExpectationFailed(f"replay in a fresh process failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def expect_replay(app: Any, aggregate: str, id: str) -> str:
    """The state this process holds (snapshots and all) = a full replay = a fresh process's."""
    domain = app.domain(required=True)
    cls = domain.aggregate(aggregate)
    engine = app.engine(domain_required=True)
    if not engine.store.stream_version(cls.stream_id(id)):  # nothing to replay proves nothing
        raise ExpectationFailed(f"replay of {cls.stream_id(id)}: the stream does not exist (no events to replay)")
    loaded = _plain(engine.load(cls, id).state())
    replayed = cls(id)
    engine.apply_records(replayed, engine.read_stream(cls.stream_id(id)))
    full = _plain(replayed.state())
    if loaded != full:
        raise ExpectationFailed(
            f"replay of {cls.stream_id(id)}: the loaded state differs from a full replay of its events\n  "
            + "\n  ".join(diff(loaded, full)) + "\n  (loaded != full replay)"
        )
    other = fresh_process_state(app, aggregate, id)
    if other != full:
        raise ExpectationFailed(
            f"replay of {cls.stream_id(id)}: a fresh process computes a different state\n  "
            + "\n  ".join(diff(full, other)) + "\n  (this process != fresh process)"
        )
    return f"{cls.stream_id(id)} replays to the same state here and in a fresh process (version {full.get('version')})"


def table_rows(store: Any, specs: Any) -> dict[str, list[list[Any]]]:
    """Every row of the declared tables, as sorted JSON-like lists (order-free comparison)."""
    out = {}
    for spec in specs:
        rows = [list(r.values()) for r in store.table(spec).rows_where()]
        out[spec.name] = sorted((_plain(r) for r in rows), key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return out


def table_diff(before: dict[str, list[list[Any]]], after: dict[str, list[list[Any]]], labels: tuple[str, str]) -> str:
    lines = []
    for name in before:
        a, b = before[name], after.get(name, [])
        if a == b:
            continue
        only_a = [r for r in a if r not in b]
        only_b = [r for r in b if r not in a]
        lines.append(f"table {name}: {counted(len(a), 'row')} {labels[0]}, {counted(len(b), 'row')} {labels[1]}")
        lines += [f"  only {labels[0]}: {json.dumps(r, default=str)}" for r in only_a[:5]]
        lines += [f"  only {labels[1]}: {json.dumps(r, default=str)}" for r in only_b[:5]]
    return "\n  ".join(lines)


def expect_rebuild(app: Any, name: str) -> str:
    """The projection's live tables equal what a rebuild from the first event produces.

    The live tables are compared as they are (run `projections run` first for a catch-up
    projection); the rebuild then replaces them, as `evsh projections rebuild` would."""
    from ..engine import projections

    engine = app.engine(domain_required=True)
    p = projections.find(engine, name)
    live = table_rows(engine.store, p.tables)
    projections.rebuild(engine, name)
    rebuilt = table_rows(engine.store, p.tables)
    if live != rebuilt:
        raise ExpectationFailed(
            f"projection {name}: its tables differ from a rebuild from scratch\n  "
            + table_diff(live, rebuilt, ("live", "rebuilt"))
        )
    rows = sum(len(v) for v in live.values())
    return f"projection {name}: live tables = a rebuild from scratch ({counted(rows, 'row')})"


def _event_at(engine: Any, position: int) -> Any:
    rec = next(iter(engine.read_all(position, limit=1)), None)
    if rec is None or rec.position != position:
        raise BadInput(f"there is no event at position {position}")
    return rec


def redeliver(app: Any, kind: str, name: str, position: int) -> str:
    """Hand an event that was already handled to a projection or a reactor's handler again,
    and commit what it does, as an at-least-once delivery would."""
    from ..engine.subscriptions import checkpoint_name

    engine = app.engine(domain_required=True)
    rec = _event_at(engine, position)
    store = engine.store
    if kind == "projection":
        from ..engine import projections
        from ..errors import ProjectionFailed
        from ..store.tables import Tables

        p = projections.find(engine, name)
        checkpoint = store.checkpoint(checkpoint_name(projections.KIND, p.name))
        if checkpoint < position:
            raise BadInput(f"projection {name} has not handled position {position} yet (checkpoint {checkpoint});"
                           " run `projections run` first")
        if rec.type not in p.handlers:
            handled = ", ".join(sorted(p.handlers)) or "nothing"
            raise BadInput(f"projection {name} does not handle {rec.type} (the event at position {position}):"
                           f" nothing to redeliver; it handles {handled}")
        try:
            with store.transaction():
                projections.apply_events(p, Tables(store, p.tables), [rec])
        except ProjectionFailed as exc:
            if str(getattr(exc, "reason", "")).startswith("RowExists:"):
                return f"projection {name} refused {rec.type} at {position} a second time (the row exists): nothing changed"
            raise
        return f"redelivered {rec.type} at position {position} to projection {name}"
    from ..engine.reactors import records, runtime

    rt = runtime(engine)
    sub = rt.get(name)
    checkpoint = store.checkpoint(sub.checkpoint)
    if checkpoint < position:
        raise BadInput(f"reactor {name} has not handled position {position} yet (checkpoint {checkpoint})")
    if not sub.matches(rec):
        raise BadInput(f"reactor {name} does not listen to {rec.type} (the event at position {position}):"
                       " nothing to redeliver")
    head = store.head_position()
    # the processed record would skip it: forget it, so the handler itself meets the event again
    with store.transaction():
        records.unclaim(store, sub.name, rec.event_id)
        rt._deliver(sub, store, rec)
    if rt.mode == "inline":
        rt.run_pending()
    caused = store.head_position() - head
    return f"redelivered {rec.type} at position {position} to reactor {name} ({caused} new events)"


def expect_idempotent(app: Any, kind: str, name: str, position: int) -> str:
    """Redeliver the event at ``position`` to the projection or reactor and check that it
    changed nothing, counted relative to just before: no new event, no row of its tables."""
    engine = app.engine(domain_required=True)
    store = engine.store
    if kind == "projection":
        from ..engine import projections

        specs = projections.find(engine, name).tables
    else:
        from ..engine.reactors import runtime

        specs = runtime(engine).get(name).spec.tables
    head, rows = store.head_position(), table_rows(store, specs)
    said = redeliver(app, kind, name, position)
    caused, after = store.head_position() - head, table_rows(store, specs)
    if caused or after != rows:
        what = [f"{caused} new events"] if caused else []
        if after != rows:
            what.append(table_diff(rows, after, ("before", "after")))
        raise ExpectationFailed(f"{kind} {name}: handling position {position} a second time changed something\n  "
                                + "\n  ".join(what))
    return f"{said}: nothing changed"


def expect_decision(app: Any, aggregate: str, id: str, command: str, params: dict[str, str]) -> str:
    """The command decided here (nothing written) and in a fresh process, both from the
    stream's events, gives the same events or the same rejection (values that look like a
    time or a UUID aside)."""
    from ..verify.deciding import decide_dry, same_decision

    domain = app.domain(required=True)
    engine = app.engine(domain_required=True)
    here = decide_dry(engine, domain, aggregate, id, command, params)
    request = {"db": app.db, "decide": {"aggregate": aggregate, "id": id, "command": command, "params": params,
                                        "upto": None}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    try:
        # asked twice: what a fresh process does not decide the same way twice is not compared
        proc = subprocess.run([sys.executable, "-m", "evsh.verify.worker", app.domain_spec or ""],
                              input=(json.dumps(request) + "\n") * 2, capture_output=True, text=True, timeout=300,
                              env=env)
        there, again = (json.loads(line) for line in proc.stdout.splitlines()[:2])
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        raise ExpectationFailed(f"deciding in a fresh process could not run: {exc}") from None
    if "error" in there or "error" in again:
        raise ExpectationFailed(f"deciding in a fresh process failed: {there.get('error') or again.get('error')}")
    there, again = there["decision"], again["decision"]
    if not same_decision(here, there, again):
        raise ExpectationFailed(
            f"{aggregate} {id} {command}: decided differently in a fresh process from the same events\n"
            f"  here:  {json.dumps(here, default=str)}\n  there: {json.dumps(there, default=str)}"
        )
    return f"{aggregate} {id} {command}: the same decision here and in a fresh process"
