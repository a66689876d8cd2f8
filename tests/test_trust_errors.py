"""Bad input of every kind gets one line on stderr, its documented exit code, and writes nothing.

Each class of bad input is tried through the real CLI: arguments that are not UTF-8 (in a real
process, as a shell passes them), numbers beyond what the store holds, malformed import lines,
a broken evsh.toml, SQL that reads key material or never ends, scripts that nest, loop or
include themselves, and domain modules that exit or interrupt while loading.
"""

from __future__ import annotations

import json

import pytest

from tests.cli_faults import event_line, events_in, evsh, one_line

SHOP = ("--domain", "shop")
HUGE = str(2**70)


# ----------------------------------------------------------------------------- not UTF-8

@pytest.mark.parametrize("args, named", [
    ([b"read", b"order-\xff"], b"argument 2"),
    ([b"append", b"order-\xff", b"T"], b"argument 2"),
    ([b"append", b"order-1", b"T\xff"], b"argument 3"),
    ([b"--domain", b"shop", b"exec", b"order", b"o\xff", b"confirm"], b"argument 5"),
    ([b"sql", b"select '\xff'"], b"argument 2"),
    ([b"trace", b"\xff"], b"argument 2"),
    ([b"read", b"$all", b"--json", b"x\xfe"], b"argument 4"),
    ([b"forget", b"\xffbob", b"--yes"], b"argument 2"),
    ([b"log", b"--category", b"ord\xe9r"], b"after --category"),
    ([b"log", b"--type=T\xff"], b"--type"),
    ([b"--db", b"\xff.db", b"append", b"a-1", b"X"], b"after --db"),
])
def test_an_argument_that_is_not_utf8_is_named_and_refused(tmp_path, args, named):
    assert evsh("append", "order-1", "T", cwd=tmp_path).returncode == 0
    r = evsh(*args, cwd=tmp_path)
    line = one_line(r, 2, "is not valid UTF-8")
    assert named.decode() in line and "\\x" in line  # the undecodable byte, as the user typed it
    assert events_in(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".db")) == ["evsh.db"]


def test_an_environment_variable_that_is_not_utf8_is_refused(tmp_path):
    r = evsh("read", "a-1", cwd=tmp_path, env={"EVSH_DOMAIN": b"sh\xffp".decode("utf-8", "surrogateescape")})
    one_line(r, 2, "EVSH_DOMAIN", "not valid UTF-8")


# ----------------------------------------------------------------------------- numbers

@pytest.mark.parametrize("args", [
    ("read", "order-1", "--from-version", HUGE),
    ("read", "$all", "--from-version", HUGE),
    ("read", "order-1", "--limit", HUGE),
    ("log", "--from-position", HUGE),
    ("log", "--from-position", "9" * 5000),
    ("log", "--limit", "-1"),
    ("export", "--from-position", HUGE),
    ("streams", "meta", "order-1", "--max-count", HUGE),
    ("streams", "meta", "order-1", "--max-age", "99999999999999999999w"),
    ("streams", "truncate", "order-1", "--before", HUGE),
    ("--domain", "shop", "dlq", "show", HUGE),
    ("--domain", "shop", "dlq", "retry", HUGE),
    ("--domain", "shop", "reactors", "run", "--batch-size", HUGE),
    ("--domain", "shop", "reactors", "run", "--poll", "nan"),
    ("--domain", "shop", "reactors", "run", "--lease", "inf"),
    ("--busy-timeout", "nan", "append", "order-1", "T"),
    ("--busy-timeout", "-1", "append", "order-1", "T"),
    ("--busy-timeout", "inf", "append", "order-1", "T"),
    ("--busy-timeout", "1e308", "append", "order-1", "T"),
    ("--domain", "shop", "projections", "skip", "order_details", "--position", HUGE),  # found by the CLI fuzzer
    ("--domain", "shop", "projections", "run", "--batch-size", HUGE),
    ("--domain", "shop", "projections", "rebuild", "order_details", "--batch-size", HUGE),
    ("--domain", "shop", "projections", "run", "--interval", "nan"),
    ("--domain", "shop", "state", "order", "o1", "--at-version", HUGE),
    ("--domain", "shop", "seed", "--orders", HUGE),
    ("--domain", "shop", "seed", "--orders", "1", "--days", "inf"),
    ("--domain", "shop", "seed", "--orders", "1", "--days", "nan"),
    ("--domain", "shop", "seed", "--orders", "1", "--days", "1e308"),
    ("tui", "--poll", "nan"),
    ("stats", "--since", "garbage"),
    ("stats", "--since", "0001-01-01T00:00+05:00"),
])
def test_a_number_out_of_range_is_a_usage_error(cli, args):
    assert cli("append", "order-1", "T").exit_code == 0
    one_line(cli(*args), 2, "Invalid value")
    assert len(json.loads(cli("read", "order-1", "--json").stdout)) == 1
    info = json.loads(cli("streams", "meta", "order-1", "--json").stdout)
    assert info["max_count"] is None and info["max_age"] is None


def test_numbers_in_range_still_work(cli):
    assert cli("append", "order-1", "T").exit_code == 0
    assert cli("--busy-timeout", "0.5", "read", "order-1", "--from-version", str(2**62)).exit_code == 0
    assert cli("stats", "--since", "2026-01-01T09:30", "--json").exit_code == 0
    assert cli("streams", "meta", "order-1", "--max-count", "5", "--max-age", "30d").exit_code == 0


# ----------------------------------------------------------------------------- import lines

@pytest.mark.parametrize("over, says", [
    ({"type": {}}, "type must be a string"),
    ({"stream_id": []}, "stream_id must be a string"),
    ({"event_id": {}}, "is not a UUID"),
    ({"version": 2**70}, "version must be a whole number"),
    ({"version": True}, "version must be a whole number"),
    ({"version": 0}, "version must be a whole number"),
    ({"data": []}, "data must be a JSON object"),
    ({"metadata": []}, "metadata must be a JSON object"),
    ({"metadata": {"schema_version": "x"}}, "schema_version must be a whole number"),
    ({"metadata": {"schema_version": None}}, "schema_version must be a whole number"),
    ({"metadata": {"correlation_id": {}}}, "correlation_id must be a string"),
    ({"position": "x"}, "position must be a whole number"),
    ({"recorded_at": 5}, "recorded_at 5"),
    ({"recorded_at": "2026-13-45T10:00Z"}, "is not an ISO 8601 time"),
    ({"evsh_format": 0}, "evsh_format must be a positive integer"),
    ({"evsh_format": "1"}, "evsh_format must be a positive integer"),
])
def test_every_field_of_an_import_line_is_checked(cli, tmp_path, over, says):
    (tmp_path / "in.jsonl").write_text(event_line(1) + "\n" + event_line(2, **over) + "\n")
    one_line(cli("import", "in.jsonl"), 2, "line 2:", says)
    assert cli("read", "b-1", "--json").exit_code == 4  # all or nothing: not even line 1


def test_a_refused_schema_version_leaves_upcast_check_working(cli, tmp_path):
    line = event_line(1, stream="order-1", type="OrderCancelled", data={"order_id": "1", "reason": "x"},
                      metadata={"schema_version": "x"})
    (tmp_path / "in.jsonl").write_text(line + "\n")
    one_line(cli(*SHOP, "import", "in.jsonl"), 2, "line 1:", "schema_version")
    one_line(cli("append", "order-1", "OrderCancelled", "--metadata", '{"schema_version": "x"}'), 2, "schema_version")
    assert cli(*SHOP, "append", "order-1", "OrderCancelled", '{"order_id": "1", "reason": "x"}').exit_code == 0
    assert cli(*SHOP, "upcast", "--check").exit_code == 0


@pytest.mark.parametrize("what, says", [("/dev/zero", "is a device"), (".", "is a folder"),
                                        ("missing.jsonl", "no such file")])
def test_import_says_what_the_file_really_is(cli, what, says):
    one_line(cli("import", what), 2, says)


@pytest.mark.parametrize("args, says", [
    (("keys", "import", "/dev/zero"), "is a device"),  # once read without end, until the memory ran out
    (("import", "-"), "line 1: longer than"),  # an endless pipe without a newline
])
def test_an_input_that_never_ends_is_refused(tmp_path, args, says):
    assert evsh("append", "a-1", "X", cwd=tmp_path).returncode == 0
    with open("/dev/zero", "rb") as zero:
        one_line(evsh(*args, cwd=tmp_path, stdin=zero), 2, says)
    assert events_in(tmp_path) == 1


@pytest.mark.parametrize("args", [
    ("keys", "export", "-o", ""), ("keys", "export", "-o", "nodir/keys"), ("export", "-o", "nodir/x.jsonl"),
    ("backup", "nodir/b.db"),
])
def test_an_output_path_that_cannot_be_opened_is_named(cli, args):
    assert cli("--domain", "shop", "exec", "user", "u1", "register", "--email", "a@b.c", "--username", "al").exit_code == 0
    r = cli(*args)
    assert r.exit_code in (2, 4), r.stderr
    one_line(r, r.exit_code, args[-1] or "''")


# ----------------------------------------------------------------------------- evsh.toml

@pytest.mark.parametrize("toml, key", [
    ("mode = 5", "mode"), ("mode = 'sideways'", "mode"), ("busy_timeout = 'abc'", "busy_timeout"),
    ("busy_timeout = nan", "busy_timeout"), ("busy_timeout = -1", "busy_timeout"), ("clock = 5", "clock"),
    ("clock = 'fixed:never'", "clock"), ("ids = {}", "ids"), ("ids = 'sequential'", "ids"), ("domain = 5", "domain"),
    ("db = 5", "db"), ("db = ''", "db"), ("sync = 'x'", "sync"), ("domian = 'shop'", "unknown key 'domian'"),
    ("evsh = 5", "evsh must be a table"), ("[evsh]\nmode = 5", "mode"), ("db = 'a.db'\n[evsh]\nmode = 'step'", "'db'"),
])
def test_every_key_of_evsh_toml_is_checked(cli, tmp_path, toml, key):
    (tmp_path / "evsh.toml").write_text(toml + "\n")
    one_line(cli("append", "a-1", "X"), 2, "evsh.toml", key)
    assert not (tmp_path / "evsh.db").exists() and not (tmp_path / "a.db").exists()


def test_an_evsh_toml_that_is_not_utf8_is_bad_input(cli, tmp_path):
    (tmp_path / "evsh.toml").write_bytes(b'db = "\xff.db"\n')
    one_line(cli("read", "a-1"), 2, "evsh.toml", "UTF-8")


def test_a_valid_evsh_toml_still_applies(cli, tmp_path):
    (tmp_path / "evsh.toml").write_text("[evsh]\nbusy_timeout = 5\nsync = 'full'\nmode = 'step'\nids = 'seed:1'\n")
    assert cli("append", "a-1", "X").exit_code == 0


# ----------------------------------------------------------------------------- sql

def test_sql_prints_blobs_in_json_as_base64(cli):
    assert cli("init").exit_code == 0
    r = cli("sql", "select x'00ff41' as b, 1 as n", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"b": {"$base64": True, "encoded": "AP9B"}, "n": 1}]
    r = cli("sql", "select x'' as b", "--nl")
    assert json.loads(r.stdout) == {"b": {"$base64": True, "encoded": ""}}


@pytest.mark.parametrize("query", [
    "select * from subject_keys", "select hex(key) from subject_keys", "select * from main.subject_keys",
    "select (select key from subject_keys limit 1)", "select key from subject_keys union select 1",
])
def test_sql_never_reads_key_material(cli, query):
    assert cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@b.c", "--username", "al").exit_code == 0
    one_line(cli("sql", query, "--json"), 2, "key material", "evsh keys")
    r = cli("sql", "select subject, key_id from subject_keys", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["subject"] == "u1"


def test_sql_stops_a_query_past_its_time_limit(cli):
    assert cli("init").exit_code == 0
    endless = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    one_line(cli("sql", endless, "--timeout", "0.5"), 2, "longer than 0.5 s", "--timeout")
    one_line(cli("sql", endless, "--timeout", "nan"), 2, "--timeout")


def test_expect_query_keeps_the_same_guards(cli, tmp_path):
    assert cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@b.c", "--username", "al").exit_code == 0
    (tmp_path / "k.evsh").write_text('expect query "select count(key) from subject_keys" = 1\n')
    r = cli("run", "k.evsh")
    assert r.exit_code == 2 and r.stderr.strip() == f"k.evsh:1: error: {r.stderr.split('error: ', 1)[1].strip()}"
    assert "key material" in r.stderr


# ----------------------------------------------------------------------------- scripts

@pytest.mark.parametrize("script, where, says", [
    ("expect state inventory p1 quantity~'('\n", "s.evsh:1:", "not a regular expression"),
    ("repeat 2\nexpect state inventory p1 quantity~'${i}('\nend\n", "s.evsh:2:", "not a regular expression"),
    ("expect error --match '[' append a-1 X\n", "s.evsh:1:", "not a regular expression"),
    ("".join(f"repeat 1 as v{i}\n" for i in range(10_000)) + "say deep\n" + "end\n" * 10_000,
     "s.evsh:33:", "nest more than 32 deep"),
    ("repeat 1000 as a\nrepeat 1001 as b\nsay x\nend\nend\n", "s.evsh:2:", "1,001,000 times"),
    ("say " + "x" * 100_001 + "\n", "s.evsh:1:", "longer than 100,000 characters"),
    ("say start\nrun s.evsh\n", "s.evsh:2:", "cannot run itself"),
    ("say start\nrun ./s.evsh\n", "s.evsh:2:", "cannot run itself"),
])
def test_a_script_that_cannot_run_fails_on_one_line(cli, tmp_path, script, where, says):
    (tmp_path / "s.evsh").write_text(script)
    r = cli(*SHOP, "run", "s.evsh")
    assert r.exit_code == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(where) and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("line, says", [
    ("redeliver reactor order_workflow 9223372036854775808", "too large"),  # once an OverflowError
    ("redeliver reactor order_workflow ²", "not a whole number"),
    ("expect state inventory p1 --at-version 99999999999999999999999 on_hand=1", "too large"),
    ("expect state inventory p1 --at-version ³ on_hand=1", "not a whole number"),
    ("expect exit ² read a-1", "not a whole number"),
    ("repeat ²\nsay x\nend", "not a whole number"),
    ("repeat " + "9" * 5000 + "\nsay x\nend", "too large"),  # beyond int()'s own digit limit
])
def test_a_number_in_a_script_line_is_read_as_options_read_theirs(cli, tmp_path, line, says):
    (tmp_path / "s.evsh").write_text(line + "\n")
    r = cli(*SHOP, "run", "s.evsh")
    assert r.exit_code == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("s.evsh:1:") and says in lines[0], r.stderr


@pytest.mark.parametrize("value", ["²", "١"])
def test_an_expected_version_in_other_digits_is_bad_input(cli, value):
    assert cli("append", "a-1", "X").exit_code == 0
    one_line(cli("append", "a-1", "X", "--expected-version", value), 2, "expected version")
    one_line(cli("read", "a-1", "--from-version", value), 2, "not a whole number")


def test_a_script_larger_than_the_limit_is_refused_before_it_runs(tmp_path):
    one_line(evsh("run", "/dev/zero", cwd=tmp_path), 2, "larger than 10,000,000 characters")
    with open("/dev/zero", "rb") as zero:
        one_line(evsh("run", "-", cwd=tmp_path, stdin=zero), 2, "larger than 10,000,000 characters")


# ----------------------------------------------------------------------------- domain modules

@pytest.mark.parametrize("body, says", [
    ("import sys\n\nsys.exit(3)\n", "SystemExit: 3"),
    ("raise SystemExit('bye')\n", "SystemExit: bye"),
    ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
])
def test_a_domain_that_exits_while_loading_is_its_code_failing(tmp_path, body, says):
    (tmp_path / "dom.py").write_text(body)
    line = one_line(evsh("--domain", "dom.py", "append", "a-1", "X", cwd=tmp_path), 5, says, "dom.py:")
    assert "dom.py:" in line
    assert not (tmp_path / "evsh.db").exists()


def test_a_command_that_calls_sys_exit_is_its_code_failing(cli, tmp_path):
    (tmp_path / "dom.py").write_text(
        "import sys\nfrom evsh import Aggregate, command\n\n\nclass Thing(Aggregate):\n"
        "    @command\n    def open(self):\n        sys.exit(3)\n")
    one_line(cli("--domain", "dom.py", "exec", "thing", "t1", "open"), 5, "SystemExit: 3", "dom.py:8")
    assert json.loads(cli("read", "thing-t1", "--json").stdout) == []


# A domain whose projection, reactor and upcaster each end the program their own way, chosen by
# the word an event carries ("exit" or "interrupt"): the user's code failing, never evsh's exit.
NOTES = """
import os, sys, time
from evsh import Aggregate, Projection, command, event, reactor, table, upcaster


@event
class Noted:
    text: str


class Note(Aggregate):
    @command
    def add(self, text: str):
        yield Noted(text)
"""
ENDING = NOTES + """

def end(text):
    if text == "exit":
        sys.exit(3)
    if text == "interrupt":
        raise KeyboardInterrupt


log = Projection("log", tables=[table("log_rows", {"position": int, "text": str}, pk="position")])


@log.on(Noted)
def _noted(event, rows):
    end(event.data["text"])


@reactor("echo", on=["Noted"], attempts=1)
def echo(event, ctx):
    end(event.data["text"])


@upcaster("OldNoted", 1, to_type="Noted", to_version=1)
def old_noted(data):
    end(data["text"])
    return data
"""


@pytest.mark.parametrize("word, says, where", [("exit", "SystemExit: 3", "ending.py:19"),
                                               ("interrupt", "KeyboardInterrupt", "ending.py:21")])
def test_a_projection_handler_that_exits_is_its_code_failing(cli, tmp_path, word, says, where):
    (tmp_path / "ending.py").write_text(ENDING)
    dom = ("--domain", "ending.py", "--mode", "async")
    assert cli(*dom, "exec", "note", "n1", "add", "--text", word).exit_code == 0
    r = cli(*dom, "projections", "run", "log")
    assert r.exit_code == 5 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]  # after the projection's own line, which says how to skip the event
    assert last.startswith("evsh: domain code raised:") and "projection log failed on event 1" in last
    assert says in last and where in last  # what ended it, and its line in the user's file
    assert json.loads(cli(*dom, "projections", "--json").stdout)[0]["checkpoint"] == 0


@pytest.mark.parametrize("word, says, where", [("exit", "SystemExit: 3", "ending.py:19"),
                                               ("interrupt", "KeyboardInterrupt", "ending.py:21")])
def test_a_reactor_handler_that_exits_parks_its_event_like_any_failure(cli, tmp_path, word, says, where):
    (tmp_path / "ending.py").write_text(ENDING)
    dom = ("--domain", "ending.py", "--mode", "async")
    assert cli(*dom, "exec", "note", "n1", "add", "--text", word).exit_code == 0
    r = cli(*dom, "reactors", "run", "echo")
    assert r.exit_code == 0 and "Traceback" not in r.stderr, r.stderr
    parked = json.loads(cli(*dom, "dlq", "list", "--json").stdout)
    assert len(parked) == 1 and says in parked[0]["error"] and where in parked[0]["error"], parked
    again = cli(*dom, "dlq", "retry", str(parked[0]["id"]))  # fails again: "failed", exit 1, still parked
    assert again.exit_code == 1 and says in again.stderr and "stays parked" in again.stderr, again.stderr
    assert len(json.loads(cli(*dom, "dlq", "list", "--json").stdout)) == 1


@pytest.mark.parametrize("word, says, where", [("exit", "SystemExit: 3", "ending.py:19"),
                                               ("interrupt", "KeyboardInterrupt", "ending.py:21")])
def test_an_upcaster_that_exits_is_its_code_failing(cli, tmp_path, word, says, where):
    (tmp_path / "ending.py").write_text(ENDING)
    assert cli("append", "note-n1", "OldNoted", json.dumps({"text": word})).exit_code == 0
    for args in (("read", "note-n1"), ("state", "note", "n1"), ("export", "--upcast")):
        one_line(cli("--domain", "ending.py", *args), 5, "upcasting OldNoted", says, where)


SLOW_REACTOR = NOTES + """

@reactor("slow", on=["Noted"], attempts=1)
def slow(event, ctx):
    open(os.environ["READY_FILE"], "w").close()
    while True:
        time.sleep(0.05)
"""


@pytest.mark.parametrize("args, signals", [(("--mode", "inline", "exec", "note", "n2", "add", "--text", "y"), 1),
                                           (("--mode", "async", "reactors", "run"), 2)])
def test_a_real_ctrl_c_in_a_reactor_handler_is_an_interruption_not_its_failure(tmp_path, args, signals):
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "slow.py").write_text(SLOW_REACTOR)
    dom = ("--domain", "slow.py", "--mode", "async")
    assert evsh(*dom, "exec", "note", "n1", "add", "--text", "x", cwd=tmp_path).returncode == 0
    ready = tmp_path / "ready"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    proc = subprocess.Popen([sys.executable, "-m", "evsh", "--domain", "slow.py", *args], cwd=tmp_path,
                            env={**env, "READY_FILE": str(ready)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    for _ in range(signals):  # `reactors run` stops after its batch on the first; a handler that never returns needs two
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    r = evsh(*dom, "dlq", "list", "--json", cwd=tmp_path)
    assert json.loads(r.stdout) == []  # not parked: the handler did not fail, the run was stopped


# ----------------------------------------------------------------------------- bare groups

@pytest.mark.parametrize("args", [(), ("dlq",), ("projections", "--help")])
def test_a_bare_group_prints_its_help(tmp_path, args):
    r = evsh(*args, cwd=tmp_path)
    err = r.stderr.decode()
    if args and args[-1] == "--help":
        assert r.returncode == 0 and "Usage:" in r.stdout.decode()
        return
    assert r.returncode == 2 and err.startswith("Usage: evsh") and "Commands:" in err and "usage error" not in err
