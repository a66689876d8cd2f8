"""The decoder compiled for a dataclass gives what the general one gives: the same instance (the
same attributes, in the same order, ``__post_init__`` run) or the same error, for any JSON value."""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, InitVar, dataclass, field
from decimal import Decimal
from enum import Enum
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsh.domain.constructors import builds_directly
from evsh.domain.types import decoder
from evsh.errors import BadInput


class Size(Enum):
    S = "s"
    L = "l"


@dataclass(frozen=True)
class Item:
    product_id: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Placed:
    order_id: str
    items: tuple[Item, ...]
    total: Decimal
    size: Size
    gift: bool
    note: str | None = None


@dataclass
class Plain:
    a: int
    _: KW_ONLY
    b: str
    c: float = 0.5


SEEN: list = []


@dataclass(frozen=True)
class Checked:
    n: int

    def __post_init__(self) -> None:
        SEEN.append(self.n)
        if self.n < 0:
            raise BadInput("n must not be negative")


@dataclass(frozen=True)
class OwnInit:
    n: int

    def __init__(self, n: int) -> None:
        object.__setattr__(self, "n", n * 2)


@dataclass(frozen=True, slots=True)
class Slotted:
    x: str
    y: int


@dataclass
class WithHidden:
    x: int
    made: str = field(default="yes", init=False)
    limit: ClassVar[int] = 3


@dataclass
class WithInitVar:
    x: int
    scale: InitVar[int] = 1

    def __post_init__(self, scale: int) -> None:
        self.x *= scale


SET: list = []


@dataclass
class Watched:
    x: int

    def __setattr__(self, name, value) -> None:
        SET.append(name)
        object.__setattr__(self, name, value)


CLASSES = [Item, Placed, Plain, Checked, OwnInit, Slotted, WithHidden, WithInitVar, Watched]

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
                         st.sampled_from(["", "p1", "2.50", "s", "L", "x\ud800", "NaN"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["product_id", "quantity", "unit_price", "z"]), inner, max_size=3)),
    max_leaves=6)


def valid_item():
    return st.fixed_dictionaries({"product_id": st.sampled_from(["p1", "p2"]), "quantity": st.integers(-2, 5),
                                  "unit_price": st.sampled_from(["1.5", "2", 3, "x"])})


def payloads(cls):
    """Objects with the class's fields, most of them right, some missing, wrong or extra."""
    names = [f.name for f in dataclasses.fields(cls)] + ["extra"]
    good = {"product_id": st.just("p1"), "quantity": st.integers(0, 3), "unit_price": st.just("1.25"),
            "order_id": st.just("o1"), "items": st.lists(valid_item(), max_size=2), "total": st.just("9.5"),
            "size": st.sampled_from(["s", "L", "m"]), "gift": st.booleans(), "note": st.one_of(st.none(), st.just("hi")),
            "a": st.integers(), "b": st.just("b"), "c": st.floats(-1, 1), "n": st.integers(-1, 3), "x": st.integers(0, 3),
            "y": st.integers(), "made": st.just("no"), "scale": st.integers(1, 3), "extra": json_values}
    field_value = {n: st.one_of(good.get(n, json_values), json_values) if n != "extra" else json_values for n in names}
    return st.one_of(
        st.fixed_dictionaries({n: good.get(n, json_values) for n in names if n != "extra"}),
        st.fixed_dictionaries({}, optional=field_value),
        json_values,
    )


def outcome(dec, value):
    SEEN.clear()
    try:
        out = dec(value, "Ev")
    except Exception as exc:  # noqa: BLE001 - the comparison is of whatever comes out
        return ("error", type(exc), str(exc), list(SEEN))
    state = list(vars(out).items()) if hasattr(out, "__dict__") else [(f.name, getattr(out, f.name)) for f in dataclasses.fields(out)]
    return ("value", type(out), state, out, list(SEEN))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@given(data=st.data())
def test_compiled_equals_general(cls, data):
    dec = decoder(cls)
    assert dec.general is not dec
    value = data.draw(payloads(cls))
    assert outcome(dec, value) == outcome(dec.general, value)


def test_an_instance_is_built_directly_only_when_calling_the_class_would_only_store_fields():
    assert builds_directly(Item) and builds_directly(Placed) and builds_directly(Plain)
    for cls in (Checked, OwnInit, Slotted, WithHidden, WithInitVar, Watched):
        assert not builds_directly(cls), cls


def test_a_custom_setattr_still_sees_every_field():
    SET.clear()
    assert decoder(Watched)({"x": 1}, "W").x == 1
    assert SET == ["x"]


def test_the_compiled_path_reports_the_general_errors():
    dec = decoder(Placed)
    good = {"order_id": "o1", "items": [{"product_id": "p", "quantity": 1, "unit_price": "2"}], "total": "2",
            "size": "s", "gift": False, "note": None}
    assert dec(good, "Placed").items == (Item("p", 1, Decimal("2")),)
    with pytest.raises(BadInput, match=r"Placed\.items\[0\]\.quantity: expected an integer, got str '1'"):
        dec({**good, "items": [{"product_id": "p", "quantity": "1", "unit_price": "2"}]}, "Placed")
    with pytest.raises(BadInput, match=r"^total: expected a decimal number"):
        dec({**good, "total": "x"}, "")


GOOD_PLACED = {"order_id": "o1", "items": [], "total": "2", "size": "s", "gift": True, "note": None}


@pytest.mark.parametrize("value", [
    {**GOOD_PLACED, "order_id": "x\ud800"},  # text as stored: kept as the general decoder keeps it
    {**GOOD_PLACED, "gift": 1},  # an int is not a bool
    {**GOOD_PLACED, "size": "L"},  # an enum by name
    {**GOOD_PLACED, "total": 2.5},
    {k: v for k, v in GOOD_PLACED.items() if k != "note"},
    {k: v for k, v in GOOD_PLACED.items() if k != "order_id"},
    {**{k: v for k, v in GOOD_PLACED.items() if k != "note"}, "other": 1},
    {**GOOD_PLACED, "order_id": 5, "total": "x"},  # the first field's error, as the general decoder
])
def test_edge_payloads_equal_general(value):
    dec = decoder(Placed)
    assert outcome(dec, value) == outcome(dec.general, value)


@dataclass(frozen=True)
class Reordered:
    a: int
    b: str

    def __init__(self, b: str, a: int) -> None:  # its own parameter order: called by keyword
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)


def test_a_hand_written_init_is_called_by_keyword():
    got = decoder(Reordered)({"a": 1, "b": "x"}, "R")
    assert (got.a, got.b) == (1, "x")
