"""`evsh keys import` checks every field of every key before it adds any: a key id as evsh makes
them, a key that decodes to 32 bytes, a subject that is a valid name, a created_at that is a
time. A wrong one refuses the whole file with one line (line, field, what to do), exit 2."""

from __future__ import annotations

import base64
import json

import pytest

GOOD = {"key_id": "44e69be6b9c94eb3bda5ffd2326bf551", "subject": "u77",
        "key": base64.b64encode(bytes(range(32))).decode(), "created_at": "2026-12-06T06:36:03Z"}
OTHER = {**GOOD, "key_id": "0123456789abcdef0123456789abcdef", "subject": "u78"}

BAD = [
    ("key", "é"),  # not ASCII: a ValueError inside binascii before
    ("key", "not base64!"),
    ("key", base64.b64encode(bytes(16)).decode()),
    ("key", 42),
    ("key_id", ""),
    ("key_id", "44e69be6b9c94eb3bda5ffd2326bf55\x1b"),
    ("key_id", "\\u001b[2J"),
    ("key_id", "44E69BE6B9C94EB3BDA5FFD2326BF551"),
    ("key_id", None),
    ("subject", ""),
    ("subject", "u\x07"),
    ("subject", ["u77"]),
    ("created_at", "\x1b[2J garbage"),
    ("created_at", "2026-02-30T00:00:00Z"),
    ("created_at", ""),
    ("created_at", 1765000000),
]


def _file(tmp_path, *objs) -> str:
    path = tmp_path / "keys.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("field,value", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_a_wrong_field_refuses_the_whole_file(cli, tmp_path, field, value):
    r = cli("keys", "import", _file(tmp_path, OTHER, {**GOOD, field: value}))
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"evsh: error: line 2: {field}") and r.stderr.count("\n") == 1
    assert "evsh keys export" in r.stderr and "Traceback" not in r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr
    listed = cli("keys", "--json")
    assert json.loads(listed.stdout or "[]") == []  # nothing imported, not even line 1


def test_good_keys_are_imported_and_listed_as_given(cli, tmp_path):
    r = cli("keys", "import", _file(tmp_path, GOOD, OTHER))
    assert r.exit_code == 0, r.stderr
    rows = json.loads(cli("keys", "--json").stdout)
    assert {(k["subject"], k["key_id"], k["created_at"]) for k in rows} == {
        ("u77", GOOD["key_id"], GOOD["created_at"]), ("u78", OTHER["key_id"], OTHER["created_at"])}


def test_keys_exported_by_evsh_import_again(cli, tmp_path):
    shop = ["--domain", "shop"]
    r = cli(*shop, "exec", "user", "u1", "register", "--email", "ann@example.com", "--username", "ann")
    assert r.exit_code == 0, r.stderr
    out = str(tmp_path / "exported.jsonl")
    assert cli("keys", "export", "-o", out).exit_code == 0
    other = str(tmp_path / "other.db")
    r = cli("keys", "import", out, db=other)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("imported 1 key")
