"""Causal traces: which command caused which events, which events caused which commands.

Every event carries ``correlation_id`` (the root of its chain), ``causation_id``, ``command_id``,
``command`` and ``actor`` (``reactor:NAME`` when a reactor sent it) in its metadata, so a
command that wrote events is known from them. A command that left no event (rejected, failed,
no-op) is recorded in ``commands``. A trace joins both into a tree: command -> events ->
commands (sent by reactors) -> events ..., across aggregates, rejected commands included.
"""

from __future__ import annotations

import uuid
from typing import Any, Mapping

from ..errors import BadInput
from ..store.base import SOURCE_POSITION, RecordedEvent
from .command_log import commands as _commands
from .command_log import params_of

MAX_CHAINS = 50  # a stream's trace shows at most this many causal chains


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
        return True
    except ValueError:
        return False


def resolve(engine: Any, ident: str) -> tuple[str, list[str]]:
    """What ``ident`` names -> (kind, correlation ids): an event id, a command id, a correlation
    id, or a stream id (all the chains its events belong to, oldest first)."""
    store = engine.store
    if _is_uuid(ident):
        canon = str(uuid.UUID(ident))
        ev = store.event_by_id(canon) if hasattr(store, "event_by_id") else None
        if ev is not None:
            return "event", [ev.metadata.get("correlation_id") or ev.event_id]
        if _commands(store, "correlation_id=?", (canon,), 1):  # a user's command id is its chain's id
            return "correlation", [canon]
        cmds = _commands(store, "command_id=?", (canon,))
        if cmds:
            return "command", [cmds[0]["correlation_id"]]
        if store.events_by_meta("correlation_id", canon, 1):
            return "correlation", [canon]
        written = store.events_by_meta("command_id", canon, 1)
        if written:
            return "command", [written[0].metadata.get("correlation_id") or written[0].event_id]
    # a stream's chains: those of its events and of the commands refused on it, oldest first
    chains: dict[str, str] = {}
    if store.stream_version(ident):
        for ev in store.read_stream(ident):
            chains.setdefault(ev.metadata.get("correlation_id") or ev.event_id, ev.recorded_at)
            if len(chains) >= MAX_CHAINS:
                break
    for c in _commands(store, "stream_id=?", (ident,), MAX_CHAINS):
        chains.setdefault(c["correlation_id"], c["at"])
    if chains:
        return "stream", [c for c, _ in sorted(chains.items(), key=lambda kv: kv[1])][:MAX_CHAINS]
    raise BadInput(f"no event, command, correlation or stream {ident!r} in this store")


def _gather(engine: Any, correlation_id: str, *, as_source: bool = False
            ) -> tuple[list[dict[str, Any]], dict[str, RecordedEvent]]:
    """One store's part of a chain: its recorded commands (with those its events name) and events;
    ``as_source``: a consumer's replica as its source recorded it (position and time)."""
    store = engine.store
    commands = _commands(store, "correlation_id=?", (correlation_id,))
    events: dict[str, RecordedEvent] = {}
    for ev in store.events_by_meta("correlation_id", correlation_id):
        v = engine.view(ev)
        if v is not None and as_source and SOURCE_POSITION in v.metadata:
            v = v._replace(position=v.metadata[SOURCE_POSITION],
                           recorded_at=v.metadata.get("source_recorded_at") or v.recorded_at)
        if v is not None:
            events[v.event_id] = v
    wanted = [c["causation_id"] for c in commands if c["causation_id"] != c["command_id"]]
    for eid in dict.fromkeys(wanted):  # a cause recorded outside the chain (e.g. before its metadata)
        if eid not in events and _is_uuid(eid):
            ev = store.event_by_id(eid)
            v = engine.view(ev) if ev is not None else None
            if v is not None:
                events[v.event_id] = v
    written = _written_commands(events.values(), {c["command_id"] for c in commands})
    kept = params_of(store, [c["command_id"] for c in written])
    for c in written:
        c["params"] = kept.get(c["command_id"])
    return commands + written, events


def chain(engine: Any, correlation_id: str, *, focus: str | None = None) -> dict[str, Any]:
    """The causal tree of one chain as nested objects (``roots``: commands and events)."""
    commands, events = _gather(engine, correlation_id)
    return _tree(correlation_id, commands, events, focus)


def chain_across(engines: Mapping[str, Any], correlation_id: str, *, focus: str | None = None) -> dict[str, Any]:
    """One chain followed across stores (services exchanging events through a broker): each
    event once, from the store that wrote it (a consumer's replica carries the same id, and its
    ``source``), each node naming its store; ordered by time, since positions are per store."""
    commands: dict[str, dict[str, Any]] = {}
    events: dict[str, RecordedEvent] = {}
    where: dict[str, str] = {}
    for name, engine in engines.items():
        cmds, evs = _gather(engine, correlation_id, as_source=True)
        for c in cmds:
            known = commands.get(c["command_id"])
            if known is None or (known["params"] is None and c.get("params") is not None):
                commands[c["command_id"]] = {**c, "store": c.get("store") or name}
        for eid, ev in evs.items():
            meta = ev.metadata
            if SOURCE_POSITION in meta:  # a replica
                if eid in events:
                    continue
                where[eid] = str(meta.get("source") or name)
            else:
                where[eid] = name
            events[eid] = ev
    for c in commands.values():
        if c["events"]:
            c["store"] = where.get(c["events"][0], c["store"])
    tree = _tree(correlation_id, list(commands.values()), events, focus, by_time=True)
    _label_stores(tree["roots"], where, commands)
    return tree


def _label_stores(nodes: list[dict[str, Any]], where: Mapping[str, str], commands: Mapping[str, Any]) -> None:
    for n in nodes:
        n["store"] = where.get(n["event_id"]) if n["kind"] == "event" else commands[n["command_id"]]["store"]
        _label_stores(n["children"], where, commands)


def _tree(correlation_id: str, commands: list[dict[str, Any]], events: Mapping[str, RecordedEvent],
          focus: str | None, *, by_time: bool = False) -> dict[str, Any]:
    commands.sort(key=lambda c: c["at"])
    cmd_nodes = {c["command_id"]: _command_node(c) for c in commands}
    order = (lambda kv: (kv[1].recorded_at, kv[1].position)) if by_time else (lambda kv: kv[1].position)
    ev_nodes = {eid: _event_node(ev, focus) for eid, ev in sorted(events.items(), key=order)}
    roots: list[dict[str, Any]] = []
    for c in commands:
        node = cmd_nodes[c["command_id"]]
        parent = ev_nodes.get(c["causation_id"])
        (parent["children"] if parent is not None else roots).append(node)
    for eid, node in ev_nodes.items():
        ev = events[eid]
        parent = cmd_nodes.get(ev.metadata.get("command_id", ""))
        if parent is None:
            cause = ev.metadata.get("causation_id")
            parent = ev_nodes.get(cause) if cause and cause != eid else None
        (parent["children"] if parent is not None else roots).append(node)
    _sort(roots)
    return {"correlation_id": correlation_id, "commands": len(commands), "events": len(events), "roots": roots}


def _written_commands(events: Any, known: set[str]) -> list[dict[str, Any]]:
    """The commands that wrote these events, from the events' metadata."""
    out: dict[str, dict[str, Any]] = {}
    for ev in sorted(events, key=lambda e: e.position):
        meta = ev.metadata
        cid = meta.get("command_id")
        if not cid or cid in known:
            continue
        c = out.get(cid)
        if c is None:
            actor = meta.get("actor") or ""
            c = out[cid] = {
                "command_id": cid, "name": meta.get("command") or "", "stream_id": ev.stream_id,
                "correlation_id": meta.get("correlation_id"), "causation_id": meta.get("causation_id") or cid,
                "outcome": "ok", "reason": "", "params": None, "events": [],
                "reactor": actor[len("reactor:"):] if actor.startswith("reactor:") else None, "at": ev.recorded_at,
            }
        c["events"].append(ev.event_id)
    return list(out.values())


def _sort(nodes: list[dict[str, Any]]) -> None:
    nodes.sort(key=lambda n: (n.get("at") or n.get("recorded_at") or "", n.get("position") or 0))
    for n in nodes:
        _sort(n["children"])


def _command_node(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "command", "command_id": c["command_id"], "name": c["name"], "stream_id": c["stream_id"],
        "outcome": c["outcome"], "reason": c["reason"] or None, "reactor": c["reactor"], "at": c["at"],
        "params": c["params"], "children": [],
    }


def _event_node(ev: RecordedEvent, focus: str | None) -> dict[str, Any]:
    node = {
        "kind": "event", "event_id": ev.event_id, "type": ev.type, "stream_id": ev.stream_id,
        "version": ev.version, "position": ev.position, "recorded_at": ev.recorded_at, "children": [],
    }
    if focus and focus == ev.event_id:
        node["focus"] = True
    return node


def trace_across(engines: Mapping[str, Any], ident: str) -> dict[str, Any]:
    """As :func:`trace`, over several stores (``name -> engine``): the id is looked up in each."""
    found: list[str] = []
    kind = ""
    for engine in engines.values():
        try:
            kind, correlations = resolve(engine, ident)
        except BadInput:
            continue
        found.extend(c for c in correlations if c not in found)
    if not found:
        raise BadInput(f"no event, command, correlation or stream {ident!r} in {len(engines)} stores")
    focus = str(uuid.UUID(ident)) if kind == "event" else None
    return {"query": ident, "kind": kind, "stores": list(engines),
            "traces": [chain_across(engines, c, focus=focus) for c in found[:MAX_CHAINS]]}


def trace(engine: Any, ident: str) -> dict[str, Any]:
    """``{"query", "kind", "traces": [chain, ...]}`` for an event, command, correlation or stream id."""
    kind, correlations = resolve(engine, ident)
    focus = str(uuid.UUID(ident)) if kind == "event" else None
    return {"query": ident, "kind": kind, "traces": [chain(engine, c, focus=focus) for c in correlations]}
