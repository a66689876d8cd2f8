"""The .evsh language: every evsh command without the leading ``evsh``, plus a few directives.

A script is parsed completely before anything runs (:mod:`evsh.shell.parsing`), so a syntax
error anywhere (an unclosed quote, an unknown command, a ``repeat`` without ``end``) runs
nothing. Each command line is then
handed to the evsh click group, in-process, against ONE shared application context: the store
stays open, and the global options given to ``evsh run`` / ``evsh shell`` (``--db``,
``--domain``, a fixed clock, ...) apply to every line. Errors become ``FILE:LINE: message``.

Directives (see docs/scripts.md):

    say TEXT...                       print a line of narration
    expect ...                        check the store, or that a command fails (expectations.py)
    redeliver ...                     hand an already-handled event to a subscriber again
    repeat N [as VAR] ... end         run the body N times; ${VAR} (default ${i}) counts 1..N
    help [COMMAND]                    the list of commands, or one command's help
    exit [N] | quit [N]               stop here (with status N), as at the shell's prompt
    clear                             clear the screen (on a terminal)
    domain [FILE_OR_MODULE]           load another domain for the lines after it (or name the loaded one)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

import click

from ..errors import BadInput, EvshError, ExpectationFailed
from ..sanitise import rich_text, safe
from .parsing import VAR, Line, Node, Repeat, ScriptSyntaxError, parse, substitute
from .session import relative_to_script, session_word, show_help
from .words import NOT_IN_SCRIPTS, SESSION, WORDS


# ----------------------------------------------------------------------------- run

_RUNNING: list[str] = []  # the scripts running now, outermost first: one that runs itself is refused

def _identity(source: str) -> str:
    """The same script under any spelling of its path."""
    import os

    return os.path.realpath(source) if os.path.isfile(source) else source


@dataclass
class Failure:
    where: str
    code: int
    message: str


class Runner:
    """Runs parsed scripts (and single shell lines) against one shared AppContext."""

    def __init__(self, app: Any, group: click.Group, *, echo: bool = False, pause: bool = False,
                 keep_going: bool = False, pause_input: Callable[[], str] | None = None, location: bool = True,
                 notes: bool | None = None) -> None:
        self.app = app
        self.group = group  # the evsh click group, handed in: the shell never imports the CLI's entry point
        self.notes = echo if notes is None else notes  # a passing `expect` prints ✓ and what held
        self.echo = echo
        self.pause = pause
        self.keep_going = keep_going
        self.pause_input = pause_input
        self.location = location  # False in the interactive shell: errors without FILE:LINE
        self.failures: list[Failure] = []
        self.exited: int | None = None  # the status an `exit` line gave: the script (or shell) stops there
        self.lines_run = 0
        self.expectations_held = 0
        self.steps = 0
        self._after_say = False

    # -- the commands a line may name
    def known_commands(self) -> list[str]:
        return sorted(self.group.list_commands(click.Context(self.group)))

    def parse(self, source: str, text: str) -> list[Node]:
        return parse(source, text, self.known_commands())

    def run_text(self, source: str, text: str) -> int:
        """Parse and run a whole script; returns the exit code (0, or the first failure's)."""
        try:
            nodes = self.parse(source, text)
        except ScriptSyntaxError as exc:
            self._report(Failure(exc.where, 2, f"error: {exc.message}"))
            return 2
        return self.run_nodes(nodes)

    def run_nodes(self, nodes: list[Node]) -> int:
        first = len(self.failures)
        script = _identity(nodes[0].source) if nodes else ""
        if script and script in _RUNNING:  # the `run` line that started it reports this, once
            raise BadInput(f"{nodes[0].source} is already running: a script cannot run itself"
                           " (directly or through another script)")
        _RUNNING.append(script)
        try:
            self._run(nodes, {})
        except _Stop:
            pass
        finally:
            _RUNNING.pop()
        new = self.failures[first:]
        return new[0].code if new else (self.exited or 0)

    def _run(self, nodes: list[Node], env: dict[str, str]) -> None:
        for node in nodes:
            if self.exited is not None:
                raise _Stop
            if isinstance(node, Repeat):
                for n in range(1, node.count + 1):
                    self._run(node.body, {**env, node.var: str(n)})
                continue
            failure = self.run_line(node, env)
            if failure is not None:
                self._report(failure)
                if not self.keep_going:
                    raise _Stop

    def run_line(self, line: Line, env: dict[str, str]) -> Failure | None:
        """Run one line; a Failure (never an exception) when it does not succeed."""
        tokens = substitute(line.tokens, env)
        head = tokens[0]
        self.lines_run += 1
        # a step is a command, or a `say` with the command after it; checks never wait
        if head not in ("expect", "help"):
            if self.pause and self.steps and not self._after_say:
                self._wait()
            self.steps += 1
            self._after_say = head == "say"
        if self.echo:
            self._echo(tokens, VAR.sub(lambda m: env[m.group(1)], line.text) if "${" in line.text else line.text)
        try:
            if head == "say":
                self._say(" ".join(tokens[1:]))
            elif head == "help":
                self.help(tokens[1:])
            elif head in SESSION:
                session_word(self, head, tokens[1:])
            elif head in ("expect", "redeliver"):
                from .expectations import run_directive

                note = run_directive(self, tokens)
                self.expectations_held += head == "expect"
                if self.notes and note:
                    self._note(note)
            else:
                self.invoke(relative_to_script(tokens, line.source))
        except LineError as exc:
            return Failure(line.where, exc.code, exc.message)
        except ExpectationFailed as exc:
            return Failure(line.where, 1, f"expectation failed: {exc}")
        except EvshError as exc:
            from ..cli.errors import CLIError

            self._debug()
            err = CLIError(exc)
            return Failure(line.where, err.exit_code, err.format_message())
        return None

    def invoke(self, argv: list[str]) -> None:
        """Run one evsh command line in-process on the shared context; LineError on failure."""
        code, message = self.call(argv)
        if code:
            raise LineError(code, message)

    def call(self, argv: list[str]) -> tuple[int, str]:
        """(exit code, message) of one command line; the message is empty on success."""
        from ..cli.errors import CLIError

        cli = self.group
        head = argv[0]
        if head in NOT_IN_SCRIPTS:
            return 2, f"error: `{head}`: {NOT_IN_SCRIPTS[head]}"
        root = click.Context(cli, info_name="evsh", obj=self.app)
        try:
            with root:
                name, cmd, args = cli.resolve_command(root, argv)
                assert cmd is not None
                with cmd.make_context(name, args, parent=root) as sub:
                    cmd.invoke(sub)
        except EvshError as exc:
            self._debug()
            err = CLIError(exc)
            return err.exit_code, err.format_message()
        except CLIError as exc:
            return exc.exit_code, exc.format_message()
        except click.exceptions.Exit as exc:
            return exc.exit_code, "" if not exc.exit_code else f"exit status {exc.exit_code}"
        except click.exceptions.Abort:
            return 1, "aborted"
        except click.UsageError as exc:
            hint = f" (see `{exc.ctx.command_path.removeprefix('evsh ')} --help`)" if exc.ctx is not None and exc.ctx.command is not cli else ""
            return exc.exit_code, f"usage: {exc.format_message()}{hint}"
        except click.ClickException as exc:
            return exc.exit_code, f"error: {exc.format_message()}"
        except KeyboardInterrupt:
            return 130, "interrupted"
        except BrokenPipeError:  # the reader went away (`evsh run x | head`): stop quietly
            raise
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            return code, "" if not code else f"exit status {code}"
        except Exception as exc:
            self._debug()
            from ..cli.errors import core_error

            known = core_error(exc, getattr(self.app, "db", "the store"))  # a driver error, a full disk
            if known is not None:
                err = CLIError(known)
                return err.exit_code, err.format_message()
            # a bug in evsh: keep the promise of one line, no traceback
            return 2, f"internal error: {type(exc).__name__}: {exc} (--debug shows the traceback)"
        return 0, ""

    def help(self, topic: list[str]) -> None:
        """`help [WORD]` (session.show_help)."""
        show_help(self, topic)

    def _debug(self) -> None:
        if getattr(self.app, "debug", False):
            import traceback

            traceback.print_exc()

    # -- output
    def _report(self, failure: Failure) -> None:
        self.failures.append(failure)
        prefix = f"{failure.where}: " if self.location else "evsh: "
        click.echo(safe(prefix + failure.message, lines=True), err=True)

    def _echo(self, tokens: list[str], shown: str) -> None:
        """The line as written (variables filled in), so a viewer can type it again."""
        from rich.text import Text

        from ..cli.render import console

        if tokens[0] == "say":
            return
        text = Text("\n$ ", style="bold green") if tokens[0] not in WORDS else Text("\n» ", style="bold magenta")
        text.append(safe(("evsh " if tokens[0] not in WORDS else "") + shown), style="bold")
        console().print(text)

    def _say(self, message: str) -> None:
        from ..cli.render import console

        console().print(rich_text(("\n" if self.echo else "") + message, style="bold yellow" if self.echo else "",
                                  lines=True))

    def _note(self, message: str) -> None:
        from ..cli.render import console

        console().print(rich_text("✓ " + message, style="green", lines=True))

    def _wait(self) -> None:
        click.echo("(Enter: next step)", err=True, nl=False)
        try:
            if self.pause_input is not None:
                self.pause_input()
            else:
                sys.stdin.readline()
        except (EOFError, OSError):
            pass
        click.echo("", err=True)

class LineError(Exception):
    """A line failed: its exit code and its one-line message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Stop(Exception):
    pass
