"""The events an inline run's own commands appended, kept so the run need not read them back.

After a user's command, inline reactors read the events after their checkpoints: that command's
events, then those of the commands their handlers send, round after round. Each command's outcome
already holds its events as readers see them (``CommandOutcome.events``), so the run takes them
from here when they are exactly what reading would give, and reads otherwise.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...store.base import RecordedEvent


class RecentEvents:
    """The events of one inline run's commands, in the order they were appended, and the
    store's epoch they were appended in."""

    __slots__ = ("events", "epoch")

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.epoch: int | None = None

    def heard(self, store: Any, events: Sequence[RecordedEvent], *, first: bool = False) -> None:
        """Keep a command's events; ``first``: a user's command, which starts what the run needs."""
        epoch = store.epoch(check=False)
        if first or epoch != self.epoch:
            self.events, self.epoch = [], epoch
        self.events.extend(events)

    def between(self, store: Any, first: int, last: int) -> list[RecordedEvent] | None:
        """The events at positions ``first`` .. ``last`` as ``engine.read_all(first)`` gives them
        inside the run's write transaction, when the kept ones are exactly those; None otherwise
        (read them). They are when nothing moved the store's epoch since they were appended (no
        other connection committed, nothing here rolled back; a server's epoch always moves),
        they hold every position of the range (an append that did not pass through the engine's
        commands leaves a gap), and no stream has lifecycle rules (which may hide an event the
        moment it is written)."""
        events = self.events
        start = len(events) - (last - first + 1)
        if (start < 0 or events[-1].position != last or events[start].position != first
                or store.epoch() != self.epoch or store.visible_filter() is not None):
            return None
        return events[start:]

    def forget(self) -> None:
        self.events, self.epoch = [], None
