"""Names as users see them: categories, kebab-case commands and options, routing keys; and the
attribute an @event class carries its spec in (read on every command, so kept in this light module).
"""

from __future__ import annotations

import re
from typing import Any

EVENT_ATTR = "__evsh_event__"


def event_spec(obj: Any) -> Any:
    """The EventSpec of an @event class (or of an instance's class), or None."""
    return getattr(obj, EVENT_ATTR, None)


_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``OrderLine`` -> ``order_line``; ``HTTPRequest`` -> ``http_request``."""
    return _BOUNDARY.sub("_", name).lower()


def kebab(name: str) -> str:
    return name.replace("_", "-")


def unkebab(name: str) -> str:
    return name.replace("-", "_")
