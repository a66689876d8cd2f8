"""Command execution: load -> decide -> append, retry on conflict, time travel, metadata,
and the one read path every front end uses."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from evsh import BadInput, CommandRejected, ConcurrencyError, NewEvent
from evsh.store.base import NO_STREAM

ITEMS = [{"product_id": "p1", "quantity": 2, "unit_price": "9.50"}]


@pytest.fixture
def engine(db_path, shop):
    """The engine on its own: the shop's reactors wait for a worker instead of following each
    command inline, so what a test sees is what load -> decide -> append did."""
    from evsh import open_store
    from evsh.engine.wiring import build_engine

    store = open_store(db_path)
    yield build_engine(store, shop, mode="async")
    store.close()


class Interfering:
    """A store that lets another writer get in before each of the engine's next ``times`` appends."""

    def __init__(self, store, times: int, action) -> None:
        self.inner, self.times, self.action = store, times, action
        self.appends = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def append(self, *args, **kwargs):
        self.appends += 1
        if self.times > 0:
            self.times -= 1
            self.action()
        return self.inner.append(*args, **kwargs)


def create_order(engine, oid: str = "o1", **kw):
    return engine.execute("order", oid, "create", {"customer_id": "c1", "items": ITEMS}, **kw)


# ----------------------------------------------------------------------------- load, decide, append

def test_execute_appends_the_decided_events_to_the_aggregates_stream(engine):
    out = create_order(engine)
    assert out.outcome == "ok" and out.stream_id == "order-o1" and out.version == 1
    (rec,) = out.events
    assert rec.type == "OrderCreated" and rec.version == 1
    assert rec.data["total_amount"] == "19.00"
    assert [e.event_id for e in engine.read_stream("order-o1")] == [rec.event_id]


def test_load_replays_the_stream_into_state(engine):
    create_order(engine)
    engine.execute("order", "o1", "confirm")
    agg = engine.load("order", "o1")
    assert agg.version == 2 and agg.status == "confirmed" and agg.total_amount == Decimal("19.00")


def test_the_state_after_a_command_equals_the_state_replayed_from_the_store(engine):
    agg_cls = engine.domain.aggregate("inventory")
    engine.execute("inventory", "p1", "add_stock", {"quantity": 10})
    live = engine.load(agg_cls, "p1")
    spec = agg_cls.find_command("reserve")
    engine.decide(live, spec, spec.bind({"order_id": "o1", "quantity": "3"}))
    engine.execute("inventory", "p1", "reserve", {"order_id": "o1", "quantity": 3})
    assert engine.load(agg_cls, "p1").state() == live.state()


def test_the_append_expects_the_loaded_version(engine, monkeypatch):
    seen = []
    real = engine.store.append

    def spy(stream_id, events, expected_version="any", **kw):
        seen.append(expected_version)
        return real(stream_id, events, expected_version, **kw)

    monkeypatch.setattr(engine.store, "append", spy)
    create_order(engine)
    engine.execute("order", "o1", "confirm")
    assert seen == [NO_STREAM, 1]


# ----------------------------------------------------------------------------- conflicts and retries

def test_a_writer_in_between_makes_the_command_retry_against_fresh_state(engine):
    store = engine.store
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})

    def other_reserves():
        # another process reserves 3 of the 5 units between our load and our append
        agg = engine.load("inventory", "p1")
        data = {"product_id": "p1", "order_id": "other", "quantity": 3}
        store.append("inventory-p1", [NewEvent("InventoryReserved", data)], agg.version)

    engine.store = Interfering(store, 1, other_reserves)
    out = engine.execute("inventory", "p1", "reserve", {"order_id": "mine", "quantity": 4})
    assert out.attempts == 2
    # the business rule was checked again against the fresh state: only 2 are left now
    assert [e.type for e in out.events] == ["InventoryReservationFailed"]
    assert out.events[0].data == {"product_id": "p1", "order_id": "mine", "requested": 4, "available": 2}
    assert [e.version for e in store.read_stream("inventory-p1")] == [1, 2, 3]


def test_a_retry_can_turn_into_a_rejection(engine):
    store = engine.store
    create_order(engine)

    def other_cancels():
        store.append("order-o1", [NewEvent("OrderCancelled", {"order_id": "o1", "reason": "r"})], 1)

    engine.store = Interfering(store, 1, other_cancels)
    with pytest.raises(CommandRejected, match="cancelled"):
        engine.execute("order", "o1", "confirm")
    assert [e.type for e in store.read_stream("order-o1")] == ["OrderCreated", "OrderCancelled"]


def test_a_conflict_that_remains_after_the_retries_is_raised_and_writes_nothing_of_ours(engine):
    store = engine.store
    engine.execute("inventory", "p1", "add_stock", {"quantity": 5})

    def other_adds():
        store.append("inventory-p1", [NewEvent("StockAdded", {"product_id": "p1", "quantity": 1})])

    engine.retries = 2
    proxy = Interfering(store, 100, other_adds)
    engine.store = proxy
    outcomes = []
    engine.command_listeners.append(outcomes.append)
    with pytest.raises(ConcurrencyError) as info:
        engine.execute("inventory", "p1", "reserve", {"order_id": "o1", "quantity": 1})
    assert info.value.stream_id == "inventory-p1"
    assert proxy.appends == 3  # one try and two retries
    assert [e.type for e in store.read_stream("inventory-p1")] == ["StockAdded"] * 4
    assert outcomes[-1].outcome == "error" and outcomes[-1].attempts == 3


def test_no_retries_means_one_attempt(engine):
    store = engine.store
    create_order(engine)
    engine.retries = 0
    proxy = Interfering(store, 1, lambda: store.append("order-o1", [NewEvent("Noted", {})]))
    engine.store = proxy
    with pytest.raises(ConcurrencyError):
        engine.execute("order", "o1", "confirm")
    assert proxy.appends == 1


def test_retries_come_from_the_engine_options(engine, db_path, shop):
    from evsh.engine.wiring import build_engine

    assert build_engine(engine.store, shop, retries=7).retries == 7
    assert engine.retries >= 1


# ----------------------------------------------------------------------------- metadata

def test_metadata_records_command_correlation_causation_and_schema_version(engine):
    out = create_order(engine)
    meta = out.events[0].metadata
    assert meta["command"] == "order.create"
    assert meta["correlation_id"] == out.correlation_id == out.command_id
    assert meta["causation_id"] == out.command_id
    assert meta["schema_version"] == 1
    assert "actor" not in meta
    uuid.UUID(meta["correlation_id"])


def test_a_passed_correlation_id_is_kept_and_an_actor_recorded(engine):
    out = create_order(engine, correlation_id="corr-42", causation_id="event-7", actor="alice")
    meta = out.events[0].metadata
    assert meta["correlation_id"] == "corr-42"
    assert meta["causation_id"] == "event-7"
    assert meta["actor"] == "alice"


def test_free_metadata_keys_are_kept_but_cannot_override_the_recorded_command(engine):
    out = create_order(engine, metadata={"source": "test", "command": "forged"})
    meta = out.events[0].metadata
    assert meta["source"] == "test"
    assert meta["command"] == "order.create"


def test_each_command_starts_its_own_correlation(engine):
    engine.execute("inventory", "p1", "add_stock", {"quantity": 1})
    engine.execute("inventory", "p1", "add_stock", {"quantity": 1})
    a, b = [e.metadata for e in engine.read_stream("inventory-p1")]
    assert a["correlation_id"] != b["correlation_id"]


def test_raw_appends_get_default_metadata(engine):
    eid = str(uuid.uuid4())
    res = engine.append("note-1", "Noted", {"x": 1}, event_id=eid, metadata={"k": "v"})
    meta = res.events[0].metadata
    assert meta["k"] == "v" and meta["schema_version"] == 1
    assert meta["correlation_id"] == eid and meta["causation_id"] == eid


def test_command_listeners_see_ok_and_rejected_outcomes(engine):
    seen = []
    engine.command_listeners.append(seen.append)
    create_order(engine)
    with pytest.raises(CommandRejected):
        create_order(engine)
    assert [(o.name, o.outcome) for o in seen] == [("order.create", "ok"), ("order.create", "rejected")]
    assert "already exists" in seen[1].reason


def test_append_hooks_run_with_the_commands_events(engine):
    seen = []
    engine.append_hooks.append(lambda tx, recs: seen.extend(r.type for r in recs))
    create_order(engine)
    assert seen == ["OrderCreated"]


# ----------------------------------------------------------------------------- time travel

def test_state_at_any_past_version(engine):
    create_order(engine)
    engine.execute("order", "o1", "cancel", {"reason": "changed my mind"})
    assert engine.load("order", "o1", 0).status == "new"
    v1 = engine.load("order", "o1", 1)
    assert (v1.version, v1.status) == (1, "created")
    v2 = engine.load("order", "o1", 2)
    assert (v2.status, v2.cancel_reason) == ("cancelled", "changed my mind")
    assert engine.load("order", "o1").state() == v2.state()


def test_time_travel_beyond_the_stream_or_below_zero_is_bad_input(engine):
    create_order(engine)
    with pytest.raises(BadInput, match="version 5 does not exist"):
        engine.load("order", "o1", 5)
    with pytest.raises(BadInput):
        engine.load("order", "o1", -1)


def test_loading_an_aggregate_that_does_not_exist_gives_its_initial_state(engine):
    agg = engine.load("order", "nobody")
    assert agg.version == 0 and agg.status == "new"


@pytest.mark.parametrize("bad_id", ["", "a\nb", "tab\t"])
def test_bad_aggregate_ids_are_bad_input(engine, bad_id):
    with pytest.raises(BadInput):
        engine.execute("order", bad_id, "confirm")
    with pytest.raises(BadInput):
        engine.load("order", bad_id)


# ----------------------------------------------------------------------------- one read path

def test_read_transforms_apply_to_stream_reads_the_log_and_loading(engine):
    create_order(engine)
    create_order(engine, "o2")

    def rename_customer(rec):
        if rec.type == "OrderCreated":
            return rec._replace(data={**rec.data, "customer_id": "seen-through-transform"})
        return rec

    def hide_o2(rec):
        return None if rec.stream_id == "order-o2" else rec

    engine.transforms.extend([rename_customer, hide_o2])
    assert [e.data["customer_id"] for e in engine.read_stream("order-o1")] == ["seen-through-transform"]
    assert [e.stream_id for e in engine.read_all()] == ["order-o1"]
    assert engine.load("order", "o1").customer_id == "seen-through-transform"
    assert list(engine.read_stream("order-o2")) == []


def test_the_cli_reads_through_the_engine(cli, monkeypatch):
    from evsh.engine import wiring

    assert cli("append", "a-1", "Noted", '{"secret": "x"}').exit_code == 0

    def install(engine, options):
        engine.transforms.append(lambda rec: rec._replace(data={"secret": "hidden"}))

    import types
    import sys

    mod = types.ModuleType("evsh_test_transform")
    mod.install = install
    monkeypatch.setitem(sys.modules, "evsh_test_transform", mod)
    monkeypatch.setattr(wiring, "INSTALLERS", [*wiring.INSTALLERS, ("evsh_test_transform:install", False)])
    for args in (("read", "a-1", "--json"), ("log", "--json")):
        r = cli(*args)
        assert r.exit_code == 0, r.stderr
        assert "hidden" in r.stdout and '"x"' not in r.stdout


def test_engine_append_refuses_reserved_stream_names(engine):
    with pytest.raises(BadInput, match="reserved"):
        engine.append("$system", "Noted", {})
    assert engine.store.head_position() == 0


def test_an_engine_without_a_domain_cannot_run_commands(engine):
    engine.domain = None
    with pytest.raises(BadInput, match="domain"):
        engine.execute("order", "o1", "confirm")
