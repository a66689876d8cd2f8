"""The core CLI, command by command and option by option, error paths included."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid

import pytest

from evsh.store.base import NewEvent

ITEMS = '[{"product_id": "p1", "quantity": 2, "unit_price": "9.50"}]'
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])m")
ESCAPE = re.compile(r"\x1b\[")


def jl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_line_error(r, code: int, *words: str) -> None:
    """An error: the exit code, one line on stderr naming ``words``, no traceback, no output."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("evsh: ")
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def all_events(cli) -> list[dict]:
    r = cli("log", "--nl")
    assert r.exit_code == 0, r.stderr
    return jl(r.stdout)


def files_in(path) -> list[str]:
    return sorted(os.listdir(path))


@pytest.fixture
def shop_cli(cli):
    def run(*args, **kw):
        return cli("--domain", "shop", *args, **kw)

    return run


@pytest.fixture
def seeded(cli):
    for args in (
        ("append", "order-1", "OrderCreated", '{"n": 1}'),
        ("append", "order-1", "OrderConfirmed", '{"n": 2}'),
        ("append", "payment-1", "PaymentProcessed", '{"n": 3}'),
        ("append", "order-2", "OrderCreated", '{"n": 4}'),
        ("append", "orders-1", "OrderCreated", '{"n": 5}'),
    ):
        assert cli(*args).exit_code == 0
    return cli


def ns(text: str) -> list[int]:
    return [e["data"]["n"] for e in json.loads(text)]


# ----------------------------------------------------------------------------- global options

def test_version_and_help(cli):
    r = cli("--version")
    assert r.exit_code == 0 and "evsh" in r.stdout and re.search(r"\d+\.\d+", r.stdout)
    for flag in ("-h", "--help"):
        r = cli(flag)
        assert r.exit_code == 0
        for name in ("init", "append", "read", "log", "streams", "exec", "state", "sql", "export", "import", "backup"):
            assert name in r.stdout
        assert "Exit codes" in r.stdout


def test_db_from_the_environment_and_default_file(cli, tmp_path):
    from click.testing import CliRunner

    from evsh.cli.main import cli as group

    env_db = str(tmp_path / "from-env.db")
    runner = CliRunner()
    r = runner.invoke(group, ["append", "a-1", "X"], env={"EVSH_DB": env_db})
    assert r.exit_code == 0, r.output
    assert os.path.exists(env_db)
    r = runner.invoke(group, ["append", "a-1", "X"], env={"EVSH_DB": None})  # cwd is tmp_path (cli fixture)
    assert r.exit_code == 0, r.output
    assert os.path.exists(tmp_path / "evsh.db")


def test_unknown_command_and_option_are_usage_errors(cli):
    assert cli("frobnicate").exit_code == 2
    assert cli("read", "a-1", "--frob").exit_code == 2
    assert cli("--sync", "sometimes", "init").exit_code == 2


def test_python_dash_m_evsh_and_shell_completion(tmp_path):
    env = {**os.environ, "EVSH_DB": str(tmp_path / "x.db")}
    r = subprocess.run([sys.executable, "-m", "evsh", "--version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "evsh" in r.stdout
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")
    r = subprocess.run([evsh], capture_output=True, text=True, env={**env, "_EVSH_COMPLETE": "bash_source"})
    assert r.returncode == 0 and "complete" in r.stdout and "_evsh_completion" in r.stdout


# ----------------------------------------------------------------------------- init

def test_init_creates_the_store_and_is_a_no_op_on_an_existing_one(cli, db_path):
    r = cli("init")
    assert r.exit_code == 0 and "created" in r.stdout
    assert os.path.exists(db_path)
    assert cli("append", "a-1", "X").exit_code == 0
    r = cli("init")
    assert r.exit_code == 0 and "already exists" in r.stdout
    assert len(all_events(cli)) == 1


def test_init_refuses_a_file_that_is_not_a_store(cli, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n" * 100)
    before = path.read_bytes()
    one_line_error(cli("init", db=str(path)), 4, "not an evsh store")
    assert path.read_bytes() == before


def test_init_with_full_durability(cli, db_path):
    assert cli("--sync", "full", "init").exit_code == 0
    assert cli("--sync", "full", "append", "a-1", "X").exit_code == 0


# ----------------------------------------------------------------------------- append

def test_append_prints_version_and_position(cli):
    r = cli("append", "order-1", "OrderCreated", '{"customer": "c1"}')
    assert r.exit_code == 0
    assert "OrderCreated" in r.stdout and "version 1" in r.stdout and "position 1" in r.stdout
    (e,) = all_events(cli)
    assert e["data"] == {"customer": "c1"} and e["stream_id"] == "order-1"


def test_append_json_output_is_the_written_events(cli):
    r = cli("append", "order-1", "OrderCreated", '{"x": 1}', "--json")
    assert r.exit_code == 0
    (e,) = json.loads(r.stdout)
    assert e["version"] == 1 and e["type"] == "OrderCreated" and e["data"] == {"x": 1}
    r = cli("append", "order-1", "OrderCreated", "--nl")
    assert jl(r.stdout)[0]["version"] == 2


def test_append_reads_data_from_stdin_with_dash(cli):
    r = cli("append", "a-1", "X", "-", input='{"from": "stdin", "big": 123456789012345678901234567890}')
    assert r.exit_code == 0, r.stderr
    assert all_events(cli)[0]["data"] == {"from": "stdin", "big": 123456789012345678901234567890}


def test_append_without_data_stores_an_empty_object(cli):
    assert cli("append", "a-1", "X").exit_code == 0
    assert all_events(cli)[0]["data"] == {}


def test_append_with_metadata(cli):
    assert cli("append", "a-1", "X", "--metadata", '{"actor": "alice", "source": "cli"}').exit_code == 0
    meta = all_events(cli)[0]["metadata"]
    assert meta["actor"] == "alice" and meta["source"] == "cli"
    assert {"correlation_id", "causation_id", "schema_version"} <= set(meta)


@pytest.mark.parametrize(
    "spell",
    [str, lambda u: str(u).upper(), lambda u: "{" + str(u) + "}", lambda u: "urn:uuid:" + str(u), lambda u: u.hex],
    ids=["canonical", "upper", "braces", "urn", "hex"],
)
def test_append_event_id_spellings_are_stored_lowercase_and_idempotent(cli, spell):
    u = uuid.uuid4()
    r = cli("append", "a-1", "X", "--event-id", spell(u))
    assert r.exit_code == 0, r.stderr
    assert all_events(cli)[0]["event_id"] == str(u)
    for again in (str(u).upper(), spell(u)):
        r = cli("append", "a-1", "X", "--event-id", again)
        assert r.exit_code == 0 and "already stored" in r.stdout
    r = cli("append", "a-1", "X", "--event-id", str(u), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert len(all_events(cli)) == 1


def test_append_reused_event_id_elsewhere_is_a_conflict(cli):
    u = str(uuid.uuid4())
    assert cli("append", "a-1", "X", "--event-id", u).exit_code == 0
    one_line_error(cli("append", "b-1", "X", "--event-id", u), 3, u)
    assert len(all_events(cli)) == 1


def test_append_bad_event_id(cli, db_path):
    one_line_error(cli("append", "a-1", "X", "--event-id", "12345"), 2, "UUID")
    assert not os.path.exists(db_path)


@pytest.mark.parametrize("flag", ["--expected-version", "-e"])
def test_append_expected_versions(cli, flag):
    assert cli("append", "a-1", "X", flag, "0").exit_code == 0
    assert cli("append", "a-1", "X", flag, "1").exit_code == 0
    assert cli("append", "a-1", "X", flag, "exists").exit_code == 0
    assert cli("append", "a-1", "X", flag, "any").exit_code == 0
    assert cli("append", "b-1", "X", flag, "no-stream").exit_code == 0
    assert [(e["stream_id"], e["version"]) for e in all_events(cli)] == [
        ("a-1", 1), ("a-1", 2), ("a-1", 3), ("a-1", 4), ("b-1", 1)]


@pytest.mark.parametrize("expected, shown", [("2", "2"), ("0", "no-stream"), ("no-stream", "no-stream"), ("9", "9")])
def test_append_version_mismatch_is_a_conflict_naming_stream_expected_and_actual(cli, expected, shown):
    assert cli("append", "order-7", "X").exit_code == 0
    assert cli("append", "order-7", "X").exit_code == 0
    assert cli("append", "order-7", "X").exit_code == 0
    r = cli("append", "order-7", "X", "-e", expected)
    one_line_error(r, 3, "order-7", shown, "3")
    assert len(all_events(cli)) == 3


def test_append_exists_on_a_missing_stream_is_a_conflict(cli):
    one_line_error(cli("append", "a-1", "X", "-e", "exists"), 3, "a-1")


@pytest.mark.parametrize("bad", ["-1", "soon", "1.5"])
def test_append_malformed_expected_version(cli, bad, db_path):
    one_line_error(cli("append", "a-1", "X", "-e", bad), 2, "expected version")
    assert not os.path.exists(db_path)


@pytest.mark.parametrize(
    "args, words",
    [
        (("a-1", "X", "{not json"), ["DATA", "JSON"]),
        (("a-1", "X", "[1, 2]"), ["DATA", "object"]),
        (("a-1", "X", '"text"'), ["DATA", "object"]),
        (("a-1", "X", "{}", "--metadata", "nope"), ["--metadata", "JSON"]),
        (("a-1", "X", "{}", "--metadata", "[]"), ["--metadata", "object"]),
        (("$system", "X"), ["reserved"]),
        (("", "X"), ["stream id"]),
        (("a\x01b", "X"), ["control"]),
        (("--", "-x", "X"), ["category"]),
        (("a-1", ""), ["event type"]),
        (("a-1", "Bad\tType"), ["control"]),
    ],
)
def test_append_bad_input_is_one_line_and_writes_nothing(cli, db_path, args, words):
    one_line_error(cli("append", *args), 2, *words)
    assert not os.path.exists(db_path)


def test_append_bad_json_on_stdin(cli, db_path):
    one_line_error(cli("append", "a-1", "X", "-", input="{oops"), 2, "JSON")
    assert not os.path.exists(db_path)


def test_append_of_a_known_event_type_is_validated_against_the_domain(shop_cli, db_path):
    r = shop_cli("append", "order-o1", "OrderConfirmed", '{"order_id": 5}')
    one_line_error(r, 2, "OrderConfirmed", "order_id")
    r = shop_cli("append", "order-o1", "OrderConfirmed", '{"order_id": "o1"}')
    assert r.exit_code == 0


def test_append_nan_is_refused(cli):
    r = cli("append", "a-1", "X", '{"n": 123456789012345678901234567890, "x": NaN}')
    one_line_error(r, 2, "JSON")


# ----------------------------------------------------------------------------- read

def test_read_a_stream_as_a_table(seeded):
    r = seeded("read", "order-1")
    assert r.exit_code == 0
    assert "OrderCreated" in r.stdout and "OrderConfirmed" in r.stdout and "PaymentProcessed" not in r.stdout
    assert "position" in r.stdout  # the header


def test_read_json_and_nl_carry_every_key(seeded):
    r = seeded("read", "order-1", "--json")
    events = json.loads(r.stdout)
    assert [e["version"] for e in events] == [1, 2]
    for e in events:
        assert set(e) == {"event_id", "stream_id", "version", "position", "type", "data", "metadata", "recorded_at"}
        assert e["recorded_at"].endswith("Z") or e["recorded_at"].endswith("+00:00")
    r = seeded("read", "order-1", "--nl")
    assert jl(r.stdout) == events


def test_read_options(seeded):
    for _ in range(3):
        seeded("append", "order-1", "More", '{"n": 9}')
    assert [e["version"] for e in json.loads(seeded("read", "order-1", "--from-version", "2", "--json").stdout)] == [2, 3, 4, 5]
    assert [e["version"] for e in json.loads(seeded("read", "order-1", "--limit", "2", "--json").stdout)] == [1, 2]
    assert [e["version"] for e in json.loads(seeded("read", "order-1", "--backwards", "--json").stdout)] == [5, 4, 3, 2, 1]
    r = seeded("read", "order-1", "--backwards", "--from-version", "3", "--limit", "2", "--json")
    assert [e["version"] for e in json.loads(r.stdout)] == [3, 2]
    assert json.loads(seeded("read", "order-1", "--limit", "0", "--json").stdout) == []


def test_read_the_global_log_as_dollar_all(seeded):
    r = seeded("read", "$all", "--json")
    assert ns(r.stdout) == [1, 2, 3, 4, 5]
    assert ns(seeded("read", "$all", "--backwards", "--limit", "2", "--json").stdout) == [5, 4]


def test_reading_a_stream_that_does_not_exist_prints_nothing_and_says_so(seeded):
    r = seeded("read", "nothing-here")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == "evsh: no events: nothing-here does not exist\n"
    r = seeded("read", "nothing-here", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    r = seeded("read", "nothing-here", "--nl")
    assert r.exit_code == 0 and r.stdout == ""


def test_read_bad_arguments(seeded):
    one_line_error(seeded("read", "a\nb"), 2, "control")
    assert seeded("read", "order-1", "--limit", "-1").exit_code == 2
    assert seeded("read", "order-1", "--from-version", "x").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("read", "a-1"),
        ("read", "$all"),
        ("log",),
        ("streams",),
        ("--domain", "shop", "state", "order", "o1"),
        ("sql", "select 1"),
        ("export",),
        ("backup", "copy.db"),
    ],
)
def test_read_only_commands_on_a_missing_store_exit_4_and_create_nothing(cli, tmp_path, args):
    before = files_in(tmp_path)
    one_line_error(cli(*args), 4, "no store")
    assert files_in(tmp_path) == before


@pytest.mark.parametrize(
    "args, stdin",
    [
        (("append", "a-1", "X"), None),
        (("--domain", "shop", "exec", "inventory", "p1", "add-stock", "--quantity", "3"), None),
        (("import", "-"), '{"event_id": "%s", "stream_id": "a-1", "version": 1, "type": "X", "data": {}}\n' % uuid.uuid4()),
        (("init",), None),
    ],
)
def test_writing_commands_create_the_store(cli, db_path, args, stdin):
    assert not os.path.exists(db_path)
    r = cli(*args, input=stdin)
    assert r.exit_code == 0, r.stderr
    assert os.path.exists(db_path)
    assert cli("streams", "--json").exit_code == 0


def test_a_store_in_a_missing_folder_is_a_store_error(cli, tmp_path):
    one_line_error(cli("append", "a-1", "X", db=str(tmp_path / "no" / "such.db")), 4)


def test_a_locked_store_beyond_the_busy_timeout_exits_4(cli, db_path):
    assert cli("append", "a-1", "X").exit_code == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        one_line_error(cli("--busy-timeout", "0.05", "append", "a-1", "Y"), 4, "locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(all_events(cli)) == 1


# ----------------------------------------------------------------------------- log

def test_log_in_commit_order_with_filters(seeded):
    def log(*args):
        r = seeded("log", *args, "--json")
        assert r.exit_code == 0, r.stderr
        return ns(r.stdout)

    assert log() == [1, 2, 3, 4, 5]
    assert log("--from-position", "3") == [3, 4, 5]
    assert log("--limit", "2") == [1, 2]
    assert log("--type", "OrderCreated") == [1, 4, 5]
    assert log("--type", "OrderCreated", "--type", "PaymentProcessed") == [1, 3, 4, 5]
    assert log("--type", "ordercreated") == []
    assert log("--category", "order") == [1, 2, 4]
    assert log("--category", "order", "--category", "payment") == [1, 2, 3, 4]
    assert log("--category", "Order") == []
    assert log("--category", "order", "--type", "OrderCreated") == [1, 4]
    assert log("--from-position", "2", "--category", "order", "--limit", "1") == [2]


def test_log_nl_and_table(seeded):
    r = seeded("log", "--nl")
    assert [e["position"] for e in jl(r.stdout)] == [1, 2, 3, 4, 5]
    r = seeded("log")
    assert r.exit_code == 0 and "PaymentProcessed" in r.stdout and "orders-1" in r.stdout


def test_log_of_an_empty_store_prints_nothing(cli):
    cli("init")
    r = cli("log")
    assert r.exit_code == 0 and r.stdout == ""
    assert json.loads(cli("log", "--json").stdout) == []


def test_log_bad_options(seeded):
    assert seeded("log", "--from-position", "0").exit_code == 2
    assert seeded("log", "--limit", "many").exit_code == 2


def test_log_follow_prints_events_other_processes_append(cli, db_path):
    assert cli("append", "a-1", "X", '{"n": 1}').exit_code == 0
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")
    env = {**os.environ, "EVSH_DB": db_path, "EVSH_POLL_INTERVAL": "0.02"}
    follower = subprocess.Popen([evsh, "log", "--follow", "--json", "--limit", "3", "--type", "X"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = follower.stdout.readline()  # the follower has started and printed what exists
        assert json.loads(first)["data"] == {"n": 1}
        assert cli("append", "b-1", "Other", '{"n": 2}').exit_code == 0
        assert cli("append", "a-1", "X", '{"n": 3}').exit_code == 0
        assert cli("append", "c-1", "X", '{"n": 4}').exit_code == 0
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, err
    assert [json.loads(x)["data"]["n"] for x in out.splitlines()] == [3, 4]


# ----------------------------------------------------------------------------- streams

def test_streams_lists_versions_and_times(seeded):
    r = seeded("streams", "--json")
    assert r.exit_code == 0
    rows = {s["stream_id"]: s for s in json.loads(r.stdout)}
    assert set(rows) == {"order-1", "order-2", "orders-1", "payment-1"}
    assert rows["order-1"]["version"] == 2 and rows["order-1"]["category"] == "order"
    assert rows["order-1"]["created_at"] <= rows["order-1"]["updated_at"]
    r = seeded("streams")
    assert r.exit_code == 0 and "order-2" in r.stdout and "payment-1" in r.stdout
    assert [s["stream_id"] for s in jl(seeded("streams", "--nl").stdout)] == sorted(rows)


def test_streams_of_a_category(seeded):
    r = seeded("streams", "--category", "order", "--json")
    assert sorted(s["stream_id"] for s in json.loads(r.stdout)) == ["order-1", "order-2"]
    assert json.loads(seeded("streams", "--category", "nothing", "--json").stdout) == []


def test_streams_on_an_empty_store(cli):
    cli("init")
    r = cli("streams")
    assert r.exit_code == 0 and "no streams" in r.stdout
    assert json.loads(cli("streams", "--json").stdout) == []


# ----------------------------------------------------------------------------- exec

def test_exec_runs_a_command_and_prints_the_new_events(shop_cli):
    r = shop_cli("exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS)
    assert r.exit_code == 0, r.stderr
    assert "OrderCreated" in r.stdout and "order-o1" in r.stdout
    e = json.loads(shop_cli("read", "order-o1", "--json").stdout)[0]
    assert e["data"]["total_amount"] == "19.00"
    assert e["data"]["items"] == [{"product_id": "p1", "quantity": 2, "unit_price": "9.50"}]


def test_exec_json_shows_the_resulting_version(shop_cli):
    shop_cli("exec", "inventory", "p1", "add-stock", "--quantity", "3")
    r = shop_cli("exec", "inventory", "p1", "add-stock", "--quantity", "4", "--json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["version"] == 2 and out["stream_id"] == "inventory-p1"
    assert [e["type"] for e in out["events"]] == ["StockAdded"]
    assert out["events"][0]["metadata"]["command"] == "inventory.add_stock"
    assert out["correlation_id"] == out["events"][0]["metadata"]["correlation_id"]


@pytest.mark.parametrize("command, option", [("add-stock", "--quantity"), ("add_stock", "--quantity")])
def test_exec_accepts_kebab_and_snake_names(shop_cli, command, option):
    r = shop_cli("exec", "inventory", "p1", command, option, "5")
    assert r.exit_code == 0, r.stderr
    r = shop_cli("exec", "order", "o1", "create", "--customer_id", "c1", "--items", ITEMS)
    assert r.exit_code == 0, r.stderr
    r = shop_cli("exec", "order", "o2", "create", "--customer-id=c2", f"--items={ITEMS}")
    assert r.exit_code == 0, r.stderr


def test_exec_correlation_id_and_actor_go_into_metadata(shop_cli):
    r = shop_cli("exec", "--correlation-id", "corr-1", "--actor", "bob", "inventory", "p1", "add-stock",
                 "--quantity", "5", "--json")
    assert r.exit_code == 0, r.stderr
    meta = json.loads(r.stdout)["events"][0]["metadata"]
    assert meta["correlation_id"] == "corr-1" and meta["actor"] == "bob"


def test_exec_help_of_a_command_lists_its_parameters(shop_cli):
    r = shop_cli("exec", "order", "o1", "create", "--help")
    assert r.exit_code == 0
    assert "--customer-id" in r.stdout and "str" in r.stdout
    assert "--items" in r.stdout and "list[Item]" in r.stdout
    r = shop_cli("exec", "payment", "x", "process", "-h")
    assert "--amount" in r.stdout and "Decimal" in r.stdout


def test_exec_help_lists_aggregates_and_commands(shop_cli, cli):
    r = shop_cli("exec", "--help")
    assert r.exit_code == 0
    for word in ("order", "payment", "inventory", "user", "add-stock", "create", "refund"):
        assert word in r.stdout
    r = cli("exec", "--help")
    assert r.exit_code == 0 and "AGGREGATE" in r.stdout


def test_exec_help_does_not_create_a_store(shop_cli, db_path):
    shop_cli("exec", "order", "o1", "create", "--help")
    shop_cli("exec", "--help")
    assert not os.path.exists(db_path)


def test_exec_rejection_exits_1_with_the_reason(shop_cli):
    r = shop_cli("exec", "order", "o1", "confirm")
    one_line_error(r, 1, "rejected", "does not exist")
    r = shop_cli("exec", "order", "o1", "create", "--customer-id", "c1", "--items", "[]")
    one_line_error(r, 1, "at least one item")


@pytest.mark.parametrize(
    "args, words",
    [
        (("order", "o1", "launch"), ["launch", "create", "confirm"]),
        (("spaceship", "s1", "launch"), ["spaceship", "order"]),
        (("order", "o1", "create", "--customer-id", "c1"), ["missing parameter --items"]),
        (("order", "o1", "create", "--customer-id", "c1", "--items", "not json"), ["items", "JSON"]),
        (("order", "o1", "create", "--customer-id", "c1", "--items", '[{"product_id": "p"}]'), ["items[0]", "quantity"]),
        (("order", "o1", "create", "--customer-id", "c1", "--items", ITEMS, "--colour", "red"), ["--colour"]),
        (("order", "o1", "create", "--customer-id", "c1", "--customer-id", "c2"), ["twice"]),
        (("order", "o1", "create", "stray"), ["stray"]),
        (("order", "o1", "create", "--customer-id"), ["needs a value"]),
        (("inventory", "p1", "add-stock", "--quantity", "lots"), ["quantity", "integer"]),
        (("payment", "p1", "process", "--order-id", "o1", "--amount", "ten"), ["amount", "decimal"]),
        (("order",), ["missing COMMAND"]),
        (("order", "", "confirm"), ["aggregate id"]),
    ],
)
def test_exec_bad_input_is_one_line_exit_2_and_creates_nothing(shop_cli, db_path, args, words):
    one_line_error(shop_cli("exec", *args), 2, *words)
    assert not os.path.exists(db_path)


def test_exec_creates_the_store_when_missing(shop_cli, db_path):
    assert shop_cli("exec", "user", "u1", "register", "--email", "a@b.c", "--username", "ann").exit_code == 0
    assert os.path.exists(db_path)


def test_exec_without_new_events_says_so(tmp_path, cli):
    path = tmp_path / "quiet.py"
    path.write_text(
        "from evsh import Aggregate, command\n\n"
        "class Quiet(Aggregate):\n"
        "    @command\n"
        "    def ping(self):\n"
        "        return None\n"
    )
    r = cli("--domain", str(path), "exec", "quiet", "q1", "ping")
    assert r.exit_code == 0 and "no new events" in r.stdout


# ----------------------------------------------------------------------------- state

def test_state_now_and_at_a_past_version(shop_cli):
    assert shop_cli("exec", "payment", "x1", "process", "--order-id", "o1", "--amount", "12.50").exit_code == 0
    assert shop_cli("exec", "payment", "x1", "refund", "--reason", "too slow").exit_code == 0
    now = json.loads(shop_cli("state", "payment", "x1", "--json").stdout)
    assert now == {"id": "x1", "version": 2, "status": "refunded", "order_id": "o1", "amount": "12.50"}
    then = json.loads(shop_cli("state", "payment", "x1", "--at-version", "1", "--json").stdout)
    assert then["status"] == "processed" and then["version"] == 1
    zero = json.loads(shop_cli("state", "payment", "x1", "--at-version", "0", "--json").stdout)
    assert zero["status"] == "new" and zero["version"] == 0 and zero["amount"] == "0"
    r = shop_cli("state", "payment", "x1")
    assert r.exit_code == 0 and "refunded" in r.stdout and "12.50" in r.stdout
    r = shop_cli("state", "payment", "x1", "--at-version", "1")
    assert "processed" in r.stdout and "version 1" in r.stdout


def test_state_errors(shop_cli):
    shop_cli("exec", "inventory", "p1", "add-stock", "--quantity", "1")
    one_line_error(shop_cli("state", "inventory", "p1", "--at-version", "5"), 2, "version 5")
    assert shop_cli("state", "inventory", "p1", "--at-version", "-1").exit_code == 2
    one_line_error(shop_cli("state", "spaceship", "p1"), 2, "spaceship")


# ----------------------------------------------------------------------------- sql

def test_sql_outputs(seeded):
    q = "SELECT stream_id, version FROM streams WHERE category = 'order' ORDER BY stream_id"
    r = seeded("sql", q, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"stream_id": "order-1", "version": 2}, {"stream_id": "order-2", "version": 1}]
    assert jl(seeded("sql", q, "--nl").stdout) == json.loads(r.stdout)
    assert seeded("sql", q, "--csv").stdout == "stream_id,version\norder-1,2\norder-2,1\n"
    assert seeded("sql", q, "--tsv").stdout == "stream_id\tversion\norder-1\t2\norder-2\t1\n"
    r = seeded("sql", q)
    assert r.exit_code == 0 and "order-1" in r.stdout and "stream_id" in r.stdout


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO checkpoints (name, position, updated_at) VALUES ('x', 1, 'now')",
        "DELETE FROM events",
        "UPDATE events SET type = 'Hacked'",
        "DROP TABLE events",
        "CREATE TABLE mine (x)",
        "PRAGMA user_version = 99",
    ],
)
def test_sql_refuses_writes_and_changes_nothing(seeded, db_path, query):
    before = all_events(seeded)
    one_line_error(seeded("sql", query), 2, "read-only")
    assert all_events(seeded) == before
    assert seeded("read", "order-1", "--json").exit_code == 0
    c = sqlite3.connect(db_path)
    try:
        assert c.execute("PRAGMA user_version").fetchone()[0] != 99
        assert "mine" not in {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
    finally:
        c.close()


def test_sql_cannot_create_files_by_attaching(seeded, tmp_path):
    before = files_in(tmp_path)
    r = seeded("sql", f"ATTACH DATABASE '{tmp_path / 'sneaky.db'}' AS sneaky")
    one_line_error(r, 2)
    assert not (tmp_path / "sneaky.db").exists()
    assert files_in(tmp_path) == before


def test_sql_errors_are_one_line(seeded):
    one_line_error(seeded("sql", "SELEC nonsense"), 2, "SQL")
    one_line_error(seeded("sql", "SELECT * FROM no_such_table"), 2, "no_such_table")


# ----------------------------------------------------------------------------- export and import

def test_export_writes_json_lines_with_a_format_version(seeded):
    r = seeded("export")
    assert r.exit_code == 0
    lines = jl(r.stdout)
    assert [e["data"]["n"] for e in lines] == [1, 2, 3, 4, 5]
    for e in lines:
        assert e["evsh_format"] == 1
        assert {"event_id", "stream_id", "version", "type", "data", "metadata", "recorded_at"} <= set(e)
    assert not r.stdout.startswith("[")


def test_export_options(seeded, tmp_path):
    assert [e["data"]["n"] for e in jl(seeded("export", "--stream", "order-1").stdout)] == [1, 2]
    assert [e["data"]["n"] for e in jl(seeded("export", "--category", "order").stdout)] == [1, 2, 4]
    assert [e["data"]["n"] for e in jl(seeded("export", "--category", "order", "--category", "orders").stdout)] == [1, 2, 4, 5]
    assert [e["data"]["n"] for e in jl(seeded("export", "--from-position", "4").stdout)] == [4, 5]
    assert [e["data"]["n"] for e in jl(seeded("export", "--stream", "order-1", "--from-position", "2").stdout)] == [2]
    out = tmp_path / "out.jsonl"
    r = seeded("export", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert len(jl(out.read_text())) == 5


def test_export_then_import_into_a_new_store_keeps_everything(seeded, tmp_path):
    out = tmp_path / "dump.jsonl"
    assert seeded("export", "-o", str(out)).exit_code == 0
    other = str(tmp_path / "other.db")
    r = seeded("import", str(out), db=other)
    assert r.exit_code == 0, r.stderr
    assert "imported 5" in r.stdout

    def keyed(db):
        r = seeded("log", "--nl", db=db)
        return [{k: v for k, v in e.items() if k != "position"} for e in jl(r.stdout)]

    assert keyed(other) == keyed(None)
    assert seeded("streams", "--json", db=other).stdout == seeded("streams", "--json").stdout


def test_import_is_idempotent_by_event_id(seeded, tmp_path):
    out = tmp_path / "dump.jsonl"
    seeded("export", "-o", str(out))
    before = all_events(seeded)
    r = seeded("import", str(out))
    assert r.exit_code == 0 and "imported 0" in r.stdout and "5 already stored" in r.stdout
    assert all_events(seeded) == before


def test_import_from_stdin_and_tolerant_of_missing_optional_keys(cli):
    lines = [
        {"event_id": str(uuid.uuid4()), "stream_id": "a-1", "version": 1, "type": "X", "data": {"n": 1}},
        {"event_id": str(uuid.uuid4()).upper(), "stream_id": "a-1", "version": 2, "type": "X", "data": {"n": 2},
         "metadata": {"k": "v"}, "recorded_at": "2025-01-01T00:00:00.000000Z", "evsh_format": 1},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n\n"
    r = cli("import", "-", input=text)
    assert r.exit_code == 0, r.stderr
    events = all_events(cli)
    assert [e["version"] for e in events] == [1, 2]
    assert events[1]["event_id"] == lines[1]["event_id"].lower()
    assert events[1]["metadata"] == {"k": "v"} and events[1]["recorded_at"] == "2025-01-01T00:00:00.000000Z"


def _line(**kw) -> str:
    base = {"event_id": str(uuid.uuid4()), "stream_id": "a-1", "version": 1, "type": "X", "data": {}}
    base.update(kw)
    for k in [k for k, v in base.items() if v is ...]:
        del base[k]
    return json.dumps(base)


@pytest.mark.parametrize(
    "third, code, words",
    [
        ("{not json", 2, ["line 3", "JSON"]),
        ("[1, 2]", 2, ["line 3", "object"]),
        (_line(version=3, event_id=...), 2, ["line 3", "event_id"]),
        (_line(version=3, event_id="nope"), 2, ["line 3", "UUID"]),
        (_line(version=3, stream_id="$secret"), 2, ["line 3", "reserved"]),
        (_line(version=3, stream_id="a\u0000b"), 2, ["line 3", "control"]),
        (_line(version=3, type=""), 2, ["line 3", "type"]),
        (_line(version=0), 2, ["line 3", "version"]),
        (_line(version="3"), 2, ["line 3", "version"]),
        (_line(version=5), 2, ["line 3", "version 5"]),
        (_line(version=3, data=[1]), 2, ["line 3", "data"]),
        (_line(version=3, metadata="m"), 2, ["line 3", "metadata"]),
        (_line(version=3, recorded_at=5), 2, ["line 3", "recorded_at"]),
        (_line(version=3, colour="red"), 2, ["line 3", "colour"]),
        (_line(version=3, evsh_format=99), 2, ["line 3", "evsh_format"]),
        (_line(version=2), 3, ["line 3", "a-1", "version 2"]),
    ],
)
def test_import_reports_the_first_bad_line_and_writes_nothing(cli, db_path, third, code, words):
    good = [_line(version=1), _line(version=2)]
    r = cli("import", "-", input="\n".join([*good, third, _line(version=4)]) + "\n")
    one_line_error(r, code, *words)
    if os.path.exists(db_path):
        assert all_events(cli) == []


def test_import_validates_known_types_against_the_domain(shop_cli):
    text = _line(stream_id="order-o1", type="OrderConfirmed", data={"order_id": 7}) + "\n"
    one_line_error(shop_cli("import", "-", input=text), 2, "line 1", "order_id")


def test_import_id_clash_with_a_stored_event_is_a_conflict_and_writes_nothing(cli):
    u = str(uuid.uuid4())
    assert cli("append", "a-1", "X", "--event-id", u).exit_code == 0
    text = "\n".join([_line(stream_id="b-1"), _line(stream_id="b-1", version=2, event_id=u)]) + "\n"
    one_line_error(cli("import", "-", input=text), 3, "line 2", u)
    assert [e["stream_id"] for e in all_events(cli)] == ["a-1"]


def test_import_the_same_id_twice_in_one_file_is_a_conflict(cli, db_path):
    u = str(uuid.uuid4())
    text = "\n".join([_line(event_id=u), _line(version=2, event_id=u)]) + "\n"
    one_line_error(cli("import", "-", input=text), 3, "line 2", "twice")
    assert not os.path.exists(db_path) or all_events(cli) == []


def test_import_a_missing_file(cli, db_path):
    one_line_error(cli("import", "no-such-file.jsonl"), 2, "no-such-file.jsonl")
    assert not os.path.exists(db_path)


# ----------------------------------------------------------------------------- backup

def test_backup_copies_a_live_store(seeded, tmp_path):
    dest = str(tmp_path / "backup.db")
    r = seeded("backup", dest)
    assert r.exit_code == 0 and dest in r.stdout
    assert all_events(seeded) == jl(seeded("log", "--nl", db=dest).stdout)


def test_backup_refuses_to_overwrite(seeded, tmp_path):
    dest = tmp_path / "exists.db"
    dest.write_bytes(b"keep me")
    one_line_error(seeded("backup", str(dest)), 2, "exists")
    assert dest.read_bytes() == b"keep me"


# ----------------------------------------------------------------------------- output and errors

@pytest.mark.parametrize(
    "args",
    [("read", "order-1"), ("log",), ("streams",), ("sql", "select * from streams"),
     ("--domain", "shop", "state", "order", "o1")],
)
def test_no_escape_codes_when_output_is_not_a_terminal(seeded, args):
    r = seeded(*args)
    assert r.exit_code == 0
    assert not ESCAPE.search(r.stdout) and not ESCAPE.search(r.stderr)


def test_no_colour_with_no_color_even_on_a_forced_terminal(seeded):
    coloured = seeded("read", "order-1", env={"FORCE_COLOR": "1"})
    assert COLOUR.search(coloured.stdout), "the check below would prove nothing"
    plain = seeded("read", "order-1", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 0 and "OrderCreated" in plain.stdout
    assert not COLOUR.search(plain.stdout)


def test_user_data_is_never_read_as_markup(cli):
    assert cli("append", "weird-1", "[bold red]Boom[/]", '{"x": "[link=http://x]y[/link]"}').exit_code == 0
    r = cli("read", "weird-1")
    assert "[bold red]Boom[/]" in r.stdout and "[link=http://x]y[/link]" in r.stdout


def test_debug_shows_a_traceback(cli):
    r = cli("--debug", "read", "a-1")
    assert r.exit_code == 4 and "Traceback" in r.stderr


@pytest.mark.parametrize(
    "setup, args, code",
    [
        ((), ("init",), 0),
        ((), ("--domain", "shop", "exec", "order", "o1", "confirm"), 1),
        ((), ("append", "a-1", "X", "{bad"), 2),
        ((("append", "a-1", "X"),), ("append", "a-1", "X", "-e", "no-stream"), 3),
        ((), ("read", "a-1"), 4),
    ],
)
def test_exit_codes(cli, setup, args, code):
    for s in setup:
        assert cli(*s).exit_code == 0
    r = cli(*args)
    assert r.exit_code == code, r.stderr
    if code:
        one_line_error(r, code)


def test_exit_code_5_for_the_domains_own_exception(cli, tmp_path):
    path = tmp_path / "buggy.py"
    path.write_text(
        "from evsh import Aggregate, command\n\n"
        "class Buggy(Aggregate):\n"
        "    @command\n"
        "    def run(self):\n"
        "        return {}['nope']\n"
    )
    one_line_error(cli("--domain", str(path), "exec", "buggy", "b1", "run"), 5, f"{path}:6", "KeyError")


def test_import_continues_a_partial_import(seeded, tmp_path):
    lines = seeded("export").stdout.splitlines()
    other = str(tmp_path / "partial.db")
    r = seeded("import", "-", input="\n".join(lines[:3]) + "\n", db=other)
    assert r.exit_code == 0 and "imported 3" in r.stdout
    r = seeded("import", "-", input="\n".join(lines) + "\n", db=other)
    assert r.exit_code == 0 and "imported 2" in r.stdout and "3 already stored" in r.stdout
    assert [e["event_id"] for e in jl(seeded("export", db=other).stdout)] == [json.loads(x)["event_id"] for x in lines]


def test_export_and_import_keep_big_numbers_and_unicode_exact(cli, tmp_path):
    data = '{"big": 123456789012345678901234567890, "neg": -18446744073709551617, "s": "ø ☃ 😀", "f": 0.1}'
    assert cli("append", "a-1", "X", data).exit_code == 0
    out = tmp_path / "dump.jsonl"
    assert cli("export", "-o", str(out)).exit_code == 0
    other = str(tmp_path / "other.db")
    assert cli("import", str(out), db=other).exit_code == 0
    (e,) = jl(cli("read", "a-1", "--nl", db=other).stdout)
    assert e["data"] == json.loads(data)


@pytest.mark.parametrize("command", [("read", "a-1"), ("append", "a-1", "X"), ("init",), ("streams",)])
def test_commands_refuse_files_that_are_not_stores_and_leave_them_alone(cli, tmp_path, command):
    foreign = tmp_path / "foreign.db"
    c = sqlite3.connect(foreign)
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(4096))
    for path in (foreign, junk):
        before = path.read_bytes(), os.stat(path).st_mtime_ns
        one_line_error(cli(*command, db=str(path)), 4, "not an evsh store")
        assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


def test_log_follow_with_a_filter_never_skips_an_event_appended_while_it_polls(cli, db_path, monkeypatch):
    """A writer commits a matching event right while the follower asks for the head position:
    the follower must still print it (it must not jump past the head it has not read)."""
    import time as time_module

    from evsh.store.sqlite import SQLiteEventStore

    assert cli("append", "other-1", "Other").exit_code == 0
    real_head = SQLiteEventStore.head_position
    state = {"appended": False, "sleeps": 0}

    def head_with_a_writer_in_between(self):
        if not state["appended"]:  # another process commits a matching event right now
            state["appended"] = True
            from evsh.store.sqlite import open_store

            with open_store(db_path) as writer:
                writer.append("a-1", [NewEvent("X", {"n": 1})])
        return real_head(self)

    def sleep(_seconds):
        state["sleeps"] += 1
        if state["sleeps"] > 20:
            raise KeyboardInterrupt  # give up: the event was skipped

    monkeypatch.setattr(SQLiteEventStore, "head_position", head_with_a_writer_in_between)
    monkeypatch.setattr(time_module, "sleep", sleep)
    r = cli("log", "--follow", "--nl", "--type", "X", "--limit", "1", env={"EVSH_POLL_INTERVAL": "0"})
    assert r.exit_code == 0, r.stderr
    assert [e["type"] for e in jl(r.stdout)] == ["X"]


@pytest.mark.parametrize("name", ["shop#1.db", "what?.db", "p%41.db", "with space.db", "ünï.db"])
def test_sql_works_on_store_names_with_uri_characters_and_creates_no_stray_file(cli, tmp_path, name):
    db = str(tmp_path / name)
    assert cli("append", "a-1", "X", db=db).exit_code == 0
    before = files_in(tmp_path)
    r = cli("sql", "SELECT count(*) AS n FROM events", "--json", db=db)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"n": 1}]
    assert files_in(tmp_path) == before


def test_append_without_data_never_waits_for_stdin(db_path):
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")
    p = subprocess.Popen([evsh, "--db", db_path, "append", "a-1", "X"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=60)  # stdin stays open and empty: reading it would hang
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "version 1" in out


def test_log_follow_ends_quietly_on_ctrl_c(cli, db_path):
    import signal

    assert cli("append", "a-1", "X").exit_code == 0
    evsh = os.path.join(os.path.dirname(sys.executable), "evsh")
    env = {**os.environ, "EVSH_DB": db_path, "EVSH_POLL_INTERVAL": "0.02"}
    p = subprocess.Popen([evsh, "log", "--follow", "--nl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        assert json.loads(p.stdout.readline())["stream_id"] == "a-1"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    assert "Traceback" not in err


def test_global_options_reach_the_store(cli, monkeypatch, tmp_path):
    import evsh.store.sqlite as sq

    seen = {}
    real = sq.SQLiteEventStore.__init__

    def spy(self, path, **kw):
        seen.update(kw, path=path)
        real(self, path, **kw)

    monkeypatch.setattr(sq.SQLiteEventStore, "__init__", spy)
    assert cli("--sync", "full", "--busy-timeout", "7.5", "append", "a-1", "X").exit_code == 0
    assert seen["sync"] == "full" and seen["busy_timeout"] == 7.5
    assert cli("append", "a-1", "X", env={"EVSH_SYNC": "full", "EVSH_BUSY_TIMEOUT": "3"}).exit_code == 0
    assert seen["sync"] == "full" and seen["busy_timeout"] == 3.0
    assert cli("append", "a-1", "X").exit_code == 0
    assert seen["sync"] == "normal" and seen["busy_timeout"] >= 30


def test_db_from_the_project_config(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from evsh.cli.main import cli as group

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVSH_DB", raising=False)
    (tmp_path / "evsh.toml").write_text('db = "configured.db"\n')
    r = CliRunner().invoke(group, ["append", "a-1", "X"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "configured.db").exists() and not (tmp_path / "evsh.db").exists()


def test_import_a_bad_line_in_a_later_chunk_writes_nothing_of_earlier_chunks(cli, db_path, monkeypatch):
    import evsh.cli.transfer as transfer

    monkeypatch.setattr(transfer, "CHUNK", 2)  # lines 1-2 and 3-4 are inserted before line 5 is read
    lines = [_line(version=v) for v in range(1, 5)] + ["{broken"]
    one_line_error(cli("import", "-", input="\n".join(lines) + "\n"), 2, "line 5")
    assert not os.path.exists(db_path) or all_events(cli) == []


def test_state_refuses_a_stored_event_that_does_not_fit_its_type_naming_type_and_field(cli, shop_cli):
    # written without the domain, so nothing checked it on the way in
    assert cli("append", "payment-x1", "PaymentProcessed", '{"payment_id": "x1", "order_id": "o1", "amount": [1]}').exit_code == 0
    one_line_error(shop_cli("state", "payment", "x1"), 2, "PaymentProcessed", "amount", "payment-x1@1")
    r = shop_cli("read", "payment-x1", "--json")  # reading the raw log still works
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["data"]["amount"] == [1]


def test_log_follow_reads_in_bounded_batches(cli, monkeypatch):
    """Constant memory: the follower never asks for the whole log at once (a store may hold millions)."""
    from evsh.engine.engine import Engine

    for n in range(5):
        assert cli("append", "a-1", "X", f'{{"n": {n}}}').exit_code == 0
    asked = []
    real = Engine.read_all

    def spy(self, from_position=1, **kw):
        asked.append(kw.get("limit"))
        return real(self, from_position, **kw)

    def ctrl_c(_seconds):
        raise KeyboardInterrupt  # the user stops it once it has caught up and waits

    monkeypatch.setattr(Engine, "read_all", spy)
    monkeypatch.setattr("time.sleep", ctrl_c)
    for args in ((), ("--limit", "1000000"), ("--type", "X")):
        asked.clear()
        r = cli("log", "--follow", "--nl", *args)
        assert r.exit_code == 0, r.stderr
        assert [e["data"]["n"] for e in jl(r.stdout)] == [0, 1, 2, 3, 4]
        assert asked and all(limit is not None and limit <= 10_000 for limit in asked), asked


def test_sql_streams_rows_instead_of_holding_the_result(cli):
    import tracemalloc

    assert cli("init").exit_code == 0
    query = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
             "SELECT i, i * 2 AS j FROM n")
    tracemalloc.start()
    try:
        r = cli("sql", query, "--csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "i,j" and lines[-1] == "100000,200000" and len(lines) == 100001
    # the captured output alone is about 1.3 MB; 100,000 fetched row tuples would add about 13 MB
    assert peak < 8_000_000, peak


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_names = st.text(st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"]), min_size=1, max_size=12)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(category=_names.filter(lambda s: "-" not in s and not s.startswith("$")), rest=_names,
       etype=_names, data=st.dictionaries(st.text(max_size=6), _json, max_size=4))
def test_whatever_is_appended_through_the_cli_reads_back_exactly(cli, category, rest, etype, data):
    stream = f"{category}-{rest}"
    # after --, a type that starts with "-" (say "-0") is an argument, not an option (as in any CLI)
    r = cli("append", "--json", "--", stream, etype, "-", input=json.dumps(data))
    assert r.exit_code == 0, r.stderr
    written = json.loads(r.stdout)[-1]
    back = json.loads(cli("read", stream, "--backwards", "--limit", "1", "--json").stdout)
    assert back == [written]
    assert written["data"] == data and written["type"] == etype and written["stream_id"] == stream
    assert category in {s["category"] for s in json.loads(cli("streams", "--category", category, "--json").stdout)}


def test_exec_takes_parameters_after_a_double_dash(cli):
    """A value that looks like an option (or a parameter named like exec's own) goes after --."""
    items = '[{"product_id": "p1", "quantity": 1, "unit_price": "1.00"}]'
    assert cli("--domain", "shop", "--mode", "async", "exec", "order", "o1", "create", "--customer-id", "c1",
               "--items", items).exit_code == 0
    r = cli("--domain", "shop", "--mode", "async", "exec", "order", "o1", "cancel", "--", "--reason", "-h")
    assert r.exit_code == 0, r.stderr
    state = cli("--domain", "shop", "state", "order", "o1", "--json")
    assert json.loads(state.stdout)["cancel_reason"] == "-h"


def test_import_refuses_a_recorded_at_that_is_not_a_time(cli, tmp_path):
    line = ('{"event_id": "1f0c6d4e-3c2b-4a8e-9d1f-2b3c4d5e6f70", "stream_id": "order-1", "version": 1,'
            ' "type": "Noted", "data": {}, "recorded_at": "yesterday"}\n')
    (tmp_path / "bad.jsonl").write_text(line)
    r = cli("import", str(tmp_path / "bad.jsonl"))
    assert r.exit_code == 2 and "line 1" in r.stderr and "recorded_at" in r.stderr
    assert cli("log", "--json").stdout.strip() in ("", "[]")
