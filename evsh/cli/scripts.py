"""`evsh run` (scripts), `evsh shell` (interactive) and `evsh demo` (the guided shop story).

All three speak the same language (evsh/shell/script.py): every evsh command without the
leading `evsh`, plus `say`, `expect`, `redeliver` and `repeat ... end`.
"""

from __future__ import annotations

import os
import sys

import click

from .context import app


def read_sources(files: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, text) of every script, read before anything runs; a missing file is bad input."""
    out = []
    stdin_used = False
    for name in files:
        if name == "-":
            if stdin_used:
                raise click.BadParameter("'-' (standard input) can be given only once", param_hint="FILE")
            stdin_used = True
            out.append(("<stdin>", sys.stdin.read()))
            continue
        try:
            with open(name, encoding="utf-8") as fh:
                out.append((name, fh.read()))
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise click.BadParameter(f"cannot read {name}: {reason}", param_hint="FILE") from None
    return out


def tty_line() -> str:
    """A line from the terminal, for --pause when the script itself comes from stdin."""
    try:
        with open("/dev/tty", encoding="utf-8") as tty:
            return tty.readline()
    except OSError:
        return ""


def run_sources(sources: list[tuple[str, str]], *, echo: bool = False, pause: bool = False,
                keep_going: bool = False, from_stdin: bool = False) -> int:
    """Parse every script first (a syntax error anywhere runs nothing), then run them in order."""
    from ..shell.script import Runner, ScriptSyntaxError

    runner = Runner(app(), echo=echo, pause=pause, keep_going=keep_going,
                    pause_input=tty_line if from_stdin else None)
    parsed = []
    for name, text in sources:
        try:
            parsed.append(runner.parse(name, text))
        except ScriptSyntaxError as exc:
            click.echo(f"{exc.where}: error: {exc.message}", err=True)
            return 2
    for nodes in parsed:
        code = runner.run_nodes(nodes)
        if code and not keep_going:
            return code
    if runner.failures and keep_going:
        n = len(runner.failures)
        click.echo(f"{n} line{'s' if n != 1 else ''} failed:", err=True)
        for f in runner.failures:
            click.echo(f"  {f.where}: {f.message.splitlines()[0]}", err=True)
        return runner.failures[0].code
    return 0


@click.command("run")
@click.argument("files", nargs=-1, required=True, metavar="FILE.evsh|-...")
@click.option("--echo", is_flag=True, help="Print each line before its output (for live demos).")
@click.option("--pause", is_flag=True, help="Wait for Enter before each step (for a presenter).")
@click.option("--keep-going", "-k", is_flag=True, help="Run on after a failing line; report every failure at the end.")
def run(files: tuple[str, ...], echo: bool, pause: bool, keep_going: bool) -> None:
    """Run .evsh scripts: evsh commands without the leading `evsh`, one per line, with
    expectations ('-' reads the script from stdin).

    \b
    Global options (--db, --domain, ...) apply to every line:
      evsh --domain shop run sample_data/demos/happy_path.evsh
    Stops at the first failing line with FILE:LINE: message and that line's exit code
    (1 for a failed expectation). The language: docs/scripts.md, or `help` in `evsh shell`.
    """
    code = run_sources(read_sources(files), echo=echo, pause=pause, keep_going=keep_going,
                       from_stdin="-" in files)
    if code:
        raise click.exceptions.Exit(code)


@click.command("shell")
@click.option("--history", "history_file", default=None, metavar="FILE", envvar="EVSH_HISTORY",
              help="Where to keep the history (env EVSH_HISTORY; default in your data folder).")
def shell(history_file: str | None) -> None:
    """An interactive shell on the store: evsh commands without `evsh`, with history and
    tab completion. `help` lists commands; Ctrl-D or `exit` leaves.

    With stdin not a terminal it runs the input as a script, exactly like `evsh run -`.
    """
    if not sys.stdin.isatty():
        code = run_sources(read_sources(("-",)), from_stdin=True)
        if code:
            raise click.exceptions.Exit(code)
        return
    from ..shell.repl import repl

    repl(app(), history_file=history_file)


def default_history_file() -> str:
    """~/.local/share/evsh/history (XDG_DATA_HOME honoured), or ~/.evsh_history as a fallback."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    folder = os.path.join(base, "evsh")
    try:
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, "history")
    except OSError:
        return os.path.join(os.path.expanduser("~"), ".evsh_history")
