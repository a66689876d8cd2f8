"""Commands for long-lived stores: snapshots, upcasting checks, stream lifecycle, scavenge, forget."""

from __future__ import annotations

import sys

import click

from ..errors import BadInput, ExpectationFailed
from ..sanitise import json_safe, safe
from ..wording import counted, number
from .context import app
from .groups import Group
from .params import Count
from .output import Output, listing_options
from .render import emit_json_object, progress, stream_table


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
        click.echo(safe(f"snapshot of {cls.stream_id(id)} at version {version} ({size} bytes)"))
        return
    ids = [s.stream_id.split("-", 1)[1] for s in engine.streams(cls.category) if "-" in s.stream_id]
    with progress(len(ids), f"snapshots of {cls.category}") as bar:
        task = bar.add_task(f"snapshots of {cls.category}", total=len(ids))
        for i in ids:
            take_snapshot(engine, cls, i)
            bar.advance(task)
    click.echo(safe(f"took {counted(len(ids), 'snapshot')} of {cls.category}"))


@click.command()
@click.argument("aggregate", required=False)
@listing_options(what="snapshots")
def snapshots(aggregate: str | None, out: Output) -> None:
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

    if not out.table:
        out.items(rows())
        return
    stream_table(
        [("stream", {"keep": True}), ("aggregate", {}), ("version", {"justify": "right", "keep": True}),
         ("behind", {"justify": "right", "keep": True}), ("state_version", {"justify": "right"}), ("current", {}),
         ("taken_at", {"style": "dim", "optional": True}), ("bytes", {"justify": "right", "fill": True, "min_width": 5})],
        ((r["stream_id"], r["aggregate"], r["version"], r["behind"], r["state_version"], r["current"], r["taken_at"],
          r["bytes"]) for r in out.limited(rows())),
        empty="no snapshots",
    )


# ----------------------------------------------------------------------------- upcasting

@click.command()
@click.option("--check", is_flag=True, help="Run every stored event through the upcasters and the codec (writes nothing).")
@listing_options(what="rows")
def upcast(check: bool, out: Output) -> None:
    """List the domain's upcasters; with --check, report stored events that do not read in the current schema."""
    from ..engine.upcasting import Upcaster, check_store

    a = app()
    domain = a.domain(required=True)
    if not check:
        up = Upcaster.of(domain)
        rows = [
            {"from_type": s.type, "from_version": s.version, "to_type": s.to_type, "to_version": s.to_version,
             "upcaster": s.fn.__name__, "where": s.where}
            for s in sorted(up.steps.values(), key=lambda s: (s.type, s.version))
        ]
        if not out.table:
            out.items(rows)
            return
        stream_table([("from", {}), ("to", {}), ("upcaster", {}), ("where", {"style": "dim"})],
                     ((f"{r['from_type']} v{r['from_version']}", f"{r['to_type']} v{r['to_version']}", r["upcaster"],
                       r["where"]) for r in out.limited(rows)), empty="no upcasters declared")
        return
    engine = a.engine(domain_required=True)
    store = engine.store
    with progress(store.head_position(), "checking events") as bar:
        task = bar.add_task("checking events", total=store.head_position())
        result = check_store(engine, store.read_all(), on_event=lambda rec: rec.position % 1000 == 0 and bar.update(
            task, completed=rec.position))
    failed = sum(r.failed for r in result)
    if not out.table:
        out.items(r.as_dict() for r in result)
    else:
        stream_table(
            [("type", {"style": "cyan"}), ("stored v", {"justify": "right"}), ("events", {"justify": "right"}),
             ("upcast", {"justify": "right"}), ("failed", {"justify": "right"}), ("first failure", {})],
            ((r.type, r.schema_version, r.count, r.upcast, r.failed,
              (f"position {r.first_position}: {r.first_error}" if r.failed else
               ("not declared by the domain" if r.unknown else ""))) for r in out.limited(result)),
            empty="no events",
        )
    if failed:
        raise ExpectationFailed(f"{counted(failed, 'stored event')} {'does' if failed == 1 else 'do'} not read in the current schema")
    if out.table:
        click.echo(f"all {counted(sum(r.count for r in result), 'event')} read in the current schema", err=True)


# ----------------------------------------------------------------------------- stream lifecycle

def _lifecycle_done(ev, what: str) -> None:
    if ev is None:
        click.echo(safe(f"{what}: nothing changed"))
    else:
        click.echo(safe(f"{what} (recorded as {ev.type} at position {ev.position} in {ev.stream_id})"))


@click.command("delete")
@click.argument("stream")
@click.option("--hard", is_flag=True, help="A tombstone: the stream may never be written again.")
def delete_stream(stream: str, hard: bool) -> None:
    """Delete STREAM: hidden from listings and reads; soft-deleted streams may be written again."""
    store = app().store()
    ev = store.delete_stream(stream, hard=hard)
    _lifecycle_done(ev, f"{'hard-deleted' if hard else 'deleted'} {stream}")


FORCE_HELP = "Hide events of a domain aggregate's stream even when no snapshot holds them (its state changes)."


@click.command("truncate")
@click.argument("stream")
@click.option("--before", type=Count(min=1), required=True, metavar="VERSION", help="Hide events below this version.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
def truncate_stream(stream: str, before: int, force: bool) -> None:
    """Hide STREAM's events before a version (versions are never renumbered).

    A domain aggregate's stream is truncated only when a snapshot holds the hidden events
    (`evsh snapshot AGGREGATE ID` first), since its state is rebuilt from them; or with --force.
    """
    from .stream_cuts import check_cut, report_cut

    a = app()
    cut = check_cut(a, stream, before=before, force=force)
    store = a.store()
    with store.transaction():
        ev = store.truncate_stream(stream, before)
        if ev is not None and cut is not None and cut.keep_snapshot is not None:
            store.save_snapshot(stream, *cut.keep_snapshot)  # the aggregate's state lives there now
    _lifecycle_done(ev, f"truncated {stream} before version {before}")
    report_cut(cut, ev is not None)


MAX_AGE_LIMIT = 100 * 365 * 86_400.0  # a longer max-age would take reads' cutoff before year 1


def _max_count(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """N (a Count) or none, checked where it is given."""
    if value is None or value.strip().lower() in ("none", "off", ""):
        return value
    return str(Count(min=1).convert(value, param, ctx))


def _max_age(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A duration or none, within what reads can compute."""
    from ..engine.lifecycle import parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except BadInput as exc:
        raise click.BadParameter(str(exc)) from None
    if seconds is not None and seconds > MAX_AGE_LIMIT:
        raise click.BadParameter(f"{value!r} is longer than 100 years (5200w)")
    return value


@click.command("meta")
@click.argument("stream")
@click.option("--max-count", default=None, callback=_max_count, metavar="N|none", help="Reads keep only the newest N events.")
@click.option("--max-age", default=None, callback=_max_age, metavar="DURATION|none",
              help="Reads hide events older than this: 90s, 15m, 12h, 30d, 2w (at most 100 years).")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@listing_options(rows=False, limit=False, json_help="JSON: one object of the stream's metadata.",
                 nl_help="The same object on one line.")
def stream_meta(stream: str, max_count: str | None, max_age: str | None, out: Output, force: bool = False) -> None:
    """Show STREAM's metadata, or set its max-count / max-age ('none' clears one).

    On a domain aggregate's stream a max-count needs snapshot_every <= N on the aggregate and a
    max-age snapshot_every = 1, so that a snapshot always holds the hidden events; or --force.
    """
    from ..engine.lifecycle import format_duration, parse_count, parse_duration
    from .stream_cuts import check_cut, report_cut

    a = app()
    store = a.store()
    if max_count is not None or max_age is not None:
        info = store.stream_info(stream)
        if info is None:
            raise BadInput(f"no stream {stream!r}")
        mc = info["max_count"] if max_count is None else parse_count(max_count)
        ma = info["max_age"] if max_age is None else parse_duration(max_age)
        cuts = [check_cut(a, stream, max_count=mc, force=force) if max_count is not None else None,
                check_cut(a, stream, max_age=ma, force=force) if max_age is not None else None]
        store.set_stream_metadata(stream, max_count=mc, max_age=ma)
        for cut in cuts:
            report_cut(cut, True)
    info = store.stream_info(stream)
    if info is None:
        raise BadInput(f"no stream {stream!r}")
    if not out.table:
        out.document(info)
        return
    shown = {**info, "max_age": format_duration(info["max_age"]) if info["max_age"] else None}
    from .render import print_state

    print_state({k: ("" if v is None else v) for k, v in shown.items()}, stream)


@click.command()
@click.option("--no-vacuum", is_flag=True, help="Remove events but leave the file size as it is.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
def scavenge(no_vacuum: bool, as_json: bool) -> None:
    """Remove events that deletions, truncations, max-count and max-age released; reclaim the space."""
    store = app().store()
    with progress(None, "scavenging") as bar:
        task = bar.add_task("scavenging streams", total=None)

        def on_stream(done: int, total: int, removed: int) -> None:
            bar.update(task, total=total, completed=done, description=f"scavenging ({counted(removed, 'event')} removed)")

        result = store.scavenge(on_stream=on_stream, reclaim=not no_vacuum)
    if as_json:
        emit_json_object(result)
        return
    reused = getattr(store, "backend", "") == "postgresql" and result["removed"] and not no_vacuum
    click.echo(
        f"removed {counted(result['removed'], 'event')} from {counted(result['streams'], 'stream')}; "
        f"store {result['bytes_before']:,} -> {result['bytes_after']:,} bytes"
        # VACUUM makes the space reusable without handing it back (docs/postgresql.md)
        + ("; VACUUM ran: later writes reuse the space" if reused else "")
    )


# ----------------------------------------------------------------------------- forgetting

@click.command()
@click.argument("subject")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="JSON output: what was scrubbed.")
def forget(subject: str, yes: bool, as_json: bool) -> None:
    """Forget a data subject: destroy their key so their personal fields read as [redacted] everywhere.

    Copies outside the log (read models, dead letters, side-effect tables, snapshots) are
    scrubbed, and the file and its WAL are rewritten so no plaintext is left. Lines mentioning
    the subject's values are removed from the shell's history file. Not reached: backups,
    exports and other files made before. Cannot be undone.
    """
    from ..engine.forgetting import forget as do_forget

    a = app()
    if not yes and sys.stdin is not None and sys.stdin.isatty():
        click.confirm(f"forget subject {subject!r} for good?", abort=True)
    engine = a.engine()
    values: list[str] = []
    report = do_forget(engine, subject, on_values=values.extend)
    history = _scrub_histories(values, a.options.get("history_file"))
    if as_json:
        emit_json_object({**report.as_dict(), "history_entries_removed": history})
    elif report.keys:
        scrubbed = sum(report.scrubbed.values())
        click.echo(safe(
            f"forgot {subject}: {counted(report.events, 'event')} now read as [redacted];"
            f" {counted(scrubbed, 'copy', 'copies')} scrubbed from {counted(len(report.scrubbed), 'column')},"
            f" {counted(report.snapshots_dropped, 'snapshot')} dropped; file rewritten"
        ))
    elif report.values:
        click.echo(safe(f"{subject} has no key: nothing to destroy; {counted(sum(report.scrubbed.values()), 'copy', 'copies')} of their"
                        " values scrubbed from other tables; file rewritten"))
    elif report.already_forgotten:
        click.echo(safe(f"{subject} was already forgotten; the file was rewritten again"))
    else:
        click.echo(safe(f"no personal data is stored for subject {subject!r}; nothing to forget"))
    if report.plaintext_in_log:
        why = (f"{report.plaintext_events} of them store the subject's personal fields unencrypted (written before"
               " the fields were declared personal, or imported)" if report.plaintext_events else
               "a field not declared personal holds them")
        click.echo(f"evsh: warning: {counted(report.plaintext_in_log, 'event')} still hold one of the values in plaintext: {why};"
                   " the log is never rewritten", err=True)
    if report.held_back_by:
        click.echo(safe(f"evsh: warning: transactions begun before the forgetting were still open"
                        f" ({', '.join(report.held_back_by)}): the server keeps the old row versions they may read"
                        f" until they end; run `evsh forget {subject} --yes` again then to rewrite the tables"), err=True)
    if report.left_inside_words:
        click.echo(f"evsh: warning: {counted(report.left_inside_words, 'text')} contain one of the values only inside a longer"
                   " word (\"bob\" in \"bobsleigh\"); they were left alone as unrelated text", err=True)
    if history and not as_json:
        click.echo(f"removed {counted(sum(history.values()), 'entry', 'entries')} mentioning them from the shell history "
                   f"({', '.join(history)})")


def _scrub_histories(values: list[str], shell_file: str | None) -> dict[str, int]:
    """Remove history entries that mention the values; {file: entries removed} of files changed."""
    from ..shell.history import history_files, scrub_file

    done: dict[str, int] = {}
    for path in dict.fromkeys([*([shell_file] if shell_file else []), *history_files()]):
        try:
            removed = scrub_file(path, values)
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            click.echo(safe(f"evsh: warning: could not scrub the shell history {path}: {why};"
                            " remove the lines mentioning the subject yourself"), err=True)
            continue
        if removed:
            done[path] = removed
    return done


# ----------------------------------------------------------------------------- subject keys

@click.group(cls=Group, invoke_without_command=True)
@listing_options(what="keys")
@click.pass_context
def keys(ctx: click.Context, out: Output) -> None:
    """List data subjects' keys (never the key material): who has personal data, who was forgotten."""
    if ctx.invoked_subcommand is not None:
        return
    from ..engine.shredding import list_keys

    rows = out.limited({"subject": s, "key_id": k, "created_at": c, "forgotten_at": f}
                       for s, k, c, f in list_keys(app().store()))
    if not out.table:
        out.items(rows)
        return
    stream_table([("subject", {"keep": True}), ("key_id", {"style": "dim", "keep": True}),
                  ("created_at", {"style": "dim", "optional": True}), ("forgotten_at", {"fill": True, "min_width": 12})],
                 ((r["subject"], r["key_id"], r["created_at"], r["forgotten_at"] or "") for r in rows), empty="no keys")


@keys.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The file to write (JSON lines). Keep it as safe as the personal data itself.")
def keys_export(output: str) -> None:
    """Write the live keys, so an `evsh export` imported elsewhere stays readable (see `keys import`).

    Anyone with this file and the events can read the personal fields; forgetting a subject
    later does not reach copies of it.
    """
    import os

    from ..engine.shredding import export_keys
    from ..store import codec
    from .store_paths import refuse_store_path

    refuse_store_path(output, app().db, "keys export -o")
    if os.path.exists(output):
        raise BadInput(f"{output} already exists; choose a new file name")
    n = 0
    store = app().store()  # a missing or refused store fails before the file exists
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for item in export_keys(store):
                out.write(json_safe(codec.dumps(item).lstrip()) + "\n")
                n += 1
    except BaseException:  # no partial key file left behind to be imported as complete
        os.unlink(output)
        raise
    click.echo(safe(f"exported {counted(n, 'key')} to {output} (readable by you only)"), err=True)


@keys.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def keys_import(file: str) -> None:
    """Add keys written by `evsh keys export`, all or nothing."""
    from ..engine.shredding import import_keys
    from ..store import codec
    from .transfer import bounded_lines, check_readable

    check_readable(file, "evsh keys export", or_stdin="")

    def items():
        with open(file, "rb") as fh:
            for n, line in enumerate(bounded_lines(fh), 1):
                if line.strip():
                    try:
                        yield n, codec.parse(line)
                    except ValueError:
                        raise BadInput(f"line {n}: not valid JSON") from None

    added, skipped = import_keys(app().store(create=True), items())
    click.echo(f"imported {counted(added, 'key')}" + (f" ({number(skipped)} already here or superseded, skipped)" if skipped else ""))
