"""`evsh run`: the .evsh language, expectations, failures as FILE:LINE, exit codes."""

from __future__ import annotations

import json
import sqlite3

import pytest

ITEMS = '\'[{"product_id":"p1","quantity":2,"unit_price":"10.00"}]\''
CREATE = f"exec order o1 create --customer-id c1 --items {ITEMS}"


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def count_events(db: str) -> int:
    try:
        return sqlite3.connect(db).execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_comments_blank_lines_continuation_and_multiline_quotes(cli, tmp_path, db_path):
    script = write(tmp_path, "a.evsh", f"""
# a comment line

exec order o1 create --customer-id c1 \\
     --items '[{{"product_id":"p#1",
                "quantity":2, "unit_price":"10.00"}}]'   # a trailing comment
expect state order o1 items.0.product_id=p#1 total_amount=20.00
""")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 0, r.stderr
    assert "OrderCreated" in r.stdout
    assert count_events(db_path) == 1


def test_expectations_that_hold(cli, tmp_path):
    script = write(tmp_path, "ok.evsh", f"""
{CREATE}
exec order o1 confirm
expect state order o1 status=confirmed total_amount=20 items.0.quantity>=2 customer_id~^c
expect state order o1 --at-version 1 status=created
expect state order o1 status != cancelled
expect stream order-o1 OrderCreated OrderConfirmed
expect stream order-o1 count=2 version=2
expect stream $all count>1
expect rejected --match "already confirmed" exec order o1 confirm
expect conflict append order-o1 Noted '{{}}' --expected-version 1
expect error exec order o1 frobnicate
expect exit 2 read
expect query "SELECT count(*) FROM events" = 2
expect query "SELECT type FROM events ORDER BY position" = '["OrderCreated","OrderConfirmed"]'
expect query "SELECT stream_id, version FROM streams" = '[["order-o1", 2]]'
""")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 0, r.stderr
    assert r.stderr.startswith("ran ") and r.stderr.count("\n") == 1  # the summary line, nothing else


@pytest.mark.parametrize("line, expected, actual", [
    ("expect state order o1 status=confirmed", "expected: confirmed", "actual:   created"),
    ("expect state order o1 --at-version 1 total_amount=21", "expected: 21", "actual:   20.00"),
    ("expect stream order-o1 OrderCreated OrderConfirmed", "expected: OrderCreated OrderConfirmed", "actual:   OrderCreated"),
    ("expect stream order-o1 count=3", "expected: 3", "actual:   1"),
    ('expect query "SELECT count(*) FROM events" = 7', "expected: 7", "actual:   1"),
    ("expect rejected exec order o2 create --customer-id c --items " + ITEMS, "expected: rejected", "actual:   success"),
    ("expect rejected --match nope exec order o1 confirm --help", "expected: rejected", "actual:   success"),
    ("expect conflict " + CREATE, "expected: conflict", "actual:   exit 1: rejected: order o1 already exists"),
    ("expect rejected --match 'is cancelled' exec order o1 create --customer-id c --items " + ITEMS,
     "expected: /is cancelled/", "actual:   rejected: order o1 already exists"),
])
def test_a_failed_expectation_shows_expected_and_actual_and_exits_1(cli, tmp_path, line, expected, actual):
    script = write(tmp_path, "f.evsh", f"{CREATE}\n{line}\nsay not reached\n")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 1
    assert f"{script}:2: expectation failed" in r.stderr
    assert expected in r.stderr and actual in r.stderr
    assert "not reached" not in r.stdout
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("line, code, message", [
    ("exec order o1 create --customer-id c1 --items " + ITEMS, 1, "rejected: order o1 already exists"),
    ("append order-o1 Noted '{}' -e 0", 3, "conflict: stream 'order-o1'"),
    ("exec order o1 cancel", 2, "missing parameter --reason"),
    ("read", 2, "usage: Missing argument 'STREAM'"),
    ("exec order o1 create --customer-id c2 --items '[{\"product_id\": 1}]'", 2, "product_id"),
    ("state order o1 --at-version 9", 2, "version 9 does not exist"),
])
def test_the_failing_line_gives_file_line_message_and_its_exit_code(cli, tmp_path, db_path, line, code, message):
    script = write(tmp_path, "x.evsh", f"{CREATE}\n\n{line}\nexec order o1 confirm\n")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == code
    assert r.stderr.startswith(f"{script}:3: ")
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert count_events(db_path) == 1  # the bad line wrote nothing, and the run stopped there


@pytest.mark.parametrize("text, where, message", [
    ("exec order o1 confirm\nexec order o2 \"unclosed\n", 2, "never closed"),
    ("exec order o1 confirm\nstaet order o1\n", 2, "unknown command 'staet' (did you mean"),
    ("repeat 2\nsay ${j}\nend\n", 2, "unknown variable ${j}"),
    ("say ${i}\n", 1, "variables exist only inside a repeat block"),
    ("repeat 3\nsay hi\n", 1, "no `end`"),
    ("end\n", 1, "`end` without a `repeat`"),
    ("repeat many\nend\n", 1, "not a whole number"),
    ("expect state order o1\n", 1, "say what to check"),
    ("expect sometimes\n", 1, "unknown expectation"),
    ("expect rejected\n", 1, "name the command"),
    ("expect rejected bogus x\n", 1, "unknown command 'bogus'"),
    ("expect rejected --match '(' exec order o1 confirm\n", 1, "not a regular expression"),
    ("--db other.db read order-o1\n", 1, "global options go before the script"),
    ("shell\n", 1, "cannot run inside a script"),
])
def test_a_syntax_error_anywhere_runs_nothing(cli, tmp_path, db_path, text, where, message):
    script = write(tmp_path, "s.evsh", f"{CREATE}\n" + text)
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"{script}:{where + 1}: error: ")
    assert message in r.stderr
    assert count_events(db_path) == 0


def test_keep_going_runs_on_and_reports_every_failure(cli, tmp_path, db_path):
    script = write(tmp_path, "k.evsh", f"""{CREATE}
exec order o1 confirm
exec order o1 confirm
expect state order o1 status=created
exec order o1 cancel --reason late
append order-o1 Noted '{{}}' -e 1
""")
    r = cli("--domain", "shop", "--mode", "step", "run", "--keep-going", script)
    assert r.exit_code == 1  # the first failure's code
    assert "3 lines failed:" in r.stderr
    for n in (3, 4, 6):
        assert f"{script}:{n}:" in r.stderr
    assert f"{script}:5:" not in r.stderr
    assert count_events(db_path) == 3  # created, confirmed, cancelled: the failing lines wrote nothing


def test_repeat_and_variables(cli, tmp_path):
    script = write(tmp_path, "r.evsh", """
repeat 3
  exec user u${i} register --email 'u${i}@example.com' --username "user ${i}"
  repeat 2 as j
    append note-${i}-${j} Noted '{"n": ${i}, "m": ${j}}'
  end
end
expect state user u3 email=u3@example.com username="user 3"
expect stream note-2-1 count=1
expect query "SELECT json_extract(data, '$.n') || json_extract(data, '$.m') FROM events WHERE stream_id='note-3-2'" = 32
expect stream $all count=9
""")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 0, r.stderr


def test_stdin_several_files_and_global_options_apply_to_every_line(cli, tmp_path):
    other = str(tmp_path / "other.db")
    first = write(tmp_path, "1.evsh", CREATE + "\n")
    r = cli("--domain", "shop", "--mode", "step", "run", first, "-", input="exec order o1 confirm\nexpect stream order-o1 count=2\n",
            db=other)
    assert r.exit_code == 0, r.stderr
    assert count_events(other) == 2
    r = cli("--domain", "shop", "--mode", "step", "run", "-", input="expect stream order-o1 count=3\n", db=other)
    assert r.exit_code == 1
    assert r.stderr.startswith("<stdin>:1: expectation failed")


def test_a_syntax_error_in_a_later_file_runs_no_file(cli, tmp_path, db_path):
    first = write(tmp_path, "1.evsh", CREATE + "\n")
    second = write(tmp_path, "2.evsh", "exec order o1 confirm\nexpec state order o1 status=x\n")
    r = cli("--domain", "shop", "--mode", "step", "run", first, second)
    assert r.exit_code == 2
    assert f"{second}:2: error: unknown command 'expec'" in r.stderr
    assert count_events(db_path) == 0


def test_missing_file_is_bad_input(cli, tmp_path):
    r = cli("run", str(tmp_path / "nope.evsh"))
    assert r.exit_code == 2
    assert "cannot read" in r.stderr


def test_echo_prints_each_line_before_its_output(cli, tmp_path):
    script = write(tmp_path, "e.evsh", f"say Placing an order\n{CREATE}\nexpect stream order-o1 count=1\n")
    r = cli("--domain", "shop", "--mode", "step", "run", "--echo", script)
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert out.index("Placing an order") < out.index("$ evsh exec order o1 create") < out.index("OrderCreated")
    assert "✓ order-o1: count = 1" in out


def test_pause_waits_for_enter_between_steps(cli, tmp_path):
    # steps: the creation; `say` + the confirmation; the cancellation. Checks never wait.
    script = write(tmp_path, "p.evsh", f"{CREATE}\nexpect stream order-o1 count=1\nsay now confirm it\n"
                   "exec order o1 confirm\nexpect stream order-o1 count=2\nexec order o1 cancel --reason x\n")
    r = cli("--domain", "shop", "--mode", "step", "run", "--pause", script, input="\n\n")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("(Enter: next step)") == 2


def test_json_output_of_a_line_is_untouched(cli, tmp_path):
    script = write(tmp_path, "j.evsh", f"{CREATE}\nstate order o1 --json\n")
    r = cli("--domain", "shop", "--mode", "step", "run", script)
    assert r.exit_code == 0
    state = json.loads(r.stdout[r.stdout.index("\n{") + 1:])
    assert state["status"] == "created"


def test_a_script_can_run_another(cli, tmp_path, db_path):
    inner = write(tmp_path, "inner.evsh", "expect state order o1 status=confirmed\n")
    outer = write(tmp_path, "outer.evsh", f"{CREATE}\nrun {inner}\nsay after\n")
    r = cli("--domain", "shop", "--mode", "step", "run", outer)
    assert r.exit_code == 1
    assert f"{inner}:1: expectation failed" in r.stderr
    assert f"{outer}:2:" in r.stderr
    assert "after" not in r.stdout


def test_replay_expectation_compares_with_a_fresh_process(cli, tmp_path):
    script = write(tmp_path, "rp.evsh", f"{CREATE}\nexec order o1 cancel --reason 'changed my mind'\nexpect replay order o1\n")
    r = cli("--domain", "shop", "--mode", "step", "run", "--echo", script)
    assert r.exit_code == 0, r.stderr
    assert "same state here and in a fresh process" in r.stdout


def test_help_lists_commands_and_directives(cli):
    r = cli("run", "-", input="help\n")
    assert r.exit_code == 0
    assert "expect state" in r.stdout and "repeat N" in r.stdout and "exec" in r.stdout


def test_a_script_may_declare_its_global_options_on_a_shebang_line(cli, tmp_path, db_path):
    header = "#!/usr/bin/env -S evsh --domain shop --mode step --clock fixed:2030-01-01T00:00:00Z,1s run\n"
    script = write(tmp_path, "h.evsh", header + f"{CREATE}\nexpect stream $all count=1\n"
                   "expect query \"SELECT recorded_at FROM events\" = 2030-01-01T00:00:01.000000Z\n")
    r = cli("run", script)  # no --domain, no --mode: the first line says them
    assert r.exit_code == 0, r.stderr
    r = cli("--mode", "inline", "run", script, db=str(tmp_path / "inline.db"))  # the command line wins
    assert r.exit_code == 1
    assert "expected: 1" in r.stderr
    bad = write(tmp_path, "bad.evsh", "#!/usr/bin/env -S evsh --mode sometimes run\nsay hi\n")
    r = cli("run", bad)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"{bad}:1: error: the options on the first line")


def test_a_script_with_a_header_run_from_another_script_stays_on_the_same_store(cli, tmp_path, db_path):
    inner = write(tmp_path, "inner.evsh", "#!/usr/bin/env -S evsh --domain shop --mode step run\n"
                  "exec order o2 cancel --reason x\n")
    outer = write(tmp_path, "outer.evsh", f"{CREATE}\nexec order o2 create --customer-id c --items {ITEMS}\n"
                  f"run {inner}\nexpect state order o2 status=cancelled\n")
    other = str(tmp_path / "outer.db")  # not the default ./evsh.db
    r = cli("--domain", "shop", "--mode", "step", "run", outer, db=other)
    assert r.exit_code == 0, r.stderr
    assert count_events(other) == 3
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["outer.db"]
