"""Commands for long-lived stores: snapshots, upcasting checks, stream lifecycle, scavenge, forget."""

from __future__ import annotations

import click

from ..errors import BadInput, ExpectationFailed
from .context import app
from .render import emit_json_items, emit_json_object, fmt, output_options, progress, stream_table


# ----------------------------------------------------------------------------- snapshots

@click.command()
@click.argument("aggregate")
@click.argument("id", required=False)
@click.option("--all", "all_", is_flag=True, help="Snapshot every stream of the aggregate.")
def snapshot(aggregate: str, id: str | None, all_: bool) -> None:
    """Take a snapshot of AGGREGATE ID now (loads then use it plus the events after it)."""
    from ..engine.snapshots import take_snapshot

    a = app()
    cls = a.domain(required=True).aggregate(aggregate)
    if (id is None) == (not all_):
        raise BadInput("give an aggregate ID, or --all for every stream of the aggregate")
    engine = a.engine(create=False, domain_required=True)
    if id is not None:
        version, size = take_snapshot(engine, cls, id)
        click.echo(f"snapshot of {cls.stream_id(id)} at version {version} ({size} bytes)")
        return
    ids = [s.stream_id.split("-", 1)[1] for s in engine.streams(cls.category) if "-" in s.stream_id]
    with progress(len(ids), f"snapshots of {cls.category}") as bar:
        task = bar.add_task(f"snapshots of {cls.category}", total=len(ids))
        for i in ids:
            take_snapshot(engine, cls, i)
            bar.advance(task)
    click.echo(f"took {len(ids)} snapshots of {cls.category}")


@click.command()
@click.argument("aggregate", required=False)
@output_options
def snapshots(aggregate: str | None, as_json: bool, as_nl: bool) -> None:
    """List snapshots: version, events since, and whether the code's state version still matches."""
    a = app()
    domain = a.domain()
    category = None
    if aggregate is not None:
        category = domain.aggregate(aggregate).category if domain is not None else aggregate
    store = a.store()

    def rows():
        for sid, agg, version, sv, taken_at, size in store.list_snapshots(category):
            cls = domain.aggregates.get(agg) if domain is not None else None
            current = "?" if cls is None else ("yes" if cls.state_version == sv else "no: ignored")
            yield {
                "stream_id": sid, "aggregate": agg, "version": version, "behind": store.stream_version(sid) - version,
                "state_version": sv, "current": current, "taken_at": taken_at, "bytes": size,
            }

    mode = fmt(as_json, as_nl)
    if mode != "table":
        emit_json_items(rows(), mode)
        return
    stream_table(
        [("stream", {}), ("aggregate", {}), ("version", {"justify": "right"}), ("behind", {"justify": "right"}),
         ("state_version", {"justify": "right"}), ("current", {}), ("taken_at", {"style": "dim"}),
         ("bytes", {"justify": "right"})],
        ((r["stream_id"], r["aggregate"], r["version"], r["behind"], r["state_version"], r["current"], r["taken_at"],
          r["bytes"]) for r in rows()),
        empty="no snapshots",
    )
