"""Commands that need the domain: exec (run a command on an aggregate) and state."""

from __future__ import annotations

from typing import Any

import click

from ..domain import types as T
from ..errors import BadInput
from ..sanitise import safe
from .context import app
from .output import Output, listing_options
from .params import Count
from .render import emit_events, emit_json_object, json_text, print_state
from .reactors import print_reactions, reactions_json


def parse_param_args(args: list[str]) -> dict[str, str]:
    """``--name value`` and ``--name=value`` pairs, as the shell would pass them."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or arg == "--":
            raise BadInput(f"unexpected argument {arg!r}: parameters are given as --name value")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise BadInput(f"parameter --{name} needs a value")
            value = args[i + 1]
            i += 1
        if name in out:
            raise BadInput(f"parameter --{name} is given twice")
        out[name] = value
        i += 1
    return out


def command_help(agg: Any, spec: Any) -> str:
    lines = [f"Usage: evsh exec {agg.category} ID {spec.cli_name} [--PARAM VALUE]...", ""]
    if spec.doc:
        lines += [f"  {spec.doc}", ""]
    lines.append("Parameters (structured values are JSON):")
    if not spec.params:
        lines.append("  (none)")
    shapes: dict[type, None] = {}
    for p in spec.params:
        req = "required" if p.required else f"default {json_text(T.encode(p.default))}"
        lines.append(f"  {p.option:<24} {T.describe(p.hint):<24} {req}")
        T.structures(p.hint, shapes)
    if shapes:
        lines += ["", "Made of (as JSON objects):"] + [f"  {T.describe_fields(cls)}" for cls in shapes]
    return "\n".join(lines)


def domain_help(domain: Any) -> str:
    lines = [f"Aggregates and commands of domain {domain.name}:"]
    for cat, agg in sorted(domain.aggregates.items()):
        cmds = ", ".join(c.cli_name for c in agg.commands().values())
        lines.append(f"  {cat:<16} {cmds}")
    lines.append("\nevsh exec AGGREGATE ID COMMAND --help lists a command's parameters.")
    return "\n".join(lines)


def _complete_aggregate(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from .context import completion_app

    try:
        domain = completion_app(ctx).domain()
    except Exception:  # completion never fails loudly
        return []
    return [c for c in sorted(domain.aggregates) if c.startswith(incomplete)] if domain else []


def _complete_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Ids of existing streams of the chosen aggregate."""
    from .context import completion_app

    category = ctx.params.get("aggregate")
    if not category:
        return []
    try:
        a = completion_app(ctx)
        prefix = f"{category}-"
        return [s.stream_id[len(prefix):] for s in a.store().streams(category, prefix=prefix + incomplete, limit=200)]
    except Exception:
        return []


def _complete_command(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    from .context import completion_app

    try:
        domain = completion_app(ctx).domain()
        agg = domain.aggregate(ctx.params.get("aggregate") or "") if domain else None
    except Exception:
        return []
    return [c.cli_name for c in agg.commands().values() if c.cli_name.startswith(incomplete)] if agg else []


class ExecCommand(click.Command):
    """`exec` completes the chosen command's own parameters (--customer-id, --items, ...) too."""

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        items = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-") and ctx.params.get("command"):
            from .context import completion_app

            try:
                domain = completion_app(ctx).domain()
                spec = domain.aggregate(ctx.params["aggregate"]).find_command(ctx.params["command"])
            except Exception:
                return items
            given = set(ctx.args)
            items += [CompletionItem(p.option) for p in spec.params
                      if p.option.startswith(incomplete) and p.option not in given]
        return items


@click.command(
    "exec",
    cls=ExecCommand,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
)
@click.argument("aggregate", required=False, shell_complete=_complete_aggregate)
@click.argument("id", required=False, shell_complete=_complete_id)
@click.argument("command", required=False, shell_complete=_complete_command)
@click.option("--correlation-id", default=None, help="Join an existing causal chain.")
@click.option("--actor", default=None, help="Who issued the command (kept in metadata).")
@click.option("--json", "as_json", is_flag=True, help="JSON output: the new events and the version.")
@click.option("-h", "--help", "show_help", is_flag=True, help="Show this message, or a command's parameters.")
@click.pass_context
def exec_(ctx: click.Context, aggregate: str | None, id: str | None, command: str | None,
          correlation_id: str | None, actor: str | None, as_json: bool, show_help: bool) -> None:
    """Run COMMAND on the aggregate AGGREGATE-ID: evsh exec order o1 create --customer-id c1 ...

    \b
    Parameters come from the command method's signature: kebab-case names,
    plain values for text, numbers and booleans, JSON for lists and objects.
    Put -- before them when one is named like an option of exec itself
    (--json, --actor, --correlation-id, --help) or a value starts with '-':
    evsh exec order o1 cancel -- --reason "-h"
    """
    a = app()
    if show_help or not command:
        if aggregate is None and (not show_help or not a.domain_spec):
            click.echo(ctx.get_help())
            if a.domain_spec:
                click.echo(safe("\n" + domain_help(a.domain(required=True, warn=False)), lines=True))
            return
        domain = a.domain(required=True, warn=False)
        if aggregate and command:
            agg = domain.aggregate(aggregate)
            spec = agg.find_command(command)
            click.echo(safe(command_help(agg, spec), lines=True))
            return
        if show_help:
            click.echo(safe(ctx.get_help() + "\n\n" + domain_help(domain), lines=True))
            return
        raise BadInput("missing COMMAND: evsh exec AGGREGATE ID COMMAND [--PARAM VALUE]... (see evsh exec --help)")
    params = parse_param_args(list(ctx.args))
    from .global_options import misplaced

    if a.domain() is None:
        misplaced(params, "exec")
    domain = a.domain(required=True)
    agg = domain.aggregate(aggregate)
    spec = agg.find_command(command)
    misplaced(params, "exec", {p.option[2:] for p in spec.params})
    spec.bind(params)  # bad input is refused before the store is opened or created
    from ..store.base import check_name, check_stream_id

    check_stream_id(agg.stream_id(check_name(id, "aggregate id")))
    engine = a.engine(create=True, domain_required=True)
    outcome = engine.execute(agg, id, command, params, correlation_id=correlation_id, actor=actor)
    if as_json:
        emit_json_object({
            "stream_id": outcome.stream_id, "version": outcome.version, "command_id": outcome.command_id,
            "correlation_id": outcome.correlation_id, "events": [e.as_dict() for e in outcome.events],
            "reactions": reactions_json(engine),
        })
        return
    if not outcome.events:
        click.echo(safe(f"{outcome.name} on {outcome.stream_id}: no new events (version {outcome.version})"))
        return
    emit_events(outcome.events, "table")
    print_reactions(engine)  # what inline reactors did because of it


@click.command()
@click.argument("aggregate", shell_complete=_complete_aggregate)
@click.argument("id", shell_complete=_complete_id)
@click.option("--at-version", type=Count(min=0), default=None, help="Time travel: the state at version N.")
@click.option("--at-time", default=None, metavar="TIME",
              help="Time travel: the state as it was at a time (UTC), e.g. 2026-01-01T10:00:00Z or '2026-01-01 10:00'.")
@listing_options(rows=False, limit=False, json_help="JSON: one object of the aggregate's fields (version 0: no events).",
                 nl_help="The same object on one line.")
def state(aggregate: str, id: str, at_version: int | None, at_time: str | None, out: Output) -> None:
    """Show an aggregate's state, now or as it was at a past version or time."""
    from ..engine.clock import version_at

    a = app()
    domain = a.domain(required=True)
    agg_cls = domain.aggregate(aggregate)
    engine = a.engine(domain_required=True)
    if at_time is not None and at_version is not None:
        raise BadInput("--at-version and --at-time both say when: give one of them")
    stream_id = agg_cls.stream_id(id)
    if at_time is not None:
        at_version = version_at(engine, stream_id, at_time)
    agg = engine.load(agg_cls, id, at_version)
    missing = agg.version == 0 and at_version is None
    if missing:
        click.echo(safe(f"evsh: no events: {stream_id} does not exist"), err=True)
    data = agg.state()
    if not out.table:  # a script still gets the state (version 0 says there is none)
        out.document(data)
        return
    if missing:
        return
    suffix = f" at version {at_version}" if at_version is not None else ""
    if at_time is not None:
        suffix += f" (as of {at_time})"
    print_state(data, f"{stream_id}{suffix}")
