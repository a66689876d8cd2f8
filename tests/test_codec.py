"""The payload codec: every payload round-trips exactly, big integers and Decimals included."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsh.errors import BadInput
from evsh.store import codec

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: well beyond 64 bits
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


def same(a, b) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True must not pass)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


@given(json_values)
def test_dumps_then_loads_is_exact(value):
    back = codec.loads(codec.dumps(value))
    assert same(back, value)


@given(json_values)
def test_parse_of_standard_json_text_is_exact(value):
    text = json.dumps(value)
    assert same(codec.parse(text), value)
    assert same(codec.parse(text.encode()), value)


@given(json_values)
def test_loads_accepts_bytes_and_text(value):
    text = codec.dumps(value)
    assert same(codec.loads(text.encode()), codec.loads(text))


@pytest.mark.parametrize(
    "n",
    [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**40), 2**200],
)
def test_integers_at_and_beyond_64_bits_stay_integers(n):
    value = {"n": n, "l": [n, {"m": n}]}
    back = codec.loads(codec.dumps(value))
    assert back == value and type(back["n"]) is int and type(back["l"][1]["m"]) is int
    parsed = codec.parse('{"n": %d}' % n)
    assert parsed == {"n": n} and type(parsed["n"]) is int


def test_the_fast_path_is_plain_json_and_the_exact_fallback_is_still_json():
    fast = codec.dumps({"a": 1})
    slow = codec.dumps({"a": 2**64})
    assert not fast.startswith(" ")
    assert slow.startswith(" ")
    assert json.loads(fast) == {"a": 1}
    assert json.loads(slow) == {"a": 2**64}


def test_long_digit_runs_inside_strings_do_not_confuse_parsing():
    text = '{"s": "12345678901234567890123", "n": 1}'
    assert codec.parse(text) == {"s": "12345678901234567890123", "n": 1}


def test_decimals_are_written_as_exact_strings():
    value = {"price": Decimal("0.10"), "big": Decimal("123456789012345678901234567890.000000001")}
    back = codec.loads(codec.dumps(value))
    assert back == {"price": "0.10", "big": "123456789012345678901234567890.000000001"}
    # the exact fallback path keeps Decimals exact too
    back = codec.loads(codec.dumps({**value, "huge": 2**65}))
    assert back["price"] == "0.10" and back["huge"] == 2**65


def test_floats_round_trip_bit_for_bit():
    for f in (0.1, 1e-300, 1.7976931348623157e308, -0.0, 5e-324):
        back = codec.loads(codec.dumps({"f": f}))["f"]
        assert back == f and repr(back) == repr(f)


def test_unicode_and_escapes_round_trip():
    value = {"s": "å∑ 😀 \u2028 \x00 \"quoted\" \\ / \n", "ключ": "значение"}
    assert codec.loads(codec.dumps(value)) == value


def test_tuples_and_sets_become_lists():
    assert codec.loads(codec.dumps({"t": (1, 2), "s": {3}})) == {"t": [1, 2], "s": [3]}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_are_refused_rather_than_written_as_null(bad):
    for value in ({"x": bad}, {"x": [1, {"y": bad}]}, {"x": bad, "big": 2**64}):
        with pytest.raises(BadInput, match="NaN"):
            codec.dumps(value)
    assert codec.dumps({"x": None}) == '{"x":null}'


def test_non_json_values_are_refused():
    with pytest.raises(TypeError):
        codec.dumps({"x": object()})


@pytest.mark.parametrize(
    "text", ["", "{", "{'a': 1}", '{"a": 1,}', "NaN", '{"a": NaN, "b": 123456789012345678901234}', "nul"]
)
def test_parse_refuses_what_is_not_json_with_a_value_error(text):
    with pytest.raises(ValueError):
        codec.parse(text)


# ----------------------------------------------------------------------------- typed payloads

from dataclasses import dataclass  # noqa: E402
from typing import Optional  # noqa: E402

from evsh.domain.model import event, event_spec  # noqa: E402


@dataclass(frozen=True)
class Line:
    sku: str
    qty: int
    price: Decimal


@event
class PricesRecorded:
    amount: Decimal
    big: int
    label: str
    lines: tuple[Line, ...]
    by_name: dict[str, Decimal]
    maybe: Optional[Decimal] = None


decimals = st.decimals(allow_nan=False, allow_infinity=False)
typed = st.builds(
    PricesRecorded,
    amount=decimals,
    big=st.integers(),
    label=st.text(),
    lines=st.lists(st.builds(Line, sku=st.text(max_size=5), qty=st.integers(), price=decimals), max_size=3).map(tuple),
    by_name=st.dictionaries(st.text(max_size=5), decimals, max_size=3),
    maybe=st.none() | decimals,
)


@given(typed)
def test_typed_payloads_round_trip_exactly_through_the_codec(value):
    spec = event_spec(PricesRecorded)
    back = spec.decode(codec.loads(codec.dumps(spec.encode(value))))
    assert back == value
    # Decimals keep their exact written form (trailing zeros, exponent, sign of zero)
    assert str(back.amount) == str(value.amount)
    assert [str(x.price) for x in back.lines] == [str(x.price) for x in value.lines]
    assert {k: str(v) for k, v in back.by_name.items()} == {k: str(v) for k, v in value.by_name.items()}
    assert type(back.big) is int and back.big == value.big


@pytest.mark.parametrize("text", ["1.10", "-0", "1E+2", "0.000000000000000000000000001", "12345678901234567890.123"])
def test_decimal_forms_survive_a_round_trip(text):
    value = PricesRecorded(Decimal(text), 2**80, "x", (), {})
    spec = event_spec(PricesRecorded)
    back = spec.decode(codec.loads(codec.dumps(spec.encode(value))))
    assert str(back.amount) == str(Decimal(text)) and back.amount.as_tuple() == Decimal(text).as_tuple()
