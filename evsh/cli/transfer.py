"""export and import: events as JSON lines, one object per line, so jq and grep work on them."""

from __future__ import annotations

import sys
from typing import IO, Any, Iterator

import click

from ..errors import BadInput, OutputError, StoreError
from ..sanitise import safe
from ..store import codec
from .context import app
from ..store.lines import MAX_LINE, export_line, import_row
from ..wording import counted, number
from .params import Count
from .render import progress

CHUNK = 5000


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
    plan = staged_output(output) if output else None
    staged = plan[0] if plan else None
    out: IO[str] = open(staged or output, "w", encoding="utf-8") if output else sys.stdout  # type: ignore[arg-type]
    n = 0
    try:
        # to a file (-o), a long export shows its progress on a terminal; to stdout, whose reader
        # (jq, less) shares the terminal, it does not
        from contextlib import nullcontext

        with progress(None, "exporting") if output else nullcontext() as bar:
            task = bar.add_task("exporting", total=store.head_position() if stream is None else None) if bar else None
            try:
                for e in events:
                    out.write(export_line(e) + "\n")
                    n += 1
                    if bar and n % CHUNK == 0:
                        bar.update(task, completed=e.position)
            finally:
                if output:
                    out.close()
            if bar:
                bar.update(task, completed=n, total=n)
        if plan:
            import os

            os.replace(*plan)  # the file appears (or is replaced) whole, once written
            staged = None
    except OSError as exc:  # a full disk: said once, with the file's name (stdout: the CLI says it)
        if not output:
            raise
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        if staged:  # half an export is not an export: the file named keeps what it held
            import os

            if os.path.isfile(staged):
                os.remove(staged)
    if output:
        click.echo(safe(f"exported {counted(n, 'event')} to {output}"), err=True)


def staged_output(output: str) -> tuple[str, str] | None:
    """(where to write, what to replace with it in one step) for an export to ``output``: a new
    file beside the file ``output`` names (through a link), so a failed export (a full disk, a
    damaged event) leaves that file as it was. None (write ``output`` directly) for anything but
    a regular file or a new name (a pipe, ``/dev/stdout``, ``>(gzip > x)``), and where no new
    file can be made beside it (a writable file in a folder that is not)."""
    import os
    import stat

    try:
        if not stat.S_ISREG(os.stat(output).st_mode):
            return None
        existing = True
    except FileNotFoundError:  # a new name (or a link to one)
        existing = False
    except OSError as exc:
        raise OutputError(f"cannot write {output}: {exc.strerror or exc}") from None
    target = os.path.realpath(output)
    try:
        staged = new_file_beside(target, "part", output)
    except OutputError:
        if existing:  # no new file can be made beside it: the file itself is written, as before
            return None
        raise
    if existing:  # a replaced file keeps its own mode
        os.chmod(staged, stat.S_IMODE(os.stat(target).st_mode))
    return staged, target


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

    target = a.db
    # A new store is built in a file of its own beside the path and linked there once it holds
    # the import: a refused import leaves no store behind, and removes nothing another process
    # may have opened meanwhile (it once deleted a store a concurrent append had written to).
    fresh = target != ":memory:" and not is_server_url(target) and not os.path.exists(target)
    if fresh:  # (a link to a file not there yet: the store is made where it points)
        dest = os.path.realpath(target)
        if not os.path.isdir(os.path.dirname(dest)):
            raise StoreError(f"cannot create {target}: there is no folder {os.path.dirname(target) or '.'}")
        if target.endswith(os.sep) or os.path.isdir(dest):
            raise StoreError(f"cannot create {target}: that names a folder; give a file name")
        a.db = new_file_beside(dest, "import", target)
    try:
        store = a.store(create=True)
        engine = a.engine(create=True) if domain is not None else None
        with store.transaction():  # the events and the record that they are history commit together
            store.lock_appends(exclusive=True)
            since = store.head_position()  # under the append lock: no other writer's events are taken for history
            with progress(None, "importing") as bar:  # a million lines take a while: shown on a terminal
                lines = read_with_progress(handle, bar, file)
                written, skipped = store.import_rows(import_rows(lines, domain, store.clock()))
            if not react:  # history is not news, to the reactors known now and to any later one
                if engine is not None:
                    from ..engine.reactors import skip_history

                    skip_history(engine, since)  # records it, and moves the reactors past it at once
                else:
                    from ..engine.history import mark

                    mark(store, since)
        if fresh:
            a.close()
            publish(a.db, os.path.realpath(target))
            a.db = target
            engine = a.engine(create=True) if domain is not None else None
    finally:
        if close:
            handle.close()
        if fresh and a.db != target:  # refused: the new file and its companions are this process's own
            a.close()
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.isfile(a.db + suffix):
                    os.remove(a.db + suffix)
            a.db = target
    msg = f"imported {counted(written, 'event')}"
    if skipped:
        msg += f" ({number(skipped)} already stored, skipped)"
    click.echo(msg)
    if react and engine is not None and getattr(engine, "reactors", None) and engine.reactors.mode == "inline":
        done = [r for r in engine.reactors.run_inline() if r.status == "handled"]
        click.echo(f"reactors handled {counted(len(done), 'event')}")
    if engine is not None and written:
        from .projections import build_read_models

        build_read_models(engine)


def new_file_beside(path: str, what: str, shown: str | None = None) -> str:
    """A new, empty file in ``path``'s folder, named for ``path`` and made by this process alone
    (0o666 less the umask, as open() makes a file); an error names ``shown`` (the path as given)."""
    import os

    folder, name = os.path.split(os.path.abspath(path))
    for n in range(100):
        candidate = os.path.join(folder, f".{name}.{what}-{os.getpid()}-{n}")
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot create {shown or path}: {exc.strerror or exc}") from None
    raise OutputError(f"cannot create {shown or path}: no free name for a new file beside it")


def publish(built: str, path: str) -> None:
    """The closed store ``built`` given the name ``path``, which must still be free: a hard link
    (it fails if a file appeared there meanwhile), then the built name removed."""
    import os

    wal = built + "-wal"
    if os.path.isfile(wal) and os.path.getsize(wal) > 0:  # its last commits are not in the file yet
        raise OutputError(f"cannot create {path}: the imported store was not closed whole ({wal} remains)")
    taken = OutputError(f"{path} was created by another process during the import; nothing was imported"
                        " into it; import again into the store as it is now")
    try:
        os.link(built, path)
    except FileExistsError:
        raise taken from None
    except OSError:  # a file system without hard links: moved instead, if the name is still free
        if os.path.lexists(path):
            raise taken from None
        try:
            os.rename(built, path)
        except OSError as exc:
            raise OutputError(f"cannot create {path}: {exc.strerror or exc}") from None
        return
    os.remove(built)


def read_with_progress(handle: IO[bytes], bar: Any, file: str) -> Iterator[bytes]:
    """The lines of ``handle`` (each bounded: :func:`bounded_lines`), moving ``bar`` by the bytes read (of the file's size, when it
    has one), every few thousand lines."""
    import os

    try:
        total = os.fstat(handle.fileno()).st_size if file != "-" else None
    except (OSError, ValueError, AttributeError):
        total = None
    name = os.path.basename(file) if file != "-" else "standard input"
    task = bar.add_task(f"importing {name} (bytes)", total=total or None)
    done = 0
    for n, line in enumerate(bounded_lines(handle), 1):
        done += len(line)
        if n % 5000 == 0:
            bar.update(task, completed=done)
        yield line
    bar.update(task, completed=done, total=done)


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
