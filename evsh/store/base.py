"""What every event store offers, independent of where events are kept.

The engine and the front ends talk to this protocol only, so a server backend can be added
beside the embedded SQLite one without touching them. Contract tests run against it.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol, Sequence

from ..errors import BadInput
from ..sanitise import describe_char, first_unsafe
# The record and its decoding live in recorded; re-exported here, where callers look.
from .recorded import RecordedEvent  # re-exported: the record is where callers look for it

# evsh's own streams that an export may hold: lifecycle changes and forgotten subjects.
SYSTEM_STREAMS = ("$streams", "$subjects")

# Expected-version kinds, as KurrentDB names them. An int is an exact version; 0 = NO_STREAM.
ANY = "any"
NO_STREAM = "no-stream"
EXISTS = "exists"
ExpectedVersion = int | str


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``event_id`` is made when not given."""

    type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


@dataclass(frozen=True)
class AppendResult:
    stream_id: str
    version: int  # the stream's version after the append
    events: tuple[RecordedEvent, ...]  # what was written (empty when idempotent)
    idempotent: bool = False


@dataclass(frozen=True)
class StreamInfo:
    stream_id: str
    category: str
    version: int
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "stream_id": self.stream_id,
            "category": self.category,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


# Called inside the append's transaction with the store's transaction handle and the events
# just written: inline projections and the like commit (or roll back) together with them.
AppendHook = Callable[[Any, Sequence[RecordedEvent]], None]


class EventStore(Protocol):
    """The store contract. Every method raises evsh.errors types only."""

    path: str  # how messages name the store (a URL without its password)
    opened_as: str  # what open_store was given, credentials included: never shown

    def append(
        self,
        stream_id: str,
        events: Sequence[NewEvent],
        expected_version: ExpectedVersion = ANY,
        *,
        hooks: Sequence[AppendHook] = (),
    ) -> AppendResult: ...

    def read_stream(
        self,
        stream_id: str,
        from_version: int | None = None,
        *,
        backwards: bool = False,
        limit: int | None = None,
    ) -> Iterator[RecordedEvent]: ...

    def read_all(
        self,
        from_position: int = 1,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        limit: int | None = None,
        backwards: bool = False,
    ) -> Iterator[RecordedEvent]: ...

    def streams(self, category: str | None = None, *, after: str | None = None, limit: int | None = None,
                prefix: str | None = None) -> Iterator[StreamInfo]: ...

    def stream_version(self, stream_id: str) -> int: ...

    def head_position(self) -> int: ...

    def transaction(self) -> ContextManager[Any]: ...

    def reading(self) -> ContextManager[None]:
        """Several reads from one consistent snapshot (a no-op inside a transaction)."""
        ...

    def epoch(self, *, check: bool = True) -> int:
        """Changes whenever events may read differently other than by an append through this
        store object (another writer committed, a rollback, an import, a lifecycle change):
        what caches of read state are tagged with."""
        ...

    def on_append(self, listener: Callable[[str, str], None]) -> None:
        """Have ``listener(stream_id, last_event_id)`` called after each append through this store."""
        ...

    def wait(self, after: int, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an event after position ``after``; True when one is there."""
        ...

    def recover(self) -> bool:
        """Reconnect after a lost connection (True), or say there was nothing to recover (False)."""
        ...

    def close(self) -> None: ...


class LongLivedStore(EventStore, Protocol):
    """What a store offers for long-lived use (the SQLite store has it; a server backend would too).

    Lifecycle changes are recorded as events in ``$streams``; every read honours them.
    """

    def delete_stream(self, stream_id: str, *, hard: bool = False) -> RecordedEvent | None: ...

    def truncate_stream(self, stream_id: str, before: int) -> RecordedEvent | None: ...

    def set_stream_metadata(self, stream_id: str, *, max_count: int | None, max_age: float | None) -> RecordedEvent: ...

    def stream_info(self, stream_id: str) -> dict[str, Any] | None: ...

    def scavenge(self, *, on_stream: Callable[[int, int, int], None] | None = None, reclaim: bool = True) -> dict[str, int]: ...

    def save_snapshot(self, stream_id: str, aggregate: str, version: int, state_version: int, state: str) -> None: ...

    def load_snapshot(self, stream_id: str) -> tuple[int, int, str] | None: ...


# ----------------------------------------------------------------------------- validation

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_name(value: object, what: str) -> str:
    """A name (stream id, event type, aggregate id) shows as what it is: no control character,
    bidi control (which would reorder how it is drawn), line separator or lone surrogate."""
    if not isinstance(value, str) or not value:
        raise BadInput(f"{what} must be a non-empty string")
    bad = None if value.isprintable() else first_unsafe(value)  # printable: nothing to find (no call)
    if bad is not None:
        raise BadInput(f"{what} {value!r} contains {describe_char(bad)}; names may not hold control characters,"
                       " bidirectional formatting characters or line separators")
    return value


def check_stream_id(stream_id: object, *, reserved_ok: bool = False) -> str:
    sid = check_name(stream_id, "stream id")
    if sid.startswith("$") and not reserved_ok:
        raise BadInput(f"stream id {sid!r}: names starting with '$' are reserved for evsh")
    if sid.startswith("-"):
        raise BadInput(f"stream id {sid!r}: the category (text before the first '-') is empty")
    return sid


def uuid7_prefix(ms: int) -> str:
    """The first 15 characters of a version 7 UUID made at ``ms`` (Unix time in milliseconds):
    the same for every id of that millisecond, so callers format it once."""
    t = "%012x" % ms
    return f"{t[:8]}-{t[8:]}-7"


def uuid7(prefix: str, rand_a: str, rand_b: str) -> str:
    """A version 7 UUID in canonical form from :func:`uuid7_prefix`, 3 hex digits (``rand_a``:
    a sub-millisecond fraction or random) and 16 random hex digits (``rand_b``; two of its bits
    become the RFC 9562 variant)."""
    return f"{prefix}{rand_a}-{'89ab'[int(rand_b[0], 16) & 3]}{rand_b[1:4]}-{rand_b[4:]}"


_millisecond: tuple[int, str] = (-1, "")


def new_uuid() -> str:
    """A new id: a version 7 UUID (RFC 9562), the time in milliseconds and a sub-millisecond
    fraction followed by 62 random bits, in canonical form.

    Time-ordered ids land at the right end of the unique indexes they are written to (event ids,
    command ids, processed records), so a transaction dirties one index page where random
    (version 4) ids dirtied one per row, and the indexes stay dense."""
    global _millisecond
    ms, frac = divmod(time.time_ns(), 1_000_000)
    cached = _millisecond  # read once: another thread may replace it meanwhile
    if cached[0] != ms:
        cached = _millisecond = (ms, uuid7_prefix(ms))
    return uuid7(cached[1], f"{frac * 4096 // 1_000_000:03x}", os.urandom(8).hex())


def new_uuid4() -> str:
    """A random (version 4) UUID in canonical form: what ``str(uuid.uuid4())`` gives, at half its cost."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_second: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """The time now, UTC, to the microsecond (``2026-01-01T10:42:07.123456Z``): the date and time
    are formatted once per second, since a busy store asks for the time several times per command."""
    global _second
    sec, us = divmod(time.time_ns() // 1000, 1_000_000)
    cached = _second  # read once: another thread may replace it meanwhile
    if cached[0] != sec:
        cached = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec)))
    return f"{cached[1]}{str(1_000_000 + us)[1:]}Z"  # six digits without a format spec's parsing


def canonical_event_id(value: object) -> str:
    """Any spelling that parses as a UUID, stored lowercase with hyphens."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    if not isinstance(value, str):
        raise BadInput(f"event id {value!r} is not a UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadInput(f"event id {value!r} is not a UUID") from None


def parse_expected_version(value: object) -> ExpectedVersion:
    """Accept an int, a numeric string, ``any``, ``no-stream`` or ``exists``; 0 means no-stream."""
    if isinstance(value, bool):
        raise BadInput(f"expected version {value!r}: use an integer, any, no-stream or exists")
    if isinstance(value, int):
        if value < 0:
            raise BadInput(f"expected version {value} must not be negative")
        return NO_STREAM if value == 0 else value
    if isinstance(value, str):
        v = value.strip().lower().replace("_", "-")
        if v in (ANY, NO_STREAM, EXISTS):
            return v
        if v.isascii() and v.isdigit():  # not "²", which isdigit() takes and int() refuses
            return parse_expected_version(int(v))
    raise BadInput(f"expected version {value!r}: use an integer, any, no-stream or exists")


def expected_matches(expected: ExpectedVersion, current: int) -> bool:
    if expected == ANY:
        return True
    if expected == NO_STREAM:
        return current == 0
    if expected == EXISTS:
        return current > 0
    return current == expected


def iter_chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ----------------------------------------------------------------------------- raw rows

# The metadata key of an event copied from another store (`evsh consume`): its position there.
SOURCE_POSITION = "source_position"

# The columns of an event as every backend reads them: a raw row is this tuple, payloads still
# encoded, for bulk readers that decode lazily (the TUI, export).
EVENT_COLUMNS = "position, event_id, stream_id, version, type, data, metadata, recorded_at"
# A page of decoded records and the positions of those whose stored data holds the text a reader
# asked to have marked (the engine asks for the sealed-value prefix: only those rows are decrypted).
RecordPage = tuple[list["RecordedEvent"], "set[int] | tuple[()]"]
