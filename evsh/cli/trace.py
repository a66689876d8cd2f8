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


GUIDE = 4  # cells of the tree's guide per level ("└── ")


def _label(node: dict[str, Any], room: int) -> Any:
    """One line of the tree, at most ``room`` cells: the mark, name and stream always; then, while
    they fit, the outcome, the reactor, the time, the store, the focus mark, the position; the
    parameters take what is left, cut with "…" (all of it: --json)."""
    from rich.cells import cell_len
    from rich.text import Text

    t = Text()
    extra: list[tuple[int, str, str]] = []  # (where it goes, text, style), most important first
    reason = None
    if node["kind"] == "command":
        mark, style = _MARK.get(node["outcome"], ("?", ""))
        t.append(f"{mark} ", style=style)
        t.append(node["name"], style="bold")
        t.append(f" {node['stream_id']}")
        if node["outcome"] != "ok":
            reason = (3, f"  {node['outcome']}: {node['reason'] or ''}", style)  # always shown
        if node["reactor"]:
            extra.append((2, f"  by {node['reactor']}", "magenta"))
        extra.append((4, f"  {_hm(node['at'])}", "dim"))
        if node.get("store"):
            extra.append((5, f"  [{node['store']}]", "blue"))
    else:
        t.append("● ", style="cyan")
        t.append(node["type"], style="bold cyan" if node.get("focus") else "cyan")
        t.append(f" {node['stream_id']}@{node['version']}")
        if node.get("focus"):
            extra.append((5, "  <- this event", "bold yellow"))
        extra.append((2, f"  #{node['position']}", "dim"))
        extra.append((3, f"  {_hm(node['recorded_at'])}", "dim"))
        if node.get("store"):
            extra.append((4, f"  [{node['store']}]", "blue"))
    shown = [reason] if reason else []
    left = room - t.cell_len - sum(cell_len(text) for _, text, _ in shown)
    for part in extra:
        if cell_len(part[1]) <= left:
            shown.append(part)
            left -= cell_len(part[1])
    if node["kind"] == "command" and node["params"] and left >= 8:
        shown.append((1, " " + short(node["params"], min(60, left - 1)), "dim"))
    for _, text, style in sorted(shown):
        t.append(text, style=style)
    return rich_text(t)  # names, ids, params and reasons are user text


def _add(tree: Any, node: dict[str, Any], width: int, depth: int = 1) -> None:
    branch = tree.add(_label(node, width - GUIDE * depth))
    for child in node["children"]:
        _add(branch, child, width, depth + 1)


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
            _add(tree, node, con.width)
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
