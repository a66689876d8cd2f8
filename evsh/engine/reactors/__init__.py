"""Reactors at run time: one engine's reactors, installed once, run in the chosen mode.

Delivery, the idempotency guard, retries and parking are in ``delivery``; the inline, step and
worker runners in ``runners``; what reactors keep in the store (processed events, dead letters,
status, leases, the command log) in ``records``. This module joins them: :class:`Reactors` is
what the engine's ``reactors`` slot holds and what the front ends call.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from ...domain.reactor import ReactorSpec
from ...domain.types import encode
from ...errors import USER_CODE_FAILURES, BadInput, EvshError, StoreError
from ...store import codec
from .. import clock as clock_mod
from .. import metrics
from ..engine import CommandOutcome, Engine
from .. import command_log
from ..history import mark
from . import records, runners
from .delivery import KIND, Context, Delivery, Reaction, _describe, command_dict
from .message import Message
from .records import dead_letter, dead_letters
from .runners import DEFAULT_LEASE, DEFAULT_POLL, default_owner

__all__ = ["KIND", "MODES", "Context", "Message", "Reaction", "Reactors", "command_dict", "dead_letter",
           "dead_letters", "default_owner", "install", "runtime", "skip_history", "DEFAULT_LEASE", "DEFAULT_POLL"]

MODES = ("inline", "async", "step")


class Reactors(Delivery):
    """The reactors of one engine: install once, then run in the chosen mode."""

    def __init__(self, engine: Engine, specs: Iterable[ReactorSpec], *, mode: str = "inline", **options: Any) -> None:
        if mode not in MODES:
            raise BadInput(f"mode {mode!r}: use one of {', '.join(MODES)}")
        super().__init__(engine, specs, **options)
        self.mode = mode
        self.last_error: str | None = None

    # ------------------------------------------------------------------ command records
    @staticmethod
    def _params_text(outcome: CommandOutcome) -> str:
        try:
            return codec.dumps(encode(outcome.params))
        except BadInput:  # parameters that could not be stored are why it failed: kept as their repr
            return codec.dumps({k: repr(v) for k, v in outcome.params.items()})

    def on_written(self, store: Any, outcome: CommandOutcome) -> None:
        """A command's events are being appended (inside their transaction): keep its
        parameters for traces, written or rolled back with them."""
        if outcome.params:
            records.ensure(store)
            command_log.record_params(store, outcome.command_id, self._params_text(outcome))

    def _record_row(self, outcome: CommandOutcome) -> dict[str, Any]:
        sub = self._current
        params = self._params_text(outcome)
        return {
            "command_id": outcome.command_id, "name": outcome.name, "stream_id": outcome.stream_id,
            "correlation_id": outcome.correlation_id, "causation_id": outcome.causation_id,
            "outcome": outcome.outcome, "reason": outcome.reason or "", "params": params,
            "events": codec.dumps([e.event_id for e in outcome.events]), "reactor": sub.name if sub else None,
            "at": outcome.at,
        }

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
        if self.mode == "inline" and outcome.events:
            self._recent.heard(self.store, outcome.events, first=top)
        recorded = not (outcome.outcome == "ok" and outcome.events)
        if outcome.outcome == "error" and self._current is None:
            recorded = False  # a user's failing command writes nothing
        if recorded:
            store = self.store
            with store.transaction():  # a savepoint inside the command's transaction, if one is open
                records.ensure(store)
                command_log.record_command(store, self._record_row(outcome))
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

    # ------------------------------------------------------------------ runners
    def run_pending(self, names: Sequence[str] = (), *, include_stopped: bool = True) -> list[Reaction]:
        """Inline: rounds of reactors handling what is pending until nothing is (``runners``)."""
        return runners.run_pending(self, names, include_stopped=include_stopped)

    def step(self) -> tuple[Any, list[Reaction]]:
        """Deliver the next pending event to the reactors waiting for it (``runners``)."""
        return runners.step(self)

    def work(self, names: Sequence[str] = (), **options: Any) -> dict[str, int]:
        """An async worker: serve the reactors whose lease it gets (``runners``)."""
        return runners.work(self, names, **options)

    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease on reactor ``name``; False while another live worker holds it."""
        now = self.wallclock()
        return records.acquire(self.store, name, owner, now, ttl,
                               clock_mod.format_time(datetime.fromtimestamp(now, timezone.utc)))

    def release(self, name: str, owner: str) -> None:
        records.release(self.store, name, owner)

    # ------------------------------------------------------------------ dead letters
    def retry_dead_letter(self, id: int) -> tuple[str, Reaction | None]:
        """Redeliver a parked event through the idempotency guard.

        Returns ("retried", reaction) when the handler succeeded, ("duplicate", None) when the
        event had been handled meanwhile (nothing is sent twice), ("failed", reaction) when it
        failed again (it stays parked, with the new error).
        """
        row = records.dead_letter(self.store, id)
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
            with self.store.transaction() as store:
                now = self.engine.clock()
                if records.handled(store, sub.name, rec.event_id):
                    records.resolve(store, id, "retried", now)
                    return "duplicate", None
                if sub.spec.tables:
                    store.ensure_tables(sub.spec.tables, owner=f"{KIND}:{sub.name}")
                started = time.perf_counter()
                try:
                    ctx = self._deliver(sub, store, rec)
                except StoreError:
                    raise
                except USER_CODE_FAILURES as exc:  # the handler failed again (sys.exit() too)
                    error = _describe(exc, f"reactor {sub.name} on {rec.type} {rec.stream_id}@{rec.version}")
                    records.failed_again(store, id, error)
                    metrics.record(store, KIND, sub.name, rec.type, 0, errors=1, retries=1, at=now)
                    return "failed", Reaction(sub.name, rec, "parked", error=error)
                metrics.record(store, KIND, sub.name, rec.type, 1, retries=1,
                               latencies=[time.perf_counter() - started], at=now)
                records.resolve(store, id, "retried", now)
                reaction = Reaction(sub.name, rec, "handled", ctx.sent, rows=ctx.rows)
        finally:
            self._running = False
        if self.mode == "inline":
            self.run_inline()
        return "retried", reaction

    def discard_dead_letter(self, id: int) -> None:
        row = records.dead_letter(self.store, id)
        if row["status"] != "parked":
            raise BadInput(f"dead letter {id} is {row['status']}, not parked")
        with self.store.transaction() as store:
            records.resolve(store, id, "discarded", self.engine.clock())

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
        with self.store.transaction() as store:
            store.lock_appends(exclusive=True)
            if since is not None:
                mark(store, since)
                self._history.forget()
            head = store.head_position()
            now = self.engine.clock()
            for sub in self.subs.values():
                cp = store.claim_checkpoint(sub.checkpoint)
                if cp < head and (since is None or cp >= since):
                    store.set_checkpoint(sub.checkpoint, head, now)
                    moved += 1
        return moved

    # ------------------------------------------------------------------ status
    def status(self) -> list[dict[str, Any]]:
        """Per reactor: subscriptions, checkpoint, lag, handled, parked, last error, lease."""
        store = self.store
        head = store.head_position()
        now = self.wallclock()
        out = []
        for sub in self.subs.values():
            cp = store.checkpoint(sub.checkpoint)
            handled = records.handled_count(store, sub.name)
            parked = records.parked_count(store, sub.name)
            row = records.status_row(store, sub.name)
            st = (row["stopped"], row["last_error"], row["error_position"], row["error_at"]) if row else None
            held = records.lease(store, sub.name)
            lease = (held["owner"], held["expires"]) if held else None
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


def runtime(engine: Engine) -> Reactors:
    """The engine's reactors (installed by build_engine; made here for a hand-built engine)."""
    if engine.reactors is None:
        install(engine, {})
    return engine.reactors  # type: ignore[return-value]


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
    engine.reactors = rt
    engine.command_listeners.append(rt.on_command)
    engine.command_hooks.append(rt.on_written)
