"""A clock and an id source that can be fixed, so a demo run twice prints the same ids and times.

``--clock fixed:2026-01-01T00:00:00Z`` (or ``fixed:2026-01-01T00:00:00Z,1s``) gives a clock that
starts at that time and steps a fixed amount (default 1 ms) per reading. ``--ids seed:42`` gives
UUIDs from a seeded generator. Both are per process, so each one continues from the store it is
attached to: the clock from the latest time already recorded, the ids from a seed mixed with
the store's size. A sequence of `evsh` invocations on one store therefore repeats exactly, and
never hands out a time that goes backwards or an id that is already taken.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..errors import BadInput
from ..store.base import new_uuid4
from . import command_log

_STEP = re.compile(r"^(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)$")
_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def format_time(at: datetime) -> str:
    """The store's time format: ISO 8601, UTC, microseconds, ``Z``."""
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_time(text: str, *, what: str = "clock time") -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise): 2026-01-01T10:00:00Z, '2026-01-01 10:00',
    2026-01-01."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{what} {text!r} is not an ISO 8601 time (e.g. 2026-01-01T00:00:00Z)") from None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def version_at(engine: Any, stream_id: str, when: str) -> int:
    """The stream's version as it was at ``when`` (a user's time, UTC): its last event recorded
    at or before then (0: the stream did not exist yet). Read through the engine's read path."""
    at = format_time(parse_time(when, what="time"))
    version = 0
    for rec in engine.read_stream(stream_id):
        if rec.recorded_at > at:
            break
        version = rec.version
    return version


def _latest_time(store: Any) -> str | None:
    """The latest time the store has recorded (its last event, and the last command on record)."""
    last = store.log_rows(None, 2**62, 1, backwards=True)
    times = [t for t in (last[0][7] if last else None, command_log.latest_at(store)) if t]
    return max(times, default=None)


class FixedClock:
    """Starts at ``start`` (or just after the store's latest time) and steps ``step`` per call."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.start = start
        self.step = step
        self._next: datetime | None = None
        self._store: Any = None

    def attach(self, store: Any) -> None:
        """Continue from ``store``'s latest recorded time (read lazily, on the first reading)."""
        self._store = store

    def __call__(self) -> str:
        if self._next is None:
            at = self.start
            if self._store is not None:
                latest = _latest_time(self._store)
                if latest:
                    after = parse_time(latest) + self.step
                    at = max(at, after)
            self._next = at
        now = self._next
        self._next = now + self.step
        return format_time(now)


class SeededIds:
    """UUIDs (version 4 layout) from a generator seeded by ``seed`` and the attached store's size."""

    def __init__(self, seed: str) -> None:
        self.seed = seed
        self._rng: Any = None  # a random.Random once the first id is asked for
        self._store: Any = None

    def attach(self, store: Any) -> None:
        self._store = store

    def _state(self) -> str:
        """Where the store stands (its head, the commands on record): a later invocation on the
        same store continues the sequence instead of repeating it."""
        if self._store is None:
            return ""
        store = self._store
        return f"{store.head_position()}:{command_log.recorded(store) if store.table_exists('commands') else '-'}"

    def __call__(self) -> str:
        if self._rng is None:
            import random  # only seeded ids need it: not imported by every command line

            self._rng = random.Random(f"{self.seed}|{self._state()}")
        h = "%032x" % self._rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def make_clock(spec: str | None) -> Callable[[], str] | None:
    """``None``/``system`` -> None (the system clock); ``fixed:TIME[,STEP]`` -> a FixedClock."""
    if spec is None or spec.strip().lower() in ("", "system", "utc", "now"):
        return None
    kind, _, rest = spec.partition(":")
    if kind.strip().lower() != "fixed" or not rest:
        raise BadInput(f"--clock {spec!r}: use system, or fixed:TIME[,STEP] (e.g. fixed:2026-01-01T00:00:00Z,1ms)")
    when, _, step_text = rest.partition(",")
    step = timedelta(milliseconds=1)
    if step_text:
        m = _STEP.match(step_text.strip())
        if not m:
            raise BadInput(f"--clock step {step_text!r}: use a number and a unit (us, ms, s, m, h), e.g. 1ms")
        step = timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return FixedClock(parse_time(when), step)


def make_ids(spec: str | None) -> Callable[[], str] | None:
    """``None``/``random`` -> None (time-ordered UUIDv7, the default); ``uuid4`` -> random
    version 4 UUIDs; ``seed:TEXT`` -> SeededIds."""
    if spec is None or spec.strip().lower() in ("", "random", "uuid7"):
        return None
    if spec.strip().lower() == "uuid4":
        return new_uuid4
    kind, _, seed = spec.partition(":")
    if kind.strip().lower() != "seed" or not seed:
        raise BadInput(f"--ids {spec!r}: use random (time-ordered UUIDv7), uuid4, or seed:TEXT (e.g. seed:42)")
    return SeededIds(seed)


def install(engine: Any, options: dict[str, Any]) -> None:
    """Every engine: a fixed clock and seeded ids continue from its store."""
    attach(engine)


def attach(engine: Any) -> None:
    """Let a fixed clock and seeded ids continue from the engine's store."""
    for source in (engine.clock, engine.new_id, getattr(engine.store, "clock", None)):
        if hasattr(source, "attach"):
            source.attach(engine.store)
