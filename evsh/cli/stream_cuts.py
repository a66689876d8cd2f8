"""Hiding the start of an aggregate's stream changes its decisions: refuse unless a snapshot covers it.

An aggregate's state is rebuilt from its stream. `streams truncate`, `--max-count` and
`--max-age` hide the oldest events from every read, so without a snapshot holding them the
state silently forgets them: an inventory whose StockAdded is hidden reads ``on_hand`` 0 and
refuses the next reservation. A cut is *covered* when a snapshot of the aggregate's current
``state_version`` is at or past the last hidden version; a load then starts from the snapshot
and reads only visible events after it.

- ``truncate --before V`` hides a fixed prefix: covered by a snapshot at version V-1 or later.
  The store drops a truncated stream's snapshot; a covering one is put back in the same
  transaction, since the aggregate's state now lives there.
- ``--max-count N`` moves the cut with every event: it stays covered only if snapshots follow
  the stream closely enough. After each command an aggregate with ``snapshot_every = K`` is at
  most K-1 events past its snapshot, so K <= N keeps every hidden event inside the snapshot. We
  ask for that, plus a snapshot covering the cut today; an event appended outside a command
  (``evsh append``, import) is not snapshotted, which the message says.
- ``--max-age`` cuts by time, so any event after the snapshot may be hidden once the stream
  goes quiet: only ``snapshot_every = 1`` (a snapshot after every command) covers it.

``--force`` does it anyway, with a warning. Without a domain the aggregate is not known; a
stream whose events were decided by commands of its category (``metadata.command``) is an
aggregate's all the same, so it is refused with a hint to pass ``--domain``. Other streams are
cut without a word: nothing rebuilds state from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadInput
from ..wording import counted


@dataclass
class Cut:
    """What a lifecycle change hides of an aggregate's stream, and whether a snapshot covers it."""

    stream_id: str
    aggregate: str  # "inventory p1"
    covered: bool
    why: str  # what happens to the state, or what is missing
    keep_snapshot: tuple | None = None  # (aggregate, version, state_version, state) to put back after a truncate


def _decided_by_commands(store: Any, stream_id: str, category: str) -> bool:
    """Whether the stream's first or last visible event was decided by a command of its category."""
    for backwards in (False, True):
        for ev in store.read_stream(stream_id, backwards=backwards, limit=1):
            command = ev.metadata.get("command")
            if isinstance(command, str) and command.startswith(category + "."):
                return True
    return False


def _snapshot(store: Any, cls: Any, stream_id: str) -> tuple[int, tuple] | None:
    """(version, row to save again) of the aggregate's usable snapshot, or None."""
    row = store.load_snapshot(stream_id)
    if row is None or row[1] != cls.state_version:
        return None
    version, state_version, state = row
    return version, (cls.category, version, state_version, state)


def _judge(store: Any, cls: Any, info: dict[str, Any], before: int | None, max_count: int | None,
           max_age: float | None) -> Cut:
    sid, version = info["stream_id"], info["version"]
    name = f"{cls.category} {sid.split('-', 1)[1]}"
    snap = _snapshot(store, cls, sid)
    at = snap[0] if snap is not None else 0
    where = f"its snapshot at version {at}" if snap is not None else "no snapshot"
    if before is not None:
        hidden = before - 1  # the last version the truncation hides
        if at >= hidden:
            return Cut(sid, name, True, f"loads start from {where}, which holds every hidden event",
                       snap[1] if snap is not None else None)
        return Cut(sid, name, False, f"it has {where}; take one first: `evsh snapshot {name}`")
    every = cls.snapshot_every
    if max_count is not None:
        if not every or every > max_count:
            return Cut(sid, name, False, f"{cls.__name__} must declare snapshot_every <= {max_count}"
                       f" (it has {every or 'none'}) so that a snapshot always holds the hidden events")
        if at < version - max_count:
            return Cut(sid, name, False, f"it has {where}; take one first: `evsh snapshot {name}`")
        return Cut(sid, name, True, f"loads start from its snapshot, which commands renew every {counted(every, 'event')}"
                   " (events appended without a command are not snapshotted)")
    if max_age is not None:
        if every != 1:
            return Cut(sid, name, False, f"a time cut needs a snapshot after every command: {cls.__name__} must"
                       f" declare snapshot_every = 1 (it has {every or 'none'})")
        if at < version:
            return Cut(sid, name, False, f"it has {where}; take one first: `evsh snapshot {name}`")
        return Cut(sid, name, True, "loads start from its snapshot, which every command renews"
                   " (events appended without a command are not snapshotted)")
    return Cut(sid, name, True, "nothing is hidden")


def check_cut(a: Any, stream_id: str, *, before: int | None = None, max_count: int | None = None,
              max_age: float | None = None, force: bool = False) -> Cut | None:
    """Judge a truncation or a max-count / max-age about to be set on the stream.

    Returns None when the stream is no aggregate's (or nothing would be hidden), the Cut
    otherwise; raises BadInput for an uncovered cut without ``force``."""
    if before is None and max_count is None and max_age is None:
        return None  # clearing a rule hides nothing
    store = a.store()
    info = store.stream_info(stream_id)
    if info is None or (before is not None and not info["truncate_before"] < before <= info["version"] + 1):
        return None  # no such stream, nothing more hidden, or a bad version: the store says which
    domain = a.domain()
    cls = domain.aggregate_for_stream(stream_id) if domain is not None else None
    what = "truncating" if before is not None else "a max-count" if max_count is not None else "a max-age"
    if cls is None:
        if force or not _decided_by_commands(store, stream_id, info["category"]):
            return None
        raise BadInput(f"{stream_id} was written by commands of the {info['category']} aggregate: {what} would hide"
                       " events its state is rebuilt from; pass --domain so evsh can check its snapshots"
                       " (or --force to hide them anyway)")
    cut = _judge(store, cls, info, before, max_count, max_age)
    if not cut.covered and not force:
        raise BadInput(f"{stream_id} is the {cut.aggregate} aggregate's stream: {what} would hide events its state"
                       f" is rebuilt from, changing its decisions, and {cut.why} (or pass --force to hide them anyway)")
    return cut


def report_cut(cut: Cut | None, changed: bool) -> None:
    """Say what the change means for the aggregate's state (stdout), or warn when it was forced."""
    import click

    if cut is None or not changed:
        return
    if cut.covered:
        click.echo(f"the {cut.aggregate} aggregate keeps its state: {cut.why}", err=True)
    else:
        click.echo(f"evsh: warning: forced: the {cut.aggregate} aggregate's state no longer includes the hidden"
                   f" events, so its decisions change ({cut.why})", err=True)
