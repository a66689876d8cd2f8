"""The shell's own words and its help: `exit`/`quit`, `clear`, `domain FILE`, `help`; and
where a script's `import FILE` / `run FILE` are read (beside the script). Kept apart from the
parser and runner (script.py), which call them."""

from __future__ import annotations

from typing import Any

import click

from ..errors import EvshError
from ..sanitise import safe
from .words import NOT_IN_SCRIPTS, WORDS


def session_word(runner: Any, word: str, args: list[str]) -> None:
    """exit/quit (stop here), clear (the screen, on a terminal), domain (load another)."""
    if word in ("exit", "quit"):
        runner.exited = int(args[0]) if args else 0
        return
    if word == "clear":
        from ..cli.render import stdout_is_terminal

        if stdout_is_terminal():
            click.clear()
        return
    app = runner.app
    if args:
        app.use_domain(args[0])
    domain = app.domain()
    if domain is None:
        click.echo("no domain loaded: `domain FILE_OR_MODULE` loads one (try `domain shop`)")
        return
    click.echo(safe(f"domain {domain.name} ({app.domain_spec}): aggregates {', '.join(sorted(domain.aggregates))}"))


def show_help(runner: Any, topic: list[str]) -> None:
    """`help`: every command (and why a few are refused here), the directives, examples in
    the loaded domain; wrapped at whole words to the terminal. `help WORD`: that one."""
    if topic:
        if topic[0] in WORDS:
            click.echo(DIRECTIVE_HELP)
            return
        runner.invoke([*topic, "--help"])
        return
    import shutil
    import textwrap

    width = min(100, shutil.get_terminal_size((80, 24)).columns) - 1

    def para(text: str, indent: str = "") -> str:
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_long_words=False, break_on_hyphens=False)

    commands = [c for c in runner.known_commands() if c not in NOT_IN_SCRIPTS]
    refused = [para(f"{c:<6} {why}", "  ") for c, why in sorted(NOT_IN_SCRIPTS.items())]
    click.echo(safe("\n".join([
        "Type evsh commands without the leading `evsh`, e.g.", *examples(runner.app), "",
        para("Commands: " + ", ".join(commands)), "Not here:", *refused, "",
        DIRECTIVE_HELP, "",
        para("`help COMMAND` shows a command's options; `exec AGGREGATE ID COMMAND --help` its parameters."),
    ]), lines=True))


def examples(app: Any) -> list[str]:
    """Two example lines in the loaded domain: a command with its required parameters, and the
    state it leaves; without a domain, how to load one."""
    try:
        domain = app.domain()
    except EvshError:
        domain = None
    if domain is None:
        return ["  domain shop                  load the sample shop (or `domain FILE.py`)", "  log --last 5"]
    aggregates = sorted(domain.aggregates.items(), key=lambda kv: ("create" not in kv[1].commands(), kv[0]))
    for category, agg in aggregates:
        specs = list(agg.commands().values())
        if specs:
            spec = next((s for s in specs if s.cli_name == "create"), specs[0])
            params = " ".join(f"{p.option} VALUE" for p in spec.params if p.required)
            return [f"  exec {category} {category[:1]}1 {spec.cli_name} {params}".rstrip(),
                    f"  state {category} {category[:1]}1",
                    f"  exec {category} {category[:1]}1 {spec.cli_name} --help"]
    return ["  log --last 5"]


DIRECTIVE_HELP = """Directives (docs/scripts.md has the whole language):
  say TEXT                              print narration
  expect state AGG ID [--at-version N] FIELD=VALUE...
  expect stream STREAM [TYPE...] [count=N]
  expect query "SQL" = VALUE
  expect rejected|conflict|error [--match REGEX] COMMAND...
  expect exit N [--match REGEX] COMMAND...
  expect replay AGG ID                  state equal after a full replay
  expect rebuild projection NAME        tables equal a rebuild from scratch
  expect idempotent projection|reactor NAME POSITION
                                        a redelivery changes nothing
  expect decision exec AGG ID COMMAND [--PARAM V]...
                                        the same decision in a fresh process
  redeliver projection|reactor NAME POSITION
  repeat N [as VAR] ... end             ${i} (or ${VAR}) counts 1..N
  domain [FILE_OR_MODULE]               load another domain (or name it)
  clear                                 clear the screen
  exit [N] | quit [N]                   leave the shell, or stop a script here"""


def relative_to_script(tokens: list[str], source: str) -> list[str]:
    """`import FILE` and `run FILE` inside a script read FILE beside the script (as `source` and
    `include` do elsewhere), when it is there; otherwise as given (the current folder)."""
    import os

    if tokens[0] not in ("import", "run") or not os.path.isfile(source):
        return tokens
    folder = os.path.dirname(os.path.abspath(source))
    out = tokens[:1]
    for tok in tokens[1:]:
        beside = os.path.join(folder, tok)
        if not tok.startswith("-") and not os.path.isabs(tok) and os.path.exists(beside):
            tok = beside
        out.append(tok)
    return out
