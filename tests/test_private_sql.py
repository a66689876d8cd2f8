"""Read-only SQL never reads key material, on every backend, however the query reaches it;
which subjects have keys stays readable (as `evsh keys` shows it)."""

from __future__ import annotations

import pytest

SHOP = ("--domain", "shop")
REFUSED = [
    "select * from subject_keys",
    "select encode(key, 'hex') from subject_keys",
    "select hex(key) from subject_keys",
    "select subject from subject_keys s where length(s.key) > 0",
    "select (select key from subject_keys limit 1)",
]


@pytest.fixture
def keyed(cli, any_db):
    r = cli(*SHOP, "exec", "user", "u1", "register", "--email", "ann@example.org", "--username", "ann", db=any_db)
    assert r.exit_code == 0, r.stderr
    return lambda *args: cli(*args, db=any_db)


@pytest.mark.parametrize("query", REFUSED)
def test_key_material_is_refused(keyed, query):
    r = keyed("sql", query)
    if "no such function" in r.stderr or "does not exist" in r.stderr:
        pytest.skip("this backend has no such function")  # hex() is SQLite's, encode() PostgreSQL's
    assert r.exit_code == 2 and "key material" in r.stderr and "evsh keys" in r.stderr, r.stderr
    assert r.stdout == ""


def test_which_subjects_have_keys_stays_readable(keyed):
    r = keyed("sql", "select subject, key_id from subject_keys", "--json")
    assert r.exit_code == 0, r.stderr
    assert [row["subject"] for row in __import__("json").loads(r.stdout)] == ["u1"]
