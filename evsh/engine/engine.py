"""Commands against aggregates, and the one read path every front end uses.

Load (replay the stream, outside the write lock) -> decide (the command method) -> append with
expected version = the loaded version. A writer that got in between makes the append conflict;
the command is then retried against fresh state.

Features plug in without front ends knowing: ``transforms`` rewrite events on the read path
(upcasting, decryption), ``append_hooks`` run inside an append's transaction (inline
projections), ``command_listeners`` see every command's outcome (tracing, reactors).
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections import OrderedDict
from dataclasses import dataclass, field
from types import GeneratorType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from ..domain.naming import event_spec
from ..errors import USER_CODE_FAILURES, BadInput, CommandRejected, ConcurrencyError, DomainCodeError, EvshError
from .readpath import sealed_marker, view_pages
from ..store.base import ANY, NO_STREAM, AppendHook, AppendResult, EventStore, NewEvent, RecordedEvent, check_name, check_stream_id, new_uuid, utc_now

if TYPE_CHECKING:  # the domain modules load with a domain: `evsh read` on a bare store needs neither
    from ..domain.model import Aggregate, CommandSpec, EventSpec
    from ..domain.registry import Domain
    from .reactors import Reactors
    from .shredding import Shredder

Transform = Callable[[RecordedEvent], "RecordedEvent | None"]
# Applied to each event on its way into the store (e.g. encrypting personal fields): (stream id, event) -> event.
WriteTransform = Callable[[str, NewEvent], NewEvent]


@dataclass
class CommandOutcome:
    """What became of one command: seen by listeners, returned to callers."""

    command_id: str
    name: str  # "order.create"
    stream_id: str
    params: dict[str, Any]
    correlation_id: str
    causation_id: str
    outcome: str = "ok"  # ok | rejected | error
    reason: str = ""
    events: tuple[RecordedEvent, ...] = ()
    version: int = 0
    at: str = ""
    attempts: int = 1


@dataclass
class Engine:
    store: EventStore
    domain: Domain | None = None
    clock: Callable[[], str] = utc_now
    new_id: Callable[[], str] = new_uuid
    retries: int = 3
    transforms: list[Transform] = field(default_factory=list)
    # Checks for records a caller fetched itself (``view``): the store's own reads apply them already.
    raw_filters: list[Transform] = field(default_factory=list)
    write_transforms: list[WriteTransform] = field(default_factory=list)
    # Current event type -> older stored names that read as it (renamed by upcasters): type filters include them.
    type_aliases: dict[str, set[str]] = field(default_factory=dict)
    append_hooks: list[AppendHook] = field(default_factory=list)
    command_listeners: list[Callable[[CommandOutcome], None]] = field(default_factory=list)
    # Called inside a command's append transaction with (connection, outcome with its events):
    # what must commit together with the command's events (its record, for tracing).
    command_hooks: list[Callable[[Any, CommandOutcome], None]] = field(default_factory=list)
    # Set by the snapshot feature: (aggregate class, id, at_version) -> aggregate or None.
    snapshot_loader: Callable[[type[Aggregate], str, int | None], Aggregate | None] | None = None
    # Aggregates as this engine last saw them: stream id -> (aggregate, id of its last event,
    # read signature, store epoch, version). While the store's epoch is unchanged (only this
    # connection appended, and the append listener dropped what others wrote here) a load reads
    # nothing; otherwise it reads the events after it, checking that its last event is still there.
    cache_size: int = 10_000
    # Feature slots, filled by their installers (engine/wiring.py) when the domain uses them.
    reactors: Reactors | None = None
    shredder: Shredder | None = None
    _cache: "OrderedDict[str, tuple[Aggregate, str, tuple, int, int]]" = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self) -> None:
        on_append = getattr(self.store, "on_append", None)
        if on_append is not None:
            on_append(self._appended)

    def _appended(self, stream_id: str, last_event_id: str) -> None:
        """An append through this store: a cached state of that stream is now behind, unless it
        is this engine's own (kept again right after)."""
        entry = self._cache.get(stream_id)
        if entry is not None and entry[1] != last_event_id:
            del self._cache[stream_id]

    # ------------------------------------------------------------------ the read path
    def _view(self, records: Iterator[RecordedEvent]) -> Iterator[RecordedEvent]:
        if not self.transforms:
            yield from records
            return
        for rec in records:
            out: RecordedEvent | None = rec
            for t in self.transforms:
                out = t(out)
                if out is None:
                    break
            if out is not None:
                yield out

    def read_stream(self, stream_id: str, from_version: int | None = None, *, backwards: bool = False,
                    limit: int | None = None) -> Iterator[RecordedEvent]:
        return view_pages(self, self.store.read_stream_records(stream_id, from_version, backwards=backwards, limit=limit,
                                                               marked=sealed_marker(self)))

    def read_all(self, from_position: int = 1, *, types: Sequence[str] = (), categories: Sequence[str] = (),
                 limit: int | None = None, backwards: bool = False) -> Iterator[RecordedEvent]:
        if types and self.type_aliases:
            types = [*types, *(old for t in types for old in sorted(self.type_aliases.get(t, ())))]
        return view_pages(self, self.store.read_all_records(from_position, types=types, categories=categories,
                                                            limit=limit, backwards=backwards, marked=sealed_marker(self)))

    def view(self, record: RecordedEvent) -> RecordedEvent | None:
        """One stored record as readers see it (for callers holding raw records)."""
        for check in self.raw_filters:
            if check(record) is None:
                return None
        return next(self._view(iter((record,))), None)

    def streams(self, category: str | None = None, **kw: Any):
        return self.store.streams(category, **kw)

    # ------------------------------------------------------------------ domain helpers
    def require_domain(self) -> Domain:
        if self.domain is None:
            raise BadInput("this needs a domain module: pass --domain FILE_OR_MODULE or set EVSH_DOMAIN (try --domain shop)")
        return self.domain

    # ------------------------------------------------------------------ aggregates
    def load(self, aggregate: str | type[Aggregate], id: str, at_version: int | None = None) -> Aggregate:
        """The aggregate rebuilt from its stream, optionally as it was at ``at_version``.

        The current state comes from this engine's cache when it has the aggregate: only the
        events after it are read. Treat it as read-only (commands work on their own copy).
        """
        cls = self.require_domain().aggregate(aggregate) if isinstance(aggregate, str) else aggregate
        stream_id = check_stream_id(cls.stream_id(check_name(id, "aggregate id")))
        if at_version is None:
            agg, last_id = self._take(cls, stream_id, id)
            self._keep(stream_id, agg, last_id)
            return agg
        return self._replay(cls, id, at_version)[0]

    def _take(self, cls: type[Aggregate], stream_id: str, id: str) -> tuple[Aggregate, str | None]:
        """The current aggregate and its last event's id, owned by the caller (out of the cache)."""
        entry = self._cache.pop(stream_id, None)
        if entry is not None and type(entry[0]) is cls and entry[2] == self._read_signature():
            agg, last_id, _, epoch, version = entry
            # nothing but this connection's appends since, and not evolved by a caller: current
            if epoch == self.store.epoch() and agg.version == version:
                return agg, last_id
            with self.store.reading():
                tail = self.read_stream(stream_id, agg.version)
                first = next(tail, None)  # the cached last event must still be there, unchanged
                if first is not None and first.version == agg.version and first.event_id == last_id:
                    return agg, self.apply_records(agg, tail) or last_id
        return self._replay(cls, id, None)

    def _keep(self, stream_id: str, agg: Aggregate, last_id: str | None) -> None:
        if last_id is None or not agg.version or self.cache_size <= 0:
            return
        ages = getattr(self.store, "ages", None)
        if ages is not None and ages(stream_id):  # a max-age rule: time alone changes the state
            return
        self._cache[stream_id] = (agg, last_id, self._read_signature(), self.store.epoch(check=False), agg.version)
        self._cache.move_to_end(stream_id)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _read_signature(self) -> tuple:
        """What events read as depends on the read transforms: a cached state is for one set."""
        return tuple(map(id, self.transforms))

    def forget_cached(self) -> None:
        """Drop every cached aggregate (after something rewrote what events read as, e.g. forget)."""
        self._cache.clear()

    def _replay(self, cls: type[Aggregate], id: str, at_version: int | None) -> tuple[Aggregate, str | None]:
        if at_version is not None and at_version < 0:
            raise BadInput("--at-version must be 0 or more")
        last_id = None
        with self.store.reading():
            agg = self.snapshot_loader(cls, id, at_version) if self.snapshot_loader else None
            if agg is None:
                agg = cls(id)
            if at_version is not None and at_version <= agg.version:
                if at_version < agg.version:  # a snapshot past the wanted version: start over
                    agg = cls(id)
                else:
                    return agg, None
            limit = None if at_version is None else at_version - agg.version
            if limit == 0:
                return agg, None
            last_id = self.apply_records(agg, self.read_stream(cls.stream_id(id), agg.version + 1, limit=limit))
        if at_version is not None and agg.version < at_version:
            raise BadInput(f"stream {cls.stream_id(id)} is at version {agg.version}; version {at_version} does not exist yet")
        return agg, last_id

    def apply_records(self, agg: Aggregate, records: Iterator[RecordedEvent]) -> str | None:
        """Evolve ``agg`` by these events; returns the last one's id (None when there were none)."""
        replayers = type(agg).replayers()
        rec = None
        try:
            for rec in records:  # by index: a named tuple's attributes cost more per event
                entry = replayers.get(rec[4])  # type
                if entry is not None:
                    fn, decode, name = entry
                    fn(agg, decode(rec[5], name))  # data
                agg.version = rec[3]  # version
        except BadInput as exc:
            raise BadInput(f"stored event {rec.stream_id}@{rec.version} ({rec.type}) does not fit its type: {exc}") from None
        except EvshError:
            raise
        except USER_CODE_FAILURES as exc:  # sys.exit() in an applier is the user's code failing too
            from ..domain.registry import user_code_error

            raise user_code_error(exc, f"applying {rec.type} to {type(agg).__name__}") from None
        return rec.event_id if rec is not None else None

    # ------------------------------------------------------------------ commands
    def decide(self, agg: Aggregate, spec: CommandSpec, params: dict[str, Any], *,
               validate: bool = True) -> list[tuple[EventSpec, dict[str, Any]]]:
        """Run a command method; returns the events it emitted (already applied to ``agg``).

        ``validate=False`` skips reading each payload back through its type, for generators of
        trusted history (``evsh seed``): every reader validates it again anyway.
        """
        appliers = type(agg).appliers()
        out: list[tuple[EventSpec, dict[str, Any]]] = []

        def take(ev: Any) -> None:
            es = event_spec(type(ev))
            if es is None:
                raise spec.wrong_result(agg, f"gave {reprlib.repr(ev)} ({type(ev).__name__}), not an @event instance")
            data = es.encode(ev)
            if validate:
                try:
                    es.decode(data)
                except BadInput as exc:
                    raise DomainCodeError(f"command {spec.name} emitted an invalid {es.name}: {exc}") from None
            entry = appliers.get(es.name)
            if entry is not None:
                entry[0](agg, ev)
            agg.version += 1
            out.append((es, data))

        try:
            result = spec.fn(agg, **params)
            if isinstance(result, GeneratorType):  # what inspect.isgenerator asks, without the call
                while True:
                    try:
                        ev = next(result)
                    except StopIteration as done:  # the generator's own `return VALUE`
                        if done.value is not None:
                            raise spec.wrong_result(agg, f"returned {reprlib.repr(done.value)} as well as yielding") from None
                        break
                    take(ev)
            elif isinstance(result, (list, tuple)):
                for ev in result:
                    take(ev)
            elif result is not None:
                take(result)
        except EvshError:
            raise
        except USER_CODE_FAILURES as exc:  # sys.exit() in a command is the user's code failing too
            from ..domain.registry import user_code_error

            raise user_code_error(exc, f"command {type(agg).category}.{spec.name}") from None
        return out

    def execute(
        self,
        aggregate: str | type[Aggregate],
        id: str,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        actor: str | None = None,
        metadata: dict[str, Any] | None = None,
        hooks: Sequence[AppendHook] = (),
    ) -> CommandOutcome:
        """Run a command; retry on a concurrency conflict; raise CommandRejected on a "no"."""
        cls = self.require_domain().aggregate(aggregate) if isinstance(aggregate, str) else aggregate
        owner_check = getattr(self.domain, "check_owner", None)  # a service runs its own aggregates' commands
        if owner_check is not None:
            owner_check(cls.category)
        spec = cls.find_command(command)
        stream_id = check_stream_id(cls.stream_id(check_name(id, "aggregate id")))
        bound = spec.bind(params or {})
        command_id = self.new_id()
        outcome = CommandOutcome(
            command_id, f"{cls.category}.{spec.name}", stream_id, bound,
            correlation_id or command_id, causation_id or command_id, at=self.clock(),
        )
        meta_base = dict(metadata or {})
        meta_base.update(
            correlation_id=outcome.correlation_id, causation_id=outcome.causation_id, command=outcome.name,
            command_id=command_id,
        )
        if actor:
            meta_base["actor"] = actor
        attempts = max(1, self.retries + 1)
        try:
            for attempt in range(1, attempts + 1):
                outcome.attempts = attempt
                agg, _ = self._take(cls, stream_id, id)
                loaded = agg.version
                emitted = self.decide(agg, spec, bound)
                if not emitted:
                    outcome.version = loaded
                    break
                new, changed = self._written(stream_id, [
                    NewEvent(es.name, data, {**meta_base, "schema_version": es.schema_version}, self.new_id())
                    for es, data in emitted
                ])

                append_hooks = [*self.append_hooks, *hooks]
                if self.command_hooks:
                    def in_txn(conn: Any, recorded: Sequence[RecordedEvent], o: CommandOutcome = outcome) -> None:
                        o.events, o.version = self._seen(recorded, changed), recorded[-1].version
                        for hook in self.command_hooks:
                            hook(conn, o)

                    append_hooks.append(in_txn)
                try:
                    res = self.store.append(stream_id, new, loaded or NO_STREAM, hooks=append_hooks)
                except ConcurrencyError:
                    if attempt == attempts:
                        raise
                    continue
                outcome.events, outcome.version = self._seen(res.events, changed), res.version
                if res.events:  # the aggregate as decided is the stream as written: keep it
                    # (at the stream's version: a soft-deleted stream is written after its last one)
                    agg.version = res.version
                    self._keep(stream_id, agg, res.events[-1].event_id)
                break
        except CommandRejected as exc:
            outcome.outcome, outcome.reason = "rejected", exc.reason
            self._tell(outcome)
            raise
        except EvshError as exc:
            outcome.outcome, outcome.reason = "error", str(exc)
            self._tell(outcome)
            raise
        self._tell(outcome)
        return outcome

    def _tell(self, outcome: CommandOutcome) -> None:
        for listener in self.command_listeners:
            listener(outcome)

    # ------------------------------------------------------------------ raw appends
    def append(
        self,
        stream_id: str,
        type: str,
        data: dict[str, Any],
        *,
        expected_version: Any = ANY,
        event_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> AppendResult:
        """Append one event by hand; a type the domain knows is validated against its class."""
        check_stream_id(stream_id)
        meta = dict(metadata or {})
        spec = self.domain.event_type(type) if self.domain else None
        old = meta.get("schema_version")
        # an event in an older schema is validated when read, after its upcasters
        older = spec is not None and isinstance(old, int) and old < spec.schema_version
        if spec is not None and not older:
            try:
                spec.decode(data)
            except BadInput as exc:
                raise BadInput(f"event {type}: {exc}") from None
        meta.setdefault("schema_version", spec.schema_version if spec else 1)
        event_id = event_id or self.new_id()  # from the engine's id source, so --ids applies here too
        meta.setdefault("correlation_id", event_id)
        meta.setdefault("causation_id", meta["correlation_id"])
        new, _ = self._written(stream_id, [NewEvent(type, data, meta, event_id)])
        res = self.store.append(stream_id, new, expected_version, hooks=list(self.append_hooks))
        # as readers see it: decrypted, and an old type appended by hand comes out upcast
        return dataclasses.replace(res, events=self._seen(res.events)) if self.write_transforms else res

    def _written(self, stream_id: str, events: list[NewEvent]) -> tuple[list[NewEvent], bool]:
        """The events as the write transforms make them, and whether any of them changed one."""
        out = events
        for t in self.write_transforms:
            out = [t(stream_id, ev) for ev in out]
        return out, any(a is not b for a, b in zip(out, events))

    def _seen(self, events: tuple[RecordedEvent, ...], changed: bool = True) -> tuple[RecordedEvent, ...]:
        """Events just written, as readers will see them (decrypted) when something was transformed
        on the way in. A command's events are of current types: unchanged, they read as written."""
        if not (changed and self.write_transforms):
            return events
        return tuple(v for v in map(self.view, events) if v is not None)

