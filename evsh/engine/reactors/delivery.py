"""Delivering events to reactors: the idempotency guard, retries, parking and stopping.

Each reactor is a checkpointed subscriber (the machinery projections share, in
``subscriptions.py``). For every event it handles, in one transaction: the commands its handler
sends (``engine.execute`` joins the open transaction as a savepoint), the events those commands
append, the rows it writes to its tables, a processed record of the event, the reactor's
checkpoint and its metrics. Delivery is at-least-once (a crash redelivers) and the processed
record makes it effectively-once: a redelivered event is skipped, so it never causes a second
command, event or e-mail.

A handler that raises is retried with exponential backoff, sleeping outside the batch's
transaction (the events before it are committed first), then parked in the dead letters or, by
the reactor's choice, the reactor stops at that event. How events reach :class:`Delivery` (after
each command, step by step, in worker processes) is the runners' business (``runners.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from ...domain.reactor import ReactorSpec
from ...domain.registry import user_code_error
from ...errors import USER_CODE_FAILURES, BadInput, CommandRejected, EvshError, StoreError
from ...store.recorded import RecordedEvent, category_of
from ...store.tables import Tables
from .. import metrics
from ..engine import CommandOutcome, Engine
from ..history import Ranges, covered
from ..routing import EventFilter, routing_key
from ..subscriptions import catch_up, checkpoint_name
from . import records
from .message import Message
from .recent import RecentEvents

KIND = "reactor"


class Context:
    """What a handler may do: send commands, read aggregates, write its tables."""

    def __init__(self, rt: "Delivery", sub: "_Sub", message: Message, tables: Any) -> None:
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

    def __init__(self, rt: "Delivery", spec: ReactorSpec) -> None:
        self.rt = rt
        self.spec = spec
        self.name = spec.name
        self.checkpoint = checkpoint_name(KIND, spec.name)
        self.filter = EventFilter(spec.types, spec.categories, spec.topics)
        # the filter is pushed into SQL when one kind of subscription is used alone
        self.types: Sequence[str] = self.filter.sql_types
        self.categories: Sequence[str] = self.filter.sql_categories
        self.everything = self.filter.everything
        self.matches = self.filter.matches
        self.failures: dict[str, int] = {}
        self.stopped: bool | None = None  # None: not known in this process
        self.last_lag: int | None = None

    def handle_batch(self, store: Any, events: list[RecordedEvent]) -> None:
        self.rt._handle_batch(self, store, events)


def _describe(exc: BaseException, context: str) -> str:
    if isinstance(exc, EvshError):
        return f"{context}: {' '.join(str(exc).split())}"
    return " ".join(str(user_code_error(exc, context)).split())


class Delivery:
    """One engine's reactors, and how an event is delivered to one of them."""

    def __init__(
        self,
        engine: Engine,
        specs: Iterable[ReactorSpec],
        *,
        backoff_scale: float = 1.0,
        batch_size: int = 500,
        sleep: Callable[[float], None] = time.sleep,
        wallclock: Callable[[], float] | None = None,
    ) -> None:
        self.engine = engine
        self.backoff_scale = backoff_scale
        self.batch_size = batch_size
        self.sleep = sleep
        # leases' clock: the store's when it has one (a server: one clock for every machine's
        # workers, so a skewed machine neither steals a live lease nor waits past a dead one)
        self.wallclock = wallclock or getattr(engine.store, "server_time", None) or time.time
        self.subs: dict[str, _Sub] = {s.name: _Sub(self, s) for s in sorted(specs, key=lambda s: s.name)}
        self.log: list[Reaction] = []
        self.crash_hook: Callable[[str], None] | None = None  # tests: raise at a chosen step
        self._running = False
        self._current: _Sub | None = None
        self._last_outcome: CommandOutcome | None = None
        self._buf = metrics.Buffer()
        self._history = Ranges()  # imported or seeded positions: never delivered (history is not news)
        self._recent = RecentEvents()  # inline: the run's own events, not read back
        self._messages: dict[type, type[Message]] = {}  # payload type -> its Message class

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


    # ------------------------------------------------------------------ delivery
    def _handle_batch(self, sub: _Sub, store: Any, events: list[RecordedEvent], flush: bool = True) -> None:
        spec = sub.spec
        ready = False
        records.ensure(store)
        history = self._history.within(store, events[0].position, events[-1].position) if events else ()
        for idx, rec in enumerate(events):
            if not sub.matches(rec) or (history and covered(history, rec.position)):
                continue
            if not ready and spec.tables:
                store.ensure_tables(spec.tables, owner=f"{KIND}:{sub.name}")
            ready = True
            self._crash("before_handle")
            started = time.perf_counter()
            ctx = None
            try:
                ctx = self._deliver(sub, store, rec)
            except StoreError:
                raise
            except USER_CODE_FAILURES as exc:  # the handler (or a command it sent) failed, sys.exit() too
                error = _describe(exc, f"reactor {sub.name} on {rec.type} {rec.stream_id}@{rec.version}")
                fails = sub.failures[rec.event_id] = sub.failures.get(rec.event_id, 0) + 1
                if fails < spec.attempts:
                    raise _Retry(idx, rec, error, fails) from None
                sub.failures.pop(rec.event_id, None)
                self._buf.error(KIND, sub.name, rec.type, retried=False)
                if spec.on_failure == "stop":
                    raise _Stop(idx, rec, error) from None
                self._park(store, sub, rec, error, fails)
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
            self._buf.flush(store, self.engine.clock())
        if ready and sub.stopped is not False:  # it handled an event: no longer stopped
            records.unstop(store, sub.name)
            sub.stopped = False
        self._crash("before_checkpoint")

    def _deliver(self, sub: _Sub, store: Any, rec: RecordedEvent) -> Context | None:
        """Run the handler on one event inside a savepoint, with its processed record.

        The record is written first: when it is already there (a redelivery), nothing runs and
        None is returned. A handler that raises rolls the record back with everything else."""
        domain = self.engine.domain
        spec = domain.event_type(rec.type) if domain is not None else None
        with store.transaction():
            if not records.claim(store, sub.name, rec.event_id, rec.position, self.engine.clock()):
                return None
            self._current = sub
            try:
                payload = spec.decode(rec.data) if spec is not None else None
                tables = None
                if sub.spec.tables:
                    tables = Tables(store, sub.spec.tables)
                message = Message if payload is None or type(payload) is dict else Message.typed(type(payload), self._messages)
                ctx = Context(self, sub, message(rec, payload, routing_key(category_of(rec.stream_id), rec.type)), tables)
                sub.spec.fn(ctx.event, ctx)
                if tables is not None:
                    for table in tables:  # flushed one by one to count each table's rows written
                        written = table.flush()
                        if written:
                            ctx.rows[table.name] = written
                self._crash("after_handle")
            finally:
                self._current = None
        return ctx

    def _park(self, store: Any, sub: _Sub, rec: RecordedEvent, error: str, attempts: int) -> None:
        records.park(store, sub.name, rec, error, attempts, self.engine.clock())
        records.set_status(store, sub.name, error, rec.position, self.engine.clock(), stopped=False)

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
        store = self.store
        cp = store.checkpoint(sub.checkpoint)
        end = self._history.past(store, cp + 1)
        if end > cp:
            with store.transaction():
                if store.claim_checkpoint(sub.checkpoint) == cp:
                    store.set_checkpoint(sub.checkpoint, end, self.engine.clock())

    def _note_retry(self, sub: _Sub, r: _Retry) -> None:
        """A failed attempt that will be retried: count it, then back off (outside any batch)."""
        with self.store.transaction() as store:
            metrics.record(store, KIND, sub.name, r.event.type, 0, errors=1, retries=1, at=self.engine.clock())
        self.log.append(Reaction(sub.name, r.event, "retrying", error=r.error))
        delay = sub.spec.backoff * self.backoff_scale * (2 ** (r.failures - 1))
        if delay > 0:
            self.sleep(delay)

    def _note_stop(self, sub: _Sub, s: _Stop) -> None:
        """The last attempt failed and the reactor stops before this event."""
        with self.store.transaction() as store:
            metrics.record(store, KIND, sub.name, s.event.type, 0, errors=1, at=self.engine.clock())
            records.set_status(store, sub.name, s.error, s.event.position, self.engine.clock(), stopped=True)
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
        return self.store.checkpoint(sub.checkpoint) < head

    def _load_stopped(self, subs: Sequence[_Sub]) -> None:
        """Learn (once per process) which reactors a failure stopped."""
        unknown = [s for s in subs if s.stopped is None]
        if not unknown:
            return
        stopped = records.stopped(self.store)
        for s in unknown:
            s.stopped = s.name in stopped
