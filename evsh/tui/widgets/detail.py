"""Event detail (highlighted JSON, causal links) and aggregate state with its diff.

JSON is rendered with ``rich.json.JSON``, which highlights plain text: a payload holding
``[bold]`` or ``[link=...]`` is shown literally, never interpreted as markup.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.json import JSON
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...store.base import RecordedEvent


def json_block(value: Any) -> JSON:
    block = JSON(json.dumps(value, ensure_ascii=False, default=str), indent=2)
    block.text.no_wrap = False  # long values wrap instead of being cut off
    block.text.overflow = "fold"
    return block


def event_summary(rec: RecordedEvent) -> Text:
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"#{rec.position} ", style="cyan")
    t.append(rec.type, style="bold")
    t.append(f"  {rec.stream_id}", style="green")
    t.append(f"@{rec.version}", style="magenta")
    return t


def event_renderable(rec: RecordedEvent) -> Group:
    head = Text()
    head.append(rec.type, style="bold")
    head.append("  stream ")
    head.append(rec.stream_id, style="green")
    head.append(f"  version {rec.version}  position {rec.position}\n", style="")
    head.append(f"event id {rec.event_id}\nrecorded {rec.recorded_at}", style="dim")
    return Group(head, Text("\ndata", style="bold underline"), json_block(rec.data),
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
        if op == "+":
            t.append(f"+ {path}: ", style="green bold")
            t.append(json.dumps(new, ensure_ascii=False, default=str) + "\n", style="green")
        elif op == "-":
            t.append(f"- {path}: ", style="red bold")
            t.append(json.dumps(old, ensure_ascii=False, default=str) + "\n", style="red")
        else:
            t.append(f"~ {path}: ", style="yellow bold")
            t.append(json.dumps(old, ensure_ascii=False, default=str), style="red")
            t.append(" → ")
            t.append(json.dumps(new, ensure_ascii=False, default=str) + "\n", style="green")
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
        self.query_one("#state-body", Static).update(Text(message, style="dim"))

    def show_state(self, stream_id: str, version: int, state: dict[str, Any],
                   changes: list[tuple[str, str, Any, Any]]) -> None:
        self.shown, self.message = (stream_id, version, state, changes), ""
        head = Text()
        head.append(stream_id, style="green bold")
        head.append(f" at version {version}", style="magenta")
        head.append("   (change since the version before)\n", style="dim")
        self.query_one("#state-body", Static).update(
            Group(head, diff_text(changes), Text("state", style="bold underline"), json_block(state)))
