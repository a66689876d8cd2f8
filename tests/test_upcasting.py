"""Upcasting: old events read in the current schema everywhere; stored events never change."""

from __future__ import annotations

import json
import os
import sqlite3
import textwrap

import pytest
from hypothesis import given, strategies as st

from evsh import DomainError, load_domain, open_store
from evsh.engine.wiring import build_engine
from evsh.store.base import NewEvent

PEOPLE = textwrap.dedent(
    '''
    from evsh import Aggregate, applies, command, event, upcaster

    @event(version=3)
    class PersonNamed:
        person_id: str
        first_name: str
        last_name: str
        nickname: str

    @event(version=2)
    class AddressChanged:
        person_id: str
        address: str

    # v1 was "PersonAdded" {id, name: "First Last"}: type renamed, field renamed, name split
    @upcaster("PersonAdded", 1, to_type="PersonNamed", to_version=2)
    def person_added_v1(data):
        first, _, last = data["name"].partition(" ")
        return {"person_id": data["id"], "first_name": first, "last_name": last}

    # v2 -> v3: a field added with a default
    @upcaster("PersonNamed", 2)
    def _(data):
        return {**data, "nickname": ""}

    # v1 had street and city: merged into one address (the metadata is there if needed)
    @upcaster("AddressChanged", 1)
    def _(data, metadata):
        return {"person_id": data["person_id"], "address": data["street"] + ", " + data["city"]}

    class Person(Aggregate):
        first_name: str = ""
        last_name: str = ""
        nickname: str = ""
        address: str = ""

        @command
        def name(self, first_name: str, last_name: str, nickname: str = ""):
            yield PersonNamed(self.id, first_name, last_name, nickname)

        @command
        def move(self, address: str):
            yield AddressChanged(self.id, address)

        @applies
        def _named(self, e: PersonNamed) -> None:
            self.first_name, self.last_name, self.nickname = e.first_name, e.last_name, e.nickname

        @applies
        def _moved(self, e: AddressChanged) -> None:
            self.address = e.address
    '''
)


@pytest.fixture
def people(tmp_path):
    path = tmp_path / "people.py"
    path.write_text(PEOPLE)
    return str(path)


def stored_rows(db: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT position, event_id, stream_id, version, type, data, metadata FROM events ORDER BY position").fetchall()
    finally:
        conn.close()


def append_old(store, stream: str, type_: str, data: dict, version: int) -> None:
    store.append(stream, [NewEvent(type_, data, {"schema_version": version})])


def test_chain_rename_split_add_merge(people, db_path):
    store = open_store(db_path)
    append_old(store, "person-p1", "PersonAdded", {"id": "p1", "name": "Ada Lovelace"}, 1)
    append_old(store, "person-p1", "AddressChanged", {"person_id": "p1", "street": "1 Main St", "city": "London"}, 1)
    append_old(store, "person-p2", "PersonNamed", {"person_id": "p2", "first_name": "Alan", "last_name": "Turing"}, 2)
    before = stored_rows(db_path)
    engine = build_engine(store, load_domain(people))
    p1 = engine.load("person", "p1")
    assert (p1.first_name, p1.last_name, p1.nickname, p1.address) == ("Ada", "Lovelace", "", "1 Main St, London")
    first = next(engine.read_stream("person-p1"))
    assert first.type == "PersonNamed" and first.metadata["schema_version"] == 3
    assert first.metadata["upcast_from"] == {"type": "PersonAdded", "schema_version": 1}
    # a type filter by the current name finds events stored under the old one
    assert [e.stream_id for e in engine.read_all(types=["PersonNamed"])] == ["person-p1", "person-p2"]
    # new commands write the current version; old and new mix in one stream
    engine.execute("person", "p1", "name", {"first_name": "Augusta", "last_name": "King", "nickname": "Ada"})
    assert engine.load("person", "p1").nickname == "Ada"
    assert stored_rows(db_path)[: len(before)] == before  # stored events never rewritten
    store.close()


def test_cli_reads_and_check(cli, people, db_path):
    cli("init")
    store = open_store(db_path)
    append_old(store, "person-p1", "PersonAdded", {"id": "p1", "name": "Grace Hopper"}, 1)
    append_old(store, "person-p1", "AddressChanged", {"person_id": "p1", "street": "Navy Yard"}, 1)  # no city!
    append_old(store, "person-p2", "PersonNamed", {"person_id": "p2", "first_name": "X", "last_name": "Y", "nickname": "z"}, 4)
    store.close()
    events = json.loads(cli("--domain", people, "read", "person-p1", "--limit", "1", "--json").stdout)
    assert events[0]["type"] == "PersonNamed" and events[0]["data"]["first_name"] == "Grace"
    before = stored_rows(db_path)
    size = os.path.getsize(db_path)
    r = cli("--domain", people, "upcast", "--check", "--json")
    assert r.exit_code == 1, r.stderr
    report = {(row["type"], row["schema_version"]): row for row in json.loads(r.stdout)}
    assert report[("PersonAdded", 1)]["failed"] == 0 and report[("PersonAdded", 1)]["upcast"] == 1
    assert report[("AddressChanged", 1)]["failed"] == 1 and "KeyError" in report[("AddressChanged", 1)]["first_error"]
    assert report[("PersonNamed", 4)]["failed"] == 1 and "newer" in report[("PersonNamed", 4)]["first_error"]
    assert stored_rows(db_path) == before and os.path.getsize(db_path) == size  # nothing written
    # reading the broken event points at the upcaster (the domain's code raised: exit 5)
    r = cli("--domain", people, "state", "person", "p1")
    assert r.exit_code == 5 and "upcasting AddressChanged v1" in r.stderr
    r = cli("--domain", people, "upcast")
    assert r.exit_code == 0 and "person_added_v1" in r.stdout


def test_check_passes_on_a_clean_store(cli, people):
    cli("--domain", people, "exec", "person", "p1", "name", "--first-name", "A", "--last-name", "B")
    r = cli("--domain", people, "upcast", "--check")
    assert r.exit_code == 0 and "read in the current schema" in r.stderr


def test_loops_and_duplicates_are_refused(tmp_path, db_path):
    loop = tmp_path / "loop.py"
    loop.write_text(textwrap.dedent('''
        from evsh import upcaster

        @upcaster("A", 1, to_type="B", to_version=1)
        def a(d): return d

        @upcaster("B", 1, to_type="A", to_version=1)
        def b(d): return d
    '''))
    store = open_store(db_path)
    with pytest.raises(DomainError, match="loop"):
        build_engine(store, load_domain(str(loop)))
    dup = tmp_path / "dup.py"
    dup.write_text(textwrap.dedent('''
        from evsh import upcaster

        @upcaster("A", 1)
        def a(d): return d

        @upcaster("A", 1)
        def b(d): return d
    '''))
    with pytest.raises(DomainError, match="two upcasters"):
        build_engine(store, load_domain(str(dup)))
    store.close()


def test_export_as_stored_and_upcast(cli, people, db_path, tmp_path):
    cli("init")
    store = open_store(db_path)
    append_old(store, "person-p1", "PersonAdded", {"id": "p1", "name": "Ada Lovelace"}, 1)
    store.close()
    cli("--domain", people, "exec", "person", "p1", "move", "--address", "Somewhere")
    raw = [json.loads(line) for line in cli("export").stdout.splitlines()]
    assert raw[0]["type"] == "PersonAdded" and raw[0]["metadata"]["schema_version"] == 1
    current = [json.loads(line) for line in cli("--domain", people, "export", "--upcast").stdout.splitlines()]
    assert current[0]["type"] == "PersonNamed" and current[0]["data"]["last_name"] == "Lovelace"
    # as stored: import restores an identical store
    (tmp_path / "raw.jsonl").write_text(cli("export").stdout)
    copy = str(tmp_path / "copy.db")
    assert cli("--domain", people, "import", str(tmp_path / "raw.jsonl"), db=copy).exit_code == 0
    assert [r[1:] for r in stored_rows(copy)] == [r[1:] for r in stored_rows(db_path)]
    # upcast export: imported events are current, and nothing is upcast twice
    (tmp_path / "up.jsonl").write_text(cli("--domain", people, "export", "--upcast").stdout)
    up = str(tmp_path / "up.db")
    assert cli("--domain", people, "import", str(tmp_path / "up.jsonl"), db=up).exit_code == 0
    a = json.loads(cli("--domain", people, "state", "person", "p1", "--json").stdout)
    b = json.loads(cli("--domain", people, "state", "person", "p1", "--json", db=up).stdout)
    assert a == b
    assert cli("--domain", people, "upcast", "--check", db=up).exit_code == 0


def test_shop_v1_sample_imports_and_reads(cli):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sample = os.path.join(here, "sample_data", "shop_v1_events.jsonl")
    assert cli("--domain", "shop", "import", sample).exit_code == 0
    assert cli("--domain", "shop", "upcast", "--check").exit_code == 0
    o100 = json.loads(cli("--domain", "shop", "state", "order", "o100", "--json").stdout)
    assert o100["status"] == "confirmed" and o100["total_amount"] == "38.99"
    p1 = json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)
    assert p1["on_hand"] == 50


# ----------------------------------------------------------------------------- property

# a person's history as facts, each stored in a randomly chosen old or current schema
facts = st.lists(
    st.one_of(
        st.tuples(st.just("named"), st.text("abcxyz", min_size=1, max_size=6), st.text("klmn", min_size=1, max_size=6),
                  st.sampled_from([1, 2, 3]), st.text("qrs", max_size=4)),
        st.tuples(st.just("moved"), st.text("abc 1", min_size=1, max_size=8), st.text("xyz", min_size=1, max_size=6),
                  st.sampled_from([1, 2]), st.just("")),
    ),
    min_size=1,
    max_size=12,
)


@given(history=facts)
def test_upcast_then_replay_equals_the_new_schema_state(tmp_path_factory, history):
    db = str(tmp_path_factory.mktemp("up") / "u.db")
    path = tmp_path_factory.mktemp("dom") / "people.py"
    path.write_text(PEOPLE)
    store = open_store(db)
    engine = build_engine(store, load_domain(str(path)))
    expected = {"first_name": "", "last_name": "", "nickname": "", "address": ""}
    for kind, a, b, version, extra in history:
        if kind == "named":
            if version == 1:  # a v1 name has no nickname and splits at the first space
                append_old(store, "person-p", "PersonAdded", {"id": "p", "name": f"{a} {b}"}, 1)
                first, _, last = f"{a} {b}".partition(" ")
                expected.update(first_name=first, last_name=last, nickname="")
            elif version == 2:
                append_old(store, "person-p", "PersonNamed", {"person_id": "p", "first_name": a, "last_name": b}, 2)
                expected.update(first_name=a, last_name=b, nickname="")
            else:
                append_old(store, "person-p", "PersonNamed",
                           {"person_id": "p", "first_name": a, "last_name": b, "nickname": extra}, 3)
                expected.update(first_name=a, last_name=b, nickname=extra)
        else:
            if version == 1:
                append_old(store, "person-p", "AddressChanged", {"person_id": "p", "street": a, "city": b}, 1)
                expected["address"] = f"{a}, {b}"
            else:
                append_old(store, "person-p", "AddressChanged", {"person_id": "p", "address": f"{a}/{b}"}, 2)
                expected["address"] = f"{a}/{b}"
    state = engine.load("person", "p").state()
    assert {k: state[k] for k in expected} == expected
    assert all(e.metadata["schema_version"] == (3 if e.type == "PersonNamed" else 2) for e in engine.read_stream("person-p"))
    store.close()


def test_append_takes_an_event_in_an_older_schema_and_reads_it_upcast(cli, people, db_path):
    """`evsh append` with metadata naming an older schema version stores the old shape (what a
    reproducer of `evsh verify` for an upcaster writes); it is validated when read, upcast.
    The current version is still validated on the way in."""
    r = cli("--domain", people, "append", "person-p9", "AddressChanged",
            '{"person_id": "p9", "street": "2 High St", "city": "Leeds"}', "--metadata", '{"schema_version": 1}',
            db=db_path)
    assert r.exit_code == 0, r.stderr
    state = cli("--domain", people, "state", "person", "p9", "--json", db=db_path)
    assert json.loads(state.stdout)["address"] == "2 High St, Leeds"
    r = cli("--domain", people, "append", "person-p9", "AddressChanged", '{"person_id": "p9", "street": "x"}',
            db=db_path)
    assert r.exit_code == 2 and "AddressChanged" in r.stderr
