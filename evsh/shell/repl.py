"""`evsh shell`: the .evsh language typed at a prompt, with history and tab completion.

Built on prompt_toolkit (click-repl stops at blank lines and hides failures, see the field
notes). Each entry runs through the same Runner as `evsh run`, on one shared store and engine;
an error is printed and the shell goes on. Completion knows evsh's commands and options (from
click), the domain's aggregates, commands and parameters, and the store's stream ids.
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Iterable, Iterator

import click
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory

from .. import interrupts
from ..sanitise import safe
from ..store.connect import is_server_url, shown
from .parsing import ScriptSyntaxError, _scan
from .script import Runner
from .words import DIRECTIVES, NOT_IN_SCRIPTS

EXITS = ("exit", "quit")
EXPECT_KINDS = ("state", "stream", "query", "rejected", "conflict", "error", "exit", "replay", "rebuild")
MAX_IDS = 50


class EvshCompleter(Completer):
    """Completes a line of the .evsh language from click's command tree, the domain and the store."""

    def __init__(self, app: Any, group: click.Group) -> None:
        self.app = app
        self.group = group  # the evsh click group (handed in: the shell does not import the CLI)
        self._help: dict[str, str] | None = None

    # -- sources
    def command_names(self) -> list[tuple[str, str]]:
        cli = self.group
        if self._help is None:
            helps = {}
            for name in cli.list_commands(click.Context(cli)):
                try:
                    cmd = cli.get_command(click.Context(cli), name)
                    helps[name] = cmd.get_short_help_str(60) if cmd is not None else ""
                except Exception:  # a command module that fails to import must not break completion
                    helps[name] = ""
            self._help = helps
        out = [(n, h) for n, h in sorted(self._help.items()) if n not in NOT_IN_SCRIPTS]
        out += [(d, "directive") for d in DIRECTIVES if d != "end"] + [(e, "leave the shell") for e in EXITS]
        out += [("clear", "clear the screen"), ("domain", "load another domain")]
        return out

    def domain(self) -> Any:
        try:
            return self.app.domain()
        except Exception:
            return None

    def aggregates(self) -> list[str]:
        d = self.domain()
        return sorted(d.aggregates) if d is not None else []

    def aggregate_commands(self, aggregate: str) -> list[tuple[str, str]]:
        d = self.domain()
        try:
            agg = d.aggregate(aggregate) if d is not None else None
        except Exception:
            return []
        return [(c.cli_name, (c.doc or "").split("\n")[0][:60]) for c in agg.commands().values()] if agg else []

    def parameters(self, aggregate: str, command: str) -> list[tuple[str, str]]:
        d = self.domain()
        try:
            spec = d.aggregate(aggregate).find_command(command) if d is not None else None
        except Exception:
            return []
        if spec is None:
            return []
        from ..domain import types as T

        return [(p.option, ("required " if p.required else "") + T.describe(p.hint)) for p in spec.params]

    def stream_ids(self, prefix: str) -> list[str]:
        """Stream ids starting with ``prefix`` (a range scan of the store's streams, at most MAX_IDS)."""
        try:
            return [s.stream_id for s in self.app.store().streams(prefix=prefix, limit=MAX_IDS)]
        except Exception:  # no store yet, or it is busy: no suggestions rather than an error
            return []

    def ids(self, aggregate: str, prefix: str) -> list[str]:
        d = self.domain()
        try:
            category = d.aggregate(aggregate).category if d is not None else aggregate
        except Exception:
            category = aggregate
        return [s[len(category) + 1:] for s in self.stream_ids(f"{category}-{prefix}")]

    def declared(self, kind: str) -> list[str]:
        d = self.domain()
        if d is None:
            return []
        names = []
        for obj in d.of_kind(kind):
            name = getattr(obj, "name", None) or getattr(getattr(obj, "spec", None), "name", None)
            if isinstance(name, str):
                names.append(name)
        return sorted(set(names))

    # -- the line
    def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
        text = document.text_before_cursor
        if "\n" in text:
            text = text.rsplit("\n", 1)[1]
        try:
            tokens = shlex.split(text)
            if text and not text[-1].isspace() and tokens:
                incomplete = tokens.pop()
            else:
                incomplete = ""
        except ValueError:  # an open quote: complete the last word as typed
            parts = text.split()
            incomplete = parts.pop() if parts and not text[-1].isspace() else ""
            tokens = parts
            incomplete = incomplete.lstrip("'\"")
        for value, meta in self.candidates(tokens, incomplete):
            if value.startswith(incomplete):
                # a finished word gets its space, as in a shell; `field=` waits for its value
                text = value if value.endswith("=") else value + " "
                yield Completion(text, start_position=-len(incomplete), display=safe(value),
                                 display_meta=safe(meta) if meta else None)

    def candidates(self, tokens: list[str], incomplete: str) -> Iterable[tuple[str, str]]:
        if not tokens:
            return self.command_names()
        head, rest = tokens[0], tokens[1:]
        if head == "help":
            return self.command_names() if not rest else []
        if head == "expect":
            return self.expect_candidates(rest, incomplete)
        if head == "redeliver":
            if not rest:
                return [("projection", ""), ("reactor", "")]
            if len(rest) == 1:
                return [(n, rest[0]) for n in self.declared(rest[0])]
            return []
        if head in ("say", "repeat", "end", "clear", "domain") or head in EXITS:
            return []
        if head == "exec":
            return self.exec_candidates(rest, incomplete)
        return self.click_candidates(head, rest, incomplete)

    def expect_candidates(self, rest: list[str], incomplete: str) -> Iterable[tuple[str, str]]:
        if not rest:
            return [(k, "expectation") for k in EXPECT_KINDS]
        kind, args = rest[0], rest[1:]
        if kind in ("rejected", "conflict", "error", "exit"):
            if kind == "exit" and args:
                args = args[1:]
            while args and args[0].startswith("--match"):
                args = args[1 + ("=" not in args[0]):]
            if not args and not incomplete.startswith("-"):
                return self.command_names() if kind != "exit" or rest[1:] else []
            if not args:
                return [("--match", "a regular expression the message must match")]
            return self.candidates(args, incomplete)
        if kind in ("state", "replay"):
            if not args:
                return [(a, "aggregate") for a in self.aggregates()]
            if len(args) == 1:
                return [(i, args[0]) for i in self.ids(args[0], incomplete)]
            if kind == "state":
                fields = self.state_fields(args[0])
                return [("--at-version", "")] + [(f + "=", "field") for f in fields]
            return []
        if kind == "stream":
            if not args:
                return [(s, "stream") for s in self.stream_ids(incomplete)] + [("$all", "the global log")]
            d = self.domain()
            types = sorted(d.events) if d is not None else []
            return [("count=", ""), ("version=", "")] + [(t, "event type") for t in types]
        if kind == "rebuild":
            return [("projection", "")] if not args else [(n, "projection") for n in self.declared("projection")]
        return []

    def state_fields(self, aggregate: str) -> list[str]:
        d = self.domain()
        try:
            agg = d.aggregate(aggregate) if d is not None else None
        except Exception:
            return []
        return ["id", "version"] + [name for name, _ in getattr(agg, "_defaults", [])] if agg else []

    def exec_candidates(self, rest: list[str], incomplete: str) -> Iterable[tuple[str, str]]:
        # values of --param VALUE pairs are not positional
        words: list[str] = []
        skip = False
        for t in rest:
            if skip:
                skip = False
                continue
            if t.startswith("--"):
                skip = "=" not in t and t not in ("--json", "--help")
                continue
            words.append(t)
        if len(words) == 0:
            return [(a, "aggregate") for a in self.aggregates()]
        if len(words) == 1:
            return [(i, words[0]) for i in self.ids(words[0], incomplete)]
        if len(words) == 2:
            return self.aggregate_commands(words[0])
        given = {t.split("=", 1)[0] for t in rest if t.startswith("--")}
        params = [p for p in self.parameters(words[0], words[2]) if p[0] not in given]
        extra = [("--json", "JSON output"), ("--actor", "who issued it"), ("--correlation-id", "join a causal chain")]
        return params + [e for e in extra if e[0] not in given]

    def click_candidates(self, head: str, rest: list[str], incomplete: str) -> Iterable[tuple[str, str]]:
        cli = self.group
        root = click.Context(cli, info_name="evsh", obj=self.app)
        try:
            cmd = cli.get_command(root, head)
        except Exception:
            return []
        if cmd is None:
            return []
        ctx = click.Context(cmd, info_name=head, parent=root, resilient_parsing=True)
        args = list(rest)
        while isinstance(cmd, click.Group):
            sub = next((a for a in args if not a.startswith("-")), None)
            if sub is None:
                return [(n, "") for n in cmd.list_commands(ctx)] + self.options(cmd, args)
            sub_cmd = cmd.get_command(ctx, sub)
            if sub_cmd is None:
                return [(n, "") for n in cmd.list_commands(ctx)]
            args = args[args.index(sub) + 1:]
            cmd = sub_cmd
            ctx = click.Context(cmd, info_name=sub, parent=ctx, resilient_parsing=True)
        if incomplete.startswith("-"):
            return self.options(cmd, args)
        by_opt = {o: p for p in cmd.params if isinstance(p, click.Option) for o in (*p.opts, *p.secondary_opts)}
        positional = 0
        pending: click.Option | None = None
        for t in args:
            if pending is not None:
                pending = None
                continue
            if t.startswith("-"):
                opt = by_opt.get(t.split("=", 1)[0])
                if opt is not None and not opt.is_flag and opt.nargs > 0 and "=" not in t:
                    pending = opt
                continue
            positional += 1
        if pending is not None:
            if pending.name in ("types", "type", "event_type"):
                d = self.domain()
                return [(t, "event type") for t in sorted(d.events)] if d is not None else []
            if pending.name in ("categories", "category"):
                return [(a, "category") for a in self.aggregates()]
            return [(c.value, c.help or "") for c in pending.shell_complete(ctx, incomplete)]
        arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
        arg = None
        for p in arguments:
            if p.nargs == -1 or positional == 0:
                arg = p
                break
            positional -= 1
        if arg is None:
            return self.options(cmd, args)
        name = (arg.name or "").lower()
        if name in ("stream", "streams"):
            return [(s, "stream") for s in self.stream_ids(incomplete)] + ([("$all", "the global log")] if head == "read" else [])
        if name == "aggregate":
            return [(a, "aggregate") for a in self.aggregates()]
        if name == "id" and head == "trace":
            return [(s, "stream") for s in self.stream_ids(incomplete)]
        if name == "id":
            words = [t for t in args if not t.startswith("-")]
            return [(i, words[0]) for i in self.ids(words[0], incomplete)] if words else []
        if name in ("name", "names", "projection", "projections", "reactor", "reactors"):
            kind = "reactor" if "reactor" in ctx.command_path else "projection"
            found = [(n, kind) for n in self.declared(kind)]
            if found:
                return found
        return [(c.value, c.help or "") for c in arg.shell_complete(ctx, incomplete)] + self.options(cmd, args)

    @staticmethod
    def options(cmd: click.Command, args: list[str]) -> list[tuple[str, str]]:
        out = []
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden:
                for o in p.opts:
                    if o.startswith("--") and o not in args:
                        out.append((o, (p.help or "")[:60]))
        return out


# ----------------------------------------------------------------------------- the loop

def prompt_text(app: Any) -> str:
    db = os.path.basename(app.db) if app.db else "evsh.db"
    if app.db and is_server_url(app.db):  # the database (and schema) of a URL, never its password
        db = shown(app.db).split("/")[-1] or "postgresql"
    domain = ""
    if app.domain_spec:
        domain = " · " + os.path.splitext(os.path.basename(app.domain_spec))[0]
    return safe(f"evsh ({db}{domain})> ")


def incomplete_entry(text: str) -> bool:
    """Does the entry need more lines: an open quote, a trailing backslash, a repeat without end?"""
    _, open_quote, cont = _scan(text)
    if open_quote or cont:
        return True
    depth = 0
    for raw in text.splitlines():
        words = raw.split()
        if words[:1] == ["repeat"]:
            depth += 1
        elif words == ["end"]:
            depth -= 1
    return depth > 0


class PrivateHistory(FileHistory):
    """A history file that never receives lines holding personal values (see shell/history.py).

    prompt_toolkit stores a line as it is entered; here it waits in ``pending`` until the entry
    ran (:meth:`settle`), so that the values its commands wrote are known."""

    def __init__(self, filename: str, personal: Any) -> None:
        super().__init__(filename)
        self.personal = personal
        self.pending: list[str] = []

    def store_string(self, string: str) -> None:
        self.pending.append(string)

    def settle(self) -> None:
        """Write the waiting lines that hold no personal value."""
        pending, self.pending = self.pending, []
        for line in pending:
            if not self.personal.private(line):
                super().store_string(line)

    def reload(self) -> None:
        """Memory as the file is: after `forget`, lines kept out of the file go from the Up arrow too."""
        self._loaded_strings = list(self.load_history_strings())


def repl(app: Any, group: click.Group, *, history_file: str | None = None, input: Any = None,
         output: Any = None) -> None:
    """Read, run, print, until Ctrl-D or `exit`. ``input``/``output`` are for tests."""
    from prompt_toolkit import PromptSession

    from .history import PersonalValues, default_history_file

    path = history_file or default_history_file()
    app.options["history_file"] = path  # `forget` in this shell scrubs this file too
    folder = os.path.dirname(os.path.abspath(path))
    writable = os.access(path, os.W_OK) if os.path.exists(path) else os.access(folder, os.W_OK)
    personal = PersonalValues.of(app)
    history: Any = PrivateHistory(path, personal) if writable else InMemoryHistory()
    session: PromptSession = PromptSession(
        history=history, completer=EvshCompleter(app, group), complete_while_typing=False,
        input=input, output=output,
    )
    runner = Runner(app, group, location=False, notes=True)
    click.echo(safe(f"evsh shell on {shown(app.db or '')}" + (f" with domain {app.domain_spec}" if app.domain_spec else "")
                    + ": `help` lists commands, Tab completes, Ctrl-D or `exit` leaves."))
    settle = getattr(history, "settle", lambda: None)
    entry = ""
    n = 0
    try:
        while True:
            if not entry:
                settle()
            try:
                line = session.prompt("... " if entry else prompt_text(app))
            except KeyboardInterrupt:
                entry = ""
                continue
            except EOFError:
                click.echo("")
                break
            entry = f"{entry}\n{line}" if entry else line
            if incomplete_entry(entry):
                continue
            text, entry = entry, ""
            if text.strip() in EXITS:
                break
            n += 1
            try:
                nodes = runner.parse(f"<shell:{n}>", text)
            except ScriptSyntaxError as exc:
                click.echo(safe(f"evsh: error: {exc.message}"), err=True)
                continue
            before = personal.head(app)
            domain_before = app.domain_spec
            interrupts.clear()  # a Ctrl-C taken by an earlier line: this one's own code may raise its own
            try:
                runner.run_nodes(nodes)
            except KeyboardInterrupt:
                click.echo("evsh: interrupted", err=True)
            if app.domain_spec != domain_before:  # `domain FILE`: its personal fields stay out of the history too
                personal.follow(app)
            personal.learn_written(app, before)
            if runner.exited is not None:  # `exit`, `quit` (with a status, too) inside the entry
                break
            if text.split()[:1] == ["forget"] and isinstance(history, PrivateHistory):
                settle()
                history.reload()
    finally:
        settle()
