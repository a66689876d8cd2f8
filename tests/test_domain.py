"""Domain modules: events validated on write and read, the past-tense warning, command
parameters from signatures and type hints, and errors from the user's own code."""

from __future__ import annotations

import dataclasses
import enum
import textwrap
import json
import warnings
from decimal import Decimal

import pytest

from evsh import (
    BadInput,
    CommandRejected,
    DomainCodeError,
    DomainError,
    EventNameWarning,
    load_domain,
    open_store,
)
from evsh.domain.model import Aggregate, event
from evsh.engine.wiring import build_engine
from evsh.store.base import NewEvent

THINGS = '''
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Optional

from evsh import Aggregate, Rejected, applies, command, event


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Size(enum.IntEnum):
    S = 1
    M = 2


@dataclass(frozen=True)
class Street:
    name: str
    number: int


@dataclass(frozen=True)
class Address:
    city: str
    street: Street
    tags: list[str] = field(default_factory=list)


@event
class ThingMade:
    name: str
    count: int
    flag: bool
    price: Decimal
    color: Color
    numbers: list[int]
    scores: dict[str, int]
    address: Address
    note: Optional[str] = None


@event
class ThingRenamed:
    new_name: str


@event
class Exploded:
    why: str


class Thing(Aggregate):
    made: bool = False
    name: str = ""
    price: Decimal = Decimal("0")
    address: dict = {}

    @command
    def make(self, name: str, count: int, flag: bool, price: Decimal, color: Color, numbers: list[int],
             scores: dict[str, int], address: Address, note: Optional[str] = None, size: Size = Size.S):
        """Make a thing."""
        if self.made:
            raise Rejected("already made")
        yield ThingMade(name, count, flag, price, color, numbers, scores, address, note)

    @command
    def rename(self, new_name: str):
        yield ThingRenamed(new_name)

    @command
    def explode(self, divisor: int = 0):
        return Exploded(str(1 // divisor))  # MARK-COMMAND

    @command
    def emit_invalid(self):
        yield ThingRenamed(12345)

    @command
    def emit_foreign(self):
        yield {"not": "an event"}

    @command
    def blow_up_in_applier(self):
        yield Exploded("applier")

    @command
    def nothing(self):
        return None

    @applies
    def _made(self, e: ThingMade) -> None:
        self.made = True
        self.name = e.name
        self.price = e.price
        self.address = {"city": e.address.city}

    @applies
    def _renamed(self, e: ThingRenamed) -> None:
        self.name = e.new_name

    @applies
    def _exploded(self, e: Exploded) -> None:
        if e.why == "applier":
            raise KeyError("boom in applier")  # MARK-APPLIER


class OrderLine(Aggregate):
    qty: int = 0

    @command
    def set_qty(self, unit_count: int):
        yield LineQuantitySet(unit_count)

    @applies
    def _set(self, e: LineQuantitySet) -> None:
        self.qty = e.unit_count


@event
class LineQuantitySet:
    unit_count: int
'''

GOOD_TEXT = {
    "name": "widget",
    "count": "3",
    "flag": "yes",
    "price": "9.50",
    "color": "red",
    "numbers": "[1, 2, 3]",
    "scores": '{"a": 1, "b": 2}',
    "address": '{"city": "Oslo", "street": {"name": "Main", "number": 5}}',
}


def line_of(path, marker: str) -> int:
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if marker in line:
            return n
    raise AssertionError(marker)


@pytest.fixture
def things_file(tmp_path):
    path = tmp_path / "things.py"
    path.write_text(THINGS)
    return str(path)


@pytest.fixture
def things(things_file):
    return load_domain(things_file)


@pytest.fixture
def thing_engine(things, db_path):
    store = open_store(db_path)
    yield build_engine(store, things)
    store.close()


def make_spec(things):
    return things.aggregate("thing").find_command("make")


# ----------------------------------------------------------------------------- parameters

def test_parameters_come_from_the_signature_and_hints(things):
    params = {p.name: p for p in make_spec(things).params}
    assert list(params) == ["name", "count", "flag", "price", "color", "numbers", "scores", "address", "note", "size"]
    assert params["count"].hint is int and params["count"].required
    assert params["price"].hint is Decimal
    assert params["note"].required is False and params["note"].default is None
    assert params["size"].default == things.module.Size.S
    assert params["address"].option == "--address"
    assert things.aggregate("order_line").find_command("set_qty").params[0].option == "--unit-count"


def test_text_values_are_converted_by_their_hints(things):
    m = things.module
    bound = make_spec(things).bind(GOOD_TEXT)
    assert bound["name"] == "widget"
    assert bound["count"] == 3 and type(bound["count"]) is int
    assert bound["flag"] is True
    assert bound["price"] == Decimal("9.50") and str(bound["price"]) == "9.50"
    assert bound["color"] is m.Color.RED
    assert bound["numbers"] == [1, 2, 3]
    assert bound["scores"] == {"a": 1, "b": 2}
    assert bound["address"] == m.Address("Oslo", m.Street("Main", 5))
    assert isinstance(bound["address"].street, m.Street)
    assert "note" not in bound


@pytest.mark.parametrize("text, expected", [("true", True), ("no", False), ("1", True), ("OFF", False)])
def test_booleans_from_text(things, text, expected):
    assert make_spec(things).bind({**GOOD_TEXT, "flag": text})["flag"] is expected


def test_enums_by_value_or_by_name(things):
    m = things.module
    spec = make_spec(things)
    assert spec.bind({**GOOD_TEXT, "color": "GREEN"})["color"] is m.Color.GREEN
    assert spec.bind({**GOOD_TEXT, "size": "M"})["size"] is m.Size.M
    assert spec.bind({**GOOD_TEXT, "size": "2"})["size"] is m.Size.M


def test_optional_values_accept_null(things):
    spec = make_spec(things)
    assert spec.bind({**GOOD_TEXT, "note": "null"})["note"] is None
    assert spec.bind({**GOOD_TEXT, "note": "hello"})["note"] == "hello"


def test_json_values_are_accepted_as_well_as_text(things):
    bound = make_spec(things).bind(
        {**GOOD_TEXT, "count": 3, "flag": False, "price": "1.10", "numbers": [4], "scores": {},
         "address": {"city": "x", "street": {"name": "s", "number": 1}, "tags": ["t"]}}
    )
    assert bound["count"] == 3 and bound["flag"] is False and bound["numbers"] == [4]
    assert bound["address"].tags == ["t"]


def test_kebab_and_snake_parameter_names_are_both_accepted(things):
    spec = things.aggregate("order_line").find_command("set-qty")
    assert spec.bind({"unit-count": "4"}) == {"unit_count": 4}
    assert spec.bind({"unit_count": "4"}) == {"unit_count": 4}


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("count", "three", ["count", "integer"]),
        ("count", "3.5", ["count", "integer"]),
        ("flag", "maybe", ["flag", "true or false"]),
        ("price", "nine", ["price", "decimal"]),
        ("price", "NaN", ["price", "finite"]),
        ("color", "blue", ["color", "'red'", "'green'"]),
        ("numbers", '[1, "x"]', ["numbers[1]", "integer"]),
        ("numbers", "not json", ["numbers", "JSON"]),
        ("numbers", '{"a": 1}', ["numbers", "list"]),
        ("scores", '{"a": "x"}', ["scores.a", "integer"]),
        ("address", '{"city": "x", "street": {"name": "s"}}', ["address.street.number", "missing"]),
        ("address", '{"city": "x", "street": {"name": "s", "number": "5"}}', ["address.street.number", "integer"]),
        ("address", '{"city": "x", "street": {"name": "s", "number": 5}, "zip": 1}', ["address", "zip"]),
        ("address", '"Oslo"', ["address", "object"]),
    ],
)
def test_bad_values_name_the_parameter(things, name, value, words):
    with pytest.raises(BadInput) as info:
        make_spec(things).bind({**GOOD_TEXT, name: value})
    for w in words:
        assert w in str(info.value)


def test_a_missing_parameter_is_named_with_its_type(things):
    values = dict(GOOD_TEXT)
    del values["count"]
    with pytest.raises(BadInput, match="missing parameter --count"):
        make_spec(things).bind(values)


def test_an_unknown_parameter_is_named_and_the_known_ones_listed(things):
    with pytest.raises(BadInput, match="unknown parameter --colour.*--color"):
        make_spec(things).bind({**GOOD_TEXT, "colour": "red"})
    with pytest.raises(BadInput, match="takes none"):
        things.aggregate("thing").find_command("nothing").bind({"x": "1"})


def test_an_unknown_command_lists_the_known_ones(things):
    with pytest.raises(BadInput, match="no command 'build'.*make"):
        things.aggregate("thing").find_command("build")


def test_an_unknown_aggregate_lists_the_known_ones(things):
    with pytest.raises(BadInput, match="unknown aggregate 'widget'.*order_line.*thing"):
        things.aggregate("widget")


@pytest.mark.parametrize("name", ["order_line", "order-line", "OrderLine"])
def test_aggregate_names_in_any_case_style(things, name):
    assert things.aggregate(name).category == "order_line"


def test_an_aggregate_category_with_a_dash_is_refused():
    with pytest.raises(DomainError, match="without '-'"):
        class Bad(Aggregate):  # noqa: F841
            category = "bad-name"


# ----------------------------------------------------------------------------- events

def test_events_are_immutable(things):
    e = things.module.ThingRenamed("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.new_name = "y"


def test_a_command_runs_and_its_typed_payload_round_trips(thing_engine, things):
    out = thing_engine.execute("thing", "t1", "make", GOOD_TEXT)
    (rec,) = out.events
    assert rec.type == "ThingMade"
    assert rec.data["price"] == "9.50"
    assert rec.data["color"] == "red"
    assert rec.data["address"] == {"city": "Oslo", "street": {"name": "Main", "number": 5}, "tags": []}
    agg = thing_engine.load("thing", "t1")
    assert agg.price == Decimal("9.50") and agg.made and agg.address == {"city": "Oslo"}


@pytest.mark.parametrize(
    "data, words",
    [
        ({}, ["ThingRenamed", "new_name", "missing"]),
        ({"new_name": 5}, ["ThingRenamed", "new_name", "string"]),
        ({"new_name": "x", "extra": 1}, ["ThingRenamed", "extra"]),
    ],
)
def test_events_of_a_known_type_are_validated_when_written(thing_engine, data, words):
    with pytest.raises(BadInput) as info:
        thing_engine.append("thing-t1", "ThingRenamed", data)
    for w in words:
        assert w in str(info.value)
    assert thing_engine.store.head_position() == 0


def test_events_of_an_unknown_type_are_stored_as_given(thing_engine):
    res = thing_engine.append("misc-1", "SomethingHappened", {"anything": [1, 2]})
    assert res.version == 1


def test_stored_events_are_validated_when_read(thing_engine):
    thing_engine.store.append("thing-t1", [NewEvent("ThingRenamed", {"new_name": ["not", "a", "string"]})])
    with pytest.raises(BadInput) as info:
        thing_engine.load("thing", "t1")
    text = str(info.value)
    assert "ThingRenamed" in text and "new_name" in text and "thing-t1@1" in text


def test_a_command_emitting_an_invalid_event_is_the_domain_codes_fault(thing_engine):
    with pytest.raises(DomainCodeError) as info:
        thing_engine.execute("thing", "t1", "emit_invalid")
    assert "ThingRenamed" in str(info.value) and "new_name" in str(info.value)
    assert thing_engine.store.head_position() == 0


def test_a_command_emitting_something_that_is_not_an_event_is_the_domain_codes_fault(thing_engine):
    with pytest.raises(DomainCodeError, match="not an @event"):
        thing_engine.execute("thing", "t1", "emit-foreign")
    assert thing_engine.store.head_position() == 0


def test_a_command_emitting_nothing_writes_nothing(thing_engine):
    out = thing_engine.execute("thing", "t1", "nothing")
    assert out.events == () and out.version == 0
    assert thing_engine.store.head_position() == 0


def test_a_rejected_command_carries_its_reason_and_writes_nothing(thing_engine):
    thing_engine.execute("thing", "t1", "make", GOOD_TEXT)
    with pytest.raises(CommandRejected) as info:
        thing_engine.execute("thing", "t1", "make", GOOD_TEXT)
    assert info.value.reason == "already made"
    assert thing_engine.store.head_position() == 1


# ----------------------------------------------------------------------------- the past-tense warning

@pytest.mark.parametrize("name", ["CreateOrder", "AddItem", "CancelOrder", "RegisterUser"])
def test_an_event_named_like_a_command_gets_a_warning(name):
    with pytest.warns(EventNameWarning, match=f"{name}.*past tense"):
        event(type(name, (), {"__annotations__": {"x": int}}))


@pytest.mark.parametrize("name", ["OrderCreated", "ItemAdded", "Created", "Addendum", "Processed"])
def test_events_named_as_facts_get_no_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        event(type(name, (), {"__annotations__": {"x": int}}))


def test_the_warning_is_collected_when_a_domain_is_loaded(tmp_path):
    path = tmp_path / "imperative.py"
    path.write_text(textwrap.dedent("""
        from evsh import event

        @event
        class CreateOrder:
            order_id: str
    """))
    domain = load_domain(str(path))
    assert any("CreateOrder" in w and "past tense" in w for w in domain.warnings)


def test_the_cli_shows_the_warning_on_stderr(cli, tmp_path):
    path = tmp_path / "imperative2.py"
    path.write_text("from evsh import event\n\n@event\nclass ShipParcel:\n    parcel_id: str\n")
    r = cli("--domain", str(path), "append", "parcel-1", "ShipParcel", '{"parcel_id": "p"}')
    assert r.exit_code == 0
    assert "warning" in r.stderr and "ShipParcel" in r.stderr and "past tense" in r.stderr


# ----------------------------------------------------------------------------- the user's own errors

def test_an_exception_in_a_command_points_at_the_users_file_and_line(thing_engine, things_file):
    with pytest.raises(DomainCodeError) as info:
        thing_engine.execute("thing", "t1", "explode")
    assert info.value.where == f"{things_file}:{line_of(things_file, 'MARK-COMMAND')}"
    assert "ZeroDivisionError" in str(info.value)
    assert thing_engine.store.head_position() == 0


def test_an_exception_in_an_applier_points_at_the_users_file_and_line(thing_engine, things_file):
    with pytest.raises(DomainCodeError) as info:
        thing_engine.execute("thing", "t1", "blow_up_in_applier")
    assert info.value.where == f"{things_file}:{line_of(things_file, 'MARK-APPLIER')}"
    assert "KeyError" in str(info.value)
    assert thing_engine.store.head_position() == 0


def test_an_exception_in_an_applier_when_loading_points_at_the_users_file(thing_engine, things_file):
    thing_engine.store.append("thing-t1", [NewEvent("Exploded", {"why": "applier"})])
    with pytest.raises(DomainCodeError) as info:
        thing_engine.load("thing", "t1")
    assert info.value.where == f"{things_file}:{line_of(things_file, 'MARK-APPLIER')}"


def test_cli_reports_a_users_exception_in_one_line_with_file_and_line_exit_5(cli, things_file):
    r = cli("--domain", things_file, "exec", "thing", "t1", "explode")
    assert r.exit_code == 5
    assert r.stderr.count("\n") == 1
    assert f"{things_file}:{line_of(things_file, 'MARK-COMMAND')}" in r.stderr
    assert "ZeroDivisionError" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_an_exception_while_importing_the_domain_is_reported_with_file_and_line(cli, tmp_path):
    path = tmp_path / "broken_import.py"
    path.write_text("import os\n\nVALUE = {}['missing']  # line 3\n")
    r = cli("--domain", str(path), "exec", "x", "1", "y")
    assert r.exit_code == 5
    assert f"{path}:3" in r.stderr and "KeyError" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_syntax_error_in_the_domain_is_reported_with_file_and_line(cli, tmp_path):
    path = tmp_path / "broken_syntax.py"
    path.write_text("x = 1\ndef f(:\n    pass\n")
    r = cli("--domain", str(path), "exec", "x", "1", "y")
    assert r.exit_code == 5
    assert f"{path}:2" in r.stderr and "syntax" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_domain_that_cannot_be_found_is_a_usage_error(cli):
    r = cli("--domain", "no_such_domain_module", "exec", "order", "o1", "create")
    assert r.exit_code == 2
    assert "no_such_domain_module" in r.stderr and "Traceback" not in r.stderr


# ----------------------------------------------------------------------------- naming the domain

def test_domain_from_a_file_a_bundled_name_or_a_module(things_file):
    assert "thing" in load_domain(things_file).aggregates
    assert {"order", "payment", "inventory", "user"} <= set(load_domain("shop").aggregates)
    assert "order" in load_domain("sample_data.shop").aggregates


def test_domain_from_the_environment(cli, things_file):
    r = cli("exec", "thing", "t1", "rename", "--new-name", "n", env={"EVSH_DOMAIN": things_file})
    assert r.exit_code == 0, r.stderr
    assert "ThingRenamed" in r.stdout


def test_domain_and_db_from_the_project_config(cli, things_file, tmp_path):
    (tmp_path / "evsh.toml").write_text(f'domain = "{things_file}"\n')
    r = cli("exec", "thing", "t1", "rename", "--new-name", "n")
    assert r.exit_code == 0, r.stderr
    (tmp_path / "evsh.toml").write_text(f'[evsh]\ndomain = "{things_file}"\n')
    r = cli("state", "thing", "t1", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "n"


def test_a_broken_project_config_is_bad_input(cli, tmp_path):
    (tmp_path / "evsh.toml").write_text("domain = = 1\n")
    r = cli("read", "a-1")
    assert r.exit_code == 2
    assert "evsh.toml" in r.stderr and "Traceback" not in r.stderr


def test_commands_needing_a_domain_say_so(cli):
    r = cli("exec", "order", "o1", "create")
    assert r.exit_code == 2 and "--domain" in r.stderr
    r = cli("state", "order", "o1")
    assert r.exit_code == 2 and "--domain" in r.stderr


def test_exec_help_lists_parameters_with_their_types(cli, things_file):
    r = cli("--domain", things_file, "exec", "thing", "t1", "make", "--help")
    assert r.exit_code == 0
    out = r.stdout
    for words in (["--count", "int", "required"], ["--flag", "bool"], ["--price", "Decimal"],
                  ["--color", "red|green"], ["--numbers", "list[int]"], ["--scores", "dict[str, int]"],
                  ["--address", "Address"], ["--note", "default null"], ["--size"]):
        line = next((ln for ln in out.splitlines() if ln.strip().startswith(words[0] + " ")), "")
        assert all(w in line for w in words), (words, out)
    assert "Make a thing." in out


def test_exec_with_typed_parameters_through_the_cli(cli, things_file):
    args = []
    for k, v in GOOD_TEXT.items():
        args += [f"--{k}", v]
    r = cli("--domain", things_file, "exec", "thing", "t1", "make", *args, "--json")
    assert r.exit_code == 0, r.stderr
    r = cli("--domain", things_file, "exec", "thing", "t2", "make", *args[:-2], "--address", '{"city": 1}')
    assert r.exit_code == 2
    assert "address.city" in r.stderr and "Traceback" not in r.stderr


def test_state_fields_are_plain_json(things, thing_engine):
    thing_engine.execute("thing", "t1", "make", GOOD_TEXT)
    assert thing_engine.load("thing", "t1").state() == {
        "id": "t1", "version": 1, "made": True, "name": "widget", "price": "9.50", "address": {"city": "Oslo"},
    }


def test_enum_values_encode_to_their_value(things):
    from evsh.domain import types as T

    assert T.encode(things.module.Color.RED) == "red"
    assert T.encode({"k": [Decimal("1.0")]}) == {"k": ["1.0"]}
    assert isinstance(things.module.Color.RED, enum.Enum)


ODD = '''
from evsh import Aggregate, command, event


class Money:
    def __init__(self, v):
        self.v = v


@event
class Paid:
    amount: Money


class Acct(Aggregate):
    @command
    def pay(self, amount: Money):
        yield Paid(amount)
'''


def test_a_hint_evsh_cannot_convert_is_a_domain_error_not_a_traceback(cli, tmp_path):
    path = tmp_path / "odd.py"
    path.write_text(ODD)
    one = cli("--domain", str(path), "exec", "acct", "a1", "pay", "--amount", "5")
    assert one.exit_code == 2, one.stderr
    assert "Money" in one.stderr and "Traceback" not in one.stderr and len(one.stderr.strip().splitlines()) == 1
    two = cli("--domain", str(path), "append", "acct-a2", "Paid", '{"amount": 1}')
    assert two.exit_code == 2, two.stderr
    assert "Money" in two.stderr and "Traceback" not in two.stderr
    with pytest.raises(DomainError, match="Money"):
        load_domain(str(path)).aggregate("acct").find_command("pay").bind({"amount": "5"})


MULTI = '''
from evsh import Aggregate, Rejected, applies, command, event


@event
class Stepped:
    n: int


class Walker(Aggregate):
    steps: int = 0

    @command
    def walk(self, times: int):
        for n in range(times):
            yield Stepped(n)
            if self.steps >= 3:
                raise Rejected(f"too far after {self.steps} steps")

    @applies
    def _stepped(self, e: Stepped) -> None:
        self.steps += 1
'''


@pytest.fixture
def walker_engine(tmp_path, db_path):
    path = tmp_path / "walker.py"
    path.write_text(MULTI)
    store = open_store(db_path)
    yield build_engine(store, load_domain(str(path)))
    store.close()


def test_a_command_emitting_several_events_appends_them_as_one_batch(walker_engine):
    out = walker_engine.execute("walker", "w1", "walk", {"times": 2})
    assert [(e.type, e.version, e.data) for e in out.events] == [("Stepped", 1, {"n": 0}), ("Stepped", 2, {"n": 1})]
    assert out.events[1].position == out.events[0].position + 1
    assert len({e.metadata["correlation_id"] for e in out.events}) == 1
    assert walker_engine.load("walker", "w1").steps == 2


def test_appliers_run_as_the_command_emits_so_later_rules_see_the_new_state(walker_engine):
    with pytest.raises(CommandRejected, match="too far after 3 steps"):
        walker_engine.execute("walker", "w1", "walk", {"times": 5})
    # a command that raised after emitting writes none of what it emitted
    assert walker_engine.store.head_position() == 0
    assert walker_engine.load("walker", "w1").steps == 0


@pytest.mark.parametrize(
    "cls_name, category",
    [("Order", "order"), ("OrderLine", "order_line"), ("HTTPRequest", "http_request"), ("UserV2", "user_v2")],
)
def test_aggregate_categories_are_snake_case_without_dashes(cls_name, category):
    cls = type(cls_name, (Aggregate,), {})
    assert cls.category == category and "-" not in cls.category
    assert cls.stream_id("a-b") == f"{category}-a-b"


def test_mutable_state_defaults_are_not_shared_between_instances(shop):
    inv = shop.aggregate("inventory")
    a, b = inv("p1"), inv("p2")
    a.reserved["o1"] = 3
    assert b.reserved == {} and inv("p3").reserved == {}
    assert inv.reserved == {}  # the class default itself is untouched


@pytest.mark.parametrize("text, value", [("0.5", 0.5), ("3", 3.0), ("-1e3", -1000.0)])
def test_float_parameters_from_text(text, value):
    from evsh.domain import types as T

    got = T.from_text(text, float, "ratio")
    assert got == value and type(got) is float


@pytest.mark.parametrize("text", ["half", "nan", "inf", ""])
def test_bad_float_parameters_name_the_parameter(text):
    from evsh.domain import types as T

    with pytest.raises(BadInput, match="ratio"):
        T.from_text(text, float, "ratio")
