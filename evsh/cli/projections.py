"""`evsh projections`: list, run (catch up, --follow), rebuild, reset and skip (an event) read models."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import click

from ..errors import StoreError
from ..sanitise import safe
from ..wording import counted, number
from .context import app
from .groups import Group
from .errors import CLIError
from .output import Output, listing_options
from .params import Count, Seconds
from .render import progress, stream_table

@contextmanager
def _stop_on_interrupt() -> Iterator[Any]:
    """Ctrl-C (or SIGTERM) sets a flag checked between batches instead of tearing a batch apart."""

    class Flag:
        stopped = False

        def __call__(self) -> bool:
            return self.stopped

    flag = Flag()

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        if flag.stopped:  # a second Ctrl-C: stop now (the open batch rolls back)
            from .. import interrupts

            interrupts.request()  # a real one, not a projection's handler failing
            raise KeyboardInterrupt
        flag.stopped = True
        click.echo("evsh: stopping after the current batch (Ctrl-C again to abort it)", err=True)

    try:
        old_int = signal.signal(signal.SIGINT, handler)
        old_term = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. a TUI worker): no signal handling
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def _engine():
    a = app()
    return a.engine(domain_required=True)


@click.group(cls=Group, invoke_without_command=True)
@listing_options(what="projections")
@click.pass_context
def projections(ctx: click.Context, out: Output) -> None:
    """List the domain's projections: mode, version, checkpoint, lag, rows, last error, last run.

    \b
    Subcommands: run [NAME]... [--follow], rebuild NAME, reset NAME,
    skip NAME --position N (go on past an event it cannot apply).
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..engine import projections as P

    rows = list(out.limited(P.status(_engine())))
    if not out.table:
        out.items(rows)
        return
    from rich.text import Text

    def state(r: dict[str, Any]) -> Text:
        if r["error"]:
            e = r["error"]
            return Text(f"failed at {e['position']} ({e['type']}): {e['message']}", style="red")
        if r["needs_rebuild"]:
            return Text(f"needs rebuild: {r['needs_rebuild_reason']}", style="yellow")
        if r["rebuild_in_progress"] is not None:
            return Text(f"rebuild unfinished at {r['rebuild_in_progress']}", style="yellow")
        if r["built_version"] is None:
            return Text("not built yet", style="dim")
        if r["skipped"]:
            last = r["skipped"][-1]
            return Text(f"ok, {len(r['skipped'])} skipped (last: {last['position']}, {last['event_type']})",
                        style="yellow")
        return Text("ok", style="green")

    stream_table(
        [("name", {"style": "bold", "keep": True}), ("mode", {"keep": True}), ("version", {"justify": "right"}),
         ("checkpoint", {"justify": "right", "keep": True}), ("lag", {"justify": "right", "keep": True}),
         ("rows", {"justify": "right", "keep": True}), ("last run", {"style": "dim", "optional": True}),
         ("state", {"fill": True, "min_width": 12})],
        ((r["name"], r["mode"], r["version"], r["checkpoint"], r["lag"], "" if r["rows"] is None else r["rows"],
          r["last_run"] or "", state(r)) for r in rows),
        empty="this domain declares no projections",
    )


def run_with_progress(engine: Any, names: Sequence[str] = (), *, batch_size: int = 2000, stop: Any = None,
                      skip: Any = ()) -> list[Any]:
    """One pass of every projection up to the head, with a progress bar per projection on a
    terminal (a first pass over a big log may take seconds: it is never silent there)."""
    from ..engine import projections as P

    head = engine.store.head_position()
    with progress(head, "catching up") as bar:
        tasks: dict[str, Any] = {}

        def on_batch(name: str, n: int, pos: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=max(head, 1))
            bar.update(tasks[name], completed=pos, total=max(head, pos, 1))

        return P.run(engine, names, batch_size=batch_size, stop=stop, skip=skip, on_batch=on_batch)


def build_read_models(engine: Any) -> None:
    """After a seed or an import: every projection brought up to date now, with progress on a
    terminal, and one line saying so; else the first command after it would sit silent for
    seconds while an inline projection caught up. A projection that fails is named, not fatal."""
    start = time.perf_counter()
    results = run_with_progress(engine)
    if results:
        failed = [r for r in results if r.error is not None or r.skipped]
        click.echo(safe(f"read models up to date: {counted(len(results) - len(failed), 'projection')}"
                        f" in {time.perf_counter() - start:.1f} s"
                        + (f"; not built: {', '.join(r.name for r in failed)} (see `evsh projections`)" if failed else "")))


@projections.command("run")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--follow", "-f", is_flag=True, help="Keep up with new events until Ctrl-C.")
@click.option("--batch-size", type=Count(min=1), default=2000, show_default=True,
              help="Events per transaction.")
@click.option("--interval", type=Seconds(), default=None, metavar="SECONDS",
              help="With --follow: how often to look for new events (env EVSH_POLL_INTERVAL; default 0.2;"
                   " a server store also wakes followers as soon as one is appended).")
def run_cmd(names: tuple[str, ...], follow: bool, batch_size: int, interval: float | None) -> None:
    """Bring projections up to date from their checkpoints (all of them when no NAME is given).

    A handler that raises stops its projection at that event (the error is recorded and shown
    by `evsh projections`); the others go on, and the command exits with status 5.
    """
    from ..engine import projections as P

    from .following import poll_interval

    poll = poll_interval(interval) if follow else 0.0  # (not used by one pass); checked before waiting
    app().wait_for_server = follow  # a follower waits for a server that is away, from its start on
    engine = _engine()
    P.select(engine, names)  # unknown names fail before anything runs
    failed: dict[str, Any] = {}
    first = True

    modes = {p.name: p.mode for p in P.select(engine, names)}

    def one_pass(stop: Any) -> list[Any]:
        skip = failed if follow else ()
        if not first:
            return P.run(engine, names, batch_size=batch_size, stop=stop, skip=skip)
        return run_with_progress(engine, names, batch_size=batch_size, stop=stop, skip=skip)

    from ..engine.following import idle
    from .following import STOPPED_AWAY, reconnector

    with _stop_on_interrupt() as stop:
        reconnect = reconnector(engine.store, stop)
        while True:
            try:
                head = engine.store.head_position()
                results = one_pass(stop)
            except StoreError as exc:  # a lost connection, when following: reconnect and go on
                if not follow or not reconnect.recovered(exc):
                    if follow and stop():  # Ctrl-C while the server was away: a clean stop
                        click.echo(STOPPED_AWAY, err=True)
                        break
                    raise
                continue
            first = False
            busy = False
            for r in results:
                if r.error is not None:
                    failed[r.name] = r.error
                    click.echo(safe(f"evsh: {r.name}: {r.error} (fix the handler, or go on without that event:"
                                    f" evsh projections skip {r.name} --position {r.error.position})"), err=True)
                elif r.skipped:
                    if not follow or r.name not in failed:
                        click.echo(f"{r.name}: skipped, {r.skipped}; run `evsh projections rebuild {r.name}`")
                    failed.setdefault(r.name, None)
                elif r.handled or not follow:
                    busy = busy or bool(r.handled)
                    if modes.get(r.name) == "inline" and not r.handled:
                        click.echo(f"{r.name}: inline, kept up to date by every append (checkpoint"
                                   f" {number(r.checkpoint)})")
                    else:
                        click.echo(f"{r.name}: handled {counted(r.handled, 'event')}, checkpoint {number(r.checkpoint)}")
            if not follow or stop():
                break
            if not busy:
                idle(engine.store, head, poll, stop, reconnect)
            if stop():
                break
    errors = [e for e in failed.values() if e is not None]
    if errors:
        raise CLIError(errors[0])


@projections.command("rebuild")
@click.argument("name")
@click.option("--batch-size", type=Count(min=1), default=5000, show_default=True,
              help="Events per committed batch (other writers wait at most one batch).")
def rebuild_cmd(name: str, batch_size: int) -> None:
    """Replay the whole log into fresh tables and swap them in atomically.

    Queries see the old, complete tables until the swap; an interrupted rebuild (Ctrl-C, a
    crash) leaves them as they were.
    """
    from ..engine import projections as P

    engine = _engine()
    P.find(engine, name)
    head = engine.store.head_position()
    with _stop_on_interrupt() as stop, progress(head, f"rebuilding {name}") as bar:
        task = bar.add_task(f"rebuilding {name}", total=head or 1)
        result = P.rebuild(
            engine, name, batch_size=batch_size, stop=stop,
            on_progress=lambda pos, total: bar.update(task, completed=pos, total=max(total, 1)),
        )
    if result is None:
        click.echo(f"rebuild of {name} stopped; its tables are as they were", err=True)
        raise SystemExit(130)
    rate = result.events / result.seconds if result.seconds > 0 else 0.0
    click.echo(
        f"rebuilt {name}: {counted(result.events, 'event')} ({number(result.handled)} handled) in {result.seconds:.2f} s"
        f" ({rate:,.0f} events/s), {counted(result.rows, 'row')}"
    )


@projections.command("skip")
@click.argument("name")
@click.option("--position", type=Count(min=1), required=True,
              help="The event to skip: the position a failure names (see `evsh projections`).")
def skip_cmd(name: str, position: int) -> None:
    """Have a projection never apply one event: the way on past an event it cannot apply.

    The skip is recorded (with the error) and shown by `evsh projections`; catch-up, an inline
    projection's catch-up and rebuilds all leave the event out, until `reset`. A projection
    stopped right before it moves past it; run it again to go on.
    """
    from ..engine import projections as P

    done = P.skip(_engine(), name, position)
    what = f"event {position} ({done['event_type']} in {done['stream_id']})"
    if done["applied_before"]:
        click.echo(f"{name}: {what} was applied already (checkpoint {done['checkpoint']:,});"
                   " rebuilds will leave it out")
    else:
        click.echo(f"{name}: skipped {what}; checkpoint {done['checkpoint']:,}")


@projections.command("reset")
@click.argument("name")
def reset_cmd(name: str) -> None:
    """Drop a projection's tables, checkpoint and skipped events (`run` or `rebuild` builds it again)."""
    from ..engine import projections as P

    dropped = P.reset(_engine(), name)
    shown = ", ".join(dropped) if dropped else "no tables"
    click.echo(f"reset {name}: dropped {shown}; its checkpoint is gone")
