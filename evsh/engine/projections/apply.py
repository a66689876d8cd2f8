"""Applying events to a projection's tables: catch-up (`evsh projections run`), and inline, in
the append's own transaction.

Catch-up goes from the checkpoint, batch by batch; each batch's row changes and the new
checkpoint commit in one transaction (subscriptions.catch_up), so a crash never applies an
event twice nor skips one. An inline projection is an append hook: a projection that is behind
first catches up in that same transaction; a handler that raises rolls the whole command back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ...domain.projection import Projection
from ...domain.registry import user_code_error
from ...errors import USER_CODE_FAILURES, ProjectionFailed, StoreError
from ...store.base import RecordedEvent
from ...store.tables import RowExists, RowNotWritten, Tables
from .. import metrics
from ..subscriptions import catch_up, checkpoint_name, read_batch
from .records import (
    DEFAULT_BATCH,
    KIND,
    _needs_rebuild,
    _prepare,
    _record_error,
    _record_run,
    _status,
    declared,
    select,
    without_skipped,
)

def _failure(p: Projection, ev: RecordedEvent, exc: BaseException) -> ProjectionFailed:
    if isinstance(exc, RowNotWritten):  # a row refused when written: named by the event that made it
        ev = exc.origin if isinstance(exc.origin, RecordedEvent) else ev
        message = f"RowExists: {exc}" if isinstance(exc, RowExists) else f"writing its rows failed: {exc}"
        return ProjectionFailed(p.name, ev.position, ev.type, ev.stream_id, message)
    wrapped = user_code_error(exc, "")
    message = f"{type(exc).__name__}: {exc}"
    return ProjectionFailed(p.name, ev.position, ev.type, ev.stream_id, message, wrapped.where)


def apply_events(p: Projection, tables: Tables, events: Iterable[RecordedEvent], *,
                 store: Any = None, clock: Callable[[], str] | None = None) -> RecordedEvent | None:
    """Run the handlers over events and flush the rows; returns the last event handled.

    With ``store`` and ``clock``, the handled counts and latencies go to the metrics table in the same
    transaction (`evsh stats` shows projections beside reactors)."""
    handlers = p.handlers
    last = None
    buf = metrics.Buffer() if store is not None and clock is not None else None
    for ev in events:
        fn = handlers.get(ev.type)
        if fn is None:
            continue
        last = tables.current = ev
        started = time.perf_counter()
        try:
            fn(ev, tables)
        except USER_CODE_FAILURES as exc:  # sys.exit() or a KeyboardInterrupt of its own too
            tables.discard()
            raise _failure(p, ev, exc) from None
        if buf is not None:
            buf.handled(KIND, p.name, ev.type, time.perf_counter() - started)
    try:
        tables.flush()
    except RowNotWritten as exc:  # a taken key or a value the table cannot keep, found when written
        tables.discard()
        if last is None:
            raise
        raise _failure(p, last, exc) from None
    except StoreError as exc:  # the store, not the handler (locked, disk full, table gone)
        tables.discard()
        raise StoreError(f"projection {p.name}: writing its rows failed: {exc}") from None
    except Exception as exc:
        tables.discard()
        if last is None:
            raise
        raise ProjectionFailed(p.name, last.position, last.type, last.stream_id,
                               f"writing the batch's rows failed: {type(exc).__name__}: {exc}") from None
    if buf and clock is not None:
        buf.flush(store, clock())
    return last


class _Subscriber:
    """A projection as a subscriptions.Subscriber, writing to live or shadow tables."""

    categories: Sequence[str] = ()

    def __init__(self, p: Projection, physical: dict[str, str] | None = None,
                 clock: Callable[[], str] | None = None) -> None:
        self.projection = p
        self.name = p.name
        self.types = p.types
        self.physical = physical
        self.clock = clock

    def handle_batch(self, store: Any, events: list[RecordedEvent]) -> None:
        events = without_skipped(store, self.name, events)
        apply_events(self.projection, Tables(store, self.projection.tables, self.physical), events, store=store, clock=self.clock)


# ----------------------------------------------------------------------------- catch-up

@dataclass
class RunResult:
    name: str
    handled: int = 0
    checkpoint: int = 0
    skipped: str = ""  # why it did not run (needs a rebuild)
    error: ProjectionFailed | None = None


def run(
    engine: Any,
    names: Sequence[str] = (),
    *,
    batch_size: int = DEFAULT_BATCH,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[str, int, int], None] | None = None,
    skip: Iterable[str] = (),
) -> list[RunResult]:
    """Bring projections up to the head of the log (inline ones too, when behind).

    A projection whose handler raises stops at that event, with the error recorded; the
    others go on. A projection whose declaration changed is skipped: it needs a rebuild.
    """
    results = []
    skipped = set(skip)
    for p in select(engine, names):
        if p.name in skipped:
            continue
        res = RunResult(p.name)
        results.append(res)
        cp = checkpoint_name(KIND, p.name)
        store = engine.store
        st = _status(store, p.name)
        if st is None or (not _needs_rebuild(p, st) and (
                st["mode"] != p.mode or not all(store.table_exists(t) for t in p.table_names))):
            with store.transaction():  # a write only when something is to be created
                st = _prepare(store, p)
        why = _needs_rebuild(p, st)
        if why:
            res.skipped = f"needs a rebuild ({why})"
            res.checkpoint = store.checkpoint(cp)
            continue
        try:
            res.handled = catch_up(
                engine, _Subscriber(p, clock=engine.clock), cp, batch_size=batch_size, stop=stop,
                on_batch=(lambda n, pos, _name=p.name: on_batch(_name, n, pos)) if on_batch else None,
            )
        except ProjectionFailed as exc:
            res.error = exc
            _record_error(engine, exc)
        else:
            if res.handled or st is None or st["error"] or not st["last_run_at"]:  # idle polls write nothing
                _record_run(engine, p.name)
        res.checkpoint = store.checkpoint(cp)
        if stop and stop():
            break
    return results


# ----------------------------------------------------------------------------- inline mode

@dataclass
class InlineHook:
    """The append hook of inline projections: runs inside the append's transaction."""

    engine: Any
    projections: list[Projection] = field(default_factory=list)

    def __call__(self, store: Any, recorded: Sequence[RecordedEvent]) -> None:
        if not recorded:
            return
        engine = self.engine
        first, last = recorded[0].position, recorded[-1].position
        if engine.transforms:  # as readers see them (an appended old type comes out upcast)
            recorded = list(engine._view(iter(recorded)))
        for p in self.projections:
            wanted = [e for e in recorded if e.type in p.handlers]
            cp_name = checkpoint_name(KIND, p.name)
            cp = store.checkpoint(cp_name)
            if cp >= last:
                continue
            if not wanted and cp == first - 1:  # caught up and nothing to handle: just move on
                store.set_checkpoint(cp_name, last, engine.clock())
                continue
            st = _prepare(store, p)
            if _needs_rebuild(p, st):
                continue  # stale tables are not fed new logic: `evsh projections rebuild` first
            tables = Tables(store, p.tables)
            if cp < first - 1:  # behind (a fresh projection, an import, a reset): catch up first
                pos = cp
                while pos < first - 1:
                    chunk, last_read, _ = read_batch(engine, pos, p.types, (), DEFAULT_BATCH)
                    if last_read == pos:
                        break
                    apply_events(p, tables, without_skipped(store, p.name, [e for e in chunk if e.position < first]),
                                 store=store, clock=engine.clock)
                    pos = last_read
            if wanted:
                apply_events(p, tables, wanted, store=store, clock=engine.clock)
            store.set_checkpoint(cp_name, last, engine.clock())


def install(engine: Any, options: dict[str, Any]) -> None:
    """Add the inline projections' append hook when the domain declares inline projections."""
    if engine.domain is None:
        return
    inline = [p for p in declared(engine.domain).values() if p.mode == "inline"]
    if inline and options.get("inline_projections", True):
        engine.append_hooks.append(InlineHook(engine, inline))
