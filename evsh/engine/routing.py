"""Routing keys and topic patterns, as in a RabbitMQ topic exchange.

An event's routing key is its category, a dot, and its type in snake_case without the category's
name where the type starts with it: ``OrderCreated`` in ``order`` -> ``order.created``,
``StockAdded`` in ``inventory`` -> ``inventory.stock_added``. A pattern is dot-separated words
where ``*`` matches exactly one word and ``#`` matches zero or more: ``order.*``, ``#``,
``*.created``, ``inventory.#``.
"""

from __future__ import annotations

from functools import lru_cache

from ..domain.naming import snake_case


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
