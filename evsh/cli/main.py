"""The `evsh` command group: global options, lazily loaded commands, one error boundary."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__, interrupts
from ..errors import EvshError, OutputError
from ..sanitise import safe
from .context import MODES, SYNC_MODES, WARNED, AppContext, read_config
from .errors import USAGE, CLIError, Interrupted, core_error
from .groups import LazyGroup
from .params import Seconds

# name -> "module:attribute". Modules are imported only when their command runs (or for help),
# so `evsh read` pays for click, rich and sqlite3 only.
COMMANDS: dict[str, str] = {
    "init": "evsh.cli.store_cmds:init",
    "append": "evsh.cli.store_cmds:append",
    "read": "evsh.cli.store_cmds:read",
    "log": "evsh.cli.store_cmds:log",
    "streams": "evsh.cli.store_cmds:streams",
    "backup": "evsh.cli.store_cmds:backup",
    "sql": "evsh.cli.store_cmds:sql",
    "export": "evsh.cli.transfer:export",
    "import": "evsh.cli.transfer:import_",
    "exec": "evsh.cli.domain_cmds:exec_",
    "state": "evsh.cli.domain_cmds:state",
    "snapshot": "evsh.cli.lifecycle:snapshot",
    "snapshots": "evsh.cli.lifecycle:snapshots",
    "upcast": "evsh.cli.lifecycle:upcast",
    "scavenge": "evsh.cli.lifecycle:scavenge",
    "forget": "evsh.cli.lifecycle:forget",
    "keys": "evsh.cli.lifecycle:keys",
    "seed": "evsh.cli.seed:seed",
    "tui": "evsh.cli.tui:tui",
    "projections": "evsh.cli.projections:projections",
    "run": "evsh.cli.scripts:run",
    "shell": "evsh.cli.scripts:shell",
    "demo": "evsh.cli.scripts:demo",
    "verify": "evsh.cli.verify:verify",
    "reactors": "evsh.cli.reactors:reactors",
    "step": "evsh.cli.reactors:step",
    "dlq": "evsh.cli.reactors:dlq",
    "trace": "evsh.cli.trace:trace",
    "stats": "evsh.cli.stats:stats",
    "consume": "evsh.cli.consume:consume",
    "relay": "evsh.cli.relay:relay",
    "tables": "evsh.cli.tables:tables",
}


class EvshGroup(LazyGroup):
    """Loads commands on demand and turns core errors into one-line messages and exit codes."""

    lazy = COMMANDS

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """As click's own, but every error is one line on stderr with its exit code."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        args = sys.argv[1:] if args is None else list(args)
        WARNED.clear()  # one run of evsh (a process, or one call when embedded) says each warning once
        bad = not_utf8(args)
        if bad:
            click.echo(f"evsh: error: {safe(bad)}; evsh takes its arguments as UTF-8 text", err=True)
            sys.exit(USAGE)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            if interrupts.requested():
                _exit_interrupted()
            if isinstance(exc, click.NoSuchOption):  # `evsh read x --db s.db`: a global option after the command
                from .global_options import hoisted

                moved = hoisted(args, exc.option_name, self)
                if moved is not None:
                    return self.main(moved, prog_name, complete_var, standalone_mode, **extra)
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `evsh` or `evsh dlq`: the help, as click does
                exc.show()
                sys.exit(exc.exit_code)
            where = exc.ctx.command_path if exc.ctx is not None else "evsh"
            message = " ".join(exc.format_message().split()).rstrip(".")
            click.echo(safe(f"evsh: usage error: {message}; see `{where} --help`"), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if interrupts.requested():
                _exit_interrupted()
            exc.message = safe(exc.message)
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort as exc:  # click's prompts: Ctrl-C is an interruption, "no" or end of input a "no"
            if interrupts.requested() or isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
                _exit_interrupted()
            click.echo("evsh: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) and not isinstance(rv, bool) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            rv = super().invoke(ctx)
            sys.stdout.flush()  # a full disk or a closed pipe is met here, not in Python's exit
            return rv
        except BrokenPipeError:  # `evsh log | head -1`: the reader has what it wanted
            _silence_stdout()
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            raise Interrupted() from None
        except Exception as exc:
            obj = ctx.find_object(AppContext)
            error = core_error(exc, obj.db if obj is not None else "the store")
            if error is None:
                raise
            if obj is not None and obj.debug:
                import traceback

                traceback.print_exc()
            if isinstance(error, OutputError):  # output that cannot be written: what is still buffered goes nowhere
                _silence_stdout()
            raise CLIError(error) from exc
        finally:
            obj = ctx.find_object(AppContext)
            if obj is not None:
                obj.close()


def not_utf8(args: list[str]) -> str | None:
    """Names the first argument (or EVSH_* variable) that is not UTF-8 text, or None.

    The OS hands such bytes to Python as lone surrogates, which SQLite, JSON and the terminal
    all refuse later with a traceback: they are refused here, once, for every command."""
    for i, arg in enumerate(args):
        if _is_text(arg):
            continue
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            return f"the value of {name} ({_shown(value)}) {_why(value)}"
        after = f", after {args[i - 1]}" if i and args[i - 1].startswith("-") and _is_text(args[i - 1]) else ""
        return f"argument {i + 1} ({_shown(arg)}{after}) {_why(arg)}"
    for name, value in os.environ.items():
        if name.startswith("EVSH_") and not _is_text(value):
            return f"the environment variable {name} ({_shown(value)}) {_why(value)}"
    return None


def _why(text: str) -> str:
    c = next(c for c in text if "\ud800" <= c <= "\udfff")
    return f"is not valid UTF-8 (U+{ord(c):04X}, a lone surrogate)"


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    """The argument as the user typed it: its undecodable bytes as \\xNN, and a URL's password
    (``amqp://user:secret@``, ``postgresql://...``) as ``***``."""
    from ..sanitise import without_password

    try:
        shown = os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no byte makes (only from Python callers)
        shown = text.encode("utf-8", "backslashreplace").decode()
    return "'" + without_password(shown) + "'"


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so what is still buffered does not fail again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests)
        pass


def _on_interrupt(signum: int, frame: Any) -> None:  # noqa: ARG001
    interrupts.request()  # a real Ctrl-C: whatever error follows, the run was interrupted
    raise KeyboardInterrupt


def _exit_interrupted() -> None:
    Interrupted().show()
    sys.exit(Interrupted.exit_code)


@click.group(cls=EvshGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", envvar="EVSH_DB", default=None, metavar="PATH",
              help="The store: a file, or a postgresql://user@host/db[?schema=NAME] URL (env EVSH_DB;"
                   " default ./evsh.db or evsh.toml's db).")
@click.option("--domain", "domain_spec", envvar="EVSH_DOMAIN", default=None, metavar="FILE_OR_MODULE",
              help="The domain module: a .py file, a bundled sample (shop) or a module (env EVSH_DOMAIN).")
@click.option("--sync", type=click.Choice(SYNC_MODES), envvar="EVSH_SYNC", default=None,
              help="SQLite synchronous mode: normal survives a process crash, full also a power loss.")
@click.option("--busy-timeout", type=Seconds(), envvar="EVSH_BUSY_TIMEOUT", default=None, metavar="SECONDS",
              help="How long a writer waits for another's lock (default 60, at most a day).")
@click.option("--debug", is_flag=True, envvar="EVSH_DEBUG", help="Show tracebacks of errors.")
@click.option("--mode", type=click.Choice(MODES), envvar="EVSH_MODE", default=None,
              help="How reactors run: inline after each command (default), async in `evsh reactors run`"
                   " workers, or step by step with `evsh step` (env EVSH_MODE, evsh.toml mode).")
@click.option("--clock", "clock_spec", envvar="EVSH_CLOCK", default=None, metavar="system|fixed:TIME[,STEP]",
              help="A fixed clock for repeatable demos, e.g. fixed:2026-01-01T00:00:00Z,1ms (env EVSH_CLOCK).")
@click.option("--ids", "ids_spec", envvar="EVSH_IDS", default=None, metavar="random|uuid4|seed:TEXT",
              help="Where the ids of commands and their events come from: seed:TEXT for repeatable demos,"
                   " e.g. seed:42 (env EVSH_IDS); default random, time-ordered UUIDv7; uuid4 for wholly"
                   " random ones.")
@click.option("--service", envvar="EVSH_SERVICE", default=None, metavar="NAME",
              help="Run the domain as one of its services: its reactors and projections only, commands on"
                   " its own aggregates only (env EVSH_SERVICE; see docs/broker.md).")
@click.version_option(__version__, "--version", prog_name="evsh")
@click.pass_context
def cli(ctx: click.Context, db: str | None, domain_spec: str | None, sync: str | None,
        busy_timeout: float | None, debug: bool, mode: str | None = None, clock_spec: str | None = None,
        ids_spec: str | None = None, service: str | None = None) -> None:
    """evsh: design, run and test an event-sourced system in your terminal.

    \b
    Exit codes: 0 ok, 1 rejected or check failed, 2 bad input, 3 conflict,
    4 store problem, 5 the domain's own code raised, 130 interrupted.
    """
    try:
        config = read_config()
    except EvshError as exc:
        raise CLIError(exc) from exc
    obj = AppContext(
        db=db or config.get("db") or "evsh.db",
        domain_spec=domain_spec or config.get("domain"),
        sync=sync or config.get("sync", "normal"),
        busy_timeout=busy_timeout if busy_timeout is not None else config.get("busy_timeout", 60.0),
        debug=debug,
        service=service,
        config=config,
    )
    ctx.obj = obj
    try:
        from ..engine.clock import make_clock, make_ids

        obj.options.update(mode=mode or config.get("mode") or "inline", clock=make_clock(clock_spec or config.get("clock")),
                           new_id=make_ids(ids_spec or config.get("ids")))
    except EvshError as exc:
        raise CLIError(exc) from exc


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import signal

    try:
        signal.signal(signal.SIGINT, _on_interrupt)
    except ValueError:  # not the main thread
        pass
    try:
        cli.main(args=argv, prog_name="evsh")
    except KeyboardInterrupt:  # outside a command (while click parses): the same answer
        _exit_interrupted()
    except BrokenPipeError:  # e.g. `evsh log | head`
        _silence_stdout()
        sys.exit(0)
