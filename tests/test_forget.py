"""Crypto-shredding: personal fields encrypted per subject; `forget` leaves no plaintext anywhere in the files."""

from __future__ import annotations

import json
import os
import string

from hypothesis import assume, given, settings, strategies as st

from evsh import load_domain, open_store
from evsh.engine.forgetting import forget
from evsh.engine.shredding import PREFIX, REDACTED
from evsh.engine.snapshots import take_snapshot
from evsh.engine.wiring import build_engine


def store_bytes(db: str) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as fh:
                out += fh.read()
    return out


def test_personal_fields_are_encrypted_at_rest_and_read_plain(cli, db_path):
    r = cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "ada.lovelace@example.org", "--username", "countess")
    assert r.exit_code == 0, r.stderr
    raw = json.loads(cli("export").stdout.splitlines()[0])
    assert raw["data"]["user_id"] == "u1"
    assert raw["data"]["email"].startswith(PREFIX) and raw["data"]["username"].startswith(PREFIX)
    seen = json.loads(cli("--domain", "shop", "read", "user-u1", "--json").stdout)[0]
    assert seen["data"] == {"user_id": "u1", "email": "ada.lovelace@example.org", "username": "countess"}
    # without the domain, reads still decrypt (keys are in the store)
    assert json.loads(cli("read", "user-u1", "--json").stdout)[0]["data"]["email"] == "ada.lovelace@example.org"
    conn_rows = cli("sql", "SELECT data, metadata FROM events", "--json")
    assert "ada.lovelace" not in conn_rows.stdout and "countess" not in conn_rows.stdout


def test_forget_cli(cli, db_path):
    cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "grace.hopper@navy.example", "--username", "amazing_grace")
    cli("--domain", "shop", "exec", "user", "u2", "register", "--email", "alan.turing@example.org", "--username", "enigma_breaker")
    before = cli("export").stdout
    r = cli("--domain", "shop", "forget", "u1", "--yes")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("forgot u1: 1 event now read as [redacted]")
    seen = json.loads(cli("--domain", "shop", "read", "user-u1", "--json").stdout)[0]
    assert seen["data"] == {"user_id": "u1", "email": REDACTED, "username": REDACTED}
    assert seen["metadata"]["redacted"] == ["email", "username"]
    state = json.loads(cli("--domain", "shop", "state", "user", "u1", "--json").stdout)
    assert state["registered"] is True and state["email"] == REDACTED  # replay still works
    assert json.loads(cli("--domain", "shop", "state", "user", "u2", "--json").stdout)["email"] == "alan.turing@example.org"
    # the log is intact: the same events, still encrypted, plus a record of the forgetting
    after = cli("export").stdout.splitlines()
    assert after[: len(before.splitlines())] == before.splitlines()
    assert json.loads(after[-1])["type"] == "SubjectForgotten"
    assert b"grace.hopper" not in store_bytes(db_path) and b"amazing_grace" not in store_bytes(db_path)
    assert "already forgotten" in cli("--domain", "shop", "forget", "u1", "--yes").stdout
    assert "nothing to forget" in cli("--domain", "shop", "forget", "nobody", "--yes").stdout
    # a forgotten subject may come back later with new data, under a new key
    assert cli("--domain", "shop", "exec", "user", "u3", "register", "--email", "x@y.example", "--username", "newbie").exit_code == 0


def test_forget_json_report_names_scrubbed_copies(cli, db_path):
    cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "report.me@example.org", "--username", "reported_user")
    store = open_store(db_path)
    store.conn.execute("CREATE TABLE audit (line TEXT, n INTEGER)")
    store.conn.execute("INSERT INTO audit VALUES (?, 1)", ("user reported_user wrote from report.me@example.org",))
    store.conn.execute("INSERT INTO audit VALUES (?, 2)", ("unrelated text",))
    store.close()
    report = json.loads(cli("--domain", "shop", "forget", "u1", "--yes", "--json").stdout)
    assert report["keys"] == 1 and report["values"] == 2 and report["scrubbed"]["audit.line"] >= 1
    rows = json.loads(cli("sql", "SELECT line, n FROM audit ORDER BY n", "--json").stdout)
    assert rows == [{"line": "user [redacted] wrote from [redacted]", "n": 1}, {"line": "unrelated text", "n": 2}]


def test_short_values_are_scrubbed_as_whole_words_only(engine):
    engine.execute("user", "u1", "register", {"email": "bo@x.io", "username": "bob"})
    conn = engine.store.conn
    conn.execute("CREATE TABLE notes (t TEXT)")
    conn.executemany("INSERT INTO notes VALUES (?)", [("Hello bob, welcome",), ("bobsleigh club",), ("bob",)])
    report = forget(engine, "u1")
    texts = [r[0] for r in conn.execute("SELECT t FROM notes ORDER BY rowid")]
    assert texts == ["Hello [redacted], welcome", "bobsleigh club", "[redacted]"]
    assert report.left_inside_words == 1


def test_non_personal_copies_in_the_log_are_reported(engine):
    engine.execute("user", "u1", "register", {"email": "leaky.person@example.org", "username": "leaky_person"})
    engine.append("note-1", "NoteTaken", {"text": "leaky.person@example.org"})
    report = forget(engine, "u1")
    assert report.plaintext_in_log == 1  # the log is never rewritten: the domain must declare it personal


marker = st.text(alphabet=string.ascii_letters + string.digits, min_size=20, max_size=32)
# usernames also hold characters that JSON escapes (quotes, backslashes, non-ASCII)
name_marker = st.text(alphabet=string.ascii_letters + string.digits + 'é"ß\\€', min_size=20, max_size=32)


def forms(value: str) -> list[bytes]:
    """Every spelling of a value that would still disclose it: raw UTF-8 and JSON-escaped."""
    return [value.encode(), json.dumps(value)[1:-1].encode(), json.dumps(value, ensure_ascii=False)[1:-1].encode()]


@settings(max_examples=12)
@given(people=st.lists(st.tuples(marker, name_marker), min_size=2, max_size=3,
                       unique_by=(lambda p: p[0].lower(), lambda p: p[1].lower())),
       with_snapshot=st.booleans())
def test_after_forget_no_plaintext_remains_in_the_files(tmp_path_factory, people, with_snapshot):
    db = str(tmp_path_factory.mktemp("forget") / "f.db")
    store = open_store(db)
    engine = build_engine(store, load_domain("shop"))
    markers = []
    for i, (mail, name) in enumerate(people):
        email, username = f"{mail}@mail.example", f"user_{name}"
        markers.append((email, username))
        engine.execute("user", f"u{i}", "register", {"email": email, "username": username})
        if with_snapshot:
            take_snapshot(engine, engine.domain.aggregate("user"), f"u{i}")
    # copies a store collects over time: a read model, a dead letter with the event as read, free text
    conn = store.conn
    conn.execute("CREATE TABLE user_view (user_id TEXT PRIMARY KEY, email TEXT, username TEXT)")
    conn.execute("CREATE TABLE dead_letters_x (position INTEGER, event TEXT, error TEXT)")
    for e in engine.read_all(types=["UserRegistered"]):
        conn.execute("INSERT INTO user_view VALUES (?,?,?)", (e.data["user_id"], e.data["email"], e.data["username"]))
        conn.execute("INSERT INTO dead_letters_x VALUES (?,?,?)",
                     (e.position, json.dumps(e.as_dict(), ensure_ascii=True), f"could not mail {e.data['email']}"))
    # a forgotten value spelled out inside another person's kept value necessarily stays (and must)
    kept = [v for pair in markers[1:] for v in pair]
    assume(not any(f in k.encode() or f in json.dumps(k).encode() for v in markers[0] for f in forms(v) for k in kept))
    key = conn.execute("SELECT key FROM subject_keys WHERE subject='u0'").fetchone()[0]
    events_before = conn.execute("SELECT count(*) FROM events").fetchone()[0]

    forget(engine, "u0")

    raw = store_bytes(db)  # while the store is open: its -wal and -shm files are there too
    assert os.path.exists(db + "-wal")
    for value in markers[0]:
        for form in forms(value):
            assert form not in raw
    assert bytes(key) not in raw
    # the others' data is untouched and still readable
    assert engine.load("user", "u1").email == markers[1][0]
    assert conn.execute("SELECT email FROM user_view WHERE user_id='u1'").fetchone()[0] == markers[1][0]
    # the log is intact, the forgotten fields read as redacted, replay works
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == events_before + 1
    u0 = engine.load("user", "u0")
    assert (u0.registered, u0.email, u0.username) == (True, REDACTED, REDACTED)
    store.close()
    raw = store_bytes(db)
    for value in markers[0]:
        for form in forms(value):
            assert form not in raw
    assert markers[1][0].encode() in raw  # nothing else was scrubbed: the other user's read-model row stays


def test_a_subject_that_is_itself_personal_is_refused(tmp_path, db_path):
    import pytest

    from evsh import DomainError

    bad = tmp_path / "bad.py"
    bad.write_text(
        "from evsh import event\n\n"
        "@event(personal=('email',), subject='email')\n"
        "class Subscribed:\n    email: str\n"
    )
    store = open_store(db_path)
    with pytest.raises(DomainError, match="cannot be personal itself"):
        build_engine(store, load_domain(str(bad)))
    store.close()


def test_command_output_shows_what_readers_see(cli):
    r = cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "plain.view@example.org",
            "--username", "plainview", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["events"][0]["data"]["email"] == "plain.view@example.org"
    r = cli("--domain", "shop", "append", "user-u2", "UserRegistered",
            '{"user_id": "u2", "email": "by.hand@example.org", "username": "byhand"}', "--json")
    assert json.loads(r.stdout)[0]["data"]["email"] == "by.hand@example.org"
    raw = [json.loads(line) for line in cli("export").stdout.splitlines()]
    assert all(e["data"]["email"].startswith(PREFIX) for e in raw if e["type"] == "UserRegistered")


def test_keys_travel_separately_from_events(cli, tmp_path, db_path):
    cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "kept.person@example.org", "--username", "kept")
    cli("--domain", "shop", "exec", "user", "u2", "register", "--email", "gone.person@example.org", "--username", "gone")
    cli("--domain", "shop", "forget", "u2", "--yes")
    listed = json.loads(cli("keys", "--json").stdout)
    assert [(k["subject"], k["forgotten_at"] is not None) for k in listed] == [("u1", False), ("u2", True)]
    assert "key" not in listed[0]  # never the key material
    events, keys = str(tmp_path / "ev.jsonl"), str(tmp_path / "keys.jsonl")
    assert cli("export", "-o", events).exit_code == 0
    assert cli("keys", "export", "-o", keys).exit_code == 0
    assert oct(os.stat(keys).st_mode & 0o777) == "0o600"
    assert cli("keys", "export", "-o", keys).exit_code == 2  # never overwrites
    copy = str(tmp_path / "copy.db")
    assert cli("--domain", "shop", "import", events, db=copy).exit_code == 0
    # without the keys the copy reads the personal fields as redacted; with them, as before
    assert json.loads(cli("--domain", "shop", "state", "user", "u1", "--json", db=copy).stdout)["email"] == REDACTED
    r = cli("keys", "import", keys, db=copy)
    assert r.exit_code == 0 and "imported 1 key" in r.stdout
    assert json.loads(cli("--domain", "shop", "state", "user", "u1", "--json", db=copy).stdout)["email"] == "kept.person@example.org"
    assert json.loads(cli("--domain", "shop", "state", "user", "u2", "--json", db=copy).stdout)["email"] == REDACTED
    assert "skipped" in cli("keys", "import", keys, db=copy).stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key_id": "x", "subject": "u9", "key": "c2hvcnQ=", "created_at": "now"}\n')
    r = cli("keys", "import", str(bad), db=copy)
    assert r.exit_code == 2 and "line 1" in r.stderr


def test_a_failed_keys_export_leaves_no_file(cli, tmp_path):
    """It left an empty keys file, which `keys import` then took as 0 keys and a retry refused."""
    keys = tmp_path / "keys.jsonl"
    r = cli("keys", "export", "-o", str(keys), db=str(tmp_path / "missing.db"))
    assert r.exit_code == 4 and "no store" in r.stderr
    assert not keys.exists()


def test_personal_fields_stored_unencrypted_are_reported(cli, tmp_path):
    """Events from before the fields were declared personal (here: imported) stay in the log, said plainly."""
    line = {"event_id": "0b5e7c1e-4a8e-4c1a-9a57-0c1e5b0f2a11", "stream_id": "user-u7", "version": 1,
            "type": "UserRegistered", "data": {"user_id": "u7", "email": "old.plain@example.org", "username": "oldplain"},
            "metadata": {"schema_version": 1}}
    dump = tmp_path / "old.jsonl"
    dump.write_text(json.dumps(line) + "\n")
    assert cli("--domain", "shop", "import", str(dump)).exit_code == 0
    r = cli("--domain", "shop", "forget", "u7", "--yes")
    assert r.exit_code == 0
    assert "has no key" in r.stdout
    assert "store the subject's personal fields unencrypted" in r.stderr


def test_one_value_inside_another_subjects_value_is_left_alone(engine):
    engine.execute("user", "u1", "register", {"email": "000000000@mail.example", "username": "first_user"})
    engine.execute("user", "u2", "register", {"email": "0000000000@mail.example", "username": "second_user"})
    conn = engine.store.conn
    conn.execute("CREATE TABLE by_email (email TEXT PRIMARY KEY, n INTEGER)")
    conn.executemany("INSERT INTO by_email VALUES (?, ?)", [("000000000@mail.example", 1), ("0000000000@mail.example", 2),
                                                          ("[redacted]", 3)])
    report = forget(engine, "u1")
    assert conn.execute("SELECT email, n FROM by_email ORDER BY n").fetchall() == [("0000000000@mail.example", 2),
                                                                                    ("[redacted]", 3)]
    assert report.scrubbed["by_email.email"] == 1  # the unique key refused a second "[redacted]": row dropped
    assert engine.load("user", "u2").email == "0000000000@mail.example"


def test_export_upcast_keeps_personal_fields_encrypted(cli):
    cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "live.one@example.org", "--username", "liveone")
    cli("--domain", "shop", "exec", "user", "u2", "register", "--email", "gone.two@example.org", "--username", "gonetwo")
    cli("--domain", "shop", "forget", "u2", "--yes")
    out = cli("--domain", "shop", "export", "--upcast").stdout
    assert "live.one" not in out and "gone.two" not in out
    users = {e["stream_id"]: e["data"] for e in map(json.loads, out.splitlines()) if e["type"] == "UserRegistered"}
    assert users["user-u1"]["email"].startswith(PREFIX)
    assert users["user-u2"]["email"] == REDACTED


def test_short_values_inside_ciphertext_are_no_false_alarm(engine):
    for i in range(30):
        engine.execute("user", f"x{i}", "register", {"email": f"someone{i}@example.org", "username": f"someone_{i}"})
    engine.execute("user", "u1", "register", {"email": "a@b.io", "username": "A"})
    report = forget(engine, "u1")
    assert report.plaintext_in_log == 0 and report.plaintext_events == 0
