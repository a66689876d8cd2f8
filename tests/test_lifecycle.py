"""Stream lifecycle as KurrentDB has it: soft and hard delete, truncate, max-count/max-age, scavenge."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from evsh import StreamDeleted, open_store
from evsh.engine.lifecycle import format_duration, parse_duration
from evsh.errors import BadInput
from evsh.store.base import NewEvent


def fill(cli, stream: str, n: int) -> None:
    for i in range(n):
        assert cli("append", stream, "Ticked", json.dumps({"i": i})).exit_code == 0


def versions(cli, stream: str, *args: str) -> list[int]:
    return [e["version"] for e in json.loads(cli("read", stream, "--json", *args).stdout)]


def test_soft_delete_hides_and_may_be_written_again(cli):
    fill(cli, "clock-a", 3)
    fill(cli, "clock-b", 1)
    r = cli("streams", "delete", "clock-a")
    assert r.exit_code == 0 and "StreamDeleted" in r.stdout
    assert [s["stream_id"] for s in json.loads(cli("streams", "--json").stdout)] == ["$streams", "clock-b"]
    assert versions(cli, "clock-a") == []
    log = json.loads(cli("log", "--json").stdout)
    assert [e["stream_id"] for e in log] == ["clock-b", "$streams"]
    assert log[-1]["type"] == "StreamDeleted" and log[-1]["data"] == {"stream_id": "clock-a", "version": 3, "hard": False}
    # written again: reads as a new stream, numbering continues after its last version
    r = cli("append", "clock-a", "Ticked", "{}", "--expected-version", "no-stream", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["version"] == 4
    assert versions(cli, "clock-a") == [4]
    assert "clock-a" in [s["stream_id"] for s in json.loads(cli("streams", "--json").stdout)]


def test_hard_delete_is_a_tombstone(cli):
    assert cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "3").exit_code == 0
    assert cli("streams", "delete", "inventory-p1", "--hard").exit_code == 0
    r = cli("append", "inventory-p1", "StockAdded", '{"product_id": "p1", "quantity": 1}')
    assert r.exit_code == 1 and "hard-deleted" in r.stderr and "never be written again" in r.stderr
    r = cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "3")
    assert r.exit_code == 1 and "tombstone" in r.stderr
    assert versions(cli, "inventory-p1") == []
    r = cli("streams", "delete", "inventory-p1")
    assert r.exit_code == 1
    meta = json.loads(cli("streams", "meta", "inventory-p1", "--json").stdout)
    assert meta["state"] == "hard-deleted" and meta["version"] == 1


def test_truncate_keeps_versions(cli):
    fill(cli, "clock-a", 5)
    assert cli("streams", "truncate", "clock-a", "--before", "3").exit_code == 0
    assert versions(cli, "clock-a") == [3, 4, 5]
    assert versions(cli, "clock-a", "--backwards") == [5, 4, 3]
    assert versions(cli, "clock-a", "--from-version", "1", "--limit", "2") == [3, 4]
    assert json.loads(cli("streams", "--json").stdout)[-1]["version"] == 5
    assert "nothing changed" in cli("streams", "truncate", "clock-a", "--before", "2").stdout
    r = cli("streams", "truncate", "clock-a", "--before", "9")
    assert r.exit_code == 2 and "at most" in r.stderr
    assert cli("streams", "truncate", "nope-x", "--before", "2").exit_code == 2
    r = cli("streams", "delete", "$streams")
    assert r.exit_code == 2 and "reserved" in r.stderr


def test_max_count_and_meta(cli):
    fill(cli, "clock-a", 5)
    r = cli("streams", "meta", "clock-a", "--max-count", "2", "--max-age", "30d", "--json")
    assert r.exit_code == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["max_count"] == 2 and meta["max_age"] == 30 * 86400
    assert versions(cli, "clock-a") == [4, 5]
    assert [e["version"] for e in json.loads(cli("log", "--category", "clock", "--json").stdout)] == [4, 5]
    assert cli("streams", "meta", "clock-a", "--max-count", "none").exit_code == 0
    assert versions(cli, "clock-a") == [1, 2, 3, 4, 5]
    assert cli("streams", "meta", "clock-a", "--max-age", "soon").exit_code == 2
    assert cli("streams", "meta", "clock-a", "--max-count", "0").exit_code == 2


@pytest.mark.parametrize("in_memory", [2000, 0])
def test_max_age_by_the_store_clock(db_path, in_memory, monkeypatch):
    import evsh.store.visibility as sqlite_store

    monkeypatch.setattr(sqlite_store, "RULES_IN_MEMORY", in_memory)
    now = ["2026-01-01T00:00:00.000000Z"]
    store = open_store(db_path, clock=lambda: now[0])
    store.append("clock-a", [NewEvent("Ticked", {})])
    now[0] = "2026-01-02T00:00:00.000000Z"
    store.append("clock-a", [NewEvent("Ticked", {})])
    store.set_stream_metadata("clock-a", max_count=None, max_age=parse_duration("36h"))
    assert [e.version for e in store.read_stream("clock-a")] == [1, 2]
    now[0] = "2026-01-02T13:00:00.000000Z"
    assert [e.version for e in store.read_stream("clock-a")] == [2]
    assert [e.version for e in store.read_all() if e.stream_id == "clock-a"] == [2]
    result = store.scavenge(reclaim=False)
    assert result["removed"] == 1
    assert [e.version for e in store.read_stream("clock-a")] == [2]
    store.close()


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("15m") == 900 and parse_duration("2w") == 14 * 86400
    assert parse_duration("none") is None and parse_duration("10") == 10
    assert format_duration(86400 * 30) == "30d" and format_duration(90) == "90s"
    with pytest.raises(BadInput):
        parse_duration("-1d")


def test_scavenge_removes_reclaims_and_never_reuses_positions(cli, db_path):
    store = open_store(db_path)
    big = {"blob": "x" * 2000}
    for _ in range(10):
        store.append("bulk-a", [NewEvent("Filled", big) for _ in range(50)])
    store.append("keep-b", [NewEvent("Kept", {})])
    head = store.head_position()
    store.delete_stream("bulk-a")
    store.close()
    r = cli("scavenge", "--json")
    assert r.exit_code == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["removed"] == 500 and result["bytes_after"] < result["bytes_before"] / 2
    store = open_store(db_path)
    assert store.head_position() >= head + 1  # the deletion event; never goes back
    res = store.append("bulk-a", [NewEvent("Filled", {})])
    assert res.version == 501 and res.events[0].position > head + 1
    log = list(store.read_all())
    assert [e.stream_id for e in log] == ["keep-b", "$streams", "bulk-a"]  # holes in positions are fine
    assert log[0].position == 501
    store.close()
    assert "removed 0 events" in cli("scavenge").stdout


def test_truncated_snapshots_are_dropped_unless_they_hold_the_aggregates_state(cli, db_path):
    for _ in range(3):
        cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2")
    cli("--domain", "shop", "snapshot", "inventory", "p1")
    # the snapshot holds every hidden event: truncating the aggregate's stream keeps it, and the state
    assert cli("--domain", "shop", "streams", "truncate", "inventory-p1", "--before", "3").exit_code == 0
    assert [s["version"] for s in json.loads(cli("--domain", "shop", "snapshots", "--json").stdout)] == [3]
    assert json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)["on_hand"] == 6
    # forced past a snapshot that does not hold the hidden events: dropped, as for any truncation
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2")
    cli("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "2")
    assert cli("--domain", "shop", "streams", "truncate", "inventory-p1", "--before", "5").exit_code == 2
    assert cli("--domain", "shop", "streams", "truncate", "inventory-p1", "--before", "5", "--force").exit_code == 0
    assert json.loads(cli("--domain", "shop", "snapshots", "--json").stdout) == []
    assert json.loads(cli("--domain", "shop", "state", "inventory", "p1", "--json").stdout)["on_hand"] == 2


# ----------------------------------------------------------------------------- property

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.sampled_from("abc"), st.integers(1, 4)),
        st.tuples(st.just("delete"), st.sampled_from("abc"), st.just(0)),
        st.tuples(st.just("hard"), st.sampled_from("abc"), st.just(0)),
        st.tuples(st.just("truncate"), st.sampled_from("abc"), st.integers(1, 10)),
        st.tuples(st.just("max_count"), st.sampled_from("abc"), st.integers(0, 4)),
        st.tuples(st.just("scavenge"), st.just("a"), st.just(0)),
    ),
    max_size=25,
)


@given(ops)
def test_hidden_events_never_come_back(tmp_path_factory, script):
    check_hidden_events(tmp_path_factory, script)


@given(ops)
def test_hidden_events_never_come_back_when_sql_filters(tmp_path_factory, script):
    """The same, with so many rules that SQL filters instead of Python (RULES_IN_MEMORY exceeded)."""
    import evsh.store.visibility as sqlite_store

    saved = sqlite_store.RULES_IN_MEMORY
    sqlite_store.RULES_IN_MEMORY = 0
    try:
        check_hidden_events(tmp_path_factory, script)
    finally:
        sqlite_store.RULES_IN_MEMORY = saved


def check_hidden_events(tmp_path_factory, script):
    store = open_store(str(tmp_path_factory.mktemp("life") / "l.db"))
    model: dict[str, dict] = {s: {"version": 0, "state": None, "tb": 0, "mc": None} for s in "abc"}
    for op, name, n in script:
        sid, m = f"s-{name}", model[name]
        try:
            if op == "append":
                store.append(sid, [NewEvent("E", {"n": i}) for i in range(n)])
                assert m["state"] != "hard"
                m["version"] += n
                m["state"] = "live"
            elif op in ("delete", "hard"):
                store.delete_stream(sid, hard=op == "hard")
                assert m["state"] in ("live", "soft") and m["state"] != "hard"
                m["state"], m["tb"] = ("hard" if op == "hard" else "soft"), m["version"] + 1
            elif op == "truncate":
                store.truncate_stream(sid, n)
                assert m["state"] in ("live", "soft") and n <= m["version"] + 1
                m["tb"] = max(m["tb"], n)
            elif op == "max_count":
                store.set_stream_metadata(sid, max_count=n or None, max_age=None)
                assert m["state"] in ("live", "soft")
                m["mc"] = n or None
            else:
                store.scavenge(reclaim=False)
                # a scavenge deletes what max_count hides, for good: raising or clearing the
                # limit later does not bring those events back (docs/lifecycle)
                for mm in model.values():
                    if mm["mc"] and mm["state"] != "hard":
                        mm["tb"] = max(mm["tb"], mm["version"] - mm["mc"] + 1)
        except StreamDeleted:
            assert m["state"] == "hard"
        except BadInput:
            assert m["state"] is None or (op == "truncate" and n > m["version"] + 1)
        for s, mm in model.items():
            lowest = max(mm["tb"], mm["version"] - mm["mc"] + 1 if mm["mc"] else 0)
            expected = [] if mm["state"] == "hard" else [v for v in range(1, mm["version"] + 1) if v >= lowest]
            assert [e.version for e in store.read_stream(f"s-{s}")] == expected
            assert [e.version for e in store.read_all() if e.stream_id == f"s-{s}"] == expected
            assert [e.version for e in store.read_stream(f"s-{s}", backwards=True)] == expected[::-1]
            listed = {x.stream_id for x in store.streams()}
            assert (f"s-{s}" in listed) == (mm["state"] == "live")
    store.close()


def test_export_import_keeps_the_lifecycle(cli, tmp_path):
    fill(cli, "a-1", 3)
    fill(cli, "b-1", 2)
    fill(cli, "c-1", 1)
    cli("streams", "truncate", "a-1", "--before", "2")
    cli("streams", "meta", "a-1", "--max-count", "5")
    cli("streams", "delete", "b-1")
    cli("append", "b-1", "Ticked", "{}", "-e", "no-stream")
    cli("streams", "delete", "c-1", "--hard")
    cli("scavenge")
    dump = tmp_path / "dump.jsonl"
    dump.write_text(cli("export").stdout)
    copy = str(tmp_path / "copy.db")
    r = cli("import", str(dump), db=copy)
    assert r.exit_code == 0, r.stderr

    def seen(db):
        out = {}
        for s in ("a-1", "b-1", "c-1"):
            events = json.loads(cli("read", s, "--json", db=db).stdout)
            meta = json.loads(cli("streams", "meta", s, "--json", db=db).stdout)
            out[s] = ([(e["event_id"], e["version"], e["data"]) for e in events],
                      {k: meta[k] for k in ("version", "state", "truncate_before", "max_count")})
        return out, json.loads(cli("streams", "--json", db=db).stdout)

    (orig, orig_list), (back, back_list) = seen(None), seen(copy)
    assert back == orig
    assert [(s["stream_id"], s["version"]) for s in back_list] == [(s["stream_id"], s["version"]) for s in orig_list]
    assert cli("append", "c-1", "Ticked", "{}", db=copy).exit_code == 1  # still a tombstone
    assert json.loads(cli("append", "a-1", "Ticked", "{}", "--json", db=copy).stdout)[0]["version"] == 4
    assert "imported 0 events" in cli("import", str(dump), db=copy).stdout  # idempotent


def test_engine_view_hides_what_reads_hide(engine):
    """Readers that fetch rows themselves (the TUI) pass them through engine.view: the same rules apply."""
    engine.execute("inventory", "p1", "add_stock", {"quantity": 3})
    engine.execute("inventory", "p2", "add_stock", {"quantity": 1})
    rows = list(engine.store.read_all())
    assert all(engine.view(r) is not None for r in rows)
    engine.store.delete_stream("inventory-p1")
    assert [engine.view(r) is not None for r in rows] == [False, True]
