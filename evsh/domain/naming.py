"""Names as users see them: categories, kebab-case commands and options, routing keys."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``OrderLine`` -> ``order_line``; ``HTTPRequest`` -> ``http_request``."""
    return _BOUNDARY.sub("_", name).lower()


def kebab(name: str) -> str:
    return name.replace("_", "-")


def unkebab(name: str) -> str:
    return name.replace("-", "_")
