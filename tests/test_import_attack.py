"""Hostile inputs to `evsh import` on PostgreSQL's open COPY (evsh/store/postgres/bulk.py):
a row the server refuses for a reason other than an event id used twice is named by the
file's line, in one line, and nothing is written."""

from __future__ import annotations

import json
import random
import string
import uuid

import pytest

from evsh import NewEvent, open_store
from evsh.store.postgres import bulk


@pytest.fixture
def pg_db():
    from tests.services import postgres_url

    with postgres_url() as url:
        yield url


def _line(n: int, **kw) -> str:
    return json.dumps({"event_id": str(uuid.uuid4()), "stream_id": f"s-{n}", "version": 1, "type": "X",
                       "data": {"n": n}, **kw})


def _unindexable_stream_id() -> str:
    """A stream id PostgreSQL cannot put in a btree index (over 2,704 bytes, incompressible)."""
    rng = random.Random(7)
    return "".join(rng.choice(string.ascii_letters) for _ in range(3_000))


def test_a_row_the_server_refuses_past_the_first_copy_is_named_by_its_line_in_the_file(cli, pg_db):
    n = bulk.SPAN + 5_000
    lines = [_line(k) for k in range(1, n + 1)]
    lines[n - 1] = _line(n, stream_id=_unindexable_stream_id())  # line 30000: in the second COPY
    r = cli("import", "-", input="\n".join(lines) + "\n", db=pg_db)
    assert r.exit_code != 0
    err = r.stderr.strip()
    assert f"line {n}:" in err, err
    assert "COPY events, line" not in err  # the COPY's own count is not the file's line
    assert "cannot be reached" not in err and "dropped the connection" not in err, err  # the server answered
    assert "\n" not in err and "Traceback" not in err
    with open_store(pg_db) as store:
        assert store.head_position() == 0
        assert store.append("after-1", [NewEvent("X", {})]).events[0].position >= 1


_CHUNKS_USING_THE_STORE = r'''
import json, sys, uuid
from evsh import open_store
from evsh.cli.transfer import import_rows

def line(n):
    return json.dumps({"event_id": str(uuid.uuid4()), "stream_id": f"s-{n}", "version": 1, "type": "X",
                       "data": {"n": n}}).encode()

with open_store(sys.argv[1]) as store:
    def chunks():
        for i, chunk in enumerate(import_rows((line(n) for n in range(1, 12_001)), None, "2026-01-01T00:00:00Z")):
            with store.transaction():  # as a seed's chunk making keeps subject keys (shredding.KeyStore.ensure)
                store.add_subject_keys([(f"u{i}", uuid.uuid4().hex, bytes(32))])
            yield chunk
    print(store.import_rows(chunks()), store.head_position())
'''


def test_chunks_made_with_a_transaction_of_the_same_store_import_instead_of_hanging(any_db, tmp_path):
    """import_rows lets the making of chunks use the store (a seed keeps subject keys in it, in a
    transaction of their own): with the COPY left open between chunks, that transaction's
    savepoint waited forever for the connection the COPY holds."""
    import os
    import subprocess
    import sys

    script = tmp_path / "chunks.py"
    script.write_text(_CHUNKS_USING_THE_STORE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}
    try:
        done = subprocess.run([sys.executable, str(script), any_db], capture_output=True, text=True, timeout=20,
                              env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("the import hung: a transaction opened while the COPY was open waits for it forever")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(12000,", "0)", "12000"]


def test_a_line_repeated_in_the_file_is_skipped_whether_or_not_in_the_same_chunk(cli, any_db):
    """Two exports that overlap, concatenated: a repeated line is the same event, skipped as a
    re-imported one is. It was skipped when its first copy was in an earlier chunk, and refused
    as 'another event' at that version when both were in the same chunk of 5,000 lines."""
    lines = [_line(k) for k in range(1, 6_001)]
    near = [*lines[:10], lines[2], *lines[10:]]  # line 3 again as line 11: the same chunk
    r = cli("import", "-", input="\n".join(near) + "\n", db=any_db)
    assert r.exit_code == 0, r.stderr
    assert "imported 6,000 events (1 already stored, skipped)" in r.stdout
    with open_store(any_db) as store:
        assert [e.event_id for e in store.read_all()] == [json.loads(x)["event_id"] for x in lines]


def test_an_import_whose_input_comes_slowly_is_not_cut_by_the_servers_statement_timeout(monkeypatch):
    """Managed servers often set a statement_timeout. Each chunk's COPY took far less; one COPY
    left open while the next chunk is read (a slow pipe, `zcat | evsh import -`) lasts as long as
    the input does, and the server cancelled it: an import that used to pass failed."""
    import time

    from evsh.cli.transfer import import_rows
    from tests.services import postgres_url

    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=1000")  # ms, for the store's connection

    def chunks():
        made = import_rows((_line(n).encode() for n in range(1, 7_001)), None, "2026-01-01T00:00:00Z")
        yield next(made)
        time.sleep(1.5)  # the input is slow in coming
        yield from made

    with postgres_url() as url:
        with open_store(url) as store:
            assert store.import_rows(chunks()) == (7_000, 0)
            assert store.head_position() == 7_000


def test_an_append_the_server_refuses_as_too_large_says_so_and_not_that_the_server_is_gone(cli, pg_db):
    """PostgreSQL answers a stream id too large for its index with a refusal (class 54), not a
    lost connection: the user is told what to change, and nothing is written."""
    r = cli("append", _unindexable_stream_id(), "X", '{"n": 1}', db=pg_db)
    assert r.exit_code == 4
    err = r.stderr.strip()
    assert "too large" in err and "shorter stream id" in err, err
    assert "cannot be reached" not in err and "\n" not in err and "Traceback" not in err
    with open_store(pg_db) as store:
        assert store.head_position() == 0
