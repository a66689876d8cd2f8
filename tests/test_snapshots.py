"""Snapshots: loads use them, stale ones are ignored and replaced, snapshot + tail == full replay."""

from __future__ import annotations

import dataclasses
import enum
import json
import sqlite3
import textwrap
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from evsh import load_domain, open_store
from evsh.engine.snapshots import decode_value, encode_value, take_snapshot
from evsh.engine.wiring import build_engine

COUNTER = textwrap.dedent(
    '''
    from decimal import Decimal
    from evsh import Aggregate, applies, command, event

    @event
    class Counted:
        by: int

    class Counter(Aggregate):
        snapshot_every = 3
        state_version = STATE_VERSION
        total: int = 0
        history: list = []

        @command
        def count(self, by: int = 1):
            yield Counted(by)

        @applies
        def _counted(self, e: Counted) -> None:
            self.total += e.by
            self.history.append((e.by, Decimal(e.by) / 4))
    '''
)


def write_counter(tmp_path, state_version: int = 1) -> str:
    path = tmp_path / f"counter_v{state_version}.py"
    path.write_text(COUNTER.replace("STATE_VERSION", str(state_version)))
    return str(path)


def test_snapshot_command_and_listing(cli):
    assert cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "5").exit_code == 0
    assert cli("--domain", "shop", "exec", "inventory", "p1", "reserve", "--order-id", "o1", "--quantity", "2").exit_code == 0
    r = cli("--domain", "shop", "snapshot", "inventory", "p1")
    assert r.exit_code == 0, r.stderr
    assert "inventory-p1 at version 2" in r.stdout
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "1")
    rows = json.loads(cli("--domain", "shop", "snapshots", "--json").stdout)
    assert [(x["stream_id"], x["version"], x["behind"], x["current"]) for x in rows] == [("inventory-p1", 2, 1, "yes")]
    state = json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)
    assert state["on_hand"] == 6 and state["reserved"] == {"o1": 2} and state["version"] == 3


def test_snapshot_needs_events_and_a_known_aggregate(cli):
    assert cli("--domain", "shop", "snapshot", "order", "nope").exit_code == 4  # no store yet
    cli("init")
    r = cli("--domain", "shop", "snapshot", "order", "nope")
    assert r.exit_code == 2 and "no events" in r.stderr
    r = cli("--domain", "shop", "snapshot", "nosuch", "x")
    assert r.exit_code == 2 and "unknown aggregate" in r.stderr
    r = cli("--domain", "shop", "snapshot", "order")
    assert r.exit_code == 2


def test_loads_start_from_the_snapshot(cli, db_path):
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2")
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "3")
    cli("--domain", "shop", "snapshot", "inventory", "p1")
    # tamper with the snapshot: a load that uses it shows the tampered value
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE snapshots SET state = replace(state, '\"on_hand\":5', '\"on_hand\":500')")
    conn.commit()
    conn.close()
    state = json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)
    assert state["on_hand"] == 500
    # time travel before the snapshot's version replays from the start
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "1")
    state = json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--at-version", "1", "--json").stdout)
    assert state["on_hand"] == 2


def test_snapshot_every_and_state_version_change(tmp_path, db_path):
    store = open_store(db_path)
    v1 = load_domain(write_counter(tmp_path, 1))
    engine = build_engine(store, v1)
    for _ in range(7):
        engine.execute("counter", "c1", "count", {"by": 2})
    assert store.load_snapshot("counter-c1")[:2] == (6, 1)
    # the code's state version changes: the old snapshot is ignored, never misread
    conn = store.conn
    conn.execute("UPDATE snapshots SET state = replace(state, '\"total\":12', '\"total\":999')")
    v2 = load_domain(write_counter(tmp_path, 2))
    engine2 = build_engine(store, v2)
    assert engine2.load("counter", "c1").total == 14
    engine2.execute("counter", "c1", "count", {"by": 1})
    # ... and replaced by the next command (8 events since "no usable snapshot" >= 3)
    assert store.load_snapshot("counter-c1")[:2] == (8, 2)
    assert engine2.load("counter", "c1").total == 15
    store.close()


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclass(frozen=True)
class Box:
    label: str
    price: Decimal
    tags: frozenset


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=8),
    st.floats(allow_nan=False), st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(list(Colour)), st.datetimes(), st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.dictionaries(st.integers(), inner, max_size=3),
        st.frozensets(st.integers(), max_size=3),
        st.builds(Box, st.text(max_size=5), st.decimals(allow_nan=False, allow_infinity=False),
                  st.frozensets(st.text(max_size=3), max_size=2)),
    ),
    max_leaves=12,
)


@given(values)
def test_state_format_keeps_every_type_exactly(value):
    from evsh.store import codec

    back = decode_value(codec.loads(codec.dumps(encode_value(value))))
    assert back == value
    assert same_types(back, value)  # Decimal stays Decimal, tuple stays tuple, all the way down


def same_types(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_types(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_types(a[k], b[k]) for k in a) and \
            {(type(k), k) for k in a} == {(type(k), k) for k in b}
    if isinstance(a, (set, frozenset)):
        return {(type(x), x) for x in a} == {(type(x), x) for x in b}
    if dataclasses.is_dataclass(a):
        return all(same_types(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return True


# one step of a random history of the shop's inventory: (command, params)
inventory_steps = st.lists(
    st.one_of(
        st.tuples(st.just("add_stock"), st.fixed_dictionaries({"quantity": st.integers(1, 20)})),
        st.tuples(st.just("reserve"), st.fixed_dictionaries({"order_id": st.sampled_from("abcd"), "quantity": st.integers(1, 15)})),
        st.tuples(st.just("release"), st.fixed_dictionaries({"order_id": st.sampled_from("abcd")})),
    ),
    min_size=1,
    max_size=25,
)


@given(steps=inventory_steps, cut=st.integers(0, 25), every=st.integers(1, 5))
def test_snapshot_plus_tail_equals_full_replay(tmp_path_factory, steps, cut, every):
    from evsh import CommandRejected

    db = str(tmp_path_factory.mktemp("snap") / "s.db")
    shop = load_domain("shop")
    store = open_store(db)
    inventory = shop.aggregate("inventory")
    old_every = inventory.snapshot_every
    inventory.snapshot_every = every
    try:
        engine = build_engine(store, shop)
        plain = build_engine(store, shop, snapshots=False)
        for i, (name, params) in enumerate(steps):
            try:
                engine.execute(inventory, "p1", name, params)
            except CommandRejected:
                pass
            if i == cut:
                try:
                    take_snapshot(engine, inventory, "p1")
                except Exception:
                    pass  # no events yet
        if store.stream_version("inventory-p1") >= every:
            assert store.load_snapshot("inventory-p1") is not None  # snapshot_every took one
        full = plain.load(inventory, "p1")
        fast = engine.load(inventory, "p1")
        assert fast.state() == full.state()
        assert vars(fast) == vars(full)
        for v in range(full.version + 1):
            assert vars(engine.load(inventory, "p1", v)) == vars(plain.load(inventory, "p1", v))
    finally:
        inventory.snapshot_every = old_every
        store.close()


def test_order_snapshot_keeps_decimals_in_untyped_containers(engine):
    engine.execute("order", "o1", "create", {"customer_id": "c1", "items": [{"product_id": "p", "quantity": 1, "unit_price": "2.50"}]})
    take_snapshot(engine, engine.domain.aggregate("order"), "o1")
    agg = engine.load("order", "o1")
    assert agg.items[0]["unit_price"] == Decimal("2.50") and type(agg.items[0]["unit_price"]) is Decimal
    assert isinstance(agg.total_amount, Decimal)


def test_unsnapshottable_state_is_refused_clearly(tmp_path, db_path):
    path = tmp_path / "odd.py"
    path.write_text(textwrap.dedent('''
        from evsh import Aggregate, applies, command, event

        @event
        class Poked:
            n: int

        class Odd(Aggregate):
            thing: object = None

            @command
            def poke(self):
                yield Poked(1)

            @applies
            def _p(self, e: Poked) -> None:
                self.thing = object()
    '''))
    store = open_store(db_path)
    engine = build_engine(store, load_domain(str(path)))
    engine.execute("odd", "x", "poke")
    with pytest.raises(Exception) as info:
        take_snapshot(engine, engine.domain.aggregate("odd"), "x")
    assert "cannot be kept in a snapshot" in str(info.value)
    store.close()


def test_snapshot_all_streams_of_an_aggregate(cli):
    for p in ("p1", "p2", "p3"):
        cli("--domain", "shop", "exec", "inventory", p, "add-stock", "--quantity", "4")
    r = cli("--domain", "shop", "snapshot", "inventory", "--all")
    assert r.exit_code == 0 and "took 3 snapshots" in r.stdout
    rows = json.loads(cli("--domain", "shop", "snapshots", "inventory", "--json").stdout)
    assert [x["stream_id"] for x in rows] == ["inventory-p1", "inventory-p2", "inventory-p3"]
    assert json.loads(cli("--domain", "shop", "snapshots", "order", "--json").stdout) == []
