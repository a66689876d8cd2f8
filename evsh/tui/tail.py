"""The live tail of the TUI's main screen: polls the head of the log and shows what other
processes appended; on the last row the cursor follows new events, as ``tail -f`` does."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from textual import work
from textual.worker import get_current_worker

from ..errors import EvshError
from .data import RowIndex


class LiveTail:
    """A mixin of the app: the poll (every ``poll_interval``), recounts, and following."""

    tail: bool
    known_head: int
    all_index: RowIndex | None
    counts_interval: float
    _counts_head: int
    _counts_at: float
    browser: Any
    events: Any
    streams: Any
    _side_store: Any
    call_from_thread: Any

    def poll(self) -> None:
        if self.tail:
            self.check_tail()

    @work(thread=True, exclusive=True, group="tail-wake", exit_on_error=False)
    def wake_on_append(self) -> None:
        """On a server store, look at the tail as soon as an event is appended (NOTIFY carries a
        position, never an event; the tail reads the events as a poll would), on a connection of
        its own; the poll stays as the fallback."""
        worker = get_current_worker()
        try:
            store = self._side_store()
        except EvshError:
            return  # the poll still runs
        try:
            seen = self.known_head
            while not worker.is_cancelled:
                try:
                    if store.wait(max(seen, self.known_head), 0.5):
                        seen = store.head_position()
                        self.call_from_thread(self.poll)
                except EvshError:
                    time.sleep(1.0)
                    try:
                        store.recover()
                    except EvshError:
                        pass
        except RuntimeError:  # the app is closing
            pass
        finally:
            store.close()

    @work(thread=True, exclusive=True, group="tail", exit_on_error=False)
    def check_tail(self) -> None:
        head = self.browser.head()
        recount = head != self._counts_head and time.monotonic() - self._counts_at >= self.counts_interval
        if head == self.known_head and not recount:
            return
        index = self.events.index
        probe = replace(index, blocks=list(index.blocks))
        added = self.browser.extend(probe)
        all_probe = None
        if self.all_index is not None:
            all_probe = replace(self.all_index, blocks=list(self.all_index.blocks))
            self.browser.extend(all_probe)
        counts = None
        if recount:  # the GROUP BY over every stream is paced, not run for each appended event
            counts = (self.browser.categories(), self.browser.stream_count(self.streams.category, self.streams.text))
        self.call_from_thread(self._tail_arrived, head, index, probe, added, all_probe, counts)

    def _tail_arrived(self, head: int, old: RowIndex, probe: RowIndex, added: int, all_probe: RowIndex | None,
                      counts: tuple[list[tuple[str, int]], int] | None) -> None:
        self.known_head = head
        if self.events.index is old and added:
            lst = self.events
            following = lst.total > 0 and lst.cursor >= lst.total - 1  # on the last row: follow, as tail -f
            lst.index = probe
            lst.grow(probe.total)
            if following:
                lst.move_to(probe.total - 1)
            self._title()
        if all_probe is not None:
            self.all_index = all_probe
            self._relabel_all()
        if counts is not None:
            self._counts_head, self._counts_at = head, time.monotonic()
            cats, streams_total = counts
            self._show_categories(cats)
            if streams_total > self.streams.total:
                self.streams.grow(streams_total)
            elif streams_total < self.streams.total:  # streams were deleted
                self.streams.reset(streams_total, self.streams.cursor)
            self.streams.invalidate()

    def action_toggle_tail(self) -> None:
        self.tail = not self.tail
        self._title()
        self.notify("live tail on" if self.tail else "live tail paused")

