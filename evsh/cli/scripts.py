"""`evsh run` (scripts), `evsh shell` (interactive) and `evsh demo` (the guided shop story).

All three speak the same language (evsh/shell/script.py): every evsh command without the
leading `evsh`, plus `say`, `expect`, `redeliver` and `repeat ... end`.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from typing import Any, Sequence

import click

from ..errors import BadInput
from ..sanitise import safe
from ..store.connect import shown
from ..wording import counted
from .context import app


def read_sources(files: tuple[str, ...]) -> list[tuple[str, str]]:
    """(name, text) of every script, read before anything runs; a missing file is bad input."""
    from ..shell.parsing import read_script, read_stdin_script

    out = []
    stdin_used = False
    for name in files:
        try:
            if name == "-":
                if stdin_used:
                    raise click.BadParameter("'-' (standard input) can be given only once", param_hint="FILE")
                stdin_used = True
                out.append(("<stdin>", read_stdin_script()))
                continue
            with open(name, encoding="utf-8") as fh:
                out.append((name, read_script(fh, name)))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            shown_name = "standard input" if name == "-" else name
            raise click.BadParameter(f"cannot read {shown_name}: {reason}", param_hint="FILE") from None
    return out


def tty_line() -> str:
    """A line from the terminal, for --pause when the script itself comes from stdin."""
    try:
        with open("/dev/tty", encoding="utf-8") as tty:
            return tty.readline()
    except OSError:
        return ""


def header_options(text: str) -> list[str]:
    """Global options a script declares on its first line, a shebang naming evsh:

        #!/usr/bin/env -S evsh --domain shop --mode step run

    makes the file executable and says how to run it. Options given on the command line win.
    Such a line that could not run the file (an unclosed quote, no `run`, an option `run` does
    not take, files after it) is BadInput: `evsh run` would otherwise run what `./FILE` refuses.
    Options of `run` itself there (--echo, ...) are for `./FILE`; `evsh run` takes its own.
    """
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        return []
    try:
        tokens = shlex.split(first[2:])
    except ValueError as exc:
        if not re.search(r"(^|[\s/])evsh(\s|$)", first):
            return []  # another program's line: not ours to judge
        raise BadInput(f"cannot be split into words ({exc}); close the quote") from None
    start = next((i for i, t in enumerate(tokens) if os.path.basename(t) == "evsh"), None)
    if start is None:
        return []
    rest = tokens[start + 1:]
    if "run" not in rest:
        raise BadInput("name evsh but not `run`; end the line with run: #!/usr/bin/env -S evsh [OPTIONS] run")
    at = rest.index("run")
    # click's errors name a bad option; --help there would print help instead of running
    parsed = run.make_context("run", [*rest[at + 1:], "FILE"], help_option_names=[])
    if len(parsed.params["files"]) > 1:
        raise BadInput("name files after `run`; the script itself is the file that runs")
    return rest[:at]


def context_with(header: list[str], extra: Sequence[str] = (), inherited: Sequence[str] = (),
                 only: Sequence[str] | None = None) -> Any:
    """A new AppContext from ``header`` global options (over ``inherited`` ones and the
    environment), overridden by ``extra`` and then by the options given on the command line.
    The evsh group's own callback builds it, so options mean what they mean on the command line."""
    from click.core import ParameterSource

    from .main import cli

    root = click.get_current_context().find_root()
    given: list[str] = []
    for p in cli.params:
        if not isinstance(p, click.Option) or p.name is None or p.expose_value is False:
            continue
        if only is not None and p.name not in only:
            continue
        # the command line beats the script's line; the environment does not (click reads it
        # below for what neither says)
        if root.get_parameter_source(p.name) is not ParameterSource.COMMANDLINE:
            continue
        value = root.params.get(p.name)
        if p.is_flag:
            given += [p.opts[0]] if value else []
        elif value is not None:
            given += [p.opts[0], str(value)]
    ctx = cli.make_context("evsh", [*inherited, *header, *extra, *given, "run", "-"])
    with ctx:
        ctx.invoke(cli.callback, **ctx.params)
    return ctx.obj


def run_sources(sources: list[tuple[str, str]], *, echo: bool = False, pause: bool = False,
                keep_going: bool = False, from_stdin: bool = False) -> int:
    """Parse every script first (a syntax error anywhere runs nothing), then run them in order.

    A script whose first line declares global options (see header_options) runs on its own
    context built from them; the others share the one of this invocation."""
    from ..shell.parsing import ScriptSyntaxError
    from ..shell.script import Runner

    shared = app()
    contexts: list[Any] = []
    try:
        for name, text in sources:
            try:
                header = header_options(text)
                # a script run from another script stays on its store and domain unless it names others
                inherited = ["--db", shared.db] + (["--domain", shared.domain_spec] if shared.domain_spec else [])
                contexts.append(context_with(header, inherited=inherited) if header else shared)
            except (click.ClickException, click.exceptions.Exit, BadInput) as exc:
                message = (exc.format_message() if isinstance(exc, click.ClickException)
                           else str(exc) if isinstance(exc, BadInput) else "bad options")
                click.echo(safe(f"{name}:1: error: the options on the first line: {message}"), err=True)
                return 2
        from .main import cli

        runners = [Runner(ctx, cli, echo=echo, pause=pause, keep_going=keep_going,
                          pause_input=tty_line if from_stdin else None) for ctx in contexts]
        parsed = []
        for runner, (name, text) in zip(runners, sources):
            try:
                parsed.append(runner.parse(name, text))
            except ScriptSyntaxError as exc:
                click.echo(safe(f"{exc.where}: error: {exc.message}"), err=True)
                return 2
        failures = []
        for runner, nodes in zip(runners, parsed):
            code = runner.run_nodes(nodes)
            failures += runner.failures
            if code and not keep_going:
                return code
            if runner.exited is not None:  # `exit` stops the run, not only its own script
                break
    finally:
        for ctx in contexts:
            if ctx is not shared:
                ctx.close()
    if failures and keep_going:
        n = len(failures)
        click.echo(f"{counted(n, 'line')} failed:", err=True)
        for f in failures:
            click.echo(safe(f"  {f.where}: {f.message.splitlines()[0]}"), err=True)
        return failures[0].code
    lines = sum(r.lines_run for r in runners)
    held = sum(r.expectations_held for r in runners)
    # on stderr: what the lines printed stays exactly theirs (a script's JSON can be piped on)
    click.echo(f"ran {counted(lines, 'line')}: {counted(held, 'expectation')} held", err=True)
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
    --db :memory: runs on a store that lives as long as the run, so a script that
    creates its streams can be run again and again:
      evsh --db :memory: --domain shop run checks.evsh

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

    Lines holding a personal field's value are kept for this session only, never written to
    the history file.

    With stdin not a terminal it runs the input as a script, exactly like `evsh run -`.
    """
    if not sys.stdin.isatty():
        code = run_sources(read_sources(("-",)), from_stdin=True)
        if code:
            raise click.exceptions.Exit(code)
        return
    from ..shell.history import default_history_file
    from ..shell.repl import repl
    from .store_paths import refuse_store_path

    a = app()
    history_file = history_file or default_history_file()
    refuse_store_path(history_file, a.db, "shell --history")
    from .main import cli

    repl(a, cli, history_file=history_file)


# ----------------------------------------------------------------------------- evsh demo

DEMO_DB = "evsh-demo.db"
STORY = "shop_story"

SHOW_STORY = """
say "What the store holds now. Streams: one per aggregate instance; a stream's version counts its events."
streams
say "A read model (CQRS): the order_details projection, a table kept up to date from the events."
projections run
sql "SELECT order_id, customer_id, item_count, total_amount, status FROM order_details ORDER BY order_id"
say "A causal trace: every command and event that followed Bob's order, across aggregates."
trace order-1002
"""


def bundled_demos() -> dict[str, Any]:
    """name -> Traversable of the demos shipped with evsh (read with importlib.resources, so
    they work from any folder once evsh is installed)."""
    from importlib.resources import files

    try:
        root = files("evsh.samples").joinpath("demos")
        return {p.name[:-5]: p for p in sorted(root.iterdir(), key=lambda p: p.name) if p.name.endswith(".evsh")}
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        return {}


def demo_title(text: str) -> str:
    """The first comment line after the shebang: what the demo shows."""
    for line in text.splitlines():
        if line.startswith("#!"):
            continue
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line.strip():
            break
    return ""


def rule(con: Any, title: str) -> Any:
    """A heading line across the terminal; in a pipe or a file, a short one (not a line as
    wide as the unwrapped console, 100,000 characters)."""
    from rich.rule import Rule
    from rich.text import Text

    if con.is_terminal:
        return Rule(Text(title, style="bold"))
    return Text(f"── {title} ──", style="bold")


@click.command("demo")
@click.argument("name", required=False)
@click.option("--fresh", is_flag=True, help="Start over: delete the demo's store first (only if every event in it is a demo's).")
@click.option("--list", "list_demos", is_flag=True, help="List the bundled demos.")
@click.option("--pause", is_flag=True, help="Wait for Enter before each step (for a presenter).")
@click.option("--broker", default="amqp://guest:guest@127.0.0.1:5672/", show_default=True, metavar="URL",
              help="`evsh demo services`: the RabbitMQ the services talk through.")
@click.option("--dir", "folder", default=None, metavar="DIR",
              help="`evsh demo services`: the folder for the services' stores (default: a new temp folder).")
@click.option("--orders", type=click.IntRange(2, 1000), default=12, show_default=True,
              help="`evsh demo services`: how many orders to place.")
def demo(name: str | None, fresh: bool, list_demos: bool, pause: bool, broker: str = "", folder: str | None = None,
         orders: int = 12) -> None:
    """Tell the shop story: orders, payments, stock, a saga with compensations, a read model
    and a causal trace, in a sample store (evsh-demo.db here, or --db).

    \b
    evsh demo              the shop story (run again: shows the store it made)
    evsh demo --list       the bundled demos
    evsh demo NAME         run one, in evsh-demo-NAME.db
    evsh demo --fresh      start over, also after an interrupted demo
    evsh demo services     the shop as services over RabbitMQ (docs/broker.md)

    A demo marks its store as a demo's before it writes, and deletes only a store whose every
    event a demo wrote: once you add events of your own (an order of your own in a demo's
    store), no demo deletes it, --fresh included; pass another --db, or delete it yourself.
    """
    from click.core import ParameterSource
    from rich.text import Text

    from ..errors import BadInput
    from ..shell.script import Runner
    from . import demo_stores
    from .render import console

    if name == "services":  # processes over a broker, not a script (evsh/cli/demo_services.py)
        from .demo_services import run as services_demo

        services_demo(broker, folder, orders)
        return
    demos = bundled_demos()
    if list_demos:
        import textwrap

        width = max((len(n) for n in demos), default=10)
        titles = {n: demo_title(res.read_text(encoding="utf-8")) for n, res in demos.items()}
        titles["services"] = "The shop as three services (processes, stores) over RabbitMQ"
        for n, title in titles.items():  # a long title goes on under itself: 80 columns
            click.echo(textwrap.fill(title, 79, initial_indent=f"{n:<{width}}  ", subsequent_indent=" " * (width + 2)))
        return
    story = name is None
    name = name or STORY
    if name.endswith(".evsh"):
        name = name[:-5]
    if name not in demos:
        known = ", ".join(demos) or "none (is evsh installed with its samples?)"
        raise BadInput(f"no bundled demo {name!r} (demos: {known})")
    root = click.get_current_context().find_root()
    explicit_db = root.get_parameter_source("db") in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    path = app().db if explicit_db else (DEMO_DB if story else f"evsh-demo-{name.replace('_', '-')}.db")
    if not explicit_db:
        from .store_paths import store_role

        # the store evsh.toml names (or ./evsh.db) is the user's, unless --db hands it to the demo
        role = store_role(path, app().db)
        if role is not None:
            raise BadInput(f"the demo's sample store {path} is {role}, which this folder uses as its store;"
                           f" pass --db NEW.db for the demo (or --db {shlex.quote(path)} to tell it there anyway)")
    found = demo_stores.inspect(path)
    # the finished story is shown again as it is, events of the user's own included: nothing is deleted
    reuse = story and not fresh and STORY in found.finished and not found.unfinished
    if found.state == "other" and not reuse:
        after = f" (after position {found.claimed}, the last one a demo wrote)" if found.claimed else ""
        raise BadInput(f"{path} holds events that no demo wrote{after}: evsh demo never writes into or deletes such a"
                       f" store; pass --db NEW.db to run the demo elsewhere, or delete {path} yourself to start over")
    if found.state == "demo" and not reuse:
        demo_stores.remove(path)  # every event in it is a demo's: a named demo always starts from nothing
    text = demos[name].read_text(encoding="utf-8")
    # a demo is a self-contained story: its own mode, clock and ids, whatever the environment says
    ctx = context_with(header_options(text), ["--db", path],
                       only=("domain_spec", "debug", "sync", "busy_timeout"))
    con = console()
    try:
        from .main import cli

        runner = Runner(ctx, cli, echo=True, pause=pause)
        title = demo_title(text) or name
        con.print(rule(con, f"evsh demo: {title}"))
        if reuse:
            con.print(Text(f"\n{shown(path)} already holds the shop story (evsh demo --fresh tells it again).", style="dim"))
        else:
            con.print(Text(f"\nA new sample store: {shown(path)}", style="dim"))
            claim = demo_stores.Claim(ctx.store(create=True), name)  # before the demo writes anything
            code = runner.run_text(f"{name}.evsh", text)
            if code:
                raise click.exceptions.Exit(code)
            claim.finish()
        if story:
            code = runner.run_text("<demo>", SHOW_STORY)
            if code:
                raise click.exceptions.Exit(code)
    finally:
        ctx.close()
    from .invocation import evsh_command

    db_opt = f"--db {shlex.quote(path)}"
    evsh = evsh_command()  # `.venv/bin/evsh` when `evsh` is not on PATH: the commands work as typed
    tips = [
        (f"{evsh} {db_opt} --domain shop tui", "browse streams, events and state through time"),
        (f"{evsh} {db_opt} --domain shop shell", "type commands yourself, with Tab completion and history"),
        (f"{evsh} {db_opt} --domain shop run FILE.evsh", "replay a script of commands and expectations"),
        (f"{evsh} demo --list", "more demos: concurrency, time travel, rebuilds, an outage, ..."),
    ]
    from ..store.connect import is_server_url

    if not is_server_url(path):  # a demo drops no schema on a server, so --fresh would be refused there
        # the store this demo used: with --db, plain `evsh demo --fresh` would start over in ./evsh-demo.db instead
        fresh = f"{evsh} {db_opt} demo --fresh" if explicit_db else f"{evsh} demo --fresh"
        tips.append((fresh, "tell the story again from an empty store"))
    con.print(rule(con, "What to try next"))
    for cmd, why in tips:
        line = Text("  ")
        line.append(cmd, style="bold cyan")
        line.append(f"\n      {why}", style="dim")
        con.print(line)
    con.print(Text("\nThe guided tour: docs/tutorial.md. The script language: docs/scripts.md.", style="dim"))
