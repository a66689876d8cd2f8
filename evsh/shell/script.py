"""The .evsh language: every evsh command without the leading ``evsh``, plus a few directives.

A script is parsed completely before anything runs, so a syntax error anywhere (an unclosed
quote, an unknown command, a ``repeat`` without ``end``) runs nothing. Each command line is then
handed to the evsh click group, in-process, against ONE shared application context: the store
stays open, and the global options given to ``evsh run`` / ``evsh shell`` (``--db``,
``--domain``, a fixed clock, ...) apply to every line. Errors become ``FILE:LINE: message``.

Directives (see docs/scripts.md):

    say TEXT...                       print a line of narration
    expect ...                        check the store, or that a command fails (expectations.py)
    redeliver ...                     hand an already-handled event to a subscriber again
    repeat N [as VAR] ... end         run the body N times; ${VAR} (default ${i}) counts 1..N
    help [COMMAND]                    the list of commands, or one command's help
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator, Sequence, Union

import click

from ..errors import BadInput, EvshError, ExpectationFailed
from ..sanitise import rich_text, safe

DIRECTIVES = ("say", "expect", "redeliver", "repeat", "end", "help")
NOT_IN_SCRIPTS = {"shell": "an interactive shell cannot run inside a script",
                  "demo": "evsh demo manages its own store; run it on its own",
                  "tui": "the TUI needs the whole terminal; run `evsh tui` on its own"}
MAX_REPEAT = 1_000_000  # times a line may run, counting every enclosing repeat
MAX_NESTING = 32  # repeat blocks inside one another
MAX_SCRIPT_CHARS = 10_000_000  # a script's size (docs/scripts.md)
MAX_LINE_CHARS = 100_000  # one line's length
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RUNNING: list[str] = []  # the scripts running now, outermost first: one that runs itself is refused


# ----------------------------------------------------------------------------- parse

@dataclass
class Line:
    """One logical line: its place, its text as written, its tokens (variables not yet filled)."""

    source: str
    lineno: int
    text: str
    tokens: list[str]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.lineno}"


@dataclass
class Repeat:
    source: str
    lineno: int
    count: int
    var: str
    body: list["Node"] = field(default_factory=list)


Node = Union[Line, Repeat]


class ScriptSyntaxError(EvshError):
    """A script cannot be parsed; carries FILE:LINE."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _scan(text: str) -> tuple[str, str | None, bool]:
    """(text without a trailing comment, the quote still open or None, ends with a backslash).

    A ``#`` starts a comment only at the start of a word and outside quotes, as in a shell, so
    ``'#1'`` and ``a#b`` are kept.
    """
    quote: str | None = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = None
        elif quote == '"':
            if c == "\\":
                i += 1
            elif c == '"':
                quote = None
        elif c == "\\":
            if i == n - 1:
                return text[:i], None, True
            i += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i], None, False
        i += 1
    return text, quote, False


def read_script(stream: IO[str], name: str) -> str:
    """A script's whole text, refusing one past MAX_SCRIPT_CHARS (ValueError): `evsh run
    /dev/zero` must not read without end."""
    text = stream.read(MAX_SCRIPT_CHARS + 1)
    if len(text) > MAX_SCRIPT_CHARS:
        raise ValueError(f"larger than {MAX_SCRIPT_CHARS:,} characters; is {name} a script?")
    return text


def logical_lines(source: str, text: str) -> Iterator[Line]:
    """Join continuation lines (trailing backslash, or a quote left open), drop comments."""
    physical = text.splitlines()
    for n, raw in enumerate(physical, 1):
        if len(raw) > MAX_LINE_CHARS:
            raise ScriptSyntaxError(f"{source}:{n}", f"the line is longer than {MAX_LINE_CHARS:,} characters")
    i = 0
    while i < len(physical):
        start = i + 1
        buf = ""
        while True:
            if i >= len(physical):
                raise ScriptSyntaxError(f"{source}:{start}", "a quote opened here is never closed")
            raw = physical[i]
            i += 1
            joined = buf + raw
            kept, open_quote, cont = _scan(joined)
            if open_quote:
                buf = joined + "\n"
                continue
            if cont:
                buf = kept + " "
                if i >= len(physical):
                    kept, cont = kept, False
                else:
                    continue
            break
        if not kept.strip():
            continue
        try:
            tokens = shlex.split(kept, comments=False, posix=True)
        except ValueError as exc:
            raise ScriptSyntaxError(f"{source}:{start}", f"cannot split the line: {exc}") from None
        if tokens:
            yield Line(source, start, kept.strip(), tokens)


def parse(source: str, text: str, known_commands: Sequence[str]) -> list[Node]:
    """The whole script as a tree of lines and repeat blocks, checked before anything runs."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Repeat | None]] = [(root, None)]
    known = set(known_commands)
    for line in logical_lines(source, text):
        head = line.tokens[0]
        scope_vars = {r.var for _, r in stack if r is not None}
        for tok in line.tokens:
            for name in VAR.findall(tok):
                if name not in scope_vars:
                    hint = f" (in scope: {', '.join('${' + v + '}' for v in sorted(scope_vars))})" if scope_vars \
                        else " (variables exist only inside a repeat block)"
                    raise ScriptSyntaxError(line.where, f"unknown variable ${{{name}}}{hint}")
        if head == "repeat":
            stack[-1][0].append(rep := _parse_repeat(line, scope_vars))
            if len(stack) > MAX_NESTING:
                raise ScriptSyntaxError(line.where, f"repeat blocks nest more than {MAX_NESTING} deep")
            times = rep.count
            for _, outer in stack:
                times *= outer.count if outer is not None else 1
            if times > MAX_REPEAT:
                raise ScriptSyntaxError(line.where, f"with the repeats around it, this block's lines would run"
                                                    f" {times:,} times; at most {MAX_REPEAT:,}")
            stack.append((rep.body, rep))
            continue
        if head == "end":
            if len(line.tokens) != 1:
                raise ScriptSyntaxError(line.where, "`end` takes nothing after it")
            if len(stack) == 1:
                raise ScriptSyntaxError(line.where, "`end` without a `repeat`")
            stack.pop()
            continue
        check_line(line, known)
        stack[-1][0].append(line)
    if len(stack) > 1:
        rep = stack[-1][1]
        assert rep is not None
        raise ScriptSyntaxError(f"{rep.source}:{rep.lineno}", "this `repeat` has no `end`")
    return root


def _parse_repeat(line: Line, scope_vars: set[str]) -> Repeat:
    toks = line.tokens[1:]
    usage = "use `repeat N` or `repeat N as VAR`, then the lines to repeat, then `end`"
    if len(toks) not in (1, 3) or (len(toks) == 3 and toks[1] != "as"):
        raise ScriptSyntaxError(line.where, usage)
    from .expectations import number

    try:
        count = number(toks[0], "repeat count")
    except BadInput as exc:
        raise ScriptSyntaxError(line.where, f"{exc}; {usage}") from None
    if count > MAX_REPEAT:
        raise ScriptSyntaxError(line.where, f"repeat count {count} is above {MAX_REPEAT:,}")
    var = toks[2] if len(toks) == 3 else "i"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
        raise ScriptSyntaxError(line.where, f"{var!r} is not a variable name (letters, digits, _)")
    if var in scope_vars:
        raise ScriptSyntaxError(line.where, f"${{{var}}} is already the variable of an enclosing repeat; use `as NAME`")
    return Repeat(line.source, line.lineno, count, var)


def check_line(line: Line, known: set[str]) -> None:
    """Refuse, before anything runs, what can be refused without running: unknown words,
    malformed directives."""
    head = line.tokens[0]
    if head in ("say", "help"):
        return
    if head in ("expect", "redeliver"):
        from .expectations import parse_directive

        try:
            parse_directive(line.tokens, known)
        except BadInput as exc:
            raise ScriptSyntaxError(line.where, str(exc)) from None
        return
    if head.startswith("-"):
        raise ScriptSyntaxError(
            line.where,
            f"{head!r}: global options go before the script, as in `evsh {head} ... run FILE`, not on a line",
        )
    if head not in known:
        raise ScriptSyntaxError(line.where, unknown_word(head, known))
    if head in NOT_IN_SCRIPTS:
        raise ScriptSyntaxError(line.where, f"`{head}`: {NOT_IN_SCRIPTS[head]}")


def unknown_word(word: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(known | set(DIRECTIVES)), n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else " (`help` lists the commands)"
    return f"unknown command {word!r}{hint}"


def substitute(tokens: Sequence[str], env: dict[str, str]) -> list[str]:
    return [VAR.sub(lambda m: env[m.group(1)], t) if "${" in t else t for t in tokens]


# ----------------------------------------------------------------------------- run

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

    def __init__(self, app: Any, *, echo: bool = False, pause: bool = False, keep_going: bool = False,
                 pause_input: Callable[[], str] | None = None, location: bool = True) -> None:
        self.app = app
        self.echo = echo
        self.pause = pause
        self.keep_going = keep_going
        self.pause_input = pause_input
        self.location = location  # False in the interactive shell: errors without FILE:LINE
        self.failures: list[Failure] = []
        self.steps = 0
        self._after_say = False

    # -- the commands a line may name
    @staticmethod
    def known_commands() -> list[str]:
        from ..cli.main import COMMANDS

        return sorted(COMMANDS)

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
        return new[0].code if new else 0

    def _run(self, nodes: list[Node], env: dict[str, str]) -> None:
        for node in nodes:
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
            elif head in ("expect", "redeliver"):
                from .expectations import run_directive

                note = run_directive(self, tokens)
                if self.echo and note:
                    self._note(note)
            else:
                self.invoke(tokens)
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
        from ..cli.main import cli

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
        text = Text("\n$ ", style="bold green") if tokens[0] not in DIRECTIVES else Text("\n» ", style="bold magenta")
        text.append(safe(("evsh " if tokens[0] not in DIRECTIVES else "") + shown), style="bold")
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

    def help(self, topic: list[str]) -> None:
        from ..cli.main import cli

        root = click.Context(cli, info_name="evsh", obj=self.app)
        if topic:
            if topic[0] in DIRECTIVES:
                click.echo(DIRECTIVE_HELP)
                return
            self.invoke([*topic, "--help"])
            return
        with root:
            commands = ", ".join(c for c in self.known_commands() if c not in NOT_IN_SCRIPTS)
        click.echo(
            "Type evsh commands without the leading `evsh`, e.g.\n"
            "  exec order o1 create --customer-id c1 --items '[{\"product_id\":\"p1\",\"quantity\":1,\"unit_price\":\"9.50\"}]'\n"
            "  state order o1\n\n"
            f"Commands: {commands}\n\n{DIRECTIVE_HELP}\n\n"
            "`help COMMAND` shows a command's options; `exec AGGREGATE ID COMMAND --help` its parameters."
        )


DIRECTIVE_HELP = """Directives (docs/scripts.md has the whole language):
  say TEXT                              print narration
  expect state AGG ID [--at-version N] FIELD=VALUE...
  expect stream STREAM [TYPE...] [count=N]
  expect query "SQL" = VALUE
  expect rejected|conflict|error [--match REGEX] COMMAND...
  expect exit N [--match REGEX] COMMAND...
  expect replay AGG ID                  state equal after a full replay in a fresh process
  expect rebuild projection NAME        tables equal after a rebuild from scratch
  redeliver projection|reactor NAME POSITION
  repeat N [as VAR] ... end             ${i} (or ${VAR}) counts 1..N"""


class LineError(Exception):
    """A line failed: its exit code and its one-line message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Stop(Exception):
    pass
