"""The engine's read path over pages of records: every replay, catch-up and rebuild runs here.

The store decodes a page at a time (SQLite in one statement and one JSON decode per column,
see ``evsh.store.sqlite.reads``) and marks the rows whose stored text holds a sealed value;
decryption runs on those rows only (instead of a look at every value of every event); the
other read transforms (upcasting) then map the page. The events that come out are the ones the
per-record path (``Engine._view``) gives, in the same order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..store.base import RecordedEvent, RecordPage

if TYPE_CHECKING:
    from .engine import Engine


def sealed_marker(engine: Engine) -> str:
    """What the stored text of an event with a sealed value holds ("" when nothing is decrypted
    on the read path): the text the engine asks the store to mark rows by."""
    sh = engine.shredder
    transforms = engine.transforms
    if sh is not None and transforms and transforms[0] == sh.decrypt:  # decryption comes first
        return sh.marker
    return ""


def view_pages(engine: Engine, pages: Iterable[RecordPage]) -> Iterator[RecordedEvent]:
    """The events of these pages (read with ``marked=sealed_marker(engine)``) as readers see them."""
    transforms: list[Callable[[RecordedEvent], Any]] = list(engine.transforms)
    unseal = transforms.pop(0) if sealed_marker(engine) else None
    for recs, marked in pages:
        if marked and unseal is not None:
            recs = [unseal(rec) if rec[0] in marked else rec for rec in recs]
        for t in transforms:
            recs = [out for out in map(t, recs) if out is not None]
        yield from recs
