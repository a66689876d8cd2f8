"""How evsh writes numbers and counted things, the same in every front end: thousands
separators always (``1,004,939 events``), and the singular for one (``1 command``); and which
known word a mistyped one most likely meant (one similarity for every "did you mean")."""

from __future__ import annotations

from typing import Iterable


def number(n: int) -> str:
    """``1004939`` -> ``1,004,939``."""
    return f"{n:,}"


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``counted(1, "event")`` -> ``1 event``; ``counted(2, "entry", "entries")`` -> ``2 entries``."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known word ``word`` most likely misspells, or None when none is close.

    difflib proposes the candidates; among them the fewest edits wins, a swap of two
    neighbouring letters counting as one (``staet`` is ``state``, not ``stats``)."""
    import difflib

    choices = sorted(set(known))
    close = difflib.get_close_matches(word, choices, n=5, cutoff=0.6)
    if not close:
        return None
    return min(close, key=lambda c: (_edits(word.lower(), c.lower()), -difflib.SequenceMatcher(None, word, c).ratio()))


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean `state`?)`` or the empty string."""
    close = closest(word, known)
    return f" (did you mean `{close}`?)" if close else ""


def _edits(a: str, b: str) -> int:
    """Edits from a to b: insertions, deletions, substitutions and swaps of neighbours."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
