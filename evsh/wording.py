"""How evsh writes numbers and counted things, the same in every front end: thousands
separators always (``1,004,939 events``), and the singular for one (``1 command``)."""

from __future__ import annotations


def number(n: int) -> str:
    """``1004939`` -> ``1,004,939``."""
    return f"{n:,}"


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``counted(1, "event")`` -> ``1 event``; ``counted(2, "entry", "entries")`` -> ``2 entries``."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"
