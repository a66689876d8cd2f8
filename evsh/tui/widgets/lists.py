"""The events list and the streams list: virtual lists fed by the Browser."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ...sanitise import json_safe, safe
from ..data import Browser, Row, RowIndex, Source, compact
from .virtual_list import VirtualList


def short_time(recorded_at: str) -> str:
    """``2026-01-01T10:00:00.123456Z`` -> ``2026-01-01 10:00:00``."""
    return recorded_at[:19].replace("T", " ")


def list_time(recorded_at: str) -> str:
    """``2026-01-01T10:00:00.123456Z`` -> ``01-01 10:00:00`` (the year is in the detail)."""
    return recorded_at[5:19].replace("T", " ")


def fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + "…"


class EventList(VirtualList):
    """The events of a stream or of ``$all``: position, version, type, time and a short payload."""

    def __init__(self, browser: Browser, **kw: Any) -> None:
        super().__init__(**kw)
        self.browser = browser
        self.index: RowIndex = RowIndex(Source())

    @property
    def source(self) -> Source:
        return self.index.source

    def fetch(self, start: int, limit: int, before: Any) -> list[Row]:
        return self.browser.page(self.index, start, limit)

    def header(self) -> Text:
        t = Text(no_wrap=True)
        t.append(f"{'position':>9} ")
        if self.source.stream_id is None:
            t.append(fit("stream", 18) + " ")
        t.append(f"{'ver':>5} ")
        t.append(fit("type", 20) + " ")
        t.append(fit("time (UTC)", 14) + " ")
        t.append("payload")
        return t

    def render_row(self, item: Row, width: int) -> Text:
        rec = item.view
        t = Text(no_wrap=True)
        if rec is None:  # nothing of a hidden event is shown but its place in the log
            t.append(f"{item.record.position:>9} ", style="dim")
            t.append("(hidden: its stream was deleted or truncated, or the read path hides it)", style="dim italic")
            return t
        t.append(f"{rec.position:>9} ", style="cyan")
        if self.source.stream_id is None:
            t.append(fit(safe(rec.stream_id), 18) + " ", style="green")
        t.append(f"{rec.version:>5} ", style="magenta")
        t.append(fit(safe(rec.type), 20) + " ", style="bold")
        t.append(fit(safe(list_time(rec.recorded_at)), 14) + " ", style="dim")
        t.append(json_safe(compact(rec.data))[: max(0, width)])
        return t


class StreamList(VirtualList):
    """Streams of a category (or all), filtered by text: stream id, version, last update."""

    def __init__(self, browser: Browser, **kw: Any) -> None:
        super().__init__(**kw)
        self.browser = browser
        self.category: str | None = None
        self.text = ""

    def fetch(self, start: int, limit: int, before: Any) -> list[tuple[str, int, str]]:
        after = before[0] if before is not None else None
        return self.browser.stream_page(self.category, self.text, start, limit, after)

    def render_row(self, item: tuple[str, int, str], width: int) -> Text:
        sid, version, updated = item
        t = Text(no_wrap=True)
        sid = safe(sid)
        stamp = safe(list_time(updated))  # last update: MM-DD HH:MM:SS, shortened to the minute when narrow
        if width < 44:
            stamp = stamp[:11] if width >= 28 else ""
        w = max(8, width - 7 - (len(stamp) + 1 if stamp else 0))
        t.append(fit(sid, w) + " ", style="green")
        t.append(f"{version:>6}", style="magenta")
        if stamp:
            t.append(" " + stamp, style="dim")
        return t
