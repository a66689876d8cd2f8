"""Reactors as a user drives them: the shop's workflow in every mode, side effects, routing,
dead letters, stop-on-failure, history on import, the fixable clock and ids."""

from __future__ import annotations

import json
import textwrap
import uuid

import pytest

from evsh.engine.routing import matches, routing_key

SHOP = ("--domain", "shop")
ITEMS_OK = '[{"product_id":"p1","quantity":2,"unit_price":"9.50"}]'
ITEMS_BIG = '[{"product_id":"p1","quantity":200,"unit_price":"9.50"}]'  # 1900.00: declined
ITEMS_SHORT = '[{"product_id":"p1","quantity":2,"unit_price":"9.50"},{"product_id":"p2","quantity":5,"unit_price":"1"}]'


def state(cli, *args, mode=()):
    r = cli(*SHOP, *mode, "state", *args, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def sql(cli, query):
    r = cli("sql", query, "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def place_orders(cli, mode=()):
    assert cli(*SHOP, *mode, "exec", "inventory", "p1", "add-stock", "--quantity", "10").exit_code == 0
    for oid, items in (("o1", ITEMS_OK), ("o2", ITEMS_BIG), ("o3", ITEMS_SHORT)):
        r = cli(*SHOP, *mode, "exec", "order", oid, "create", "--customer-id", "c1", "--items", items)
        assert r.exit_code == 0, r.stderr  # the user's own command succeeded, whatever the saga does later


def check_outcomes(cli):
    assert state(cli, "order", "o1")["status"] == "confirmed"
    assert state(cli, "inventory", "p1")["reserved"] == {"o1": 2}
    o2 = state(cli, "order", "o2")
    assert o2["status"] == "cancelled" and "declined" in o2["cancel_reason"]
    assert state(cli, "payment", "o2")["status"] == "declined"
    o3 = state(cli, "order", "o3")
    assert o3["status"] == "cancelled" and "not enough stock of p2" in o3["cancel_reason"]
    assert state(cli, "payment", "o3")["status"] == "refunded"  # compensated


# ----------------------------------------------------------------------------- routing

@pytest.mark.parametrize("category,etype,key", [
    ("order", "OrderCreated", "order.created"),
    ("inventory", "StockAdded", "inventory.stock_added"),
    ("inventory", "InventoryReservationFailed", "inventory.reservation_failed"),
    ("user", "UserRegistered", "user.registered"),
    ("order_line", "OrderLineAdded", "order_line.added"),
])
def test_routing_keys(category, etype, key):
    assert routing_key(category, etype) == key


@pytest.mark.parametrize("pattern,key,expected", [
    ("order.*", "order.created", True), ("order.*", "order.line.added", False), ("#", "order.created", True),
    ("order.#", "order", True), ("order.#", "order.a.b", True), ("*.created", "order.created", True),
    ("*.created", "order.confirmed", False), ("#.failed", "inventory.reservation.failed", True),
    ("order.created", "order.created", True), ("order", "order.created", False), ("a.*.c", "a.c", False),
])
def test_topic_patterns_work_as_in_rabbitmq(pattern, key, expected):
    assert matches(pattern, key) is expected


# ----------------------------------------------------------------------------- the shop workflow

def test_inline_workflow_happy_path_and_both_compensations(cli):
    place_orders(cli)
    check_outcomes(cli)


def test_exec_shows_what_the_reactors_did_and_keeps_its_own_exit_code(cli):
    cli(*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "10")
    r = cli(*SHOP, "exec", "order", "o2", "create", "--customer-id", "c1", "--items", ITEMS_BIG)
    assert r.exit_code == 0
    assert "then, by reactors" in r.stdout and "payment.process" in r.stdout and "order.cancel" in r.stdout
    r = cli(*SHOP, "exec", "order", "o4", "create", "--customer-id", "c1", "--items", ITEMS_OK, "--json")
    out = json.loads(r.stdout)
    names = [c["name"] for reaction in out["reactions"] for c in reaction["commands"]]
    assert names == ["payment.process", "inventory.reserve", "order.confirm"]


def test_async_mode_waits_for_a_worker(cli):
    mode = ("--mode", "async")
    place_orders(cli, mode)
    assert state(cli, "order", "o1", mode=mode)["status"] == "created"  # nothing reacted yet
    listed = json.loads(cli(*SHOP, *mode, "reactors", "--json").stdout)
    assert {r["name"]: r["lag"] > 0 for r in listed}["order_workflow"]
    r = cli(*SHOP, *mode, "reactors", "run")
    assert r.exit_code == 0, r.stderr
    assert "order_workflow:" in r.stdout
    check_outcomes(cli)
    listed = json.loads(cli(*SHOP, *mode, "reactors", "--json").stdout)
    assert all(r["lag"] == 0 and r["parked"] == 0 for r in listed)


def test_the_mode_comes_from_the_environment_or_the_project_config(cli, tmp_path):
    r = cli(*SHOP, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS_OK,
            env={"EVSH_MODE": "async"})
    assert r.exit_code == 0 and "then, by reactors" not in r.stdout
    (tmp_path / "evsh.toml").write_text('mode = "step"\n')
    cli(*SHOP, "exec", "order", "o2", "create", "--customer-id", "c1", "--items", ITEMS_OK)
    assert state(cli, "payment", "o1")["version"] == 0
    assert state(cli, "payment", "o2")["version"] == 0
    (tmp_path / "evsh.toml").write_text('mode = "sideways"\n')
    r = cli(*SHOP, "exec", "order", "o3", "create", "--customer-id", "c1", "--items", ITEMS_OK)
    assert r.exit_code == 2 and "sideways" in r.stderr


def test_step_mode_advances_one_event_at_a_time(cli):
    mode = ("--mode", "step")
    assert cli(*SHOP, *mode, "exec", "inventory", "p1", "add-stock", "--quantity", "10").exit_code == 0
    assert cli(*SHOP, *mode, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS_OK).exit_code == 0
    seen = []
    for _ in range(20):
        r = cli(*SHOP, *mode, "step", "--json")
        assert r.exit_code == 0, r.stderr
        out = json.loads(r.stdout)
        if out["event"] is None:
            break
        seen.append(out["event"]["type"])
        if out["event"]["type"] == "OrderCreated":
            assert state(cli, "payment", "o1", mode=mode)["status"] == "processed"
            assert state(cli, "inventory", "p1", mode=mode)["reserved"] == {}  # not yet: one step at a time
    assert seen[:4] == ["StockAdded", "OrderCreated", "PaymentProcessed", "InventoryReserved"]
    assert state(cli, "order", "o1", mode=mode)["status"] == "confirmed"
    r = cli(*SHOP, *mode, "step")
    assert "nothing pending" in r.stdout


def test_registration_sends_one_email_and_one_notification(cli):
    r = cli(*SHOP, "exec", "user", "u1", "register", "--email", "ann@example.com", "--username", "ann")
    assert r.exit_code == 0
    assert "1 row in sent_emails" in r.stdout and "1 row in notifications" in r.stdout
    emails = sql(cli, "SELECT user_id, email, subject FROM sent_emails")
    assert emails == [{"user_id": "u1", "email": "ann@example.com", "subject": "Welcome to the shop"}]
    notes = sql(cli, "SELECT user_id, channel FROM notifications")
    assert notes == [{"user_id": "u1", "channel": "system"}]
    # running the reactors again (another worker, a restart) sends nothing twice
    assert cli(*SHOP, "reactors", "run").exit_code == 0
    assert len(sql(cli, "SELECT * FROM sent_emails")) == 1


def test_causation_and_correlation_follow_the_chain(cli):
    place_orders(cli)
    events = [json.loads(line) for line in cli("log", "--nl").stdout.splitlines()]
    by_id = {e["event_id"]: e for e in events}
    created = next(e for e in events if e["type"] == "OrderCreated" and e["stream_id"] == "order-o1")
    chain = [e for e in events if e["metadata"]["correlation_id"] == created["metadata"]["correlation_id"]]
    assert [e["type"] for e in chain] == ["OrderCreated", "PaymentProcessed", "InventoryReserved", "OrderConfirmed"]
    for e in chain[1:]:
        cause = by_id[e["metadata"]["causation_id"]]  # each was caused by an earlier event of the chain
        assert cause in chain and cause["position"] < e["position"]
        assert e["metadata"]["actor"] == "reactor:order_workflow"


# ----------------------------------------------------------------------------- failures

PING = '''
    import os
    from evsh import Aggregate, applies, command, event, reactor, table

    @event
    class PingSent:
        n: int

    class Ping(Aggregate):
        @command
        def send(self, n: int):
            yield PingSent(n)

        @applies
        def _sent(self, e: PingSent) -> None:
            pass

    PONGS = table("pongs", {"event_id": str, "n": int}, pk="event_id")
    FAULT = os.environ["FLAKY_FAULT"]
'''


# a ping domain whose reactor fails for the pings listed in the FLAKY_FAULT file
FLAKY = textwrap.dedent(PING + '''
    @reactor("ponger", on=["ping.*"], tables=[PONGS], attempts=2, backoff=0)
    def ponger(event, ctx):
        if os.path.exists(FAULT) and str(event.n) in open(FAULT).read().split():
            raise RuntimeError(f"ping {event.n} is broken")
        ctx.table("pongs").insert({"event_id": event.event_id, "n": event.n})

    @reactor("stopper", on=["PingSent"], attempts=1, backoff=0, on_failure="stop")
    def stopper(event, ctx):
        if os.path.exists(FAULT) and str(event.n) in open(FAULT).read().split():
            raise RuntimeError(f"stopper cannot take ping {event.n}")
''')


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    path = tmp_path / "flaky.py"
    path.write_text(FLAKY)
    fault = tmp_path / "fault.txt"
    monkeypatch.setenv("FLAKY_FAULT", str(fault))
    return ("--domain", str(path)), fault


def test_a_failing_handler_is_retried_parked_and_retried_from_the_dlq_without_duplicates(cli, flaky):
    dom, fault = flaky
    fault.write_text("2")
    for n in (1, 2, 3):
        assert cli(*dom, "exec", "ping", f"x{n}", "send", "--n", str(n)).exit_code == 0
    assert [r["n"] for r in sql(cli, "SELECT n FROM pongs ORDER BY n")] == [1, 3]  # went on past the bad one
    parked = json.loads(cli(*dom, "dlq", "list", "--json").stdout)
    assert len(parked) == 1 and parked[0]["reactor"] == "ponger" and parked[0]["attempts"] == 2
    assert "ping 2 is broken" in parked[0]["error"]
    shown = json.loads(cli(*dom, "dlq", "show", str(parked[0]["id"]), "--json").stdout)
    assert shown["event"]["data"] == {"n": 2}
    listed = {r["name"]: r for r in json.loads(cli(*dom, "reactors", "--json").stdout)}
    assert listed["ponger"]["parked"] == 1 and "ping 2 is broken" in listed["ponger"]["error"]

    r = cli(*dom, "dlq", "retry", str(parked[0]["id"]))  # still broken: stays parked, exit 1
    assert r.exit_code == 1 and "failed again" in r.stderr
    fault.write_text("")
    r = cli(*dom, "dlq", "retry", "--all")
    assert r.exit_code == 0 and "retried" in r.stdout
    assert [r["n"] for r in sql(cli, "SELECT n FROM pongs ORDER BY n")] == [1, 2, 3]
    assert json.loads(cli(*dom, "dlq", "list", "--json").stdout) == []
    r = cli(*dom, "dlq", "retry", str(parked[0]["id"]))
    assert r.exit_code == 2 and "not parked" in r.stderr
    assert cli(*dom, "reactors", "run").exit_code == 0
    assert len(sql(cli, "SELECT n FROM pongs")) == 3  # no duplicate, whatever runs again
    stats = json.loads(cli(*dom, "stats", "--json").stdout)["series"]
    ponger = {s["event_type"]: s for s in stats if s["name"] == "ponger"}
    assert ponger["PingSent"]["errors"] >= 2 and ponger["PingSent"]["retries"] >= 1


def test_a_retry_of_an_event_handled_meanwhile_sends_nothing(cli, flaky, db_path):
    import sqlite3

    dom, fault = flaky
    fault.write_text("1")
    cli(*dom, "exec", "ping", "x1", "send", "--n", "1")
    (dl,) = json.loads(cli(*dom, "dlq", "list", "--json").stdout)
    fault.write_text("")
    conn = sqlite3.connect(db_path)  # as if another worker had handled it in the meantime
    conn.execute("INSERT INTO reactor_processed VALUES ('ponger', ?, ?, 'now')", (dl["event_id"], dl["position"]))
    conn.commit()
    conn.close()
    r = cli(*dom, "dlq", "retry", str(dl["id"]))
    assert r.exit_code == 0 and "already handled" in r.stdout
    assert sql(cli, "SELECT count(*) AS n FROM pongs") == [{"n": 0}]


def test_a_reactor_that_stops_on_failure_waits_at_that_event(cli, flaky):
    dom, fault = flaky
    fault.write_text("2")
    for n in (1, 2, 3):
        assert cli(*dom, "exec", "ping", f"x{n}", "send", "--n", str(n)).exit_code == 0
    listed = {r["name"]: r for r in json.loads(cli(*dom, "reactors", "--json").stdout)}
    st = listed["stopper"]
    assert st["stopped"] and "stopper cannot take ping 2" in st["error"]
    assert st["checkpoint"] == 1 and st["lag"] == 2  # stopped right before event 2
    assert json.loads(cli(*dom, "dlq", "list", "--reactor", "stopper", "--json").stdout) == []
    fault.write_text("")
    assert cli(*dom, "reactors", "run", "stopper").exit_code == 0
    st = {r["name"]: r for r in json.loads(cli(*dom, "reactors", "--json").stdout)}["stopper"]
    assert not st["stopped"] and st["lag"] == 0 and st["handled"] == 3


def test_discard_marks_a_dead_letter_and_unknown_ids_are_bad_input(cli, flaky):
    dom, fault = flaky
    fault.write_text("1")
    cli(*dom, "exec", "ping", "x1", "send", "--n", "1")
    (dl,) = json.loads(cli(*dom, "dlq", "list", "--json").stdout)
    assert cli(*dom, "dlq", "discard", str(dl["id"])).exit_code == 0
    assert json.loads(cli(*dom, "dlq", "list", "--json").stdout) == []
    everything = json.loads(cli(*dom, "dlq", "list", "--all", "--json").stdout)
    assert everything[0]["status"] == "discarded"
    r = cli(*dom, "dlq", "show", "999")
    assert r.exit_code == 2 and "no dead letter 999" in r.stderr
    r = cli(*dom, "reactors", "run", "nope")
    assert r.exit_code == 2 and "no reactor 'nope'" in r.stderr


# ----------------------------------------------------------------------------- history is not news

def test_import_moves_reactors_past_history_unless_react(cli, tmp_path):
    src = str(tmp_path / "src.db")
    cli(*SHOP, "exec", "user", "u1", "register", "--email", "a@example.com", "--username", "ann", db=src)
    dump = str(tmp_path / "dump.jsonl")
    assert cli("export", "-o", dump, db=src).exit_code == 0

    quiet = str(tmp_path / "quiet.db")
    assert cli(*SHOP, "import", dump, db=quiet).exit_code == 0
    assert cli(*SHOP, "reactors", "run", db=quiet).exit_code == 0  # a worker finds nothing to do
    listed = {r["name"]: r for r in json.loads(cli(*SHOP, "reactors", "--json", db=quiet).stdout)}
    assert listed["welcome_email"]["lag"] == 0 and listed["welcome_email"]["handled"] == 0
    assert listed["welcome_email"]["checkpoint"] == 1
    assert "sent_emails" not in cli("sql", "SELECT name FROM sqlite_master", db=quiet).stdout

    loud = str(tmp_path / "loud.db")
    assert cli(*SHOP, "import", dump, "--react", db=loud).exit_code == 0
    r = cli("sql", "SELECT user_id FROM sent_emails", "--json", db=loud)
    assert json.loads(r.stdout) == [{"user_id": "u1"}]


# ----------------------------------------------------------------------------- repeatable demos

def test_a_fixed_clock_and_seeded_ids_repeat_a_demo_exactly(cli, tmp_path):
    def demo(db):
        opts = ("--clock", "fixed:2026-01-01T00:00:00Z,1ms", "--ids", "seed:42")
        cli(*SHOP, *opts, "exec", "inventory", "p1", "add-stock", "--quantity", "10", db=db)
        cli(*SHOP, *opts, "exec", "order", "o1", "create", "--customer-id", "c1", "--items", ITEMS_OK, db=db)
        return cli("log", "--json", db=db).stdout

    first, second = demo(str(tmp_path / "a.db")), demo(str(tmp_path / "b.db"))
    assert first == second
    events = json.loads(first)
    assert events[0]["recorded_at"].startswith("2026-01-01T00:00:00")
    assert len({e["event_id"] for e in events}) == len(events) == 5
    times = [e["recorded_at"] for e in events]
    assert times == sorted(times)  # the second invocation continues where the first ended


def test_bad_clock_and_ids_options_are_bad_input(cli):
    r = cli("--clock", "sometimes", "log")
    assert r.exit_code == 2 and "--clock" in r.stderr
    r = cli("--ids", "seed:", "log")
    assert r.exit_code == 2 and "--ids" in r.stderr


def test_ids_are_time_ordered_uuid7_unless_uuid4_is_asked_for(cli):
    def versions(*opts: str, user: str) -> set[int]:
        r = cli(*opts, "--domain", "shop", "exec", "user", user, "register", "--email", f"{user}@example.com",
                "--username", user, "--json")
        assert r.exit_code == 0, r.stderr
        out = json.loads(r.stdout)
        return {uuid.UUID(e["event_id"]).version for e in out["events"]} | {
            uuid.UUID(e["metadata"]["command_id"]).version for e in out["events"]}

    assert versions(user="u1") == {7}
    assert versions("--ids", "uuid4", user="u2") == {4}
    # an event appended by hand takes its id from the same source
    r = cli("--ids", "uuid4", "append", "note-1", "Noted", '{"a": 1}', "--json")
    assert r.exit_code == 0, r.stderr
    (appended,) = json.loads(r.stdout)
    assert uuid.UUID(appended["event_id"]).version == 4


ROUTED = textwrap.dedent('''
    from evsh import Aggregate, applies, command, event, reactor, table

    @event
    class NoteCreated:
        text: str

    @event
    class NoteArchived:
        pass

    @event
    class TagCreated:
        name: str

    class Note(Aggregate):
        @command
        def create(self, text: str):
            yield NoteCreated(text)

        @command
        def archive(self):
            yield NoteArchived()

        @applies
        def _c(self, e: NoteCreated) -> None:
            pass

        @applies
        def _a(self, e: NoteArchived) -> None:
            pass

    class Tag(Aggregate):
        @command
        def create(self, name: str):
            yield TagCreated(name)

        @applies
        def _c(self, e: TagCreated) -> None:
            pass

    SEEN = table("seen", {"reactor": str, "event_type": str, "routing_key": str}, pk=("reactor", "event_type"))

    def _saw(name):
        def handler(event, ctx):
            ctx.table("seen").insert({"reactor": name, "event_type": event.type, "routing_key": event.routing_key})
        return handler

    by_type = reactor("by_type", on=[NoteArchived], tables=[SEEN])(_saw("by_type"))
    by_category = reactor("by_category", on=["tag"], tables=[SEEN])(_saw("by_category"))
    by_topic = reactor("by_topic", on=["*.created"], tables=[SEEN])(_saw("by_topic"))
    by_all = reactor("by_all", on=["#"], tables=[SEEN])(_saw("by_all"))
''')


def test_subscriptions_by_type_category_and_topic_each_get_their_events(cli, tmp_path):
    path = tmp_path / "routed.py"
    path.write_text(ROUTED)
    dom = ("--domain", str(path))
    for args in (("note", "n1", "create", "--text", "hi"), ("note", "n1", "archive"), ("tag", "t1", "create", "--name", "x")):
        assert cli(*dom, "exec", *args).exit_code == 0
    rows = sql(cli, "SELECT reactor, event_type, routing_key FROM seen ORDER BY reactor, event_type")
    got = {(r["reactor"], r["event_type"]) for r in rows}
    assert got == {
        ("by_type", "NoteArchived"),
        ("by_category", "TagCreated"),
        ("by_topic", "NoteCreated"), ("by_topic", "TagCreated"),
        ("by_all", "NoteCreated"), ("by_all", "NoteArchived"), ("by_all", "TagCreated"),
    }
    assert {r["routing_key"] for r in rows} == {"note.created", "note.archived", "tag.created"}


ONCE = textwrap.dedent(PING + '''
    @reactor("ponger", on=["PingSent"], tables=[PONGS], attempts=3, backoff=0)
    def ponger(event, ctx):
        ctx.table("pongs").insert({"event_id": event.event_id, "n": event.n})
        if os.path.exists(FAULT) and str(event.n) in open(FAULT).read().split():
            os.remove(FAULT)  # a passing fault: the next attempt succeeds
            raise RuntimeError(f"ping {event.n} hiccup")
''')


@pytest.mark.parametrize("mode", ["inline", "async"])
def test_a_passing_fault_is_retried_without_parking_or_duplicates(cli, tmp_path, monkeypatch, mode):
    path = tmp_path / "once.py"
    path.write_text(ONCE)
    fault = tmp_path / "fault.txt"
    monkeypatch.setenv("FLAKY_FAULT", str(fault))
    dom = ("--domain", str(path), "--mode", mode)
    fault.write_text("2")
    for n in (1, 2, 3):
        assert cli(*dom, "exec", "ping", f"x{n}", "send", "--n", str(n)).exit_code == 0
    if mode == "async":
        r = cli(*dom, "reactors", "run", "--batch-size", "10")
        assert r.exit_code == 0, r.stderr
    assert not fault.exists()  # the fault did happen
    assert [r["n"] for r in sql(cli, "SELECT n FROM pongs ORDER BY n")] == [1, 2, 3]
    assert json.loads(cli(*dom, "dlq", "list", "--json").stdout) == []
    series = json.loads(cli(*dom, "stats", "--json").stdout)["series"]
    ponger = next(s for s in series if s["name"] == "ponger")
    assert (ponger["handled"], ponger["errors"], ponger["retries"]) == (3, 1, 1)


def test_a_reactor_far_behind_catches_up_in_batches_inline(cli, tmp_path, monkeypatch):
    import uuid

    path = tmp_path / "once.py"
    path.write_text(ONCE)
    monkeypatch.setenv("FLAKY_FAULT", str(tmp_path / "no-fault.txt"))
    dump = tmp_path / "pings.jsonl"
    with open(dump, "w") as fh:
        for n in range(2500):  # more than one inline round takes at once
            fh.write(json.dumps({"event_id": str(uuid.uuid4()), "stream_id": f"ping-x{n}", "version": 1,
                                 "type": "PingSent", "data": {"n": n}}) + "\n")
    dom = ("--domain", str(path))
    r = cli(*dom, "import", str(dump), "--react")
    assert r.exit_code == 0, r.stderr
    assert "reactors handled 2,500 events" in r.stdout
    assert sql(cli, "SELECT count(*) AS n, count(DISTINCT n) AS d FROM pongs") == [{"n": 2500, "d": 2500}]


def test_skip_moves_reactors_past_what_is_pending(cli):
    mode = ("--mode", "async")
    cli(*SHOP, *mode, "exec", "user", "u1", "register", "--email", "a@example.com", "--username", "ann")
    r = cli(*SHOP, *mode, "reactors", "skip", "welcome_email")
    assert r.exit_code == 0 and "welcome_email: checkpoint 0 -> 1" in r.stdout
    cli(*SHOP, *mode, "reactors", "run")
    assert sql(cli, "SELECT count(*) AS n FROM notifications") == [{"n": 1}]  # not skipped
    r = cli("sql", "SELECT name FROM sqlite_master WHERE name='sent_emails'", "--json")
    assert json.loads(r.stdout) == []  # skipped: no e-mail, not even its table


def test_a_message_reads_payload_fields_and_keeps_the_record_first():
    from dataclasses import dataclass

    from evsh.engine.reactors import Message
    from evsh.store.base import RecordedEvent

    @dataclass(frozen=True)
    class Paid:
        order_id: str
        type: str  # a field named like a record attribute: the record's wins, as ever

        @property
        def shout(self) -> str:
            return self.order_id.upper()

    rec = RecordedEvent(7, "e-1", "payment-o1", 1, "Paid", {"order_id": "o1", "type": "card"}, {}, "t")
    made: dict = {}
    typed = Message.typed(Paid, made)
    assert Message.typed(Paid, made) is typed and isinstance(typed(rec, Paid("o1", "card"), "k"), Message)
    for m in (typed(rec, Paid("o1", "card"), "k"), Message(rec, Paid("o1", "card"), "k")):
        assert (m.order_id, m.type, m.shout, m.position, m.routing_key) == ("o1", "Paid", "O1", 7, "k")
        with pytest.raises(AttributeError):
            m.nothing
