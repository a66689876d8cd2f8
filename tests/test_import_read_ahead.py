"""Import reads ahead (lines are parsed in a thread while the database writes the chunk before):
a bad line far into the file is still reported by its number, and nothing is written."""

from __future__ import annotations

import json
import uuid

from evsh import open_store


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


def test_an_import_reading_ahead_writes_every_line_in_order(cli, any_db):
    lines = [_line(n // 3, version=n % 3 + 1) for n in range(12_000)]
    r = cli("import", "-", input="\n".join(lines) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    with open_store(any_db) as store:
        events = list(store.read_all())
    assert [e.event_id for e in events] == [json.loads(x)["event_id"] for x in lines]
