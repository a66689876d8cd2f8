"""Parameter types the commands share, so a number means the same everywhere and bad input is
refused where it is parsed (exit 2, naming the option), never deep in SQLite or ``time.sleep``.

- :data:`LARGEST`: the largest position, version, count or id evsh accepts. SQLite integers are
  64-bit; evsh stays below 2^62 so that "one more" (the next version, a cursor) still fits.
- :class:`Count`: a whole number from ``min`` up to :data:`LARGEST`.
- :class:`Seconds`: a finite duration within bounds: nan, inf, -1 or 1e308 would otherwise be
  taken, and then mean "no wait" (SQLite turns the busy timeout into whole milliseconds in a C
  int) or an OverflowError.
"""

from __future__ import annotations

import math
import re
from typing import Any

import click

from ..store.lines import LARGEST
DAY = 86_400.0


def whole_number(value: Any, lowest: int = 0) -> int:
    """A position, version, count or id as written (``12``, ``+3``, `` 7``) from ``lowest`` to
    :data:`LARGEST`, or ValueError saying why: the one reading of such numbers, for options
    and for script lines alike (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(f"{text!r} is not a whole number")
        if len(text.lstrip("+-")) > 30:  # also beyond int()'s own digit limit
            raise ValueError(f"{text[:40]}... is too large: the largest is {LARGEST} (2^62)")
        number = int(text, 10)
    if number < lowest:
        raise ValueError(f"{number} is below {lowest}")
    if number > LARGEST:
        raise ValueError(f"{number} is too large: the largest is {LARGEST} (2^62)")
    return number


class Count(click.ParamType):
    """A position, version, count or id: a whole number from ``min`` to :data:`LARGEST`."""

    name = "integer"

    def __init__(self, min: int = 0) -> None:
        self.min = min

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return whole_number(value, self.min)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


    def __repr__(self) -> str:
        return f"Count(min={self.min})"


class Seconds(click.ParamType):
    """A duration in seconds (or another ``unit``): a finite number from ``min`` to ``max``
    (default a day)."""

    name = "seconds"

    def __init__(self, min: float = 0.0, max: float = DAY, unit: str = "seconds") -> None:
        self.min = min
        self.max = max
        self.unit = self.name = unit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = check_seconds(value, self.min, self.max, self.unit)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return seconds

    def __repr__(self) -> str:
        return f"Seconds({self.min}, {self.max}, {self.unit!r})"


def check_seconds(value: Any, low: float = 0.0, high: float = DAY, unit: str = "seconds") -> float:
    """``value`` as seconds (or ``unit``) within [low, high]; ValueError saying what is wrong
    otherwise. Shared by options and the project config (``busy_timeout``)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number of {unit}")
    try:
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of {unit}") from None
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite number of {unit}")
    if not low <= seconds <= high:
        raise ValueError(f"{value!r} {unit} is out of range: give {low:g} to {high:g}")
    return seconds
