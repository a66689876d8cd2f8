"""Find in the TUI's events list: a form (`/`), then `n` / `N` from match to match. The search
runs in a worker, shows how far it has got, and `escape` stops it."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.worker import get_current_worker

from ..errors import EvshError
from .search import Criteria


class Finding:
    """A mixin of the app: find forwards and backwards from the cursor."""

    criteria: Criteria
    searching: bool
    search_done: float
    search_window: int
    browser: Any
    events: Any

    def action_find(self) -> None:
        from .screens.find import FindScreen

        def done(criteria: Criteria | None) -> None:
            if criteria is None:
                return
            self.criteria = criteria
            self._title()
            if not criteria.empty():
                self.find(False, include_current=True)

        self.push_screen(FindScreen(self.criteria, self.browser.domain), done)

    def action_find_next(self) -> None:
        if self.criteria.empty():
            self.action_find()
        else:
            self.find(False)

    def action_find_previous(self) -> None:
        if self.criteria.empty():
            self.action_find()
        else:
            self.find(True)

    @work(thread=True, exclusive=True, group="find", exit_on_error=False)
    def find(self, backwards: bool, include_current: bool = False) -> None:
        lst = self.events
        worker = get_current_worker()
        self.call_from_thread(self._searching, True)
        try:
            row = self.browser.find(lst.index, lst.cursor, self.criteria, backwards=backwards,
                                    inclusive=include_current, cancelled=lambda: worker.is_cancelled,
                                    window=self.search_window,
                                    progress=lambda done: self.call_from_thread(self._search_progress, done))
        except EvshError as exc:
            self.call_from_thread(self.notify, str(exc), severity="error")
            return
        finally:
            self.call_from_thread(self._searching, False)
        if worker.is_cancelled:
            self.call_from_thread(self.notify, "search stopped", severity="warning")
            return
        if row is None:
            self.call_from_thread(self.notify, f"no {'earlier' if backwards else 'later'} match", severity="warning")
        else:
            self.call_from_thread(lst.move_to, row)


    def _searching(self, on: bool) -> None:
        self.searching = on
        self.search_done = 0.0
        self._title()

    def _search_progress(self, done: float) -> None:
        if self.searching:
            self.search_done = done
            self._title()

    def action_stop_search(self) -> None:
        """`escape` while a search runs: stop it (the cursor stays where it was)."""
        for worker in self.workers:
            if worker.group == "find":
                worker.cancel()



def describe_criteria(c: Criteria) -> str:
    parts = []
    if c.type:
        parts.append(f"type={c.type}")
    if c.text:
        parts.append(f"text~{c.text}")
    if c.since:
        parts.append(f"since {c.since}")
    if c.until:
        parts.append(f"until {c.until}")
    return " ".join(parts)

