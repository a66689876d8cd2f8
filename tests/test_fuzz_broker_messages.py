"""Hostile broker messages: whatever a broker hands over (ids, headers, bodies of any shape or
encoding), decoding it raises only BadMessage, and the inbox dead-letters it with a one-line
reason and writes no event. No broker is needed: messages are made here, mutated from what a
relay writes, and fed to the function the AMQP and NATS consumers call for a batch."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from evsh import NewEvent, build_engine, open_store
from evsh.broker.consume import Consumer, Delivery
from evsh.broker.inbox import Inbox
from evsh.broker.message import HEADERS, H_TYPE, decode, encode
from evsh.errors import BadMessage

EID = "0190f3a4-1b2c-7d3e-8f40-123456789abc"


def _valid(tmp_path_factory) -> tuple[str, dict, bytes, str]:
    src = str(tmp_path_factory.mktemp("src") / "src.db")
    open_store(src).append("inventory-p1", [NewEvent("StockAdded", {"product_id": "p1", "quantity": 5})])
    m = encode(list(open_store(src).read_all())[0], "src")
    return m.message_id, dict(m.headers), m.body, m.type


HUGE = st.sampled_from([2**64, 2**70, -(2**63) - 1, 10**5000, -1, 0, True, 1.5, float("nan"), float("inf")])
NASTY_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\x00", "\u202e", "\x1b[2J", "a\nb", "\u009b", "\ud800", "inventory-p1\x00",
                     "../../etc", "x" * 5000, "1e999999", "0x10", "٣", "+1", " 1", "1_0"]),
)
NASTY_BYTES = st.one_of(st.binary(max_size=30),
                        st.sampled_from([b"\xff\xfe", b"\x00", b"\xc3\x28", b"\xed\xa0\x80", b"1", b""]))
VALUE = st.one_of(NASTY_TEXT, NASTY_BYTES, HUGE, st.none(), st.lists(st.integers(), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([10**30, -(10**30), 2**64]),
              st.floats(allow_nan=False), NASTY_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NASTY_TEXT, inner, max_size=3)),
    max_leaves=8,
)
FIELDS = ("event_id", "stream_id", "version", "type", "data", "metadata", "recorded_at", "position",
          "schema_version", "extra")


@st.composite
def hostile(draw, base):
    """A message as a relay writes it, then broken in a few drawn ways."""
    mid0, headers, body, mtype = base
    mid = mid0
    headers = dict(headers)
    obj = json.loads(body)
    raw_body: bytes | str | None = None
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["id", "header", "drop", "headers", "field", "dropfield", "body",
                                     "type", "keys"]))
        if kind == "id":
            mid = draw(st.one_of(VALUE, st.just(EID), st.just(mid0.upper()), st.just(mid0.encode())))
        elif kind == "header":
            headers = headers if isinstance(headers, dict) else {}
            headers[draw(st.sampled_from((*HEADERS, H_TYPE)))] = draw(VALUE)
        elif kind == "drop":
            headers.pop(draw(st.sampled_from(HEADERS)), None) if isinstance(headers, dict) else None
        elif kind == "headers":
            headers = draw(st.sampled_from([None, {}, [("evsh-version", "1")], "evsh-version"]))
        elif kind == "keys" and isinstance(headers, dict):
            headers = {(k.encode() if draw(st.booleans()) else k.upper()) if isinstance(k, str) else k: v
                       for k, v in (headers or {}).items()}
        elif kind == "field":
            obj[draw(st.sampled_from(FIELDS))] = draw(JSONISH)
        elif kind == "dropfield":
            obj.pop(draw(st.sampled_from(FIELDS)), None)
        elif kind == "type":
            mtype = draw(st.one_of(st.none(), VALUE))
        else:
            raw_body = draw(st.one_of(
                NASTY_BYTES, st.none(), st.integers(), st.just(bytearray(body)), st.just(memoryview(body)), NASTY_TEXT, st.just(b"[]"), st.just(b"null"), st.just(b'{"position": 1}'),
                st.just(body + b"\x00"), st.just(body[:-1]), st.just(body.replace(b'"p1"', b'"p\xff"')),
                st.just(body.replace(b'"quantity":5', b'"quantity":' + b"9" * 5000)),
                st.just(body.replace(b'"quantity":5', b'"quantity":1e999999')),
                st.just(body.replace(b'"quantity":5', b'"quantity":NaN')),
                st.just(json.dumps([obj]).encode()), st.just(json.dumps(obj).encode("utf-16"))))
    if raw_body is None:
        raw_body = json.dumps(obj).encode("utf-8", "surrogatepass")
    return mid, headers, raw_body, mtype


_BASE: list = []


def _base(tmp_path_factory):
    if not _BASE:
        _BASE.append(_valid(tmp_path_factory))
    return _BASE[0]


def test_decode_raises_only_bad_message(tmp_path_factory):
    base = _base(tmp_path_factory)

    @settings(max_examples=max(300, settings().max_examples))  # decoding is cheap: look harder
    @given(hostile(base))
    def check(msg):
        mid, headers, body, mtype = msg
        try:
            decode(mid, headers, body, message_type=mtype)
        except BadMessage as exc:
            text = str(exc)
            assert text and "\n" not in text and "Traceback" not in text, text

    check()


def test_the_inbox_dead_letters_a_bad_message_with_one_line_and_writes_no_event(tmp_path_factory):
    base = _base(tmp_path_factory)
    seen = [0]

    @given(st.lists(hostile(base), min_size=1, max_size=3))
    def check(msgs):
        seen[0] += 1
        db = str(tmp_path_factory.mktemp("inbox") / "replica.db")
        store = open_store(db)
        consumer = Consumer(Inbox(build_engine(store, None), "fuzz"), hold=0)
        outcomes = []
        for mid, headers, body, mtype in msgs:
            try:
                decode(mid, headers, body, message_type=mtype)
                good = True
            except BadMessage:
                good = False
            before = len(list(open_store(db).read_all()))
            consumer.receive([Delivery(mid, headers, body, mtype)])
            after = len(list(open_store(db).read_all()))
            outcomes.append((good, before, after))
            if not good:
                assert after == before, "a bad message wrote an event"
        dead = open_store(db)
        from evsh.engine.reactors import records

        rows = records.dead_letters(dead, reactor="consumer:fuzz")
        for row in rows:
            reason = str(row["error"])
            assert "\n" not in reason and "Traceback" not in reason, reason
        bad = sum(1 for g, _, _ in outcomes if not g)
        assert consumer.counts.dead_lettered + consumer.counts.duplicates + consumer.counts.handled \
            + consumer.counts.held >= bad

    check()


def test_what_the_fuzzing_found_is_one_line_in_the_dead_letters(tmp_path_factory):
    """Regressions: a header or id of 5,000 digits (str() refuses it: ValueError), lone
    surrogates in an id, a header or the type (SQLite cannot store them: UnicodeEncodeError),
    a body or headers of the wrong type (TypeError/AttributeError) all escaped the inbox."""
    mid, headers, body, mtype = _base(tmp_path_factory)
    cases = [
        (mid, {**headers, "evsh-version": 10**5000}, body, mtype, "more than 64"),
        (10**5000, headers, body, mtype, "more than 64"),
        ("junk", {**headers, "evsh-stream-id": "\ud800"}, b"{", mtype, "not UTF-8"),
        ("junk", headers, b"{", "\ud800", "not UTF-8"),
        ("\ud800", headers, body, mtype, "not UTF-8"),
        ("junk", headers, b"{", 5, "not JSON"),
        (mid, headers, None, mtype, "must be bytes"),
        (mid, [("a", 1)], body, mtype, "must be a table"),
    ]
    db = str(tmp_path_factory.mktemp("regress") / "replica.db")
    consumer = Consumer(Inbox(build_engine(open_store(db), None), "fuzz"), hold=0)
    for mid_, heads, body_, type_, words in cases:
        settled = consumer.receive([Delivery(mid_, heads, body_, type_)])
        assert len(settled) == 1 and words in consumer.counts.last_reason, consumer.counts.last_reason
    from evsh.engine.reactors import records

    assert consumer.counts.dead_lettered == len(cases)
    assert all("\n" not in r["error"] for r in records.dead_letters(open_store(db), reactor="consumer:fuzz"))
    assert list(open_store(db).read_all()) == []
