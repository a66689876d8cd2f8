"""Stream lifecycle helpers: durations and counts as users type them.

The lifecycle itself (soft and hard delete, truncation, max-count and max-age honoured by every
read, scavenging) lives in the store, so that every reader (engine, export, TUI) gets the same
rules from one place; this module turns user input into those settings.
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable

from ..errors import BadInput
from ..store.base import RecordedEvent

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(text: str) -> float | None:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` (a bare number is seconds) -> seconds; ``none`` -> None."""
    if text.strip().lower() in ("none", "off", ""):
        return None
    m = _DURATION.match(text.lower())
    if not m or float(m.group(1)) <= 0:
        raise BadInput(f"duration {text!r}: use a positive number with s, m, h, d or w (e.g. 30d), or none")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_duration(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def parse_count(text: str) -> int | None:
    if text.strip().lower() in ("none", "off", ""):
        return None
    try:
        n = int(text)
    except ValueError:
        raise BadInput(f"max-count {text!r}: use a positive integer, or none") from None
    if n < 1:
        raise BadInput(f"max-count {text!r}: use a positive integer, or none")
    return n


# ----------------------------------------------------------------------------- the engine read path

RECHECK = 0.2  # seconds between reloads of the lifecycle rules (max-age moves with the clock)


class Hider:
    """Hides events of deleted, truncated, max-count and max-age streams on ``engine.view``.

    The store's reads already leave them out; this covers readers that fetch rows themselves and
    pass them through ``engine.view`` (the TUI). Rules are reloaded after this process changes
    them and at most every RECHECK seconds otherwise.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._keep: Callable[[tuple], bool] | None = None
        self._loaded_at = float("-inf")
        self._changes = -1

    def keep_fn(self) -> Callable[[tuple], bool] | None:
        now = time.monotonic()
        changes = getattr(self.store, "lifecycle_changes", 0)
        if changes != self._changes or now - self._loaded_at >= RECHECK:
            self._keep = self.store.visible_filter()
            self._loaded_at, self._changes = now, changes
        return self._keep

    def __call__(self, rec: RecordedEvent) -> RecordedEvent | None:
        keep = self.keep_fn()
        if keep is None or keep((rec.position, rec.event_id, rec.stream_id, rec.version, rec.type, None, None,
                                 rec.recorded_at)):
            return rec
        return None


def install(engine: Any, options: dict[str, Any]) -> None:
    """Hide what deletions and truncations released from records callers fetch themselves.

    The store's own reads leave those events out already, so replays pay nothing for this.
    """
    if hasattr(engine.store, "visible_filter"):
        engine.raw_filters.append(Hider(engine.store))
