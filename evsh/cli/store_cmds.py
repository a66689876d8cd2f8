"""Commands on the store itself: init, append, read, log, streams, backup, sql."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import BadInput, StoreError
from ..sanitise import safe
from ..store import codec
from .context import app
from ..store.lines import check_metadata
from .groups import LazyGroup
from .params import Count, Seconds
from .output import Output, listing_options, write_rows
from .render import stream_table


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = codec.parse(text)
    except ValueError as exc:
        raise BadInput(f"{what} is not valid JSON ({exc}); give a JSON object such as '{{\"key\": \"value\"}}'") from None
    if not isinstance(value, dict):
        raise BadInput(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def read_stdin(what: str) -> str:
    """Standard input as UTF-8 text, refusing more than MAX_LINE bytes (what one line of an
    export may hold): `evsh append x-1 T - < /dev/zero` must not read without end."""
    from ..store.lines import MAX_LINE

    if sys.stdin is None:
        raise BadInput(f"{what}: '-' reads standard input, but there is none")
    raw = sys.stdin.buffer.read(MAX_LINE + 1)
    if len(raw) > MAX_LINE:
        raise BadInput(f"{what}: standard input is longer than {MAX_LINE:,} bytes; give one JSON object")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{what}: standard input is not UTF-8 text ({exc}); give one JSON object") from None


def complete_stream(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Stream ids of the store, for shell completion ('$all' too)."""
    from .context import completion_app

    try:
        store = completion_app(ctx).store()
        found = [s.stream_id for s in store.streams(prefix=incomplete, limit=500)]
    except Exception:  # completion never fails loudly
        return []
    return (["$all"] if "$all".startswith(incomplete) else []) + found


@click.command()
def init() -> None:
    """Create the store (a no-op on an existing store)."""
    from ..errors import StoreMissing
    from ..store.connect import is_server_url, open_store, shown

    a = app()
    if is_server_url(a.db):  # a schema on a server: ask it
        try:
            open_store(a.db, create=False).close()  # (an older schema is upgraded, as init would)
            existed = True
        except StoreMissing:
            existed = False
    else:
        existed = os.path.exists(a.db) and os.path.getsize(a.db) > 0
    a.store(create=True)
    click.echo(safe(f"{'store already exists' if existed else 'created store'}: {shown(a.db)}"))


@click.command()
@click.argument("stream")
@click.argument("event_type", metavar="TYPE")
@click.argument("data", required=False, default=None, metavar="[DATA|-]")
@click.option("--expected-version", "-e", default="any", show_default=True,
              help="An integer (0 = no-stream), any, no-stream or exists.")
@click.option("--event-id", default=None, help="A UUID; re-sending a stored id writes nothing.")
@click.option("--metadata", default=None, help="Extra metadata as a JSON object.")
@listing_options(rows=False, limit=False, what="appended events")
def append(stream: str, event_type: str, data: str | None, expected_version: str, event_id: str | None,
           metadata: str | None, out: Output) -> None:
    """Append one event to STREAM. DATA is a JSON object; '-' reads it from stdin."""
    from ..store.base import canonical_event_id, check_name, check_stream_id, parse_expected_version

    check_stream_id(stream)
    check_name(event_type, "event type")
    expected = parse_expected_version(expected_version)
    eid = canonical_event_id(event_id) if event_id is not None else None
    if data == "-":
        data = read_stdin("DATA")
    payload = parse_json_object(data, "DATA") if data is not None else {}
    meta = check_metadata(parse_json_object(metadata, "--metadata"), "--metadata") if metadata is not None else {}
    engine = app().engine(create=True)
    result = engine.append(stream, event_type, payload, expected_version=expected, event_id=eid, metadata=meta)
    if not out.table:
        out.items(e.as_dict() for e in result.events)
    elif result.idempotent:
        click.echo(safe(f"already stored: {stream} is at version {result.version} (nothing written)"))
    else:
        e = result.events[0]
        click.echo(safe(f"appended {e.type} to {stream}: version {e.version}, position {e.position}"))


@click.command()
@click.argument("stream", shell_complete=complete_stream)
@click.option("--from-version", type=Count(min=0), default=None, help="Start at this version.")
@click.option("--backwards", is_flag=True, help="Newest first.")
@click.option("--limit", type=Count(min=0), default=None, help="At most N events.")
@listing_options(limit=False, what="events")
def read(stream: str, from_version: int | None, backwards: bool, limit: int | None, out: Output) -> None:
    """Print a stream's events ('$all' is the global log)."""
    from ..store.base import SYSTEM_STREAMS, check_stream_id

    engine = app().engine()
    if stream == "$all":
        events = engine.read_all(from_version or (0 if backwards else 1), limit=limit, backwards=backwards)
    else:
        check_stream_id(stream, reserved_ok=stream in SYSTEM_STREAMS)  # $streams, $subjects: evsh's own
        events = engine.read_stream(stream, from_version, backwards=backwards, limit=limit)
    if out.events(events, empty="") == 0 and limit != 0:
        gone = stream != "$all" and not engine.store.stream_version(stream)
        click.echo(safe(f"evsh: no events: {stream} does not exist" if gone else
                        f"evsh: no events in {stream} from there"), err=True)


FOLLOW_PAGE = 1000


@click.command()
@click.option("--from-position", type=Count(min=1), default=1, help="Start at this position.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@click.option("--category", "categories", multiple=True, help="Only streams of this category (repeatable).")
@click.option("--limit", type=Count(min=0), default=None, help="At most N events.")
@click.option("--backwards", is_flag=True, help="Newest first (from --from-position down, or from the end).")
@click.option("--last", type=Count(min=1), default=None, metavar="N",
              help="The last N events (that match), oldest of them first.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing events as they are appended, until Ctrl-C.")
@listing_options(limit=False, what="events")
def log(from_position: int, types: tuple[str, ...], categories: tuple[str, ...], limit: int | None,
        backwards: bool, last: int | None, follow: bool, out: Output) -> None:
    """Print the global log, in commit order (or newest first)."""
    if last is not None and (backwards or limit is not None or follow):
        raise BadInput("--last N says how many and in which order: leave out --backwards, --limit and --follow")
    if backwards and follow:
        raise BadInput("--follow prints new events as they come, oldest first: leave out --backwards")
    if follow:
        from .following import poll_interval

        interval = poll_interval()  # checked before anything is printed
    app().wait_for_server = follow  # a follower waits for a server that is away, from its start on
    engine = app().engine()
    if not follow:
        if last is not None:  # the last N, read from the end, shown in log order
            events = reversed(list(engine.read_all(0, types=types, categories=categories, limit=last,
                                                   backwards=True)))
        else:
            start = (0 if from_position == 1 else from_position) if backwards else from_position
            events = engine.read_all(start, types=types, categories=categories, limit=limit, backwards=backwards)
        if out.events(events, empty="") == 0 and limit != 0:
            wanted = " ".join([*(f"--type {t}" for t in types), *(f"--category {c}" for c in categories)])
            click.echo(safe(f"evsh: no events match {wanted}" if wanted else "evsh: no events in the log"), err=True)
        return
    if out.mode == "json":
        out = Output("nl")  # an array never ends: follow prints JSON lines
    from .following import reconnector

    reconnect = reconnector(engine.store)
    position = from_position
    shown = 0
    try:
        while limit is None or shown < limit:
            try:
                # the head is read before the events: an event committed after the read is above it
                head = engine.store.head_position() if (types or categories) else 0
                # a page at a time: the first read of a big store must not hold the whole log in memory
                batch = list(engine.read_all(position, types=types, categories=categories,
                                             limit=FOLLOW_PAGE if limit is None else min(FOLLOW_PAGE, limit - shown)))
                if not batch:
                    # filtered reads may skip events: move past the head we have seen
                    position = max(position, head + 1)
                    # woken at once by a server store's NOTIFY; polls every `interval` all the same
                    engine.store.wait(position - 1, interval)
                    continue
            except StoreError as exc:  # a lost connection: reconnect and go on from `position`
                if not reconnect.recovered(exc):
                    raise
                continue
            out.events(batch, empty="", pager=False)  # a follow never ends: no pager
            shown += len(batch)
            position = batch[-1].position + 1
    except KeyboardInterrupt:
        return


# `evsh streams delete|truncate|meta`: the stream lifecycle commands, imported when one runs
STREAM_COMMANDS = {"delete": "evsh.cli.lifecycle:delete_stream", "truncate": "evsh.cli.lifecycle:truncate_stream",
                   "meta": "evsh.cli.lifecycle:stream_meta"}


@click.group(cls=LazyGroup, lazy=STREAM_COMMANDS, invoke_without_command=True)
@click.option("--category", default=None, help="Only streams of this category.")
@listing_options(what="streams")
@click.pass_context
def streams(ctx: click.Context, category: str | None, out: Output) -> None:
    """List streams with their version and first/last times."""
    if ctx.invoked_subcommand is not None:
        return
    engine = app().engine()
    rows = out.limited(engine.streams(category))
    if not out.table:
        out.items(s.as_dict() for s in rows)
        return
    stream_table(
        [("stream", {"min_width": 14, "keep": True}), ("category", {}), ("version", {"justify": "right", "keep": True}),
         ("created_at", {"style": "dim", "optional": True}), ("updated_at", {"style": "dim", "fill": True, "min_width": 27})],
        ((s.stream_id, s.category, s.version, s.created_at, s.updated_at) for s in rows),
        empty="no streams",
    )


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
def backup(file: str) -> None:
    """Copy the live store to FILE consistently (SQLite's online backup, WAL included; on
    PostgreSQL, pg_dump of the store's schema, restored with pg_restore)."""
    from .store_paths import refuse_store_path

    refuse_store_path(file, app().db, "backup")
    store = app().store()
    store.backup(file)
    click.echo(safe(f"backed up {store.path} to {file}"))


SQL_TIMEOUT = 30.0  # seconds a query may run (--timeout); 0 means no limit


def json_cell(value: Any) -> Any:
    """A value of a SQL row as JSON: a blob is ``{"$base64": true, "encoded": "..."}`` (the
    shape sqlite-utils uses), since JSON has no bytes."""
    if type(value) is bytes:
        import base64

        return {"$base64": True, "encoded": base64.b64encode(value).decode("ascii")}
    return value


@click.command()
@click.argument("query")
@click.option("--timeout", type=Seconds(), default=SQL_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Stop a query that runs longer (0: no limit).")
@listing_options(what="rows")
def sql(query: str, out: Output, timeout: float = SQL_TIMEOUT) -> None:
    """Run a read-only SQL QUERY over the store and its read models.

    Blobs print in JSON as {"$base64": true, "encoded": "..."}; key material is never shown.
    """
    store = app().store()  # checks it is an evsh store (exit 4 otherwise)
    with store.query(query, timeout=timeout or None) as (headers, rows):  # rows are streamed (constant memory)
        rows = out.limited(rows)
        if out.mode in ("csv", "tsv"):  # exact values (a blob's bytes too), one header row even for none
            write_rows((dict(zip(headers, r)) for r in rows), "\t" if out.mode == "tsv" else ",", list(headers))
            return
        if not out.table:
            out.items({h: json_cell(v) for h, v in zip(headers, r)} for r in rows)
            return
        stream_table([(h, {"keep": True}) for h in headers], rows)  # too wide: vertical
