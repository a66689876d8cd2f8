"""`evsh reactors` (list, run, skip), `evsh step` and `evsh dlq`: watching and driving reactors."""

from __future__ import annotations

import signal
from typing import Any, Sequence

import click

from ..errors import BadInput, ExpectationFailed, ServerUnreachable
from ..sanitise import rich_text, safe
from ..wording import counted, number
from .context import app
from .groups import Group
from .params import Count, Seconds
from .output import Output, listing_options
from .render import console, emit_json_object, stream_table

_STATUS_STYLE = {"handled": "green", "duplicate": "dim", "parked": "red", "retrying": "yellow", "stopped": "red"}
_OUTCOME_MARK = {"ok": ("✓", "green"), "rejected": ("✗", "red"), "error": ("!", "red")}


def _runtime(create: bool = True) -> Any:
    from ..engine.reactors import runtime

    engine = app().engine(create=create, domain_required=True)
    return runtime(engine)


# ----------------------------------------------------------------------------- rendering reactions

def reactions_tree(reactions: Sequence[Any], title: str = "reactors") -> Any:
    """A Rich tree: reactor <- event, then the commands it sent and the events they made."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(rich_text(title, style="bold"))
    for r in reactions:
        if r.status == "duplicate":
            continue
        head = Text()
        head.append(r.reactor, style="bold")
        head.append(" <- ")
        head.append(r.event.type, style="cyan")
        head.append(f" {r.event.stream_id}@{r.event.version}")
        if r.status != "handled":
            head.append(f"  {r.status}", style=_STATUS_STYLE.get(r.status, ""))
        node = tree.add(rich_text(head))
        if r.error:
            node.add(rich_text(r.error, style="red"))
        for c in r.commands:
            mark, style = _OUTCOME_MARK.get(c.outcome, ("?", ""))
            line = Text()
            line.append(mark + " ", style=style)
            line.append(c.name, style="bold")
            line.append(f" {c.stream_id}")
            if c.outcome != "ok":
                line.append(f"  {c.outcome}: {c.reason}", style=style)
            if c.events:
                line.append(" -> ")
                line.append(", ".join(e.type for e in c.events), style="cyan")
            node.add(rich_text(line))
        for table, n in r.rows.items():
            line = Text()
            line.append("+ ", style="green")
            line.append(f"{counted(n, 'row')} in ")
            line.append(table, style="bold")
            node.add(rich_text(line))
    return tree


def _inline_log(engine: Any) -> list[Any]:
    rt = getattr(engine, "reactors", None)
    if rt is None or rt.mode != "inline":
        return []
    if rt.last_error:
        click.echo(safe(f"evsh: warning: reactors did not finish: {rt.last_error}"), err=True)
    return [r for r in rt.log if r.status != "duplicate"]


def reactions_json(engine: Any) -> list[dict[str, Any]]:
    """What the inline reactors did after the last command, as JSON-able objects."""
    return [r.as_dict() for r in _inline_log(engine)]


def print_reactions(engine: Any) -> None:
    """After a user's command (`evsh exec`): show what the inline reactors did, if anything."""
    shown = _inline_log(engine)
    if shown:
        console().print(reactions_tree(shown, "then, by reactors:"))


# ----------------------------------------------------------------------------- evsh reactors

@click.group(cls=Group, invoke_without_command=True)
@listing_options(what="reactors")
@click.pass_context
def reactors(ctx: click.Context, out: Output) -> None:
    """List reactors: checkpoint, lag, handled, parked, last error (or run them: see COMMANDS).

    Lag counts events after the checkpoint (an upper bound: not all of them may concern
    the reactor). Parked events wait in the dead-letter table (evsh dlq).
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = list(out.limited(_runtime(create=False).status()))
    if not out.table:
        out.items(rows)
        return
    from rich.text import Text

    def err(r: dict[str, Any]) -> Any:
        if not r["error"]:
            return ""
        prefix = "stopped: " if r["stopped"] else ""
        return Text(f"{prefix}#{r['error_position']} {r['error']}", style="red" if r["stopped"] else "yellow")

    stream_table(
        [("reactor", {"style": "bold", "keep": True}), ("listens to", {}),
         ("checkpoint", {"justify": "right", "keep": True}), ("lag", {"justify": "right", "keep": True}),
         ("handled", {"justify": "right", "keep": True}), ("parked", {"justify": "right", "keep": True}),
         ("lease", {"optional": True}), ("last error", {"fill": True, "min_width": 12})],
        ([r["name"], ", ".join(r["subscriptions"]), r["checkpoint"], r["lag"], r["handled"],
          Text(str(r["parked"]), style="red" if r["parked"] else ""),
          r["lease"]["owner"] if r["lease"] else "", err(r)] for r in rows),
        empty="this domain declares no reactors",
    )


@reactors.command("run")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--follow", "-f", is_flag=True, help="Keep handling new events until Ctrl-C.")
@click.option("--poll", type=Seconds(), default=0.5, show_default=True, metavar="SECONDS",
              help="With --follow: how often to look for new events and expired leases (a server store"
                   " also wakes the worker as soon as one is appended).")
@click.option("--lease", type=Seconds(min=0.05), default=10.0, show_default=True, metavar="SECONDS",
              help="How long a reactor stays this worker's without renewal (another worker takes over after).")
@click.option("--worker", default=None, help="This worker's name in leases (default host:pid).")
@click.option("--batch-size", type=Count(min=1), default=None, help="Events per transaction (default 500).")
def run(names: tuple[str, ...], follow: bool, poll: float, lease: float, worker: str | None,
        batch_size: int | None) -> None:
    """Run reactors as an async worker: catch up (and with --follow, keep up).

    Several workers may run at once on one store (on PostgreSQL, on several machines): each
    reactor is served by one worker at a time, under a lease that expires if its holder dies;
    another worker takes over within --lease + --poll seconds. A lost connection to the server
    is retried with backoff. Ctrl-C stops after the current batch.
    """
    app().wait_for_server = follow  # a follower waits for a server that is away, from its start on
    rt = _runtime()
    if batch_size:
        rt.batch_size = batch_size
    rt.select(names)  # unknown names are bad input before any work
    stopping = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:  # noqa: ARG001
        if stopping["now"]:  # a second Ctrl-C: stop now (a handler that never returns; the batch rolls back)
            from .. import interrupts

            interrupts.request()  # a real one, not a reactor's handler failing
            raise KeyboardInterrupt
        stopping["now"] = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    echo = click.echo
    if follow:  # from here on Ctrl-C is a clean stop; scripts may wait for this line
        echo(f"evsh: following {', '.join(names) or 'all reactors'}; Ctrl-C stops after the current batch",
             err=True)

    def on_batch(name: str, count: int, position: int) -> None:
        if follow and count:
            echo(f"{name}: {counted(count, 'event')}, checkpoint {number(position)}")
        for r in rt.log:
            if r.status in ("parked", "stopped"):
                echo(safe(f"evsh: warning: {r.reactor}: event #{r.event.position} {r.status}: {r.error}"), err=True)
        rt.log = []

    from .following import reconnector

    try:
        done = rt.work(names, follow=follow, owner=worker, lease=lease, poll=poll,
                       stop=lambda: stopping["now"], on_batch=on_batch,
                       reconnect=reconnector(rt.store, lambda: stopping["now"]))
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    on_batch("", 0, 0)
    try:
        statuses = rt.status()
    except ServerUnreachable:
        if not stopping["now"]:
            raise
        from .following import STOPPED_AWAY

        echo(STOPPED_AWAY, err=True)  # Ctrl-C while the server was away: a clean stop
        return
    for st in statuses:
        if names and st["name"] not in names:
            continue
        n = done.get(st["name"], 0)
        extra = f", lease held by {st['lease']['owner']}" if st["lease"] and n == 0 and st["lag"] else ""
        stopped = f", stopped: {st['error']}" if st["stopped"] else ""
        echo(safe(f"{st['name']}: {counted(n, 'event')} read, checkpoint {number(st['checkpoint'])},"
                  f" lag {number(st['lag'])}, parked {number(st['parked'])}{extra}{stopped}"))


@reactors.command("skip")
@click.argument("names", nargs=-1, metavar="[NAME]...")
def skip(names: tuple[str, ...]) -> None:
    """Move reactors to the end of the log without handling what is pending (history is not news)."""
    rt = _runtime()
    subs = rt.select(names)
    with rt.store.transaction() as store:
        head = store.head_position()
        for sub in subs:
            before = store.checkpoint(sub.checkpoint)
            if before < head:
                store.set_checkpoint(sub.checkpoint, head, rt.engine.clock())
            click.echo(f"{sub.name}: checkpoint {before} -> {max(before, head)}")


# ----------------------------------------------------------------------------- evsh step

@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON: the event and what each reactor did.")
def step(as_json: bool) -> None:
    """Deliver the next pending event to the reactors waiting for it, and show what happened.

    For watching a saga advance one event at a time (with --mode step, or EVSH_MODE=step, so
    commands do not run reactors by themselves).
    """
    rt = _runtime()
    event, reactions = rt.step()
    if as_json:
        emit_json_object({
            "event": event.as_dict() if event is not None else None,
            "reactions": [r.as_dict() for r in reactions],
            "pending": _pending(rt),
        })
        return
    if event is None:
        click.echo("nothing pending: every reactor has handled every event")
        return
    from rich.text import Text

    con = console()
    title = Text()
    title.append(f"#{event.position} ")
    title.append(event.type, style="cyan")
    title.append(f" {event.stream_id}@{event.version}")
    tree = reactions_tree([r for r in reactions if r.status != "duplicate"], "")
    tree.label = rich_text(title)
    con.print(tree)
    left = _pending(rt)
    con.print(Text(f"{counted(left, 'more delivery', 'more deliveries')} pending (evsh step)" if left
                   else "nothing more pending", style="dim"))


def _pending(rt: Any) -> int:
    """Events after the checkpoints that reactors listen to (exact, for the step display)."""
    total = 0
    for sub in rt.subs.values():
        cp = rt.store.checkpoint(sub.checkpoint)
        total += sum(1 for e in rt.engine.read_all(cp + 1, types=sub.types, categories=sub.categories)
                     if sub.matches(e))
    return total


# ----------------------------------------------------------------------------- evsh dlq

@click.group(cls=Group)
def dlq() -> None:
    """Dead letters: events a reactor failed to handle after its retries (list, show, retry, discard)."""


@dlq.command("list")
@click.option("--reactor", default=None, help="Only this reactor's.")
@click.option("--all", "show_all", is_flag=True, help="Also retried and discarded ones.")
@listing_options(what="dead letters")
def dlq_list(reactor: str | None, show_all: bool, out: Output) -> None:
    """List parked events (id, reactor, event, attempts, error)."""
    from ..engine.reactors import dead_letters

    rows = list(out.limited(dead_letters(app().store(), status=None if show_all else "parked", reactor=reactor)))
    if not out.table:
        out.items(rows)
        return
    stream_table(
        [("id", {"justify": "right", "keep": True}), ("reactor", {"style": "bold", "keep": True}),
         ("position", {"justify": "right", "keep": True}), ("event", {"style": "cyan", "keep": True}),
         ("stream", {"keep": True}), ("attempts", {"justify": "right"}), ("status", {}),
         ("parked_at", {"style": "dim", "optional": True}), ("error", {"fill": True, "min_width": 12})],
        ([r["id"], r["reactor"], r["position"], r["event_type"], r["stream_id"], r["attempts"], r["status"],
          r["parked_at"], r["error"]] for r in rows),
        empty="no dead letters" if not show_all else "no dead letters, ever",
    )


@dlq.command("show")
@click.argument("id", type=Count(min=1))
@click.option("--json", "as_json", is_flag=True, help="JSON: the dead letter and its event.")
def dlq_show(id: int, as_json: bool) -> None:
    """Show one dead letter with its event."""
    from ..engine.reactors import dead_letter

    store = app().store()
    row = dead_letter(store, id)
    ev = store.event_by_id(row["event_id"])
    row["event"] = ev.as_dict() if ev is not None else None
    if as_json:
        emit_json_object(row)
        return
    from .render import print_state

    print_state({k: v for k, v in row.items() if k != "event"}, f"dead letter {id}")
    if ev is not None:
        print_state({"type": ev.type, "stream": f"{ev.stream_id}@{ev.version}", "data": ev.data,
                     "metadata": ev.metadata, "recorded_at": ev.recorded_at}, "event")


def _ids(ids: Sequence[int], all_: bool, reactor: str | None, rt: Any) -> list[int]:
    from ..engine.reactors import dead_letters

    if all_:
        if ids:
            raise BadInput("give dead letter ids or --all, not both")
        return [r["id"] for r in dead_letters(rt.store, reactor=reactor)]
    if not ids:
        raise BadInput("which dead letters? give their ids (see evsh dlq list) or --all")
    return list(ids)


@dlq.command("retry")
@click.argument("ids", type=Count(min=1), nargs=-1, metavar="[ID]...")
@click.option("--all", "all_", is_flag=True, help="Every parked event (of --reactor).")
@click.option("--reactor", default=None, help="With --all: only this reactor's.")
def dlq_retry(ids: tuple[int, ...], all_: bool, reactor: str | None) -> None:
    """Redeliver parked events through the same idempotency guard: never handled twice.

    Exit 1 when one fails again (it stays parked with the new error).
    """
    from ..engine.reactors import dead_letter

    rt = _runtime()
    failed = []
    chosen = _ids(ids, all_, reactor, rt)
    for id in chosen:
        row = dead_letter(rt.store, id)
        if row["reactor"].startswith("consumer:"):  # a broker message the inbox parked (evsh consume)
            from ..broker.inbox import retry_dead_letter as retry_message

            status, said = retry_message(rt.engine, row)
            click.echo(safe(f"dead letter {id}: {'failed again' if status == 'failed' else status}: {said}"),
                       err=status == "failed")
            if status == "failed":
                failed.append(id)
            continue
        status, reaction = rt.retry_dead_letter(id)
        if status == "duplicate":
            click.echo(f"dead letter {id}: already handled, nothing sent again; marked retried")
        elif status == "retried":
            sent = len(reaction.commands) if reaction else 0
            click.echo(safe(f"dead letter {id}: retried, {reaction.reactor} handled {reaction.event.type} "
                            f"{reaction.event.stream_id}@{reaction.event.version} ({counted(sent, 'command')} sent)"))
        else:
            failed.append(id)
            click.echo(safe(f"dead letter {id}: failed again: {reaction.error if reaction else ''}"), err=True)
    if not chosen:
        click.echo("no dead letters to retry")
    if failed:
        raise ExpectationFailed(f"{number(len(failed))} of {counted(len(chosen), 'dead letter')} failed again and"
                                f" {'stays' if len(failed) == 1 else 'stay'} parked")


@dlq.command("discard")
@click.argument("ids", type=Count(min=1), nargs=-1, metavar="[ID]...")
@click.option("--all", "all_", is_flag=True, help="Every parked event (of --reactor).")
@click.option("--reactor", default=None, help="With --all: only this reactor's.")
def dlq_discard(ids: tuple[int, ...], all_: bool, reactor: str | None) -> None:
    """Give up on parked events (kept, marked discarded, for the record)."""
    rt = _runtime()
    chosen = _ids(ids, all_, reactor, rt)
    for id in chosen:
        rt.discard_dead_letter(id)
        click.echo(f"dead letter {id}: discarded")
    if not chosen:
        click.echo("no dead letters to discard")
