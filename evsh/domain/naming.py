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
    """``add_stock`` -> ``add-stock``. A trailing underscore, which avoids a Python keyword or
    builtin (``return_``, ``from_``), is dropped as click drops it for options: ``return``."""
    return python_name(name).replace("_", "-")


def python_name(name: str) -> str:
    """``return_`` -> ``return``: a name without the trailing underscores that keep it from being a
    Python keyword (a name of underscores only is kept as it is)."""
    return name.rstrip("_") or name


def unkebab(name: str) -> str:
    return name.replace("-", "_")
