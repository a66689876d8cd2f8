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
