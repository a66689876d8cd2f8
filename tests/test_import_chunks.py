"""An import goes in chunks of 5,000 lines, and on PostgreSQL one COPY stays open across them
(the server writes a chunk while the next is parsed): a bad line far into the file is still
reported by its number and nothing is written; every line lands, in order."""

from __future__ import annotations

import json
import uuid

from evsh import NewEvent, open_store
from evsh.store.postgres import bulk


def _line(n: int, **kw) -> str:
    return json.dumps({"event_id": str(uuid.uuid4()), "stream_id": f"s-{n}", "version": 1, "type": "X",
                       "data": {"n": n}, **kw})


def test_a_bad_line_in_a_later_chunk_is_named_and_nothing_is_written(cli, any_db):
    good = [_line(n) for n in range(1, 10_501)]  # two full chunks of 5,000 lines and some
    r = cli("import", "-", input="\n".join([*good, _line(0, version=0), _line(99_999)]) + "\n", db=any_db)
    assert r.exit_code == 2, r.stderr
    assert "line 10501" in r.stderr and "version" in r.stderr and "Traceback" not in r.stderr
    with open_store(any_db) as store:
        assert store.head_position() == 0


def test_an_import_of_several_chunks_writes_every_line_in_order(cli, any_db):
    lines = [_line(n // 3, version=n % 3 + 1) for n in range(12_000)]
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    with open_store(any_db) as store:
        events = list(store.read_all())
    assert [e.event_id for e in events] == [json.loads(x)["event_id"] for x in lines]


def test_an_event_id_used_twice_chunks_apart_names_the_second_line_and_writes_nothing(cli, any_db):
    lines = [_line(n) for n in range(1, 12_001)]
    twice = json.loads(lines[1])["event_id"]
    lines[11_499] = json.dumps({**json.loads(lines[11_499]), "event_id": twice})  # line 11500, third chunk
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code != 0
    assert f"line 11500: event id {twice} appears twice in the file (first at s-2@1)" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    with open_store(any_db) as store:
        assert store.head_position() == 0
        store.append("after-1", [NewEvent("X", {})])  # the store takes writes again
        assert [e.stream_id for e in store.read_all()] == ["after-1"]


def test_an_event_id_already_stored_under_another_stream_is_named_and_nothing_more_is_written(cli, any_db):
    first = _line(0)
    assert cli("import", "-", input=first + "\n", db=any_db).exit_code == 0
    taken = json.loads(first)["event_id"]
    lines = [_line(n) for n in range(1, 12_001)]
    lines[10_999] = json.dumps({**json.loads(lines[10_999]), "event_id": taken})
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code != 0
    assert f"line 11000: event id {taken} is already stored at s-0@1" in r.stderr, r.stderr
    with open_store(any_db) as store:
        assert store.head_position() == 1


def test_an_import_longer_than_one_copy_takes_consecutive_positions_and_appends_follow(cli, any_db):
    n = bulk.SPAN + 5_000
    lines = [_line(k) for k in range(1, n + 1)]
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    with open_store(any_db) as store:
        events = list(store.read_all())
        assert [e.position for e in events] == list(range(1, n + 1))
        assert [e.stream_id for e in events[-3:]] == [f"s-{k}" for k in range(n - 2, n + 1)]
        assert store.append("after-1", [NewEvent("X", {})]).events[0].position == n + 1


def test_an_import_interrupted_between_chunks_writes_nothing_and_leaves_the_store_usable(any_db):
    from evsh.cli.transfer import import_rows

    def chunks():
        good = (_line(n).encode() for n in range(1, 10_001))
        for chunk in import_rows(good, None, "2026-01-01T00:00:00Z"):
            yield chunk
        raise KeyboardInterrupt  # Ctrl-C while the next chunk is read: the COPY is open

    with open_store(any_db) as store:
        try:
            store.import_rows(chunks())
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the interrupt was swallowed")
        assert store.head_position() == 0
        assert store.append("after-1", [NewEvent("X", {})]).events[0].position >= 1
    with open_store(any_db) as store:
        assert [e.stream_id for e in store.read_all()] == ["after-1"]


def test_a_file_mixing_new_and_already_imported_lines_writes_the_new_and_skips_the_rest(cli, any_db):
    old = [_line(n) for n in range(1, 6_001)]
    assert cli("import", "-", input="\n".join(old) + "\n", db=any_db).exit_code == 0
    new = [_line(n) for n in range(6_001, 12_001)]
    mixed = [x for pair in zip(new, old) for x in pair]  # a new line, then one already stored, ...
    r = cli("import", "-", input="\n".join(mixed) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    assert "imported 6,000 events (6,000 already stored, skipped)" in r.stdout
    with open_store(any_db) as store:
        ids = [e.event_id for e in store.read_all()]
    assert ids == [json.loads(x)["event_id"] for x in [*old, *new]]


def test_a_line_already_stored_after_a_chunk_of_new_ones_is_skipped(cli, any_db):
    """The second chunk names only streams the first did, so nothing is looked up before its
    rows: the check of a line already stored comes while the first chunk's write may be open."""
    kept = [_line(0, version=v) for v in (1, 2)]
    kept = [json.dumps({**json.loads(x), "stream_id": "s-kept"}) for x in kept]
    assert cli("import", "-", input="\n".join(kept) + "\n", db=any_db).exit_code == 0
    firsts = [_line(k) for k in range(1, 5_000)]
    seconds = [_line(k, version=2) for k in range(1, 5_000)]
    lines = [kept[0], *firsts, *seconds[:100], kept[1], *seconds[100:]]
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    assert "imported 9,998 events (2 already stored, skipped)" in r.stdout
    with open_store(any_db) as store:
        assert store.head_position() >= 10_000
        assert [e.version for e in store.read_stream("s-1")] == [1, 2]
