"""`evsh tui`: the Textual event-store browser (textual is imported only when it runs)."""

from __future__ import annotations

import sys

import click

from .context import app as app_context
from .errors import USAGE
from .params import Seconds


@click.command("tui")
@click.option("--poll", "poll_interval", type=Seconds(0.05, 60), default=0.5, show_default=True,
              metavar="SECONDS", help="How often the live tail looks for new events.")
@click.option("--no-tail", is_flag=True, help="Start with the live tail paused (t toggles it).")
def tui(poll_interval: float, no_tail: bool) -> None:
    """Browse streams, events and aggregate state through time, in a terminal UI.

    \b
    Keys: / find, g go to, enter open an event, x run a command, p projections,
    r reactors, m metrics, ? help, q quit. Needs a terminal: for scripts use
    `evsh log --json`.
    """
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        click.echo("evsh: error: `evsh tui` needs a terminal; for scripts and pipes use `evsh log --json`",
                   err=True)
        sys.exit(USAGE)
    ctx = app_context()
    engine = ctx.engine()
    from ..tui.app import EvshApp

    EvshApp(engine, poll_interval=poll_interval, tail=not no_tail).run()
