"""The record every reader receives, and stored rows decoded into records.

A record's metadata may be held undecoded until it is first read. SQLite reads a page of events
as one row (``evsh.store.sqlite.reads``), with the page's metadata as one JSON array text; the
records share a :class:`PageMetadata` holding that text, decoded for the whole page by one
``orjson.loads`` when any record's ``metadata`` is first read. Replays, rebuilds and most
projections never read it, and in the shop it is about two fifths of what decoding a page's
JSON costs (docs/benchmarks.md). A record iterates, unpacks, compares, prints, pickles, copies
and replaces the same whichever way its metadata is held: only its raw seventh item
(``rec[6]``) shows the difference, and what reads a tuple's items in C (the standard ``json``
encoder: use ``as_dict()``).
"""

from __future__ import annotations

import functools
import gc
import operator
import threading
from typing import Any, Callable, Iterator, NamedTuple, Sequence

from . import codec
from ..errors import StoreCorrupt

# Between JSON texts joined into one array (a page's data or metadata): a raw line feed is in no JSON text
# evsh writes, so the joined text splits back into exactly its texts.
JOINED = "\n,"
JOINED_EXACT = JOINED + codec.EXACT_MARKS[0]  # in a joined text: the start of a text only the exact codec reads
RawRow = tuple  # position, event_id, stream_id, version, type, data, metadata, recorded_at (texts encoded)


def category_of(stream_id: str) -> str:
    """Text before the first ``-``; an id without ``-`` is its own category."""
    return stream_id.split("-", 1)[0]


class _Stored(NamedTuple):
    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    metadata: Any  # a dict, or the PageMetadata of the page the record was read in
    recorded_at: str


class RecordedEvent(_Stored):
    """An event as stored: the same keys as the JSON a user sees."""

    __slots__ = ()

    @property
    def metadata(self) -> dict[str, Any]:  # type: ignore[override]
        m = self[6]
        if type(m) is PageMetadata:  # inlined (not a method call): every reactor reads it per event
            found = m._by_position
            if found is None:
                found = m._decode()
            try:
                return found[self[0]]
            except KeyError:  # this event's own text is damaged (its neighbours' are read)
                raise m._unreadable(self) from None
        return m

    @property
    def category(self) -> str:
        return category_of(self.stream_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "stream_id": self.stream_id,
            "version": self.version,
            "position": self.position,
            "type": self.type,
            "data": self.data,
            "metadata": self.metadata,
            "recorded_at": self.recorded_at,
        }

    def _resolved(self) -> tuple:
        return (*self[:6], self.metadata, self[7])

    # As a tuple, the record's values are those its fields give, metadata decoded: iterating,
    # unpacking, replacing (``_replace`` iterates), comparing, searching, printing, pickling and
    # copying see the same values whether the page's metadata was decoded yet or not. Only
    # ``rec[6]`` (and what reads the tuple's items in C, as the standard json encoder does)
    # sees a PageMetadata.
    def __iter__(self) -> Iterator[Any]:
        return iter(self._resolved())

    def __contains__(self, value: object) -> bool:
        return value in self._resolved()

    def index(self, value: Any, *args: Any) -> int:
        return self._resolved().index(value, *args)

    def count(self, value: Any) -> int:
        return self._resolved().count(value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecordedEvent):
            return self._resolved() == other._resolved()
        if isinstance(other, tuple):
            return self._resolved() == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # data and metadata are dicts

    def __repr__(self) -> str:
        return "RecordedEvent(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self._resolved())) + ")"

    def __reduce__(self) -> tuple:  # every pickle protocol and copy: the decoded values
        return (RecordedEvent, self._resolved())

    def _asdict(self) -> dict[str, Any]:
        return dict(zip(self._fields, self._resolved()))


def gc_paused(decode: Callable[..., Any]) -> Callable[..., Any]:
    """``decode`` run with Python's cyclic garbage collector paused (turned on again after,
    whatever happens, unless it was off already). Why: a page of 1,000 records is about 3,000
    new container objects (the records, their data and metadata), and none is garbage while the
    page is built; every 700 of them started a collection that walked all the young ones, and
    every tenth of those a walk of the older generation (about 5% of the read path's and of a
    replay's instructions). Nothing but decoding runs while it is paused (no user code), and
    the first allocation after it collects as it would have. The switch is the process's: a
    thread turning the collector off during another's decoding finds it on again after."""

    @functools.wraps(decode)
    def paused(*args: Any) -> Any:
        if not gc.isenabled():
            return decode(*args)
        gc.disable()
        try:
            return decode(*args)
        finally:
            gc.enable()

    return paused


class PageMetadata:
    """The metadata of a page's records as one JSON array text (the records' positions in the
    same order, its texts joined by ``JOINED``), decoded
    for the whole page when a record's is first read (once, whichever threads read it): by one
    ``orjson.loads`` unless a text needs the exact codec or the array does not decode into one
    value per record, where each text is decoded alone. An event whose own text is damaged
    raises StoreCorrupt when its metadata is read; the other events of its page read theirs.
    A record kept after its page keeps the page's metadata (text, or once read its dicts) alive."""

    __slots__ = ("_text", "_positions", "_by_position", "_damaged")

    def __init__(self, text: str, positions: list[int]) -> None:
        self._text: str | None = text
        self._positions = positions
        self._by_position: dict[int, Any] | None = None
        self._damaged: dict[int, str] = {}  # position -> why its text cannot be read

    def _decode(self) -> dict[int, Any]:
        with _DECODING:  # one decode per page: two threads must get the same dicts
            found = self._by_position
            if found is None:
                found = self._by_position = self._decoded()
                self._text = None
        return found

    def _decoded(self) -> dict[int, Any]:
        text, positions = self._text, self._positions
        assert text is not None  # dropped only once decoded, under the lock
        values = None
        if text[1:2] != codec.EXACT_MARKS[0] and JOINED_EXACT not in text:
            try:
                values = codec.fast_loads(text)
            except ValueError:  # orjson's JSONDecodeError: a damaged text, found text by text below
                pass
        if values is not None and len(values) == len(positions):
            return dict(zip(positions, values))
        texts = text[1:-1].split(JOINED)
        if len(texts) != len(positions):
            self._damaged = {p: "its page's metadata does not split into one JSON text per event" for p in positions}
            return {}
        found: dict[int, Any] = {}
        for position, one in zip(positions, texts):
            try:
                found[position] = codec.loads(one)
            except ValueError as exc:
                self._damaged[position] = f"its stored metadata is not JSON ({exc})"
        return found

    def _unreadable(self, rec: RecordedEvent) -> StoreCorrupt:
        why = self._damaged.get(rec[0], "its metadata is missing from its page")
        return StoreCorrupt(f"event {rec[2]}@{rec[3]} (position {rec[0]}): {why}; the store is damaged,"
                            " restore it from a backup")


_DECODING = threading.Lock()


def record_of(row: RawRow) -> RecordedEvent:
    """A raw row decoded."""
    return records_of((row,))[0]


@gc_paused
def records_of(rows: Sequence[RawRow]) -> list[RecordedEvent]:
    """A page of raw rows decoded, as record_of would: the hot loop of every replay, so the tuple
    is built without the named tuple's Python-level constructor and orjson is called directly
    unless the text carries the codec's exact-JSON mark."""
    new, rec, fast, exact, mark = tuple.__new__, RecordedEvent, codec.fast_loads, codec.loads, codec.EXACT_MARKS
    try:
        out = [new(rec, (p, i, s, v, t, fast(d) if d[:1] not in mark else exact(d),
                         fast(m) if m[:1] not in mark else exact(m), at))
               for p, i, s, v, t, d, m, at in rows]
    except (ValueError, TypeError):  # a text that is not JSON (or a NULL): name the event
        raise damaged(rows) from None
    if not objects(list(map(_DATA, out))):
        raise damaged(rows)
    return out


_DATA = operator.itemgetter(5)


def objects(values: Sequence[Any]) -> bool:
    """Whether every value is a dict (an event's data always is: appends and imports refuse
    anything else), checked in C: a stored ``123`` or ``[1]`` is a damaged store."""
    return operator.countOf(map(type, values), dict) == len(values)


def damaged(rows: Sequence[RawRow]) -> StoreCorrupt:
    """What to raise for raw rows of which one does not decode: the first such event, named."""
    for p, _, s, v, _, *texts, _ in rows:
        for what, text in zip(("data", "metadata"), texts):
            try:
                value = codec.loads(text)
            except (ValueError, TypeError) as exc:
                return StoreCorrupt(f"event {s}@{v} (position {p}): its stored {what} is not JSON ({exc});"
                                    " the store is damaged, restore it from a backup")
            if type(value) is not dict:
                return StoreCorrupt(f"event {s}@{v} (position {p}): its stored {what} is not a JSON object"
                                    f" ({type(value).__name__}); the store is damaged, restore it from a backup")
    return StoreCorrupt("a page of stored events does not decode; the store is damaged, restore it from a backup")


@gc_paused
def records_sharing_metadata(rows: Sequence[RawRow]) -> list[RecordedEvent]:
    """records_of, with the rows' metadata held as one PageMetadata (decoded when a record's is
    first read), for rows just encoded by evsh (texts, none holding a raw line feed): the
    read models built alongside a seed read the data of every event it writes, rarely its
    metadata."""
    if not rows:
        return []
    meta = PageMetadata("[" + JOINED.join([r[6] for r in rows]) + "]", [r[0] for r in rows])
    new, rec, fast, exact, mark = tuple.__new__, RecordedEvent, codec.fast_loads, codec.loads, codec.EXACT_MARKS
    return [new(rec, (p, i, s, v, t, fast(d) if d[:1] not in mark else exact(d), meta, at))
            for p, i, s, v, t, d, _, at in rows]


def marked_in(rows: Sequence[RawRow], marked: str) -> set[int] | tuple[()]:
    """The positions of the raw rows whose stored data holds ``marked`` (or is not text, so it
    cannot be searched): one substring test in C per row, none when nothing is asked."""
    if not marked:
        return ()
    return {row[0] for row in rows if type(row[5]) is not str or marked in row[5]}
