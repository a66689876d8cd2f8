"""Random evsh.toml files: every key with values of every TOML type, and files that are not TOML.

A command run under a project file either works, or stops on one line naming evsh.toml and the
key (exit 2) before anything is opened or written; never a traceback, never a silent default.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evsh.cli.context import CONFIG_KEYS
from tests.fuzz_support import check, copy_of, digest, examples, make_template, run_evsh

# What each key plausibly holds. db stays a relative name: the store is made where it points.
GOOD = {
    "db": ['"evsh.db"', '"other.db"', '"sub/x.db"', '"sub"', '"evsh.db-wal"', '"link.db"', '"x\\u001b.db"',
           '"[/oops].db"', '"."'],
    "domain": ['"shop"', '"nope"', '"evsh.db"', '"sub"', '"s.evsh"'],
    "sync": ['"normal"', '"full"'], "mode": ['"inline"', '"async"', '"step"'],
    "busy_timeout": ["5", "0.5", "86400"], "clock": ['"system"', '"fixed:2026-01-01T00:00:00Z,1ms"'],
    "ids": ['"random"', '"uuid4"', '"seed:1"'],
}
ANY_VALUE = ["5", "-1", "0", str(2**63 - 1), str(2**70), "1e308", "nan", "inf", "-inf", "true", "false", '""', '" "',
             '"abc"', "'sideways'", "[]", "[1, 2]", "{}", "{a = 1}", "2026-01-01T00:00:00Z", "2026-01-01", "10:00:00",
             '"\\u202eshop"', '"\\u0000"', '"\\ud800"', '"fixed:never"', '"seed:"', '"fixed:2026-01-01T00:00:00Z,-1ms"',
             '"fixed:9999-12-31T23:59:59Z,1000000000d"', '"""multi\nline"""', "'''raw'''", "0x10", "1_000", "+inf"]
JUNK_LINES = ["[evsh", "= 5", "mode = ", "mode = 5 5", "\x00", "[[evsh]]", "[other]", "mode.x = 1", "# comment",
              "ＭＯＤＥ = 1", "domian = 'shop'", "evsh = 5"]
COMMANDS = [["append", "a-1", "Noted"], ["read", "a-1"], ["exec", "inventory", "p1", "add-stock", "--quantity", "1"],
            ["log", "--limit", "2"], ["streams"]]


@st.composite
def config_text(draw: st.DrawFn) -> bytes:
    lines = []
    for key in draw(st.lists(st.sampled_from(sorted(CONFIG_KEYS) + ["nope"]), max_size=4, unique=True)):
        pool = GOOD.get(key, [])
        value = draw(st.sampled_from(pool)) if pool and draw(st.booleans()) else draw(st.sampled_from(ANY_VALUE))
        lines.append(f"{key} = {value}")
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(JUNK_LINES)))
    if draw(st.booleans()):
        lines.insert(0, "[evsh]")
    raw = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(b"=", b"= \xff", 1)
    return raw


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    return make_template(str(tmp_path_factory.mktemp("fuzz-config")))


@examples(3.0)
@given(config_text(), st.sampled_from(COMMANDS), st.booleans())
def test_any_project_file_works_or_is_refused_naming_its_key(template, toml, command, give_db):
    with copy_of(template) as folder:
        with open(os.path.join(folder, "evsh.toml"), "wb") as fh:
            fh.write(toml)
        db = os.path.join(folder, "evsh.db")
        before = digest(db)
        files = sorted(os.listdir(folder))  # (after reading the store, which leaves its -wal and -shm)
        run = run_evsh(folder, command, db=give_db)
        check(run, before, digest(db))
        said = f"{toml!r}\n{run.stderr}"
        if run.exit_code == 2 and "evsh.toml" in run.stderr:
            assert len(run.stderr.strip().splitlines()) == 1 and run.stderr.startswith("evsh: "), said
            assert sorted(os.listdir(folder)) == files, f"a refused evsh.toml left files behind:\n{said}"
