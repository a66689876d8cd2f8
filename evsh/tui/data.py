"""What the TUI reads and does, in plain Python: called from worker threads, never the UI thread.

Lists are virtual: a row number is mapped to a key (a position in ``$all``, a version in a
stream) through a :class:`RowIndex` of key ranges, so a page is read with a keyset query
(``key >= k LIMIT n``) and never by scanning or OFFSET over the whole log. Positions may have
holes after a scavenge: an index over a range with holes stores per-block counts instead.
Every event shown goes through the engine's read path (``engine.view``), so upcasting,
decryption and deleted-stream rules apply as in every other front end.

One store connection is shared by the worker threads, serialised by ``lock``; slow listings
(counting streams) run on a second, read-only one; long jobs (rebuilds) open their own store
and engine. Every read goes through the store's interface, so the TUI works on any backend.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from ..domain.model import Aggregate, CommandSpec
from ..engine.engine import CommandOutcome, Engine
from ..errors import BadInput, EvshError
from ..store.recorded import RecordedEvent, record_of
from .search import Search

BLOCK_SHIFT = 10  # an index over a range with holes keeps one count per 1024 keys
ALL = "$all"


@dataclass(frozen=True)
class Source:
    """What the events list shows: the global log (``stream_id=None``) or one stream."""

    stream_id: str | None = None

    @property
    def key(self) -> str:
        return "position" if self.stream_id is None else "version"

    @property
    def label(self) -> str:
        return self.stream_id or ALL


@dataclass(frozen=True)
class Block:
    """Rows ``first_row ..`` hold keys ``start .. end`` (``count`` of them; dense when all are there)."""

    first_row: int
    start: int
    end: int
    count: int

    @property
    def dense(self) -> bool:
        return self.count == self.end - self.start + 1


@dataclass
class RowIndex:
    """Row number <-> key for one source."""

    source: Source
    blocks: list[Block] = field(default_factory=list)
    verified: bool = True  # False: made by a quick look that assumed no holes

    @property
    def total(self) -> int:
        b = self.blocks[-1] if self.blocks else None
        return b.first_row + b.count if b else 0

    @property
    def last_key(self) -> int:
        return self.blocks[-1].end if self.blocks else 0

    def block_of_row(self, row: int) -> Block:
        i = bisect.bisect_right([b.first_row for b in self.blocks], row) - 1
        return self.blocks[max(0, i)]

    def block_of_key(self, key: int) -> Block | None:
        i = bisect.bisect_right([b.start for b in self.blocks], key) - 1
        return self.blocks[i] if i >= 0 else None


@dataclass
class Row:
    """One row of the events list: the record as stored and as readers see it (None: hidden)."""

    record: RecordedEvent
    view: RecordedEvent | None


class Browser(Search):
    """Reads for the TUI; safe to call from any worker thread.

    Events are read on the engine's store, serialised by ``lock``. Counting and listing streams
    (GROUP BY over every stream) run on a second, read-only store with its own lock, so they
    never hold up the page of events the user is waiting for (readers do not block each other).
    ``open_side`` makes that store (None: use the main one, e.g. for an in-memory store).
    """

    def __init__(self, engine: Engine, open_side: Callable[[], Any] | None = None) -> None:
        self.engine = engine
        self.store = engine.store
        self.lock = threading.RLock()
        self._side_lock = threading.Lock()
        self._open_side = open_side
        self._side: Any = None

    def _on_side(self, read: Callable[[Any], Any]) -> Any:
        """``read(store)`` on the side store (the main one when there is none)."""
        if self._open_side is None:
            with self.lock:
                return read(self.store)
        with self._side_lock:
            if self._side is None:
                self._side = self._open_side()
            return read(self._side)

    def close(self) -> None:
        with self._side_lock:
            if self._side is not None:
                self._side.close()
                self._side = None

    @property
    def domain(self):
        return self.engine.domain

    def type_width(self) -> int:
        """The longest event type name the domain knows (20 without a domain): the type column's
        width, so names are not cut when there is room."""
        names = list(self.domain.events) if self.domain is not None else []
        return max(map(len, names), default=20)

    def _read(self, read: Callable[[Any], Any]) -> Any:
        with self.lock:
            return read(self.store)

    # ------------------------------------------------------------------ streams and categories
    def head(self) -> int:
        with self.lock:
            return self.store.head_position()

    def categories(self) -> list[tuple[str, int]]:
        """(category, live streams) for every category, from the events' (stream_id, version) index."""
        return self._on_side(lambda s: s.categories())

    def stream_count(self, category: str | None, text: str = "") -> int:
        return self._on_side(lambda s: s.stream_count(category, text=text))

    def stream_page(self, category: str | None, text: str, offset: int, limit: int,
                    after: str | None = None) -> list[tuple[str, int, str]]:
        """(stream_id, version, updated_at) by stream id; keyset from ``after`` when known."""
        rows = self._on_side(lambda s: s.stream_page(category, text=text, after=after, limit=limit,
                                                     offset=0 if after is not None else offset))
        return [(sid, version, last_at) for sid, version, _, last_at in rows]

    def stream_row(self, category: str | None, text: str, stream_id: str) -> int:
        return self._on_side(lambda s: s.stream_count(category, text=text, before=stream_id))

    # ------------------------------------------------------------------ the row index
    def _blocks(self, source: Source, after: int, first_row: int) -> list[Block]:
        sid = source.stream_id
        lo, hi, n = self._read(lambda s: s.log_span(sid, after))
        if lo is None:
            return []
        if n == hi - lo + 1:
            return [Block(first_row, lo, hi, n)]
        out = []
        row = first_row
        for start, end, count in self._read(lambda s: s.log_blocks(sid, after, BLOCK_SHIFT)):
            out.append(Block(row, start, end, count))
            row += count
        return out

    def index(self, source: Source, *, quick: bool = False) -> RowIndex:
        """The row index of a source. ``quick`` (for $all) trusts the positions to be gap-free
        from the first to the last: call :meth:`verify` next, off the critical path, to find
        holes left by a scavenge."""
        if quick and source.stream_id is None:
            lo, hi = self._read(lambda s: s.log_ends())
            if lo is None:
                return RowIndex(source, [], verified=True)
            return RowIndex(source, [Block(0, lo, hi, hi - lo + 1)], verified=False)
        return RowIndex(source, self._blocks(source, 0, 0))

    def verify(self, index: RowIndex) -> RowIndex | None:
        """The exact index when a quick one was wrong (holes in its range), else None."""
        if index.verified or not index.blocks:
            return None
        b = index.blocks[0]
        n = self._on_side(lambda s: s.log_count(None, b.start, b.end + 1))
        if n == b.count:
            index.verified = True
            return None
        exact = RowIndex(index.source, self._blocks(index.source, 0, 0))
        if len(index.blocks) > 1:  # rows the live tail added meanwhile
            self.extend(exact)
        return exact

    def extend(self, index: RowIndex) -> int:
        """Add rows appended since the index was made (live tail); returns how many."""
        before = index.total
        index.blocks.extend(self._blocks(index.source, index.last_key, before))
        return index.total - before

    def key_of_row(self, index: RowIndex, row: int) -> int:
        b = index.block_of_row(row)
        off = row - b.first_row
        if b.dense:
            return b.start + off
        sid = index.source.stream_id
        return self._read(lambda s: s.log_nth(sid, b.start, off))

    def row_of_key(self, index: RowIndex, key: int) -> int:
        """The row showing ``key``, or the row after where it would be."""
        if not index.blocks:
            return 0
        b = index.block_of_key(key)
        if b is None:
            return 0
        if key > b.end:
            return b.first_row + b.count if b is not index.blocks[-1] else index.total - 1
        if b.dense:
            return b.first_row + key - b.start
        sid = index.source.stream_id
        return b.first_row + (self._read(lambda s: s.log_count(sid, b.start, key)) or 0)

    # ------------------------------------------------------------------ events
    def _view(self, rec: RecordedEvent) -> RecordedEvent | None:
        try:
            return self.engine.view(rec)
        except EvshError:
            return None

    def page(self, index: RowIndex, first_row: int, limit: int) -> list[Row]:
        """Rows ``first_row ..`` (at most ``limit``): one keyset query, decoded through the read path."""
        if first_row >= index.total:
            return []
        key = self.key_of_row(index, first_row)
        limit = min(limit, index.total - first_row)
        sid = index.source.stream_id
        with self.lock:
            raw = self.store.log_rows(sid, key, limit)
            keep = self._visible()
            out = []
            for r in raw:
                rec = record_of(r)
                out.append(Row(rec, self._view(rec) if keep is None or keep(r) else None))
            return out

    def _visible(self) -> Callable[[tuple], bool] | None:
        """The store's filter of events hidden by stream lifecycle rules (deleted, truncated, ...)."""
        vf = getattr(self.store, "visible_filter", None)
        return vf() if vf is not None else None

    def event_by_id(self, event_id: str) -> RecordedEvent | None:
        try:
            with self.lock:
                rec = self.store.event_by_id(event_id)
                return self.engine.view(rec) if rec is not None else None
        except BadInput:
            return None

    def event_at(self, position: int) -> RecordedEvent | None:
        with self.lock:
            raw = self.store.log_rows(None, position, 1)
            if not raw or raw[0][0] != position:
                return None
            keep = self._visible()
            return self._view(record_of(raw[0])) if keep is None or keep(raw[0]) else None

    def chain(self, correlation_id: str, limit: int = 200) -> list[RecordedEvent]:
        """The events of one causal chain (same correlation id), in log order, as readers see them."""
        with self.lock:
            return [v for v in map(self.engine.view, self.store.events_by_meta("correlation_id", correlation_id, limit))
                    if v is not None]

    def chain_near(self, correlation_id: str, position: int, window: int = 2000) -> list[RecordedEvent]:
        """The events of one causal chain within ``window`` positions of ``position``, as readers
        see them: shown at once, while :meth:`chain` looks through the whole log."""
        out = []
        with self.lock:
            raw = self.store.log_rows(None, max(0, position - window), 2 * window + 1, bound=position + window)
            keep = self._visible()
            for r in raw:
                rec = record_of(r)
                if rec.metadata.get("correlation_id") == correlation_id and (keep is None or keep(r)):
                    view = self._view(rec)
                    if view is not None:
                        out.append(view)
        return out

    # ------------------------------------------------------------------ aggregates and commands
    def version(self, stream_id: str) -> int:
        """The stream's version (0: no events yet)."""
        with self.lock:
            return self.store.stream_version(stream_id)

    def aggregate_for(self, stream_id: str) -> type[Aggregate] | None:
        if self.domain is None:
            return None
        return self.domain.aggregate_for_stream(stream_id)

    @staticmethod
    def aggregate_id(stream_id: str) -> str:
        return stream_id.split("-", 1)[1] if "-" in stream_id else stream_id

    def states(self, stream_id: str, version: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The aggregate's state at ``version`` and at the version before (time travel)."""
        cls = self.aggregate_for(stream_id)
        if cls is None:
            raise BadInput(f"no aggregate of the domain owns stream {stream_id}")
        aid = self.aggregate_id(stream_id)
        with self.lock:
            now = self.engine.load(cls, aid, version).state()
            before = self.engine.load(cls, aid, version - 1).state() if version > 1 else cls(aid).state()
        return before, now

    def commands(self, stream_id: str) -> dict[str, CommandSpec]:
        cls = self.aggregate_for(stream_id)
        return dict(cls.commands()) if cls is not None else {}

    def execute(self, stream_id: str, command: str, params: dict[str, str]) -> CommandOutcome:
        """Run a command from a form; values are text, converted by the parameters' types."""
        cls = self.aggregate_for(stream_id)
        if cls is None:
            raise BadInput(f"no aggregate of the domain owns stream {stream_id}")
        with self.lock:
            return self.engine.execute(cls, self.aggregate_id(stream_id), command, params, actor="tui")


# ----------------------------------------------------------------------------- state diff

def diff(before: Any, after: Any, path: str = "") -> list[tuple[str, str, Any, Any]]:
    """(op, path, old, new) for what changed: op is ``+`` added, ``-`` removed, ``~`` changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple[str, str, Any, Any]] = []
        for key in after:
            sub = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append(("+", sub, None, after[key]))
            else:
                out.extend(diff(before[key], after[key], sub))
        for key in before:
            if key not in after:
                out.append(("-", f"{path}.{key}" if path else str(key), before[key], None))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (b, a) in enumerate(zip(before, after)):
            out.extend(diff(b, a, f"{path}[{i}]"))
        return out
    if before != after:
        return [("~", path, before, after)]
    return []

