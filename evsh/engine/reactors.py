"""Reactors at run time: delivery, the idempotency guard, retries, dead letters, modes, leases.

Each reactor is a checkpointed subscriber (the machinery projections share, in
``subscriptions.py``). For every event it handles, in one transaction: the commands its handler
sends (``engine.execute`` joins the open transaction as a savepoint), the events those commands
append, the rows it writes to its tables, a ``reactor_processed`` record of the event, the
reactor's checkpoint and its metrics. Delivery is at-least-once (a crash redelivers) and the
processed record makes it effectively-once: a redelivered event is skipped, so it never causes a
second command, event or e-mail.

Every command that left no event (rejected, failed, no-op) is recorded in the ``commands`` table
by a command listener, inside the open transaction when there is one, so it still shows in a
trace; a command that wrote events is on record in their metadata.

Modes: ``inline`` (after a command, reactors run until nothing is pending), ``async`` (worker
processes: :meth:`Reactors.work`, one reactor per worker at a time under an expiring lease) and
``step`` (:meth:`Reactors.step` delivers one event at a time).

A handler that raises is retried with exponential backoff, sleeping outside the batch's
transaction (the events before it are committed first), then parked in ``dead_letters`` or, by
the reactor's choice, the reactor stops at that event.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ..domain.reactor import ReactorSpec
from ..domain.registry import user_code_error
from ..domain.types import encode
from ..errors import BadInput, CommandRejected, DomainCodeError, EvshError, StoreError
from ..store import codec
from ..store.base import RecordedEvent, category_of
from . import clock as clock_mod
from . import metrics
from .engine import CommandOutcome, Engine
from .history import Ranges, covered, mark
from .routing import matches, routing_key
from .subscriptions import catch_up, checkpoint_name, get_checkpoint, set_checkpoint

KIND = "reactor"
MODES = ("inline", "async", "step")
MAX_ROUNDS = 10_000  # inline: rounds of reactors reacting to reactors' events before giving up
FAST_WINDOW = 1000  # inline: a reactor further behind than this catches up batch by batch
DEFAULT_LEASE = 10.0  # seconds a worker's lease lasts without renewal
DEFAULT_POLL = 0.5  # seconds between polls of a following worker


# ----------------------------------------------------------------------------- what handlers see

class Message:
    """The event a handler receives: record fields, plus the payload's fields as attributes.

    ``event.order_id`` reads the payload (typed, when the domain declares the type);
    ``event.type``, ``event.event_id``, ``event.stream_id``, ``event.routing_key`` ... describe
    the record. ``event.payload`` is the typed event, ``event.data`` the stored JSON object.
    """

    __slots__ = ("record", "payload", "routing_key")

    def __init__(self, record: RecordedEvent, payload: Any, key: str) -> None:
        self.record = record
        self.payload = payload
        self.routing_key = key

    type = property(lambda self: self.record.type)
    event_id = property(lambda self: self.record.event_id)
    stream_id = property(lambda self: self.record.stream_id)
    version = property(lambda self: self.record.version)
    position = property(lambda self: self.record.position)
    metadata = property(lambda self: self.record.metadata)
    recorded_at = property(lambda self: self.record.recorded_at)
    data = property(lambda self: self.record.data)
    category = property(lambda self: category_of(self.record.stream_id))
    correlation_id = property(lambda self: self.record.metadata.get("correlation_id") or self.record.event_id)

    def __getattr__(self, name: str) -> Any:
        payload = object.__getattribute__(self, "payload")
        if payload is not None and not isinstance(payload, dict):
            return getattr(payload, name)
        data = object.__getattribute__(self, "record").data
        if name in data:
            return data[name]
        raise AttributeError(f"event {self.record.type} has no field {name!r}")

    def __repr__(self) -> str:
        return f"<{self.record.type} {self.record.stream_id}@{self.record.version} #{self.record.position}>"


class Context:
    """What a handler may do: send commands, read aggregates, write its tables."""

    def __init__(self, rt: "Reactors", sub: "_Sub", message: Message, tables: Any) -> None:
        self._rt = rt
        self._sub = sub
        self.event = message
        self.reactor = sub.name
        self._tables = tables
        self.sent: list[CommandOutcome] = []
        self.rows: dict[str, int] = {}  # table -> rows written (side effects)

    def send(self, aggregate: str, id: str, command: str, /, **params: Any) -> CommandOutcome:
        """Run a command caused by this event. A rejection is returned (``outcome="rejected"``),
        and so is a command refused as bad input (an invalid id or parameter: ``outcome="error"``),
        which wrote nothing: the handler decides what to do about either (a saga compensates).
        Naming an aggregate or a command the domain does not have is the handler's own bug: it raises."""
        rt = self._rt
        engine = rt.engine
        rt._last_outcome = None
        try:
            out = engine.execute(
                aggregate, id, command, params, correlation_id=self.event.correlation_id,
                causation_id=self.event.event_id, actor=f"reactor:{self.reactor}",
            )
        except CommandRejected:
            out = rt._last_outcome
            if out is None:
                raise
        except BadInput as exc:
            out = rt._last_outcome
            if out is None:  # refused before it ran (its id or parameters): on record all the same
                # an aggregate or command the domain lacks raises here: the handler's bug, not its input
                cls = aggregate if isinstance(aggregate, type) else engine.require_domain().aggregate(aggregate)
                name = cls.find_command(command).name
                out = CommandOutcome(
                    engine.new_id(), f"{cls.category}.{name}", f"{cls.category}-{id}", dict(params),
                    self.event.correlation_id, self.event.event_id, outcome="error", reason=str(exc),
                    at=engine.clock(),
                )
                rt.on_command(out)
        self.sent.append(out)
        rt._crash("after_send")
        return out

    def load(self, aggregate: str, id: str) -> Any:
        """An aggregate's current state (as of this transaction, own commands included)."""
        return self._rt.engine.load(aggregate, id)

    def table(self, name: str) -> Any:
        if self._tables is None:
            raise KeyError(f"reactor {self.reactor} declares no tables (pass tables=[...] to @reactor)")
        return self._tables.table(name)

    @property
    def now(self) -> str:
        return self._rt.engine.clock()

    def new_id(self) -> str:
        return self._rt.engine.new_id()


# ----------------------------------------------------------------------------- run-time records

@dataclass
class Reaction:
    """What one reactor did with one event in a run (for `evsh exec`, `evsh step`, tests)."""

    reactor: str
    event: RecordedEvent
    status: str  # handled | duplicate | parked | retrying | stopped
    commands: list[CommandOutcome] = field(default_factory=list)
    error: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # side-effect rows written, per table

    def as_dict(self) -> dict[str, Any]:
        return {
            "reactor": self.reactor, "status": self.status, "error": self.error or None,
            "event": {"event_id": self.event.event_id, "type": self.event.type, "stream_id": self.event.stream_id,
                      "position": self.event.position},
            "commands": [command_dict(c) for c in self.commands],
            "rows": self.rows,
        }


def command_dict(c: CommandOutcome) -> dict[str, Any]:
    return {
        "command_id": c.command_id, "name": c.name, "stream_id": c.stream_id, "outcome": c.outcome,
        "reason": c.reason or None, "correlation_id": c.correlation_id, "causation_id": c.causation_id,
        "at": c.at, "events": [{"event_id": e.event_id, "type": e.type, "stream_id": e.stream_id,
                                "version": e.version, "position": e.position} for e in c.events],
    }


class _Retry(Exception):
    def __init__(self, index: int, event: RecordedEvent, error: str, failures: int) -> None:
        super().__init__(error)
        self.index, self.event, self.error, self.failures = index, event, error, failures


class _Stop(Exception):
    def __init__(self, index: int, event: RecordedEvent, error: str) -> None:
        super().__init__(error)
        self.index, self.event, self.error = index, event, error


class _Sub:
    """One reactor as a subscriber of the shared catch-up machinery."""

    def __init__(self, rt: "Reactors", spec: ReactorSpec) -> None:
        self.rt = rt
        self.spec = spec
        self.name = spec.name
        self.checkpoint = checkpoint_name(KIND, spec.name)
        # push the filter into SQL when one kind of subscription is used alone
        only_types = spec.types and not spec.categories and not spec.topics
        only_cats = spec.categories and not spec.types and not spec.topics
        self.types: Sequence[str] = spec.types if only_types else ()
        self.categories: Sequence[str] = spec.categories if only_cats else ()
        self._types = frozenset(spec.types)
        self._cats = frozenset(spec.categories)
        self._topics = spec.topics
        self.everything = "#" in spec.topics
        self._seen: dict[tuple[str, str], bool] = {}  # (category, type) -> matches
        self.failures: dict[str, int] = {}
        self.stopped: bool | None = None  # None: not known in this process
        self.last_lag: int | None = None

    def matches(self, rec: RecordedEvent) -> bool:
        if self.everything or rec.type in self._types:
            return True
        cat = category_of(rec.stream_id)
        known = self._seen.get((cat, rec.type))
        if known is None:
            known = cat in self._cats or any(matches(p, routing_key(cat, rec.type)) for p in self._topics)
            if len(self._seen) < 10_000:
                self._seen[(cat, rec.type)] = known
        return known

    def handle_batch(self, conn: Any, events: list[RecordedEvent]) -> None:
        self.rt._handle_batch(self, conn, events)


def _describe(exc: BaseException, context: str) -> str:
    if isinstance(exc, EvshError):
        return f"{context}: {' '.join(str(exc).split())}"
    return " ".join(str(user_code_error(exc, context)).split())


# ----------------------------------------------------------------------------- the runtime

class Reactors:
    """The reactors of one engine: install once, then run in the chosen mode."""

    def __init__(
        self,
        engine: Engine,
        specs: Iterable[ReactorSpec],
        *,
        mode: str = "inline",
        backoff_scale: float = 1.0,
        batch_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in MODES:
            raise BadInput(f"mode {mode!r}: use one of {', '.join(MODES)}")
        self.engine = engine
        self.mode = mode
        self.backoff_scale = backoff_scale
        self.batch_size = batch_size
        self.sleep = sleep
        self.wallclock = wallclock
        self.subs: dict[str, _Sub] = {s.name: _Sub(self, s) for s in sorted(specs, key=lambda s: s.name)}
        self.log: list[Reaction] = []
        self.last_error: str | None = None
        self.crash_hook: Callable[[str], None] | None = None  # tests: raise at a chosen step
        self._running = False
        self._current: _Sub | None = None
        self._last_outcome: CommandOutcome | None = None
        self._buf = metrics.Buffer()
        self._history = Ranges()  # imported or seeded positions: never delivered (history is not news)

    # ------------------------------------------------------------------ helpers
    def _crash(self, step: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(step)

    def get(self, name: str) -> _Sub:
        sub = self.subs.get(name)
        if sub is None:
            known = ", ".join(self.subs) or "none"
            raise BadInput(f"no reactor {name!r} in this domain (reactors: {known})")
        return sub

    def select(self, names: Sequence[str] = ()) -> list[_Sub]:
        return [self.get(n) for n in names] if names else list(self.subs.values())

    @property
    def store(self) -> Any:
        return self.engine.store

    # ------------------------------------------------------------------ command records
    _RECORD_SQL = (
        "INSERT OR IGNORE INTO commands (command_id, name, stream_id, correlation_id, causation_id, outcome,"
        " reason, params, events, reactor, at) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    )

    def _record_row(self, outcome: CommandOutcome) -> tuple:
        sub = self._current
        try:
            params = codec.dumps(encode(outcome.params))
        except BadInput:  # parameters that could not be stored are why it failed: kept as their repr
            params = codec.dumps({k: repr(v) for k, v in outcome.params.items()})
        return (
            outcome.command_id, outcome.name, outcome.stream_id, outcome.correlation_id, outcome.causation_id,
            outcome.outcome, outcome.reason or "", params,
            codec.dumps([e.event_id for e in outcome.events]), sub.name if sub else None, outcome.at,
        )

    def on_command(self, outcome: CommandOutcome) -> None:
        """Record commands that appended nothing (rejected, refused, no-op): a command that wrote
        events is already on record in their metadata (command id and name, correlation,
        causation, actor), which saves every successful command a row and its index pages.
        A command that failed with an error is recorded only when a reactor sent it (inside the
        reaction's transaction, for the trace): a user's failing command writes nothing at all,
        its error is the answer. In inline mode, let reactors follow a user's command."""
        self._last_outcome = outcome
        top = self._current is None and not self._running
        if top:
            self.log = []
        recorded = not (outcome.outcome == "ok" and outcome.events)
        if outcome.outcome == "error" and self._current is None:
            recorded = False  # a user's failing command writes nothing
        if recorded:
            store = self.store
            if getattr(store, "in_transaction", False):
                store.conn.execute(self._RECORD_SQL, self._record_row(outcome))
            else:
                with store.transaction() as conn:
                    conn.execute(self._RECORD_SQL, self._record_row(outcome))
        if self.mode == "inline" and top and self.subs and outcome.outcome == "ok" and outcome.events:
            self._crash("after_command")
            self.run_inline()

    def run_inline(self) -> list[Reaction]:
        """Run pending reactions; an error is kept in ``last_error`` (the user's command stands)."""
        self.last_error = None
        try:
            return self.run_pending(include_stopped=False)
        except EvshError as exc:
            self.last_error = str(exc)
            return self.log

    # ------------------------------------------------------------------ delivery
    def _handle_batch(self, sub: _Sub, conn: Any, events: list[RecordedEvent], flush: bool = True) -> None:
        spec = sub.spec
        ready = False
        history = self._history.within(self.engine.store, events[0].position, events[-1].position) if events else ()
        for idx, rec in enumerate(events):
            if not sub.matches(rec) or (history and covered(history, rec.position)):
                continue
            if not ready and spec.tables:
                from .tables import create_tables

                create_tables(conn, spec.tables)
            ready = True
            self._crash("before_handle")
            started = time.perf_counter()
            ctx = None
            try:
                ctx = self._deliver(sub, conn, rec)
            except StoreError:
                raise
            except Exception as exc:  # the handler (or a command it sent) failed
                error = _describe(exc, f"reactor {sub.name} on {rec.type} {rec.stream_id}@{rec.version}")
                fails = sub.failures[rec.event_id] = sub.failures.get(rec.event_id, 0) + 1
                if fails < spec.attempts:
                    raise _Retry(idx, rec, error, fails) from None
                sub.failures.pop(rec.event_id, None)
                self._buf.error(KIND, sub.name, rec.type, retried=False)
                if spec.on_failure == "stop":
                    raise _Stop(idx, rec, error) from None
                self._park(conn, sub, rec, error, fails)
                self.log.append(Reaction(sub.name, rec, "parked", error=error))
                continue
            if ctx is None:
                self.log.append(Reaction(sub.name, rec, "duplicate"))
                continue
            self._buf.handled(KIND, sub.name, rec.type, time.perf_counter() - started)
            sub.failures.pop(rec.event_id, None)
            self.log.append(Reaction(sub.name, rec, "handled", ctx.sent, rows=ctx.rows))
        if flush:
            if events:
                self._buf.lag(KIND, sub.name, max(0, self.store.head_position() - events[-1].position))
            self._buf.flush(conn, self.engine.clock())
        if ready and sub.stopped is not False:  # it handled an event: no longer stopped
            conn.execute("UPDATE reactor_status SET stopped=0 WHERE name=? AND stopped=1", (sub.name,))
            sub.stopped = False
        self._crash("before_checkpoint")

    def _deliver(self, sub: _Sub, conn: Any, rec: RecordedEvent) -> Context | None:
        """Run the handler on one event inside a savepoint, with its processed record.

        The record is written first: when it is already there (a redelivery), nothing runs and
        None is returned. A handler that raises rolls the record back with everything else."""
        domain = self.engine.domain
        spec = domain.event_type(rec.type) if domain is not None else None
        store = self.store
        with store.transaction():
            if not conn.execute(
                "INSERT OR IGNORE INTO reactor_processed (reactor, event_id, position, handled_at) VALUES (?,?,?,?)",
                (sub.name, rec.event_id, rec.position, self.engine.clock()),
            ).rowcount:
                return None
            self._current = sub
            try:
                payload = spec.decode(rec.data) if spec is not None else None
                tables = None
                if sub.spec.tables:
                    from .tables import Tables

                    tables = Tables(conn, sub.spec.tables)
                ctx = Context(self, sub, Message(rec, payload, routing_key(category_of(rec.stream_id), rec.type)), tables)
                sub.spec.fn(ctx.event, ctx)
                if tables is not None:
                    for table in tables:  # flushed one by one to count each table's rows written
                        before = conn.total_changes
                        table.flush()
                        if conn.total_changes != before:
                            ctx.rows[table.name] = conn.total_changes - before
                self._crash("after_handle")
            finally:
                self._current = None
        return ctx

    def _park(self, conn: Any, sub: _Sub, rec: RecordedEvent, error: str, attempts: int) -> None:
        now = self.engine.clock()
        conn.execute(
            "INSERT INTO dead_letters (reactor, event_id, position, stream_id, event_type, error, attempts, status,"
            " parked_at) VALUES (?,?,?,?,?,?,?,'parked',?) ON CONFLICT(reactor, event_id) DO UPDATE SET"
            " error=excluded.error, attempts=dead_letters.attempts+excluded.attempts, status='parked',"
            " parked_at=excluded.parked_at, resolved_at=NULL",
            (sub.name, rec.event_id, rec.position, rec.stream_id, rec.type, error, attempts, now),
        )
        self._set_status(conn, sub.name, error, rec.position, stopped=False)

    def _set_status(self, conn: Any, name: str, error: str, position: int, *, stopped: bool) -> None:
        conn.execute(
            "INSERT INTO reactor_status (name, stopped, last_error, error_position, error_at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(name) DO UPDATE SET stopped=excluded.stopped, last_error=excluded.last_error,"
            " error_position=excluded.error_position, error_at=excluded.error_at",
            (name, int(stopped), error, position, self.engine.clock()),
        )

    # ------------------------------------------------------------------ running one reactor
    def run_one(
        self,
        sub: _Sub,
        *,
        max_events: int | None = None,
        stop: Callable[[], bool] | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> int:
        """Catch one reactor up (or handle ``max_events`` read events); returns events read."""
        total = 0
        if max_events is None:
            self._past_history(sub)
        while max_events is None or total < max_events:
            remaining = None if max_events is None else max_events - total
            try:
                total += catch_up(self.engine, sub, sub.checkpoint, batch_size=self.batch_size,
                                  max_events=remaining, stop=stop, on_batch=on_batch)
                return total
            except _Retry as r:
                self._buf.clear()
                if r.index:
                    total += self._commit_prefix(sub, r.index)
                self._note_retry(sub, r)
            except _Stop as s:
                self._buf.clear()
                if s.index:
                    total += self._commit_prefix(sub, s.index)
                self._note_stop(sub, s)
                return total
        return total

    def _past_history(self, sub: _Sub) -> None:
        """A reactor standing right before recorded history moves past it without reading it
        (history further on is read and skipped batch by batch)."""
        cp = get_checkpoint(self.store.conn, sub.checkpoint)
        end = self._history.past(self.store, cp + 1)
        if end > cp:
            with self.store.transaction() as conn:
                if get_checkpoint(conn, sub.checkpoint) == cp:
                    set_checkpoint(conn, sub.checkpoint, end, self.engine.clock())

    def _note_retry(self, sub: _Sub, r: _Retry) -> None:
        """A failed attempt that will be retried: count it, then back off (outside any batch)."""
        with self.store.transaction() as conn:
            metrics.record(conn, KIND, sub.name, r.event.type, 0, errors=1, retries=1, at=self.engine.clock())
        self.log.append(Reaction(sub.name, r.event, "retrying", error=r.error))
        delay = sub.spec.backoff * self.backoff_scale * (2 ** (r.failures - 1))
        if delay > 0:
            self.sleep(delay)

    def _note_stop(self, sub: _Sub, s: _Stop) -> None:
        """The last attempt failed and the reactor stops before this event."""
        with self.store.transaction() as conn:
            metrics.record(conn, KIND, sub.name, s.event.type, 0, errors=1, at=self.engine.clock())
            self._set_status(conn, sub.name, s.error, s.event.position, stopped=True)
        sub.stopped = True
        self.log.append(Reaction(sub.name, s.event, "stopped", error=s.error))

    def _commit_prefix(self, sub: _Sub, count: int) -> int:
        """Commit the events of a batch before the one that failed (they succeeded)."""
        try:
            return catch_up(self.engine, sub, sub.checkpoint, batch_size=count, max_events=count)
        except (_Retry, _Stop):  # not deterministic: leave them for the next pass
            self._buf.clear()
            return 0

    def pending(self, sub: _Sub, head: int | None = None) -> bool:
        head = self.store.head_position() if head is None else head
        return get_checkpoint(self.store.conn, sub.checkpoint) < head

    def run_pending(self, names: Sequence[str] = (), *, include_stopped: bool = True) -> list[Reaction]:
        """Inline: rounds of reactors handling what is pending until nothing is, in one transaction.

        Each round reads the new events once and gives each reactor its matching ones (each
        event in its own savepoint); a reactor with nothing to do has its checkpoint moved once
        at the end. A reactor far behind (a new one, or one that was stopped) catches up batch by
        batch through :meth:`run_one` instead, so no round ever holds more than ``FAST_WINDOW``
        events. A handler failure hands that reactor to :meth:`run_one`, which retries, parks or
        stops as the reactor says. ``include_stopped=False`` leaves stopped reactors alone (what
        commands do in inline mode: a stopped reactor waits for `evsh reactors run`).
        """
        subs = self.select(names)
        self.log = []
        store = self.store
        if subs and not include_stopped:
            self._load_stopped(subs)
            subs = [s for s in subs if not s.stopped]
        if not subs:
            return self.log
        self._running = True
        try:
            with store.transaction() as conn:
                cps = {s.name: get_checkpoint(conn, s.checkpoint) for s in subs}
                stale: set[str] = set()  # checkpoints moved in memory only
                for _ in range(MAX_ROUNDS):
                    head = store.head_position()
                    moved = False
                    for sub in subs:  # far behind: batch by batch, never the whole gap at once
                        if head - cps[sub.name] > FAST_WINDOW:
                            if sub.name in stale:
                                set_checkpoint(conn, sub.checkpoint, cps[sub.name], self.engine.clock())
                                stale.discard(sub.name)
                            before = cps[sub.name]
                            self.run_one(sub)
                            cps[sub.name] = get_checkpoint(conn, sub.checkpoint)
                            moved = moved or cps[sub.name] != before
                    head = store.head_position()
                    near = [s for s in subs if cps[s.name] < head and head - cps[s.name] <= FAST_WINDOW]
                    if near:
                        batch = list(self.engine.read_all(min(cps[s.name] for s in near) + 1))
                    for sub in near:
                        cp = cps[sub.name]
                        mine = [e for e in batch if e.position > cp and sub.matches(e)]
                        if not mine:
                            cps[sub.name] = head
                            stale.add(sub.name)
                            continue
                        try:
                            # each event has its own savepoint: a failure leaves the ones before it
                            # handled, and their processed records make run_one skip them
                            self._handle_batch(sub, conn, mine, flush=False)
                            cps[sub.name] = head
                            stale.add(sub.name)
                        except _Stop as stop:
                            self._buf.clear()  # the events before it stay handled (processed records)
                            set_checkpoint(conn, sub.checkpoint, stop.event.position - 1, self.engine.clock())
                            stale.discard(sub.name)
                            self._note_stop(sub, stop)
                            cps[sub.name] = stop.event.position - 1
                        except _Retry as retry:
                            self._buf.clear()
                            set_checkpoint(conn, sub.checkpoint, cp, self.engine.clock())
                            stale.discard(sub.name)
                            self._note_retry(sub, retry)
                            self.run_one(sub)  # handled ones are skipped by their processed records
                            cps[sub.name] = get_checkpoint(conn, sub.checkpoint)
                        moved = moved or cps[sub.name] != cp
                    if not moved:
                        break
                    if not include_stopped:
                        subs = [s for s in subs if not s.stopped]
                else:
                    raise DomainCodeError(
                        f"reactors kept reacting to each other's events for {MAX_ROUNDS} rounds; is there a loop?"
                    )
                now = self.engine.clock()
                for name in sorted(stale):
                    set_checkpoint(conn, checkpoint_name(KIND, name), cps[name], now)
                head = store.head_position()
                for sub in subs:
                    lag = max(0, head - cps[sub.name])
                    if lag != sub.last_lag:  # a gauge: write it when it changes
                        self._buf.lag(KIND, sub.name, lag)
                        sub.last_lag = lag
                self._buf.flush(conn, now)
        finally:
            self._running = False
            self._buf.clear()
        return self.log

    def _load_stopped(self, subs: Sequence[_Sub]) -> None:
        """Learn (once per process) which reactors a failure stopped."""
        unknown = [s for s in subs if s.stopped is None]
        if not unknown:
            return
        stopped = {n for (n,) in self.store.conn.execute("SELECT name FROM reactor_status WHERE stopped=1")}
        for s in unknown:
            s.stopped = s.name in stopped

    # ------------------------------------------------------------------ step mode
    def step(self) -> tuple[RecordedEvent | None, list[Reaction]]:
        """Deliver the next pending event (the lowest position any reactor waits for) to the
        reactors waiting for it. Returns (event, reactions), or (None, []) when nothing is pending."""
        conn = self.store.conn
        plans: dict[str, tuple[int, int, RecordedEvent]] = {}
        best: int | None = None
        head = self.store.head_position()
        for sub in self.subs.values():
            cp = get_checkpoint(conn, sub.checkpoint)
            history = self._history.within(self.store, cp + 1, head)
            n = 0
            for rec in self.engine.read_all(cp + 1, types=sub.types, categories=sub.categories):
                n += 1
                if best is not None and rec.position > best:
                    break
                if sub.matches(rec) and not covered(history, rec.position) and not conn.execute(
                    "SELECT 1 FROM reactor_processed WHERE reactor=? AND event_id=?", (sub.name, rec.event_id)
                ).fetchone():
                    plans[sub.name] = (rec.position, n, rec)
                    best = rec.position if best is None else min(best, rec.position)
                    break
        self.log = []
        if best is None:  # what is left concerns no reactor: move them past it
            with self.store.transaction() as conn:
                head = self.store.head_position()
                for sub in self.subs.values():
                    if get_checkpoint(conn, sub.checkpoint) < head:
                        set_checkpoint(conn, sub.checkpoint, head, self.engine.clock())
            return None, []
        event = next(p[2] for p in plans.values() if p[0] == best)
        self._running = True
        try:
            with self.store.transaction():
                for name, (pos, n, _) in plans.items():
                    if pos == best:
                        self.run_one(self.subs[name], max_events=n)
        finally:
            self._running = False
        return event, list(self.log)

    # ------------------------------------------------------------------ async workers
    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease on reactor ``name``; False while another live worker holds it."""
        now = self.wallclock()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT owner, expires FROM reactor_leases WHERE name=?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            conn.execute(
                "INSERT INTO reactor_leases (name, owner, expires, acquired_at) VALUES (?,?,?,?)"
                " ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, expires=excluded.expires,"
                " acquired_at=CASE WHEN reactor_leases.owner=excluded.owner THEN reactor_leases.acquired_at"
                " ELSE excluded.acquired_at END",
                (name, owner, now + ttl, clock_mod.format_time(_utc(now))),
            )
        return True

    def release(self, name: str, owner: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM reactor_leases WHERE name=? AND owner=?", (name, owner))

    def work(
        self,
        names: Sequence[str] = (),
        *,
        follow: bool = False,
        owner: str | None = None,
        lease: float = DEFAULT_LEASE,
        poll: float = DEFAULT_POLL,
        stop: Callable[[], bool] | None = None,
        on_batch: Callable[[str, int, int], None] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> dict[str, int]:
        """An async worker: serve the reactors whose lease it gets, batch by batch.

        Without ``follow`` it catches up once and returns; with it, it polls every ``poll``
        seconds until ``stop()``. Returns events read per reactor.
        """
        owner = owner or default_owner()
        subs = self.select(names)
        done: dict[str, int] = {s.name: 0 for s in subs}
        held: set[str] = set()
        stopped = stop or (lambda: False)
        try:
            while not stopped():
                busy = False
                for sub in subs:
                    if stopped():
                        break
                    if not self.pending(sub):
                        continue  # idle: no lock taken, nothing written
                    if not self.acquire(sub.name, owner, lease):
                        held.discard(sub.name)
                        continue
                    held.add(sub.name)

                    def batch(count: int, position: int, _name: str = sub.name) -> None:
                        self.acquire(_name, owner, lease)  # renew while working
                        if on_batch:
                            on_batch(_name, count, position)

                    self.log = []
                    n = self.run_one(sub, stop=stopped, on_batch=batch)
                    done[sub.name] += n
                    busy = busy or n > 0
                if busy:
                    continue  # reactors' own commands may have appended more: go again at once
                if not follow:
                    break
                if not busy:
                    if on_idle:
                        on_idle()
                    self.sleep(poll)
        finally:
            for name in held:
                try:
                    self.release(name, owner)
                except EvshError:
                    pass
        return done

    # ------------------------------------------------------------------ dead letters
    def retry_dead_letter(self, id: int) -> tuple[str, Reaction | None]:
        """Redeliver a parked event through the idempotency guard.

        Returns ("retried", reaction) when the handler succeeded, ("duplicate", None) when the
        event had been handled meanwhile (nothing is sent twice), ("failed", reaction) when it
        failed again (it stays parked, with the new error).
        """
        row = dead_letter(self.store.conn, id)
        if row["status"] != "parked":
            raise BadInput(f"dead letter {id} is {row['status']}, not parked")
        sub = self.get(row["reactor"])
        rec = self.store.event_by_id(row["event_id"]) if hasattr(self.store, "event_by_id") else None
        rec = self.engine.view(rec) if rec is not None else None
        if rec is None:
            raise BadInput(f"dead letter {id}: event {row['event_id']} is no longer in the store")
        self.log = []
        self._running = True
        try:
            with self.store.transaction() as conn:
                now = self.engine.clock()
                if conn.execute("SELECT 1 FROM reactor_processed WHERE reactor=? AND event_id=?",
                                (sub.name, rec.event_id)).fetchone():
                    conn.execute("UPDATE dead_letters SET status='retried', resolved_at=? WHERE id=?", (now, id))
                    return "duplicate", None
                if sub.spec.tables:
                    from .tables import create_tables

                    create_tables(conn, sub.spec.tables)
                started = time.perf_counter()
                try:
                    ctx = self._deliver(sub, conn, rec)
                except StoreError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the handler failed again
                    error = _describe(exc, f"reactor {sub.name} on {rec.type} {rec.stream_id}@{rec.version}")
                    conn.execute("UPDATE dead_letters SET error=?, attempts=attempts+1 WHERE id=?", (error, id))
                    metrics.record(conn, KIND, sub.name, rec.type, 0, errors=1, retries=1, at=now)
                    return "failed", Reaction(sub.name, rec, "parked", error=error)
                metrics.record(conn, KIND, sub.name, rec.type, 1, retries=1,
                               latencies=[time.perf_counter() - started], at=now)
                conn.execute("UPDATE dead_letters SET status='retried', resolved_at=? WHERE id=?", (now, id))
                reaction = Reaction(sub.name, rec, "handled", ctx.sent, rows=ctx.rows)
        finally:
            self._running = False
        if self.mode == "inline":
            self.run_inline()
        return "retried", reaction

    def discard_dead_letter(self, id: int) -> None:
        row = dead_letter(self.store.conn, id)
        if row["status"] != "parked":
            raise BadInput(f"dead letter {id} is {row['status']}, not parked")
        with self.store.transaction() as conn:
            conn.execute("UPDATE dead_letters SET status='discarded', resolved_at=? WHERE id=?", (self.engine.clock(), id))

    # ------------------------------------------------------------------ history is not news
    def skip_history(self, since: int | None = None) -> int:
        """Move reactors past events already in the store (imported or seeded history).

        ``since`` is the head position before the history was written: the positions after it
        are recorded as history (:mod:`evsh.engine.history`), which no reactor ever reacts to,
        and a reactor that had handled everything up to it moves to the head at once; one still
        behind keeps its pending events. Without ``since`` every reactor moves to the head.
        Returns how many reactors moved.
        """
        moved = 0
        with self.store.transaction() as conn:
            if since is not None:
                mark(self.store, since)
            head = self.store.head_position()
            now = self.engine.clock()
            for sub in self.subs.values():
                cp = get_checkpoint(conn, sub.checkpoint)
                if cp < head and (since is None or cp >= since):
                    set_checkpoint(conn, sub.checkpoint, head, now)
                    moved += 1
        return moved

    # ------------------------------------------------------------------ status
    def status(self) -> list[dict[str, Any]]:
        """Per reactor: subscriptions, checkpoint, lag, handled, parked, last error, lease."""
        conn = self.store.conn
        head = self.store.head_position()
        now = self.wallclock()
        out = []
        for sub in self.subs.values():
            cp = get_checkpoint(conn, sub.checkpoint)
            handled = conn.execute("SELECT count(*) FROM reactor_processed WHERE reactor=?", (sub.name,)).fetchone()[0]
            parked = conn.execute(
                "SELECT count(*) FROM dead_letters WHERE reactor=? AND status='parked'", (sub.name,)
            ).fetchone()[0]
            st = conn.execute(
                "SELECT stopped, last_error, error_position, error_at FROM reactor_status WHERE name=?", (sub.name,)
            ).fetchone()
            lease = conn.execute("SELECT owner, expires FROM reactor_leases WHERE name=?", (sub.name,)).fetchone()
            out.append({
                "name": sub.name,
                "subscriptions": sub.spec.subscriptions,
                "mode": self.mode,
                "checkpoint": cp,
                "lag": max(0, head - cp),
                "handled": handled,
                "parked": parked,
                "stopped": bool(st and st[0]),
                "error": st[1] if st else None,
                "error_position": st[2] if st else None,
                "error_at": st[3] if st else None,
                "lease": ({"owner": lease[0], "expires_in": round(lease[1] - now, 3)}
                          if lease is not None and lease[1] > now else None),
                "attempts": sub.spec.attempts,
                "on_failure": sub.spec.on_failure,
                "description": sub.spec.description,
            })
        return out


def _utc(ts: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ----------------------------------------------------------------------------- dead letters (reading)

_DL_COLUMNS = ("id", "reactor", "event_id", "position", "stream_id", "event_type", "error", "attempts", "status",
               "parked_at", "resolved_at")


def dead_letters(conn: Any, *, status: str | None = "parked", reactor: str | None = None) -> list[dict[str, Any]]:
    where, params = [], []
    if status:
        where.append("status=?")
        params.append(status)
    if reactor:
        where.append("reactor=?")
        params.append(reactor)
    sql = f"SELECT {', '.join(_DL_COLUMNS)} FROM dead_letters"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [dict(zip(_DL_COLUMNS, r)) for r in conn.execute(sql + " ORDER BY id", params)]


def dead_letter(conn: Any, id: int) -> dict[str, Any]:
    row = conn.execute(f"SELECT {', '.join(_DL_COLUMNS)} FROM dead_letters WHERE id=?", (id,)).fetchone()
    if row is None:
        raise BadInput(f"no dead letter {id} (see evsh dlq list)")
    return dict(zip(_DL_COLUMNS, row))


# ----------------------------------------------------------------------------- wiring

def runtime(engine: Engine) -> Reactors:
    """The engine's reactors (installed by build_engine; made here for a hand-built engine)."""
    rt = getattr(engine, "reactors", None)
    if rt is None:
        install(engine, {})
        rt = engine.reactors  # type: ignore[attr-defined]
    return rt


def skip_history(engine: Engine, since: int | None = None) -> int:
    """Move reactors' checkpoints past history just written (import, seed): it is not news."""
    return runtime(engine).skip_history(since)


def install(engine: Engine, options: dict[str, Any]) -> None:
    """Record every command; give the engine its reactors in the mode the options name."""
    mode = (options.get("mode") or "inline").strip().lower()
    specs = engine.domain.of_kind("reactor") if engine.domain is not None else []
    rt = Reactors(
        engine, specs, mode=mode,
        backoff_scale=float(options.get("reactor_backoff", 1.0)),
        batch_size=int(options.get("reactor_batch_size", 500)),
    )
    engine.reactors = rt  # type: ignore[attr-defined]
    engine.command_listeners.append(rt.on_command)
