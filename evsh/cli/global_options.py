"""Global options typed after the command (`evsh read order-1 --db s.db`): moved before it.

Why: people add `--db` or `--domain` at the end of a line they already typed; click knows
them only before the command and answered "No such option". An option the command itself
defines (`verify --domain`) is never moved: only one that click refused is."""

from __future__ import annotations

from typing import Any

import click


def global_options(group: click.Command) -> dict[str, bool]:
    """The group's own options (``--db``, ``--domain``, ...): name -> whether it takes a value."""
    return {opt: not p.is_flag for p in group.params if isinstance(p, click.Option) and not p.is_eager
            for opt in p.opts if opt.startswith("--")}


def command_index(args: list[str], options: dict[str, bool]) -> int | None:
    """Where the command's name is in ``args``: the first word the group's options do not take."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return None
        name = arg.partition("=")[0]
        if name in options:
            i += 1 + (options[name] and "=" not in arg)
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return i
    return None


def hoisted(args: list[str], option: str, group: click.Command) -> list[str] | None:
    """``args`` with the first ``option`` after the command (and its value) moved just before
    the command, or None when it is not there to move (so the usage error stands)."""
    options = global_options(group)
    if option not in options:
        return None
    at = command_index(args, options)
    if at is None:
        return None
    for i in range(at + 1, len(args)):
        arg = args[i]
        if arg == "--":
            return None
        if arg.partition("=")[0] != option:
            continue
        takes = options[option] and "=" not in arg
        if takes and i + 1 >= len(args):
            return None
        moved = args[i:i + 1 + takes]
        rest = args[:i] + args[i + 1 + takes:]
        return rest[:at] + moved + rest[at:]
    return None


def misplaced(params: dict[str, Any], command: str, own: Any = ()) -> None:
    """For commands that take any ``--name value`` (exec): a global option among them, unless the
    domain's command has a parameter of that name (``own``), is said to be one."""
    from ..errors import BadInput

    group = click.get_current_context().find_root().command
    for name in params:
        if f"--{name}" in global_options(group) and name not in own:
            raise BadInput(f"--{name} is a global option: put it before the command (evsh --{name} ... {command} ...)")
