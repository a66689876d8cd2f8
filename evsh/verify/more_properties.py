"""Properties beyond replay and redelivery: deciding depends on the events alone, reactors do
not fail on the events they get, and upcasters are pure functions of the old payload.

Each needs the replay worker (a second process, state as at import), except reactor health.
"""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any, Sequence

from ..domain.registry import Domain
from ..errors import DomainError
from .deciding import same_decision
from .sandbox import Context, PropertyFailed, script_lines
from .strategies import Step

EXPECTED_ERRORS_NAME = "VERIFY_EXPECTED_ERRORS"
UPCAST_EXAMPLES_NAME = "VERIFY_UPCAST_EXAMPLES"


# ----------------------------------------------------------------------------- deciding

def _decision_from_events(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """Each accepted or rejected step, decided again in a fresh process against its stream's
    events as they were just before it, gives the same events (or the same rejection)."""
    with ctx.sandbox() as box:
        outcomes = box.run(steps)
        before = 0
        for i, o in enumerate(outcomes):
            if o.outcome in ("ok", "rejected"):
                here = {"events": o.events} if o.outcome == "ok" else {"rejected": o.message}
                there = ctx.worker.decide(box.path, o.step, before)
                if not same_decision(here, there) and not same_decision(
                        here, there, ctx.worker.decide(box.path, o.step, before)):
                    line = o.step.line()
                    raise PropertyFailed(
                        f"`{line}` decided differently in a fresh process, from the same events:"
                        f" here {_show(here)}; there {_show(there)} (state kept outside the events:"
                        " a class attribute or module global read or changed by a command or applier?)",
                        script=[*script_lines(outcomes[:i]), f"expect decision {line}"],
                    )
            before = o.head


def _show(decision: dict[str, Any]) -> str:
    if "rejected" in decision:
        return f"rejected ({decision['rejected']})"
    return ", ".join(f"{t} {json.dumps(d, sort_keys=True, default=str)}" for t, d in decision["events"]) or "no events"


# ----------------------------------------------------------------------------- reactors healthy

def expected_errors(domain: Domain) -> dict[str, tuple[type, ...]]:
    """``VERIFY_EXPECTED_ERRORS = {"reactor_name": [ExcType, ...]}``: exceptions a reactor is
    allowed to raise (the events they park are the design), "*" for every reactor."""
    raw = getattr(domain.module, EXPECTED_ERRORS_NAME, {})
    if not isinstance(raw, dict):
        raise DomainError(f"{EXPECTED_ERRORS_NAME} must be a dict: reactor name -> exception classes")
    out = {}
    for name, types in raw.items():
        types = types if isinstance(types, (list, tuple)) else [types]
        if not isinstance(name, str) or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise DomainError(f"{EXPECTED_ERRORS_NAME}: give reactor name -> exception class(es), not {name!r}")
        out[name] = tuple(types)
    return out


def _watched(domain: Domain, raised: list[tuple[str, Any, BaseException]]) -> Domain:
    """A copy of the domain whose reactors note each exception they raise (then raise it on)."""
    import dataclasses

    def wrap(spec: Any) -> Any:
        fn = spec.fn

        def watched(event: Any, rctx: Any) -> Any:
            try:
                return fn(event, rctx)
            except Exception as exc:
                raised.append((spec.name, event, exc))
                raise

        return dataclasses.replace(spec, fn=watched)

    twin = copy.copy(domain)
    twin.declarations = {k: list(v) for k, v in domain.declarations.items()}
    twin.declarations["reactor"] = [wrap(r) for r in domain.of_kind("reactor")]
    return twin


def _reactors_healthy(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """No reactor raises on the events it gets (the event would be retried, then parked),
    unless the domain declares that exception as expected of it."""
    from .sandbox import Sandbox

    raised: list[tuple[str, Any, BaseException]] = []
    allowed = expected_errors(ctx.domain)
    with Sandbox(_watched(ctx.domain, raised), ctx.folder, ctx.options) as box:
        outcomes = box.run(steps)
    for name, event, exc in raised:
        ok = allowed.get(name, ()) + allowed.get("*", ())
        if isinstance(exc, ok):
            continue
        position = event.record.position
        j = next((i for i, o in enumerate(outcomes) if o.head >= position), len(outcomes) - 1)
        sql = f"SELECT count(*) FROM dead_letters WHERE reactor = '{name}' AND status = 'parked'".replace('"', "")
        raise PropertyFailed(
            f"reactor {name} raised {type(exc).__name__}: {exc} on {event.type} (position {position},"
            f" {event.record.stream_id}); the event is parked. Fix the handler, or declare the exception"
            f" expected: {EXPECTED_ERRORS_NAME} = {{{name!r}: [{type(exc).__name__}]}}",
            script=[*script_lines(outcomes[:j + 1]), f'expect query "{sql}" = 0'],
        )


# ----------------------------------------------------------------------------- upcasters

def _steps(domain: Domain) -> list[Any]:
    from ..engine.upcasting import declared_steps

    return declared_steps(domain)


def _source_fields(step: Any) -> list[str]:
    """The fields the upcaster reads from its input (``data["x"]``, ``data.get("x")``)."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(step.fn)))
    except (OSError, TypeError, SyntaxError):
        return []
    fn = tree.body[0]
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not fn.args.args:
        return []
    arg = fn.args.args[0].arg
    out = []
    for node in ast.walk(fn):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == arg:
            key = node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "pop")
              and isinstance(node.func.value, ast.Name) and node.func.value.id == arg and node.args):
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value not in out:
            out.append(key.value)
    return out


def _old_payload(ctx: Context, step: Any, data: Any) -> tuple[dict[str, Any], bool]:
    """An event in the old shape: the user's example, or the fields the upcaster reads, with
    values of today's field of that name (text when there is none: then it is a guess, and an
    upcaster that refuses it is not blamed)."""
    import hypothesis.strategies as st

    from ..domain import types as T

    examples = getattr(ctx.domain.module, UPCAST_EXAMPLES_NAME, {}) or {}
    given = examples.get((step.type, step.version)) or examples.get(step.type)
    if given:
        given = given if isinstance(given, list) else [given]
        return copy.deepcopy(data.draw(st.sampled_from(given))), False
    hints = _current_hints(ctx.domain, step.to_type)
    from .strategies import Strategies

    strategies = Strategies(ctx.domain)
    out = {}
    guessed = False
    fields = _source_fields(step)
    if step.to_type == step.type:  # the same type: today's fields, as far as the upcaster does not say
        fields += [f for f in hints if f not in fields]
    for name in fields:
        guessed = guessed or name not in hints
        value = data.draw(strategies.for_hint(hints.get(name, str)))
        out[name] = T.encode(value)
    return out, guessed


def _current_hints(domain: Domain, type_name: str) -> dict[str, Any]:
    from ..domain import types as T

    for cls in domain.aggregates.values():
        entry = cls.appliers().get(type_name)
        if entry is not None:
            return T.field_hints(entry[1].cls) if hasattr(entry[1], "cls") else {}
    return {}


def _needs_upcasters(domain: Domain) -> str:
    return "" if _steps(domain) else "the domain declares no upcasters"


def _upcasters(ctx: Context, steps: Sequence[Step], data: Any) -> None:
    """Old events through every upcaster: the same output twice and in a fresh process, the
    input left as it was, a payload today's event type reads, applied by aggregates and
    projections. The commands run first, so state they leave in globals shows."""
    from ..engine import projections
    from ..engine.upcasting import Upcaster

    chain = Upcaster.of(ctx.domain)
    with ctx.sandbox() as box:
        outcomes = box.run(steps)
        for step in _steps(ctx.domain):
            old, guessed = _old_payload(ctx, step, data)
            where = f"upcaster {step.fn.__name__} ({step.type} v{step.version})"
            kept = copy.deepcopy(old)

            def through(payload: dict[str, Any]) -> Any:
                out = payload
                for s in chain.chain(step.type, step.version):
                    out = s.apply(dict(out), {})
                return out

            try:
                first, second = through(old), through(copy.deepcopy(kept))
            except Exception as exc:  # noqa: BLE001
                if guessed:  # an old shape made up from field names: give an example to check it
                    continue
                raise PropertyFailed(f"{where} raised {type(exc).__name__}: {exc} on {json.dumps(kept, default=str)}")
            show = lambda v: json.dumps(v, sort_keys=True, default=str)  # noqa: E731
            if old != kept:
                raise PropertyFailed(f"{where} changed its input: {show(kept)} became {show(old)}")
            if show(first) != show(second):
                raise PropertyFailed(f"{where} is not deterministic: {show(kept)} gave {show(first)}, then {show(second)}")
            there = ctx.worker.upcast(step.type, step.version, kept)
            if show(first) != show(there):
                raise PropertyFailed(
                    f"{where} gives another result in a fresh process (after {len(outcomes)} commands here):"
                    f" {show(kept)} gave {show(first)} here, {show(there)} there (a module global?)",
                    script=_old_event_script(ctx, outcomes, step, kept),
                )
            final = chain.chain(step.type, step.version)[-1]
            if not guessed:
                _applies(ctx, box, step, final.to_type, kept, projections, where)


def _old_event_script(ctx: Context, outcomes: Any, step: Any, old: dict[str, Any]) -> list[str] | None:
    """The commands, then the old event appended in its old schema, then a replay here and in a
    fresh process: what an upcaster that depends on this process's state breaks."""
    from ..engine.upcasting import Upcaster

    to_type = Upcaster.of(ctx.domain).chain(step.type, step.version)[-1].to_type
    target = next((cls for cls in ctx.domain.aggregates.values() if to_type in cls.appliers()), None)
    if target is None:
        return None
    meta = json.dumps({"schema_version": step.version})
    return [*script_lines(outcomes),
            f"append {target.stream_id('old')} {step.type} {shlex.quote(json.dumps(old, default=str))}"
            f" --metadata {shlex.quote(meta)}",
            f"expect replay {target.category} old"]


def _applies(ctx: Context, box: Any, step: Any, to_type: str, old: dict[str, Any], projections: Any, where: str) -> None:
    """The old event, stored as it was written then, reads as today's and is applied."""
    from ..errors import EvshError
    from ..store.base import ANY, NewEvent

    target = next((cls for cls in ctx.domain.aggregates.values() if to_type in cls.appliers()), None)
    if target is None:
        return
    stream = target.stream_id("upcast-probe")
    try:
        box.store.append(stream, [NewEvent(step.type, old, {"schema_version": step.version})], ANY)
        agg = target("upcast-probe")
        box.engine.apply_records(agg, box.engine.read_stream(stream))
    except (EvshError, Exception) as exc:  # noqa: BLE001
        raise PropertyFailed(f"{where}: an old {step.type} {json.dumps(old, default=str)} is not applied: {exc}") from None
    for res in projections.run(box.engine):
        if res.error is not None:
            raise PropertyFailed(f"{where}: projection {res.name} failed on the upcast event: {res.error}")
