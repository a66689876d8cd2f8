"""Payloads come back exactly as written: through the codec, through the store, and through
typed events (Decimals, nested dataclasses, enums, empty collections), also via export/import."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evsh import NewEvent, event, open_store
from evsh.store import codec

# Text without lone surrogates: they are not Unicode scalar values and cannot be UTF-8.
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
big_ints = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 3, max_value=2**64 + 3),
    st.integers(min_value=-(2**63) - 3, max_value=-(2**63) + 3),
    st.integers(min_value=-(10**40), max_value=10**40),
)
scalars = st.one_of(st.none(), st.booleans(), big_ints, st.floats(allow_nan=False, allow_infinity=False), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=20,
)
payloads = st.dictionaries(text, json_values, max_size=5)


@given(payloads)
def test_codec_round_trip(value):
    assert _same(codec.loads(codec.dumps(value)), value)


@given(payloads)
def test_parse_reads_what_the_codec_writes(value):
    """Text from outside (the command line, an import file) is read as exactly."""
    assert _same(codec.parse(codec.dumps(value).lstrip()), value)


def _same(a, b) -> bool:
    """Equal, with the same types (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@given(st.lists(payloads, min_size=1, max_size=3), payloads)
def test_store_round_trip(tmp_path_factory, datas, metadata):
    path = str(tmp_path_factory.mktemp("codec") / "s.db")
    with open_store(path) as store:
        store.append("thing-1", [NewEvent("ThingHappened", d, metadata) for d in datas])
    with open_store(path, create=False) as store:
        got = list(store.read_stream("thing-1"))
    assert all(_same(r.data, d) for r, d in zip(got, datas)) and len(got) == len(datas)
    assert all(_same(r.metadata, metadata) for r in got)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "grün"


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class Box:
    label: str
    lines: tuple[Line, ...]
    tags: list[str]
    counts: dict[str, int]


@event
class BoxPacked:
    box: Box
    colour: Colour
    weight: Decimal
    total: Decimal
    note: str | None
    flags: list[bool]


decimals = st.decimals(allow_nan=False, allow_infinity=False)
lines = st.builds(Line, text, big_ints, decimals)
boxes = st.builds(
    Box, text, st.lists(lines, max_size=3).map(tuple), st.lists(text, max_size=3),
    st.dictionaries(text, big_ints, max_size=3),
)
packed = st.builds(
    BoxPacked, boxes, st.sampled_from(Colour), decimals, decimals, st.one_of(st.none(), text),
    st.lists(st.booleans(), max_size=3),
)


@given(packed)
def test_typed_event_round_trip(tmp_path_factory, ev):
    """Decimals keep their exact digits (1.10 stays 1.10, 1E+30 stays 1E+30)."""
    spec = BoxPacked.__evsh_event__
    path = str(tmp_path_factory.mktemp("typed") / "s.db")
    with open_store(path) as store:
        store.append("box-1", [NewEvent(spec.name, spec.encode(ev))])
        (rec,) = list(store.read_stream("box-1"))
    back = spec.decode(rec.data)
    assert back == ev
    assert str(back.weight) == str(ev.weight) and str(back.total) == str(ev.total)
    assert [str(a.price) for a in back.box.lines] == [str(b.price) for b in ev.box.lines]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(payloads, min_size=1, max_size=4))
def test_export_then_import_keeps_payloads(cli, tmp_path_factory, datas):
    folder = tmp_path_factory.mktemp("transfer")
    src, dst, dump = str(folder / "a.db"), str(folder / "b.db"), str(folder / "dump.jsonl")
    with open_store(src) as store:
        store.append("thing-1", [NewEvent("ThingHappened", d, {}, str(uuid.uuid4())) for d in datas])
    assert cli("export", "-o", dump, db=src).exit_code == 0
    assert cli("import", dump, db=dst).exit_code == 0
    with open_store(src) as a, open_store(dst) as b:
        left, right = list(a.read_all()), list(b.read_all())
    assert [(r.event_id, r.stream_id, r.version, r.type, r.recorded_at) for r in left] == [
        (r.event_id, r.stream_id, r.version, r.type, r.recorded_at) for r in right
    ]
    assert all(_same(x.data, y.data) and _same(x.metadata, y.metadata) for x, y in zip(left, right))


def test_lone_surrogates_are_refused_as_bad_input(tmp_path):
    """JSON may spell a lone surrogate (\\ud800); it is not UTF-8, so the store must refuse it
    as bad input and write nothing, rather than crash."""
    from evsh import BadInput

    with open_store(str(tmp_path / "s.db")) as store:
        with pytest.raises(BadInput):
            store.append("thing-1", [NewEvent("ThingHappened", {"t": "\ud800"})])
        assert store.head_position() == 0
    with pytest.raises(ValueError):  # and JSON text spelling one is refused when parsed
        codec.parse('{"t": "\\ud800"}')
