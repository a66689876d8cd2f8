"""The click group of evsh's commands and sub-commands: an unknown command name gets the one
suggestion every evsh front end gives (evsh.wording.closest: `evsh staet` -> `state`)."""

from __future__ import annotations

from typing import Any

import click

from ..wording import did_you_mean


class Group(click.Group):
    """A click group whose "No such command" names the closest command, by evsh's measure."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            ctx.fail(f"No such command {name!r}{did_you_mean(name, self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)
