"""The payload codec: exact and fast.

orjson is the fast path (about 13x faster than json at encoding, 2x at decoding here), but it is
not exact for everything: it refuses integers beyond 64 bits and reads them back as floats.
Whatever orjson refuses is written by the standard json module instead, and such a text is
marked with one leading space (valid JSON, and something orjson never produces) so that it is
read back by json too. Decimals are not JSON numbers: typed events store them as strings and
their type hints turn them back into Decimals (see evsh.domain.types).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from ..errors import BadInput

_SLOW_MARK = " "
# What a stored text starts with when only the exact decoder may read it (as str or as bytes).
EXACT_MARKS = (_SLOW_MARK, _SLOW_MARK.encode())
# orjson's decoder, for texts without the mark (callers decoding many rows check the mark themselves).
fast_loads = orjson.loads


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_default(value: Any) -> Any:
    return _default(value)


def _non_finite(value: Any) -> bool:
    if type(value) is float:
        return value != value or value in (_INF, -_INF)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    return False


_INF = float("inf")


def dumps(value: Any) -> str:
    """Encode a JSON-able value to text exactly (big integers included).

    NaN and infinities are refused: orjson would silently write them as null.
    """
    try:
        text = orjson.dumps(value, default=_default)
    except TypeError as exc:
        if "surrogates" in str(exc):
            raise BadInput("text holds a lone surrogate, which is not valid Unicode; fix the text's encoding") from None
        try:
            return _SLOW_MARK + json.dumps(
                value, ensure_ascii=False, separators=(",", ":"), default=_json_default, allow_nan=False
            )
        except ValueError:
            raise BadInput("NaN and infinite numbers cannot be stored in JSON") from None
    # find, not ``in``: bytes' ``in`` tries the operand as an int first and pays for a TypeError
    if text.find(b"null") != -1 and _non_finite(value):
        raise BadInput("NaN and infinite numbers cannot be stored in JSON")
    return text.decode()


def loads(text: str | bytes) -> Any:
    """Decode a text written by :func:`dumps`."""
    if text[:1] in EXACT_MARKS:
        return json.loads(text)
    return orjson.loads(text)


def parse(text: str | bytes) -> Any:
    """Decode JSON from outside (the command line, an import file) exactly.

    Raises ValueError with orjson's or json's message when the text is not JSON.
    """
    value = orjson.loads(text)
    if _has_huge_float(value):  # orjson read an integer beyond 64 bits as a float: re-read exactly
        return json.loads(text, parse_constant=_refuse_constant)
    return value


def _has_huge_float(value: Any) -> bool:
    """True when a float of magnitude >= 2**63 is inside (where orjson may have rounded an integer).

    A walk over the parsed value costs about a third of a regular expression over the text.
    """
    t = type(value)
    if t is float:
        return not -9.2e18 < value < 9.2e18
    if t is dict:
        value = value.values()
    elif t is not list:
        return False
    for v in value:
        tv = type(v)
        if (tv is float or tv is dict or tv is list) and _has_huge_float(v):
            return True
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
