"""`evsh verify`: property-based checks of a domain (replay determinism, idempotency)."""

from __future__ import annotations

import click

from ..errors import ExpectationFailed
from ..wording import counted, number
from .context import app
from .invocation import evsh_command


@click.command()
@click.option("--domain", "domain_opt", default=None, metavar="FILE_OR_MODULE",
              help="The domain to check (default: the global --domain / EVSH_DOMAIN).")
@click.option("--examples", type=click.IntRange(min=1, max=100_000), default=100, show_default=True,
              help="Generated command sequences per property.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Repeat a run exactly (the seed of every run is shown).")
@click.option("--steps", "max_steps", type=click.IntRange(min=1, max=500), default=12, show_default=True,
              help="The most commands in one generated sequence.")
@click.option("--property", "only", multiple=True, metavar="NAME",
              help="Only properties whose name contains NAME (repeatable).")
@click.option("--out", "out_dir", default="verify-failures", show_default=True, metavar="DIR",
              help="Where the .evsh scripts reproducing failures are written.")
@click.option("--json", "as_json", is_flag=True, help="Print the results and the coverage as JSON (for CI).")
@click.option("--min-coverage", type=click.IntRange(min=0, max=100), default=0, show_default=True, metavar="PERCENT",
              help="Exit 1 when fewer than PERCENT of the commands succeeded, or of the event types were produced.")
def verify(domain_opt: str | None, examples: int, seed: int | None, max_steps: int, only: tuple[str, ...],
           out_dir: str, as_json: bool, min_coverage: int) -> None:
    """Check that the domain keeps event sourcing's promises, on generated command sequences.

    Commands are generated against the state reached so far, from their signatures and
    type hints (a domain module may steer them: docs/verify.md). Checked: commands accept or
    reject; replay is deterministic (twice, in chunks, in a fresh process); projections
    equal a rebuild and ignore a redelivered event; reactors do nothing more on a redelivered
    event and do not raise; deciding depends on the events alone; upcasters are pure.
    A failure is shrunk and written as a script for `evsh run` that fails until it is fixed.
    A coverage report follows (commands tried/succeeded, event types produced).

    Exit status: 0 all hold, 1 one does not (or coverage below --min-coverage), 2 bad usage.
    """
    import sys

    from ..domain.registry import load_domain
    from .render import console

    a = app()
    spec = domain_opt or a.domain_spec
    if not spec:
        raise click.UsageError("evsh verify needs a domain: --domain FILE_OR_MODULE (try --domain shop)")
    domain = load_domain(spec)
    from ..verify.runner import check_out_dir, script_path, select
    from ..verify.runner import verify as run_verify
    from .store_paths import refuse_store_path

    # the folder and every script a failure may write there, checked before any example runs
    for path in (out_dir, *(script_path(out_dir, domain, p.name) for p in select(only))):
        refuse_store_path(path, a.db, "verify --out")
    check_out_dir(out_dir)

    err = console(stderr=True)
    tty = sys.stderr.isatty()
    bar = _Bar(err) if tty else None
    last: dict[str, int] = {}

    def progress(name: str, n: int, total: int) -> None:
        if bar is not None:
            bar.update(name, n, total)
        elif name not in last:  # off a terminal (CI logs): a line as each property starts
            click.echo(f"evsh verify: checking {name} ({total} examples)", err=True)
        last[name] = n

    if not tty:
        click.echo(f"evsh verify: domain {domain.name}, up to {examples} examples per property", err=True)
    try:
        results, used_seed, coverage = run_verify(domain, spec, examples=examples, seed=seed, max_steps=max_steps,
                                        only=only, out_dir=out_dir, progress=progress)
    finally:
        if bar is not None:
            bar.stop()
    from ..verify.coverage import as_dict, percentages, warnings

    cmd_pct, ev_pct = percentages(coverage)
    if as_json:
        import json

        click.echo(json.dumps({
            "domain": domain.name, "seed": used_seed,
            "properties": [{"name": r.name, "status": r.status, "examples": r.examples, "message": r.message,
                            "script": r.script} for r in results],
            "coverage": as_dict(coverage), "warnings": warnings(coverage),
            "commands_succeeded_percent": cmd_pct, "event_types_produced_percent": ev_pct,
        }, indent=2))
    else:
        _report(results, used_seed, domain.name, spec)
        _coverage_report(coverage)
    failed = [r for r in results if r.status == "fails"]
    if failed:
        raise ExpectationFailed(
            f"{number(len(failed))} of {counted(len(results), 'property', 'properties')} {'does' if len(failed) == 1 else 'do'} not hold for domain {domain.name} (seed {used_seed})"
        )
    if min(cmd_pct, ev_pct) < min_coverage:
        raise ExpectationFailed(
            f"coverage below --min-coverage {min_coverage}%: {cmd_pct}% of commands succeeded,"
            f" {ev_pct}% of event types produced"
        )


def _coverage_report(coverage) -> None:  # noqa: ANN001
    from rich.table import Table

    from ..sanitise import rich_text
    from ..verify.coverage import warnings
    from .render import console

    out = console()
    for title, first, counts, columns in (
            ("commands", "command", coverage.commands, (("tried", "tried"), ("succeeded", "succeeded"),
                                                        ("rejected", "rejected"), ("invalid", "invalid"),
                                                        ("by reactors", "by_reactors"))),
            ("events", "event type", coverage.events, (("produced", "produced"), ("applied", "applied"),
                                                       ("projected", "projected"), ("reacted to", "reacted")))):
        t = Table(title=f"coverage: {title}", title_justify="left")
        t.add_column(first)
        for header, _ in columns:
            t.add_column(header, justify="right")
        for name, c in sorted(counts.items()):
            t.add_row(rich_text(name), *(number(getattr(c, attr)) for _, attr in columns))
        out.print(t)
    for line in warnings(coverage):
        out.print(rich_text(f"warning: {line}", style="yellow"))


class _Bar:
    """A live progress bar per property on a terminal."""

    def __init__(self, console) -> None:  # noqa: ANN001
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                                 console=console, transient=True)
        self.tasks: dict[str, int] = {}
        self.progress.start()

    def update(self, name: str, n: int, total: int) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=total)
        self.progress.update(self.tasks[name], completed=n)

    def stop(self) -> None:
        self.progress.stop()


def _report(results, seed: int, domain_name: str, spec: str) -> None:  # noqa: ANN001
    from rich.table import Table
    from rich.text import Text

    from ..sanitise import rich_text
    from .render import console

    out = console()  # lines to copy (commands) are soft-wrapped: the terminal wraps them, no newline is added
    table = Table(title=rich_text(f"evsh verify: domain {domain_name} (seed {seed})"), title_justify="left")
    table.add_column("property")
    table.add_column("examples", justify="right")
    table.add_column("result")
    notes = any(r.note for r in results)
    if notes:
        table.add_column("note")
    styles = {"holds": "green", "fails": "bold red", "skipped": "dim"}
    for r in results:
        shown = {"holds": "holds", "fails": "FAILS", "skipped": f"skipped: {r.message}"}[r.status]
        cells = [rich_text(r.name), str(r.examples) if r.status != "skipped" else "-",
                 rich_text(shown, style=styles[r.status])]
        if notes:
            cells.append(rich_text(r.note if r.status != "skipped" else "", style="dim"))
        table.add_row(*cells)
    out.print(table)
    for r in results:
        if r.status != "fails":
            continue
        out.print(rich_text(f"\n✗ {r.name}: {r.promise}", style="bold red", lines=True))
        out.print(rich_text(f"  {r.message}", lines=True))
        out.print(Text(f"  smallest counterexample ({counted(len(r.counterexample), 'command')}):"))
        notes = {}
        for o in r.counterexample:
            notes[o.step.line()] = {"rejected": f"   # rejected: {o.message}", "error": "   # raised",
                                    "invalid": "   # refused"}.get(o.outcome, "")
        if r.body is not None:  # the reproducer's lines, in the order that failed
            for line in r.body:
                bare = line.removeprefix("expect rejected ").removeprefix("expect error ")
                shown = f"evsh {bare}{notes.get(bare, '')}" if bare.startswith("exec ") else line
                out.print(rich_text(f"    {shown}"), soft_wrap=True)
        else:
            for o in r.counterexample:
                out.print(rich_text(f"    evsh {o.step.line()}{notes[o.step.line()]}"), soft_wrap=True)
            for line in r.tail:
                out.print(rich_text(f"    {line}"), soft_wrap=True)
        if r.script:
            out.print(rich_text(f"  reproduce: rm -f repro.db && {evsh_command()} --db repro.db --domain {spec}"
                                f" run {r.script}"), soft_wrap=True)
