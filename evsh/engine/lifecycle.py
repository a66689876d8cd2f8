"""Stream lifecycle helpers: durations and counts as users type them.

The lifecycle itself (soft and hard delete, truncation, max-count and max-age honoured by every
read, scavenging) lives in the store, so that every reader (engine, export, TUI) gets the same
rules from one place; this module turns user input into those settings.
"""

from __future__ import annotations

import re

from ..errors import BadInput

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
