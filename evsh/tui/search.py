"""Find in the TUI: what is looked for, and the search itself, narrowed in SQL by the store and
checked as readers see each event (a mixin of :class:`evsh.tui.data.Browser`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import BadInput
from ..store import codec
from ..store.recorded import record_of

if TYPE_CHECKING:
    from .data import RowIndex


@dataclass
class Criteria:
    """What Find looks for; empty fields match everything."""

    type: str = ""
    text: str = ""
    since: str = ""
    until: str = ""

    def empty(self) -> bool:
        return not (self.type or self.text or self.since or self.until)


def compact(value: Any) -> str:
    return codec.dumps(value).lstrip()


def time_bound(text: str) -> str:
    """A user's time ("2026-01-01 10:00", "2026-01-01T10:00:00Z") in the store's ISO form."""
    t = text.strip().replace(" ", "T")
    if t.endswith("Z"):
        t = t[:-1]
    if t and not t[:4].isdigit():
        raise BadInput(f"time {text!r}: use YYYY-MM-DD[ HH:MM[:SS]] (UTC)")
    return t


class Search:
    """Find forwards or backwards from a row (a mixin of the Browser: its lock, store and read path)."""

    engine: Any
    store: Any
    lock: Any
    _visible: Callable[[], Any]
    _view: Callable[[Any], Any]
    key_of_row: Callable[..., int]
    row_of_key: Callable[..., int]

    def rewritten(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """What the read path may change, so a search in SQL still sees it: (payload markers of
        encrypted fields, event types that are upcast); None when the engine reads through a
        transform this does not know (then every event is looked at in Python)."""
        from ..engine.shredding import PREFIX, Shredder
        from ..engine.upcasting import Upcaster

        markers: list[str] = []
        types: set[str] = set()
        for t in self.engine.transforms:
            owner = getattr(t, "__self__", t)
            if isinstance(owner, Shredder):
                markers.append(PREFIX.lower())
            elif isinstance(owner, Upcaster):
                types |= {start[0] for start in owner.steps}
            else:
                return None
        return tuple(markers), tuple(sorted(types))

    def find(self, index: RowIndex, from_row: int, criteria: Criteria, *, backwards: bool = False,
             inclusive: bool = False, cancelled: Callable[[], bool] = lambda: False,
             progress: Callable[[float], None] | None = None, batch: int = 500, window: int = 50_000,
             in_sql: bool = True) -> int | None:
        """The row of the next event (after ``from_row``, or before it) that matches; None if none.

        The log is searched a window of ``window`` keys at a time, so ``progress`` (the share of
        the way to the end, 0..1) is reported and ``cancelled`` is checked between windows. Type,
        time and payload text are narrowed in SQL (``in_sql``; the text when it is ASCII), and
        each candidate is checked as readers see it (decrypted, upcast), so the result is the
        same as looking at every event."""
        if not index.total:
            return None
        k = index.source.key
        sid = index.source.stream_id
        filters: dict[str, Any] = {
            "type": criteria.type.strip(), "since": time_bound(criteria.since) if criteria.since else "",
            "until": time_bound(criteria.until) + "\uffff" if criteria.until else ""}
        needle = criteria.text.lower()
        plan = self.rewritten() if needle and needle.isascii() and in_sql else None
        if plan is not None:
            filters.update(text=needle, or_containing=plan[0], or_types=plan[1])
        first, last = index.blocks[0].start, index.last_key
        start = cursor = self.key_of_row(index, min(max(from_row, 0), index.total - 1))
        span = max(1, (start - first) if backwards else (last - start))
        while not cancelled():
            bound = max(first, cursor - window) if backwards else min(last, cursor + window)
            with self.lock:
                raw = self.store.log_rows(sid, cursor, batch, backwards=backwards, inclusive=inclusive,
                                          bound=bound, **filters)
                keep = self._visible()
                for r in raw:
                    if keep is not None and not keep(r):
                        continue
                    rec = self._view(record_of(r))
                    if rec is None:
                        continue
                    if needle and needle not in compact(rec.data).lower():
                        continue
                    return self.row_of_key(index, r[0] if k == "position" else r[3])
            inclusive = False
            if len(raw) == batch:  # more in this window
                cursor = raw[-1][0] if k == "position" else raw[-1][3]
                continue
            if bound == (first if backwards else last):
                return None
            cursor = bound
            if progress is not None:
                progress(abs(cursor - start) / span)
        return None
