"""export and import: events as JSON lines, one object per line, so jq and grep work on them."""

from __future__ import annotations

import re
import sys
from typing import IO, Any, Iterator

import click

from ..errors import BadInput, OutputError
from ..sanitise import json_safe, safe
from ..store import codec
from .context import app
from .params import LARGEST, Count

_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)")
FORMAT_KEY = "evsh_format"
FORMAT_VERSION = 1
CHUNK = 5000
_REQUIRED = ("event_id", "stream_id", "version", "type", "data")
_KNOWN = {*_REQUIRED, "metadata", "recorded_at", "position", FORMAT_KEY}


@click.command()
@click.option("--stream", default=None, help="Only this stream.")
@click.option("--category", "categories", multiple=True, help="Only streams of this category (repeatable).")
@click.option("--from-position", type=Count(min=1), default=1, help="Start at this position.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
@click.option("--upcast", is_flag=True,
              help="Write the current schema (events through the domain's upcasters) instead of as stored.")
def export(stream: str | None, categories: tuple[str, ...], from_position: int, output: str | None,
           upcast: bool = False) -> None:
    """Write events as JSON lines (as stored), for backups, diffs and `evsh import`."""
    from ..store.base import check_stream_id

    if output:
        from .store_paths import refuse_store_path

        refuse_store_path(output, app().db, "export -o")  # before the store or the file is opened
    store = app().store()
    if stream is not None:
        check_stream_id(stream)
        events = (e for e in store.read_stream(stream) if e.position >= from_position)
    else:
        events = store.read_all(from_position, categories=categories)
    if upcast:
        from ..engine.upcasting import export_view

        events = export_view(app().engine(domain_required=True), events)
    out: IO[str] = open(output, "w", encoding="utf-8") if output else sys.stdout
    n = 0
    try:
        try:
            for e in events:
                d = e.as_dict()
                d[FORMAT_KEY] = FORMAT_VERSION
                out.write(json_safe(codec.dumps(d).lstrip()) + "\n")  # C1 and bidi as \uXXXX: same strings
                n += 1
        finally:
            if output:
                out.close()
    except OSError as exc:  # a full disk: said once, with the file's name (stdout: the CLI says it)
        if not output:
            raise
        import os

        if os.path.isfile(output):  # half an export is not an export
            os.remove(output)
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
    if output:
        click.echo(safe(f"exported {n} events to {output}"), err=True)


def import_rows(lines: Iterator[bytes], domain: Any, now: str) -> Iterator[list[tuple]]:
    """Validated rows in chunks: (line, id, stream, version, type, data, metadata, recorded_at)."""
    chunk: list[tuple] = []
    known_streams: set[str] = set()  # each stream id and type is checked once, not once per event
    known_types: set[str] = set()
    dumps = codec.dumps
    for n, raw in enumerate(lines, 1):
        try:
            obj = codec.parse(raw)
        except ValueError as exc:
            if not raw.strip():
                continue
            raise BadInput(f"line {n}: not valid JSON ({exc})") from None
        try:
            row = import_row(obj, domain, now, known_streams, known_types)
        except BadInput as exc:
            raise BadInput(f"line {n}: {exc}") from None
        chunk.append((n, row[0], row[1], row[2], row[3], dumps(row[4]), dumps(row[5]), row[6]))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_row(obj: Any, domain: Any, now: str, known_streams: set[str], known_types: set[str]) -> tuple:
    """Every field of one exported event checked (BadInput saying which and why):
    (event id, stream id, version, type, data, metadata, recorded_at)."""
    from ..store.base import SYSTEM_STREAMS, canonical_event_id, check_name, check_stream_id
    from .store_cmds import check_metadata

    if type(obj) is not dict:
        raise BadInput("each line must be a JSON object (one event)")
    try:
        eid, sid, ver, etype, data = obj["event_id"], obj["stream_id"], obj["version"], obj["type"], obj["data"]
    except KeyError as missing:
        raise BadInput(f"missing key {missing.args[0]!r}") from None
    if not obj.keys() <= _KNOWN:
        raise BadInput(f"unknown key {sorted(obj.keys() - _KNOWN)[0]!r}")
    fv = obj.get(FORMAT_KEY, FORMAT_VERSION)
    if type(fv) is not int or fv < 1:
        raise BadInput(f"{FORMAT_KEY} must be a positive integer, not {fv!r}")
    if fv > FORMAT_VERSION:
        raise BadInput(f"{FORMAT_KEY} {fv!r} is newer than this evsh reads ({FORMAT_VERSION})")
    eid = canonical_event_id(eid)
    if type(sid) is not str:
        raise BadInput(f"stream_id must be a string, not {_json_type(sid)}")
    if sid not in known_streams:
        # evsh's own system streams ($streams: lifecycle events) travel too; other $ names are refused
        known_streams.add(check_stream_id(sid, reserved_ok=sid in SYSTEM_STREAMS))
    if type(ver) is not int or not 1 <= ver <= LARGEST:
        raise BadInput(f"version must be a whole number from 1 to {LARGEST}, not {ver!r}")
    position = obj.get("position")  # informative: the log gives imported events new positions
    if position is not None and (type(position) is not int or not 1 <= position <= LARGEST):
        raise BadInput(f"position must be a whole number from 1 to {LARGEST}, not {position!r}")
    if type(etype) is not str:
        raise BadInput(f"type must be a string, not {_json_type(etype)}")
    if etype not in known_types:
        known_types.add(check_name(etype, "type"))
    if type(data) is not dict:
        raise BadInput("data must be a JSON object")
    meta = obj.get("metadata")
    meta = {} if meta is None else check_metadata(meta, "metadata")
    at = obj.get("recorded_at") or now
    if type(at) is not str or not _ISO_TIME.fullmatch(at) or not _is_time(at):
        raise BadInput(f"recorded_at {at!r} is not an ISO 8601 time such as 2026-01-01T09:00:00Z")
    if domain is not None:
        spec = domain.event_type(etype)
        if spec is not None and meta.get("schema_version", 1) == spec.schema_version:
            spec.decode(data)
    return eid, sid, ver, etype, data, meta, at


def _is_time(text: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), "null")


@click.command("import")
@click.argument("file", metavar="FILE|-")
@click.option("--react", is_flag=True,
              help="Let reactors handle the imported events (by default history is not news: no reactor ever"
                   " reacts to them, with or without --domain).")
def import_(file: str, react: bool = False) -> None:
    """Read events written by `evsh export` back, all or nothing, idempotent by event id."""
    a = app()
    if file != "-":
        check_readable(file)
    domain = a.domain()
    if file == "-":
        if sys.stdin is None:
            raise BadInput("FILE is '-' but there is no standard input")
        handle: IO[bytes] = sys.stdin.buffer
        close = False
    else:
        try:
            handle = open(file, "rb")
        except OSError as exc:
            raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
        close = True
    import os

    from ..store.connect import is_server_url

    fresh = (a.db != ":memory:" and not is_server_url(a.db)
             and not (os.path.exists(a.db) and os.path.getsize(a.db) > 0))
    try:
        store = a.store(create=True)
        engine = a.engine(create=True) if domain is not None else None
        with store.transaction():  # the events and the record that they are history commit together
            store.lock_appends()
            since = store.head_position()  # under the append lock: no other writer's events are taken for history
            written, skipped = store.import_rows(import_rows(bounded_lines(handle), domain, store.clock()))
            if not react:  # history is not news, to the reactors known now and to any later one
                if engine is not None:
                    from ..engine.reactors import skip_history

                    skip_history(engine, since)  # records it, and moves the reactors past it at once
                else:
                    from ..engine.history import mark

                    mark(store, since)
    except BaseException:
        if fresh:  # a refused import leaves no store behind where there was none
            a.close()
            for suffix in ("", "-wal", "-shm"):
                if os.path.isfile(a.db + suffix):
                    os.remove(a.db + suffix)
        raise
    finally:
        if close:
            handle.close()
    msg = f"imported {written} events"
    if skipped:
        msg += f" ({skipped} already stored, skipped)"
    click.echo(msg)
    if react and engine is not None and getattr(engine, "reactors", None) and engine.reactors.mode == "inline":
        done = [r for r in engine.reactors.run_inline() if r.status == "handled"]
        click.echo(f"reactors handled {len(done)} events")


MAX_LINE = 64 * 1024 * 1024  # bytes in one line of an export or a keys file: a device or an endless pipe stops here


def bounded_lines(handle: IO[bytes]) -> Iterator[bytes]:
    """The lines of an input file, refusing one longer than MAX_LINE (BadInput naming it), so
    an endless stream without a newline is refused instead of filling the memory."""
    n = 0
    while True:
        line = handle.readline(MAX_LINE + 1)
        if not line:
            return
        n += 1
        if len(line) > MAX_LINE:
            raise BadInput(f"line {n}: longer than {MAX_LINE:,} bytes; is this a file written by evsh?")
        yield line


def check_readable(file: str, writer: str = "evsh export", or_stdin: str = " (or - for standard input)") -> None:
    """An input file (or a pipe, as `<(...)` gives): say what else it is, not just "no such file"."""
    import os
    import stat

    try:
        mode = os.stat(file).st_mode
    except FileNotFoundError:
        raise BadInput(f"no such file: {file}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise BadInput(f"{file} is a folder; give a file written by `{writer}`{or_stdin}")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise BadInput(f"{file} is a device, not a file; give a file written by `{writer}`{or_stdin}")
