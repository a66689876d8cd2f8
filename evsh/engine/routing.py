"""Routing keys and topic patterns, as in a RabbitMQ topic exchange.

An event's routing key is its category, a dot, and its type in snake_case without the category's
name where the type starts with it: ``OrderCreated`` in ``order`` -> ``order.created``,
``StockAdded`` in ``inventory`` -> ``inventory.stock_added``. A pattern is dot-separated words
where ``*`` matches exactly one word and ``#`` matches zero or more: ``order.*``, ``#``,
``*.created``, ``inventory.#``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from ..domain.naming import snake_case
from ..store.recorded import category_of


@lru_cache(maxsize=4096)
def routing_key(category: str, event_type: str) -> str:
    """``order`` + ``OrderCreated`` -> ``order.created``."""
    name = snake_case(event_type)
    cat = category.lower()
    if name == cat:
        return cat
    if name.startswith(cat + "_"):
        name = name[len(cat) + 1 :]
    return f"{cat}.{name}"


def matches(pattern: str, key: str) -> bool:
    """Does ``key`` (e.g. ``order.created``) match ``pattern`` (e.g. ``order.*``)?"""
    return _match_words(tuple(pattern.split(".")), tuple(key.split(".")))


@lru_cache(maxsize=8192)
def _match_words(pat: tuple[str, ...], key: tuple[str, ...]) -> bool:
    if not pat:
        return not key
    head = pat[0]
    if head == "#":
        # '#' takes zero or more words
        return any(_match_words(pat[1:], key[i:]) for i in range(len(key) + 1))
    if not key:
        return False
    if head == "*" or head == key[0]:
        return _match_words(pat[1:], key[1:])
    return False


class EventFilter:
    """What a subscriber takes: event types, categories and topic patterns, in any mix (an event
    matching any of them; nothing given: every event). Shared by reactors and the broker relay.

    ``sql_types``/``sql_categories`` are what a reader can ask the store to filter on (one kind
    used alone); :meth:`matches` decides the rest per event, remembering (category, type) pairs.
    """

    def __init__(self, types: Sequence[str] = (), categories: Sequence[str] = (), topics: Sequence[str] = ()) -> None:
        self.types, self.categories, self.topics = tuple(types), tuple(categories), tuple(topics)
        only_types = bool(types) and not categories and not topics
        only_cats = bool(categories) and not types and not topics
        self.sql_types: tuple[str, ...] = self.types if only_types else ()
        self.sql_categories: tuple[str, ...] = self.categories if only_cats else ()
        self._types = frozenset(types)
        self._cats = frozenset(categories)
        self.everything = "#" in self.topics or not (types or categories or topics)
        self._seen: dict[tuple[str, str], bool] = {}  # (category, type) -> matches

    def matches(self, rec: Any) -> bool:
        """Does the recorded event ``rec`` pass the filter?"""
        if self.everything or rec.type in self._types:
            return True
        cat = category_of(rec.stream_id)
        known = self._seen.get((cat, rec.type))
        if known is None:
            known = cat in self._cats or any(matches(p, routing_key(cat, rec.type)) for p in self.topics)
            if len(self._seen) < 10_000:
                self._seen[(cat, rec.type)] = known
        return known
