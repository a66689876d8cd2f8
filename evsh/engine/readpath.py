"""The engine's read path over pages of records: every replay, catch-up and rebuild runs here.

The store decodes a page at a time (SQLite in one statement and one JSON decode per column,
see ``evsh.store.sqlite.reads``) and marks the rows whose stored text holds a sealed value;
decryption runs on those rows only (instead of a look at every value of every event); the
other read transforms (upcasting) then map the page. The events that come out are the ones the
per-record path (``Engine._view``) gives, in the same order.
"""

from __future__ import annotations

from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..store.base import RecordedEvent, RecordPage

if TYPE_CHECKING:
    from .engine import Engine


type_of = itemgetter(4)  # a record's stored type


def sealed_marker(engine: Engine) -> str:
    """What the stored text of an event with a sealed value holds ("" when nothing is decrypted
    on the read path): the text the engine asks the store to mark rows by."""
    sh = engine.shredder
    transforms = engine.transforms
    if sh is not None and transforms and transforms[0] == sh.decrypt:  # decryption comes first
        return sh.marker
    return ""


def view_pages(engine: Engine, pages: Iterable[RecordPage]) -> Iterator[RecordedEvent]:
    """The events of these pages (read with ``marked=sealed_marker(engine)``) as readers see them:
    a page at a time, handed out one by one in C (no Python frame resumed per event)."""
    return chain.from_iterable(_viewed(engine, pages))


def _types(transform: Callable[[RecordedEvent], Any]) -> frozenset[str] | None:
    """The only stored types a transform changes (None: any), from its ``types``; the upcaster
    is installed as a bound method, whose ``types`` is the instance's."""
    types = getattr(getattr(transform, "__self__", transform), "types", None)
    return None if types is None else frozenset(types)


def _viewed(engine: Engine, pages: Iterable[RecordPage]) -> Iterator[list[RecordedEvent]]:
    transforms: list[Callable[[RecordedEvent], Any]] = list(engine.transforms)
    unseal = None
    if sealed_marker(engine):
        transforms.pop(0)
        unseal = engine.shredder.decrypt_page
    # A transform with ``types`` (the upcaster: the stored types it has steps for) changes events
    # of those types only, so the others are not passed through a Python call each.
    narrowed = [(t, _types(t)) for t in transforms]
    for recs, marked in pages:
        if marked and unseal is not None:
            at = [i for i, rec in enumerate(recs) if rec[0] in marked]
            recs = list(recs)
            for i, rec in zip(at, unseal([recs[i] for i in at])):
                recs[i] = rec
        for t, only in narrowed:
            if only is None:
                recs = list(map(t, recs))
            elif only.isdisjoint(map(type_of, recs)):  # a page with none of them is left as it is (in C)
                continue
            else:
                recs = [t(rec) if rec[4] in only else rec for rec in recs]
            if not all(recs):  # a transform dropped events (records are non-empty tuples)
                recs = [rec for rec in recs if rec is not None]
        yield recs
