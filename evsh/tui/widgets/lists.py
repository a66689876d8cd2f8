"""The events list and the streams list: virtual lists fed by the Browser.

Columns are laid out for the width at hand (:func:`event_columns`): position, stream, version
and type keep their room (a long stream id is cut in the middle, ``order-…99990``, so ids that
differ at the end stay apart); the time keeps its year when there is room; the payload takes what
is left and ends with "…" when cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message

from ...sanitise import json_safe, safe
from ..data import Browser, Row, RowIndex, Source
from ..search import compact
from .virtual_list import VirtualList


def short_time(recorded_at: str) -> str:
    """``2026-01-01T10:00:00.123456Z`` -> ``2026-01-01 10:00:00``."""
    return recorded_at[:19].replace("T", " ")


def list_time(recorded_at: str, width: int = 19) -> str:
    """The time in ``width`` columns: ``2026-01-01 10:00:00`` (19), ``2026-01-01 10:00`` (16)
    or ``01-01 10:00`` (11, the year is in the detail)."""
    full = short_time(recorded_at)
    if width >= 19:
        return full
    if width >= 16:
        return full[:16]
    return full[5:16]


def fit(text: str, width: int) -> str:
    """``text`` in exactly ``width`` columns, ending with "…" when cut."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text.ljust(width)
    return text[: width - 1] + "…"


def fit_middle(text: str, width: int) -> str:
    """``text`` in exactly ``width`` columns, cut in the middle (``order-…99990``): stream ids
    share their start and differ at the end."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text.ljust(width)
    if width < 5:
        return text[: width - 1] + "…"
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


@dataclass(frozen=True)
class Columns:
    """Widths of the events list's columns (0: not shown); the payload takes the rest."""

    position: int
    stream: int
    version: int
    type: int
    time: int
    payload: int


def event_columns(width: int, *, all_log: bool, key_digits: int, stream_width: int, type_width: int,
                  version_digits: int = 0) -> Columns:
    """Lay the columns out in ``width``: stream and type get what they need (up to a cap), and
    give it back down to a minimum when the payload would have fewer than 20 columns; the time
    shortens from 19 columns to 16 and 11."""
    pos = max(key_digits, 8 if width >= 100 else 3)
    ver = max(5 if width >= 100 else 4, version_digits)
    stream = min(max(stream_width, 10), 32) if all_log else 0
    typ = min(max(type_width, 10), 32)
    time = 19 if width >= 100 else (16 if width >= 80 else 11)
    fixed = pos + 1 + (stream + 1 if stream else 0) + ver + 1 + typ + 1 + time + 1
    want = 20 if width >= 70 else (8 if all_log else 14)  # in a stream the type gives room to the payload
    short = fixed + want - width
    if short > 0:  # the type gives first: a cut type is still told apart by its start
        give = min(short, typ - 10)
        typ, short = typ - give, short - give
    if short > 0 and stream:
        give = min(short, stream - 10)
        stream, short = stream - give, short - give
    fixed = pos + 1 + (stream + 1 if stream else 0) + ver + 1 + typ + 1 + time + 1
    return Columns(pos, stream, ver, typ, time, max(0, width - fixed))


class EventList(VirtualList):
    """The events of a stream or of ``$all``: position, version, type, time and a short payload."""

    def __init__(self, browser: Browser, **kw: Any) -> None:
        super().__init__(**kw)
        self.browser = browser
        self.index: RowIndex = RowIndex(Source())
        self.type_width = browser.type_width()
        self.stream_width = 12  # grows with the stream ids met (pages read)
        self.position_digits = 0  # and the widest position and version met
        self.version_digits = 0

    @property
    def source(self) -> Source:
        return self.index.source

    def fetch(self, start: int, limit: int, before: Any) -> list[Row]:
        rows = self.browser.page(self.index, start, limit)
        widest = max((len(r.record.stream_id) for r in rows), default=0)
        positions = max((len(str(r.record.position)) for r in rows), default=0)
        versions = max((len(str(r.record.version)) for r in rows), default=0)
        if widest > self.stream_width or positions > self.position_digits or versions > self.version_digits:
            self.stream_width = max(widest, self.stream_width)  # read by the next layout
            self.position_digits = max(positions, self.position_digits)
            self.version_digits = max(versions, self.version_digits)
            self._lines.clear()
            self.app.call_from_thread(self._widened)
        return rows

    def _widened(self) -> None:
        self.post_message(self.Widened())

    class Widened(Message):
        """The columns changed width: the header follows."""

    def columns(self, width: int | None = None) -> Columns:
        width = self.scrollable_content_region.width if width is None else width
        all_log = self.source.stream_id is None
        return event_columns(width, all_log=all_log, stream_width=self.stream_width, type_width=self.type_width,
                             key_digits=max(len(str(self.index.last_key)) if all_log else 0, self.position_digits),
                             version_digits=self.version_digits)

    def header(self) -> Text:
        c = self.columns()
        t = Text(no_wrap=True)
        t.append(("position" if c.position >= 8 else "pos").rjust(c.position)[: c.position] + " ")
        if c.stream:
            t.append(fit("stream", c.stream) + " ")
        t.append("ver".rjust(c.version) + " ")
        t.append(fit("type", c.type) + " ")
        t.append(fit("time (UTC)", c.time) + " ")
        if c.payload:
            t.append(fit("payload", c.payload))
        return t

    def render_row(self, item: Row, width: int) -> Text:
        rec = item.view
        c = self.columns(width)
        t = Text(no_wrap=True)
        if rec is None:  # nothing of a hidden event is shown but its place in the log
            t.append(f"{item.record.position:>{c.position}} ", style="dim")
            t.append("(hidden: its stream was deleted or truncated, or the read path hides it)", style="dim italic")
            return t
        t.append(f"{rec.position:>{c.position}} ", style="cyan")
        if c.stream:
            t.append(fit_middle(safe(rec.stream_id), c.stream) + " ", style="green")
        t.append(f"{rec.version:>{c.version}} ", style="magenta")
        t.append(fit(safe(rec.type), c.type) + " ", style="bold")
        t.append(fit(safe(list_time(rec.recorded_at, c.time)), c.time) + " ", style="dim")
        if c.payload:
            t.append(fit(json_safe(compact(rec.data)), c.payload).rstrip())
        return t


class StreamList(VirtualList):
    """Streams of a category (or all), filtered by text: stream id, version, last update."""

    class Widened(Message):
        """Longer stream ids were read: the pane may grow to show them whole."""

        def __init__(self, widest: int) -> None:
            super().__init__()
            self.widest = widest

    def __init__(self, browser: Browser, **kw: Any) -> None:
        super().__init__(**kw)
        self.browser = browser
        self.category: str | None = None
        self.text = ""
        self.widest = 0  # the longest stream id read so far

    def fetch(self, start: int, limit: int, before: Any) -> list[tuple[str, int, str]]:
        after = before[0] if before is not None else None
        rows = self.browser.stream_page(self.category, self.text, start, limit, after)
        widest = max((len(safe(r[0])) for r in rows), default=0)
        if widest > self.widest:
            self.widest = widest
            self.app.call_from_thread(self.post_message, self.Widened(widest))
        return rows

    def render_row(self, item: tuple[str, int, str], width: int) -> Text:
        sid, version, updated = item
        t = Text(no_wrap=True)
        sid = safe(sid)
        # last update, with the year when there is room: 2026-01-01 10:00, or none when narrow
        stamp = safe(list_time(updated or "", 16)) if width >= 36 else ""
        w = max(6, width - 7 - (len(stamp) + 1 if stamp else 0))
        t.append(fit_middle(sid, w) + " ", style="green")
        t.append(f"{version:>6}", style="magenta")
        if stamp:
            t.append(" " + stamp, style="dim")
        return t
