"""Stream lifecycle rules and what they hide, the same on every backend.

A stream with rules (deleted, truncated, max-count, max-age) keeps a rules row; every read
honours it. These helpers turn one stream's rules into the lowest visible version and the
oldest visible time; backends decide how to apply them (in SQL or in Python, per read).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

LIFECYCLE_STREAM = "$streams"  # where deletions, truncations and metadata changes are recorded
LIVE, SOFT_DELETED, TOMBSTONE = 0, 1, 2
STATES = {LIVE: "live", SOFT_DELETED: "soft-deleted", TOMBSTONE: "hard-deleted"}
HIDE_ALL = 2**62
# Up to this many streams with rules, reads filter in Python from a dict loaded once per read;
# beyond it (a store that deleted many streams), SQL filters with one primary-key probe per row.
RULES_IN_MEMORY = 2000


def age_cutoff(now: str, max_age: float) -> str:
    """The oldest ``recorded_at`` still visible under ``max_age`` seconds, in the store's format."""
    then = datetime.fromisoformat(now.replace("Z", "+00:00")) - timedelta(seconds=max_age)
    return then.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def visibility(deleted: int, truncate_before: int, max_count: int | None, max_age: float | None, version: int,
               clock: Callable[[], str]) -> tuple[int, str | None]:
    """(lowest visible version, oldest visible recorded_at or None) for one stream's rules.
    The clock is read only for a max-age rule: a fixed demo clock steps on every reading."""
    if deleted == TOMBSTONE:
        return HIDE_ALL, None
    lowest = truncate_before
    if max_count is not None:
        lowest = max(lowest, version - max_count + 1)
    return lowest, (age_cutoff(clock(), max_age) if max_age is not None else None)
