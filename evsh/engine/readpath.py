"""The engine's read path over pages of raw rows: every replay, catch-up and rebuild runs here.

A page is decoded in one pass (``records_of``); decryption runs only on rows whose stored text
holds a sealed value (a substring test on the text, instead of a look at every value of every
event); the other read transforms (upcasting) then map the page. The events that come out are
the ones the per-record path (``Engine._view``) gives, in the same order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from ..store.base import RawRow, RecordedEvent, records_of

if TYPE_CHECKING:
    from .engine import Engine


def view_pages(engine: Engine, pages: Iterator[list[RawRow]]) -> Iterator[RecordedEvent]:
    """The events of these pages as readers see them."""
    transforms = list(engine.transforms)
    sh = engine.shredder
    unseal = marker = None
    if sh is not None and transforms and transforms[0] == sh.decrypt:  # decryption comes first
        unseal, marker = transforms.pop(0), sh.marker
    for rows in pages:
        recs = records_of(rows)
        if unseal is not None:
            recs = [unseal(rec) if type(row[5]) is not str or marker in row[5] else rec
                    for row, rec in zip(rows, recs)]
        for t in transforms:
            recs = [out for out in map(t, recs) if out is not None]
        yield from recs
