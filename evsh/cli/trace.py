"""`evsh trace ID`: the causal tree of a chain, as a Rich tree or nested JSON objects."""

from __future__ import annotations

from typing import Any

import click

from ..sanitise import rich_text
from ..wording import counted
from .context import app
from .output import Output, listing_options
from .render import console, short

_MARK = {"ok": ("✓", "green"), "rejected": ("✗", "red"), "error": ("!", "red")}


def _hm(at: str | None) -> str:
    """``2026-01-01T10:42:13.123456Z`` -> ``10:42:13.123``."""
    return at[11:23] if at and len(at) >= 23 else (at or "")


def _label(node: dict[str, Any]) -> Any:
    from rich.text import Text

    t = Text()
    if node["kind"] == "command":
        mark, style = _MARK.get(node["outcome"], ("?", ""))
        t.append(f"{mark} ", style=style)
        t.append(node["name"], style="bold")
        t.append(f" {node['stream_id']}")
        if node["params"]:
            t.append(" " + short(node["params"], 60), style="dim")
        if node["reactor"]:
            t.append(f"  by {node['reactor']}", style="magenta")
        if node["outcome"] != "ok":
            t.append(f"  {node['outcome']}: {node['reason'] or ''}", style=style)
        t.append(f"  {_hm(node['at'])}", style="dim")
        if node.get("store"):
            t.append(f"  [{node['store']}]", style="blue")
    else:
        t.append("● ", style="cyan")
        t.append(node["type"], style="bold cyan" if node.get("focus") else "cyan")
        t.append(f" {node['stream_id']}@{node['version']}")
        t.append(f"  #{node['position']}  {_hm(node['recorded_at'])}", style="dim")
        if node.get("store"):
            t.append(f"  [{node['store']}]", style="blue")
        if node.get("focus"):
            t.append("  <- this event", style="bold yellow")
    return rich_text(t)  # names, ids, params and reasons are user text


def _add(tree: Any, node: dict[str, Any]) -> None:
    branch = tree.add(_label(node))
    for child in node["children"]:
        _add(branch, child)


@click.command()
@click.argument("ident", metavar="ID")
@click.option("--store", "stores", multiple=True, metavar="PATH",
              help="Follow the chain across these stores too (services over a broker); repeatable.")
@click.option("--stores", "folder", default=None, metavar="DIR",
              help="Follow the chain across every *.db store in DIR (e.g. `evsh demo services`' folder).")
@listing_options(rows=False, what="causal chains",
                 json_help='JSON: {"query", "kind", "traces": [chain...]}, a chain\'s commands and events as nested objects.',
                 nl_help="JSON lines: one causal chain per line.")
def trace(ident: str, out: Output, stores: tuple[str, ...] = (), folder: str | None = None) -> None:
    """Show the causal tree of ID: a correlation id, an event id, a command id or a stream.

    Commands (✓ ok, ✗ rejected, with the reason) and the events they produced, and the
    commands reactors sent because of those events, across aggregates, with times.
    A stream shows every chain its events belong to. With --store/--stores the chain is
    followed across stores: each event shown once, from the store that wrote it, [named].
    """
    from rich.text import Text
    from rich.tree import Tree

    from ..engine.trace import trace as build

    a = app()
    if stores or folder is not None:
        result = _across(a, ident, stores, folder)
    else:
        result = build(a.engine(), ident)
    if not out.table:  # --nl: one causal chain per line
        out.document(result, lines=result["traces"])
        return
    con = console()
    for i, chain in enumerate(out.limited(result["traces"])):
        title = Text()
        title.append("correlation ", style="dim")
        title.append(chain["correlation_id"], style="bold")
        title.append(f"  ({counted(chain['commands'], 'command')}, {counted(chain['events'], 'event')})", style="dim")
        tree = Tree(rich_text(title))
        for node in chain["roots"]:
            _add(tree, node)
        if i:
            con.print()
        con.print(tree)


def _across(a: Any, ident: str, stores: tuple[str, ...], folder: str | None) -> dict[str, Any]:
    """The trace over several stores, each opened read-only with the command's domain."""
    import glob
    import os

    from ..engine.trace import trace_across
    from ..engine.wiring import build_engine
    from ..errors import BadInput
    from ..store.connect import open_store

    paths = list(stores)
    if folder is not None:
        if not folder or not os.path.isdir(folder):
            raise BadInput(f"--stores {folder}: not a folder")
        paths += sorted(glob.glob(os.path.join(folder, "*.db")))
    if not paths:
        raise BadInput(f"--stores {folder}: no *.db store in it")
    engines: dict[str, Any] = {}
    opened = []
    try:
        for path in dict.fromkeys(paths):
            store = open_store(path, create=False, read_only=True)  # a trace never makes a store
            opened.append(store)
            name = os.path.splitext(os.path.basename(path))[0]
            engines[name if name not in engines else path] = build_engine(store, None)
        return trace_across(engines, ident)
    finally:
        for store in opened:
            store.close()
