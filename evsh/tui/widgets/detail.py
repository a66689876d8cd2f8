"""Event detail (highlighted JSON, causal links) and aggregate state with its diff.

JSON is highlighted as plain text (Rich's JSON highlighter over a ``Text``): a payload holding
``[bold]`` or ``[link=...]`` is shown literally, never interpreted as markup, and its control
and bidi characters are written as JSON escapes (``\u009b``), as `evsh read --json` does.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...sanitise import json_safe, rich_text, safe
from ...store.base import RecordedEvent


def json_text(value: Any, indent: int | None = None) -> str:
    return json_safe(json.dumps(value, ensure_ascii=False, default=str, indent=indent))


def json_block(value: Any) -> Text:
    # long values wrap (fold) instead of being cut off
    return JSONHighlighter()(Text(json_text(value, indent=2), no_wrap=False, overflow="fold"))


def event_summary(rec: RecordedEvent) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"#{rec.position} ", style="cyan")
    t.append(rec.type, style="bold")
    t.append(f"  {rec.stream_id}", style="green")
    t.append(f"@{rec.version}", style="magenta")
    return rich_text(t)


def event_renderable(rec: RecordedEvent) -> Group:
    head = Text()
    head.append(rec.type, style="bold")
    head.append("  stream ")
    head.append(rec.stream_id, style="green")
    head.append(f"  version {rec.version}  position {rec.position}\n", style="")
    head.append(f"event id {rec.event_id}\nrecorded {rec.recorded_at}", style="dim")
    return Group(rich_text(head, lines=True), Text("\ndata", style="bold underline"), json_block(rec.data),
                 Text("\nmetadata", style="bold underline"), json_block(rec.metadata))


class EventDetail(VerticalScroll):
    """The selected event, payload and metadata as highlighted JSON."""

    DEFAULT_CSS = "EventDetail { height: 1fr; } EventDetail > Static { width: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("No event selected.", style="dim"), id="event-body")

    rec: RecordedEvent | None = None

    def show_empty(self) -> None:
        self.rec = None
        self.query_one("#event-body", Static).update(Text("No events here yet.", style="dim"))

    def show(self, rec: RecordedEvent | None) -> None:
        self.rec = rec
        body = self.query_one("#event-body", Static)
        if rec is None:
            body.update(Text("This event is hidden by the read path (e.g. its stream was deleted).", style="dim"))
        else:
            body.update(event_renderable(rec))


def diff_text(changes: list[tuple[str, str, Any, Any]]) -> Text:
    t = Text()
    if not changes:
        t.append("no change to state\n", style="dim")
    for op, path, old, new in changes:
        path = safe(path)
        if op == "+":
            t.append(f"+ {path}: ", style="green bold")
            t.append(json_text(new) + "\n", style="green")
        elif op == "-":
            t.append(f"- {path}: ", style="red bold")
            t.append(json_text(old) + "\n", style="red")
        else:
            t.append(f"~ {path}: ", style="yellow bold")
            t.append(json_text(old), style="red")
            t.append(" → ")
            t.append(json_text(new) + "\n", style="green")
    return t


class StateView(VerticalScroll):
    """The aggregate at the selected version, and what that event changed."""

    DEFAULT_CSS = "StateView { height: 1fr; } StateView > Static { width: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("Select an event of an aggregate's stream.", style="dim"), id="state-body")

    shown: tuple[str, int, dict[str, Any], list[tuple[str, str, Any, Any]]] | None = None
    message: str = ""

    def show_message(self, message: str) -> None:
        self.shown, self.message = None, message
        self.query_one("#state-body", Static).update(rich_text(message, style="dim", lines=True))

    def show_state(self, stream_id: str, version: int, state: dict[str, Any],
                   changes: list[tuple[str, str, Any, Any]]) -> None:
        self.shown, self.message = (stream_id, version, state, changes), ""
        head = Text()
        head.append(safe(stream_id), style="green bold")
        head.append(f" at version {version}", style="magenta")
        head.append("   (change since the version before)\n", style="dim")
        self.query_one("#state-body", Static).update(
            Group(head, diff_text(changes), Text("state", style="bold underline"), json_block(state)))
