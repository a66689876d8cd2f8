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


class LazyGroup(Group):
    """A group whose sub-commands, named ``name -> "module:attribute"`` in ``lazy``, are imported
    only when one of them runs (or for help and completion): a command that does not need them
    (`evsh read`) does not pay for their modules."""

    lazy: dict[str, str] = {}

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if lazy is not None:
            self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        ref = self.lazy.get(name)
        if ref is None:
            return super().get_command(ctx, name)
        import importlib

        mod, _, attr = ref.partition(":")
        return getattr(importlib.import_module(mod), attr)
