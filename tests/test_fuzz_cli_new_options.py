"""Hostile values for this round's command-line surfaces: `relay`/`consume` URLs and names,
`tables`, `trace --store/--stores`, `stats --window/--since`, `--db postgresql://...` forms.

Each is run through the real CLI (in-process) on a store holding one event: no traceback, a
documented exit code, at most one line on stderr, no raw control character on it, and (on an
error) the store's file unchanged and no file created. Brokers are addressed at unreachable
ports (127.0.0.1:1), so no real broker is touched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from evsh import NewEvent, open_store

DOCUMENTED = {0, 1, 2, 3, 4, 5, 130}
UNSAFE = ("\x1b", "\x00", "\u202e", "\x9b", "\x07")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("template") / "s.db"
    open_store(str(db)).append("order-o1", [NewEvent("OrderCreated", {"order_id": "o1"})])
    return db


def _files(folder: Path) -> dict[str, str]:
    """What an error may not change: every file's bytes, except SQLite's empty -wal and its -shm,
    which merely opening a store for reading makes."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.endswith("-shm") and not (p.name.endswith("-wal") and p.stat().st_size == 0):
            out[p.name] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def run_hostile(template: Path, folder: Path, args: list[str], *, db: str | None = None) -> tuple[int, str]:
    """Run `evsh --db COPY ARGS` in ``folder``; assert the promises; return (exit code, stderr)."""
    from evsh.cli.main import cli as group

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "s.db")
    before = _files(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        res = CliRunner().invoke(group, ["--db", db or str(folder / "s.db"), *args],
                                 env={"COLUMNS": "200", "EVSH_DB": None, "EVSH_DOMAIN": None}, catch_exceptions=True)
    finally:
        os.chdir(cwd)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        pytest.fail(f"evsh {args!r}: traceback\n{''.join(traceback.format_exception(res.exception))}")
    err = res.stderr.strip()
    assert res.exit_code in DOCUMENTED, (args, res.exit_code, err)
    if res.exit_code:
        assert len(err.splitlines()) == 1, (args, err)
        assert _files(folder) == before, f"evsh {args!r} failed (exit {res.exit_code}) but wrote: {err}"
    assert not any(c in err for c in UNSAFE), (args, err)
    return res.exit_code, err


def test_trace_across_stores_never_makes_a_store(template, tmp_path):
    """Regression: `trace x --store /no/such.db` made an empty store there (a read command
    writing a file), and `--stores ''` silently traced the --db store instead."""
    missing = tmp_path / "elsewhere" / "nothing.db"
    missing.parent.mkdir()
    code, err = run_hostile(template, tmp_path / "run", ["trace", "x", "--store", str(missing)])
    assert code == 4 and "no store at" in err
    assert not missing.exists() and list(missing.parent.iterdir()) == []
    code, err = run_hostile(template, tmp_path / "run2", ["trace", "x", "--stores", ""])
    assert code == 2 and "not a folder" in err


def test_a_user_without_a_password_in_an_amqp_url_is_bad_input(template, tmp_path):
    """Regression: pika raised TypeError (exit 1, traceback) for amqp://guest@host/ and amqp://@host/."""
    for i, url in enumerate(["amqp://guest@127.0.0.1:1/", "amqp://@127.0.0.1:1/", "amqps://%ff@127.0.0.1:1/"]):
        for args in (["relay", "--to", url, "--once", "--timeout", "0.5"], ["consume", "--from", url, "--queue", "q", "--once"]):
            code, err = run_hostile(template, tmp_path / f"{i}{args[0]}", args)
            assert code == 2 and "without a password" in err and "guest@" not in err


JUNK = st.sampled_from(["", "%", "%zz", "%00", "%ff", "%1b[2J", "%e2%80%ae", "\x1b", "\u202e", " ", "#", "?", "@",
                        "[", "]", ":", "//", "é", "\udcff", "a" * 300])
HOSTS = st.one_of(st.sampled_from(["127.0.0.1", "localhost", "[::1]", "", "[::1", "127.0.0.1]", "0"]), JUNK)
PORTS = st.one_of(st.just("1"), st.sampled_from(["0", "-1", "65536", "99999999999999999999", "x", "1.5",
                                                 "１", "+1", " 1"]), JUNK.filter(bool))  # "": 5672, a real broker


@st.composite
def broker_urls(draw) -> str:
    """A broker URL from hostile pieces; any port that parses is 1, so nothing answers."""
    scheme = draw(st.sampled_from(["amqp", "amqps", "nats", "tls", "AMQP", "http", "", "amqp:"]))
    user = draw(st.one_of(st.just(""), st.builds(lambda u, p: f"{u}{p}@", st.one_of(st.just("guest"), JUNK),
                                                 st.one_of(st.just(""), st.just(":"), st.just(":s3cret-pw"), st.builds(":{}".format, JUNK)))))
    port = draw(PORTS)
    path = draw(st.one_of(st.just(""), st.just("/"), st.builds("/{}".format, JUNK), st.builds("/{}/{}".format, JUNK, JUNK)))
    query = draw(st.one_of(st.just(""), st.builds("?{}".format, JUNK), st.builds("#{}".format, JUNK)))
    return f"{scheme}://{user}{draw(HOSTS)}:{port}{path}{query}"


NAMES = st.one_of(st.sampled_from(["q", "evsh", "EVSH", "a.b", "a b", "*", ">", "#", "amq.topic", "$SYS", "a/b",
                                   "order.#", "order.*", "..", "-"]), JUNK)


@given(url=broker_urls(), command=st.sampled_from(["relay", "consume"]),
       options=st.lists(st.tuples(st.sampled_from(["--exchange", "--stream", "--queue", "--bind", "--durable",
                                                   "--subject-prefix", "--name", "--source", "--topic"]), NAMES),
                        max_size=3))
def test_broker_urls_and_names_never_give_a_traceback(template, tmp_path_factory, url, command, options):
    args = ["relay", "--to", url, "--once", "--timeout", "0.5"] if command == "relay" else \
        ["consume", "--from", url, "--once", "--idle-exit", "0.5"]
    allowed = {"relay": {"--exchange", "--stream", "--subject-prefix", "--source", "--topic"},
               "consume": {"--exchange", "--stream", "--queue", "--bind", "--durable", "--name"}}[command]
    for opt, value in options:
        if opt in allowed:
            args += [opt, value]
    code, err = run_hostile(template, tmp_path_factory.mktemp("url"), args)
    assert code in (2, 4), (args, code, err)  # bad input, or no broker answers
    assert "s3cret-pw" not in err, "a password shown"


def test_an_argument_that_is_not_utf8_is_shown_without_its_password_or_controls(template, tmp_path):
    """Regression: the not-UTF-8 message showed a URL argument whole (amqp://u:PASSWORD@...) and
    with its raw ESC (the terminal obeyed it)."""
    code, err = run_hostile(template, tmp_path / "a", ["relay", "--to", "amqp://u:s3cret-pw@127.0.0.1:1/\udcff\x1b[2J"])
    assert code == 2 and "not valid UTF-8" in err and "s3cret-pw" not in err and "u:***@" in err and "\\x1b" in err


@pytest.mark.parametrize("since", ["99999999999999999999999d", "1e300w", "5000000w", "9" * 400 + "m"])
def test_a_huge_since_span_means_everything(template, tmp_path, since):
    """Regression: `stats --since 99999999999999999999999d` raised OverflowError (timedelta), and
    a span of millions of weeks built a list of every minute in it before taking the first."""
    code, err = run_hostile(template, tmp_path, ["stats", "--since", since])
    assert code in (0, 2), err


@given(since=st.one_of(st.text(max_size=12), st.from_regex(r"\A[-+]?[0-9]{0,30}(\.[0-9]*)?(e[0-9]+)?[smhdwx]?\Z"),
                       st.sampled_from(["9999-12-31T23:59", "0001-01-01", "2026-02-30", "2026-01-01T25:00",
                                        "2026-01-01T00:00+99:00", "nan", "infd", "1_000m", "٣m"])),
       window=st.sampled_from(["latest", "event-time", "", "LATEST", "x"]),
       command=st.sampled_from(["stats", "tables"]),
       extra=st.lists(st.sampled_from(["--json", "--nl", "--csv", "--prometheus", "--limit", "0", "--minutes",
                                       "1441", "--by-subscriber"]), max_size=3))
def test_stats_and_tables_options_never_give_a_traceback(template, tmp_path_factory, since, window, command, extra):
    args = [command, *extra] + (["--since", since, "--window", window] if command == "stats" else [])
    run_hostile(template, tmp_path_factory.mktemp("stats"), args)


@pytest.mark.parametrize("url, words", [
    ("postgresql://127.0.0.1:99999/x", "Port out of range"), ("postgresql://127.0.0.1:x/x", "Port could not"),
    ("postgresql://[::1/x", "IPv6"), ("postgresql://127.0.0.1:1/%ff", "not UTF-8"),
    ("postgresql://127.0.0.1:1/%00", "NUL"), ("postgresql://127.0.0.1:1/x?bogus=1", "bogus"),
    ("postgresql://%zz:s3cret-pw@127.0.0.1:1/x", "percent"), ("postgresql://u:s3cret-pw@127.0.0.1:1/x?schema=", "schema"),
    ("postgresql://127.0.0.1:1/x?schema=%1b[2J", "control or bidi"), ("postgresql://127.0.0.1:1/x?schema=%e2%80%ae", "bidi"),
])
def test_a_malformed_postgresql_url_is_bad_input_before_connecting(template, tmp_path, url, words):
    """Regression: a bad port, an IPv6 typo or %ff in a --db URL gave a traceback (ValueError,
    UnicodeDecodeError; exit 1), an unknown option was a 'store error' (exit 4), a schema could
    hold ESC or U+202E, and the schema message showed the password."""
    code, err = run_hostile(template, tmp_path, ["tables"], db=url)
    assert code == 2 and words in err and "s3cret-pw" not in err, err


PG_PIECES = st.sampled_from(["", "%", "%zz", "%ff", "%00", "%1b", "%e2%80%ae", "a;b", "a'b", 'a"b', "\x1b", "é",
                             "\udcff", "x" * 70, "evsh", "a&b=c", "=", "?", "#", "@", ":", "[", "]"])


@given(user=st.one_of(st.just(""), st.builds("{}:{}@".format, PG_PIECES, PG_PIECES)),
       host=st.sampled_from(["127.0.0.1", "[::1]", "[::1", "", "localhost", "%zz"]),
       port=st.sampled_from(["1", "0", "-1", "99999", "x", "１", "99999999999999999999"]),
       db=PG_PIECES, options=st.lists(st.tuples(st.sampled_from(["schema", "sslmode", "connect_timeout", "bogus",
                                                                  "application_name", "host", "port", "options"]),
                                                 PG_PIECES), max_size=3),
       command=st.sampled_from(["tables", "stats", "read"]))
def test_postgresql_urls_never_give_a_traceback(template, tmp_path_factory, user, host, port, db, options, command):
    query = "&".join(f"{k}={v}" for k, v in options if k not in ("host", "port"))  # never a real server
    url = f"postgresql://{user}{host}:{port}/{db}" + (f"?{query}" if query else "")
    code, err = run_hostile(template, tmp_path_factory.mktemp("pg"), [command], db=url)
    assert code in (2, 4), (url, code, err)


@pytest.mark.parametrize("args, words", [
    (["relay", "--to", "nats://127.0.0.1:1", "--subject-prefix", "h2\x1b"], "--subject-prefix"),
    (["relay", "--to", "nats://127.0.0.1:1", "--subject-prefix", "\u202e"], "--subject-prefix"),
    (["relay", "--to", "nats://127.0.0.1:1", "--topic", "order.\x00"], "--topic"),
    (["consume", "--from", "nats://127.0.0.1:1", "--durable", "a.b"], "--durable"),
    (["consume", "--from", "nats://127.0.0.1:1", "--durable", "d", "--name", "\x1b"], "--name"),
    (["consume", "--from", "amqp://127.0.0.1:1/", "--queue", "q\x1b"], "queue name"),
    (["consume", "--from", "amqp://127.0.0.1:1/", "--queue", "q", "--bind", "a b"], "--bind"),
])
def test_broker_names_are_checked_before_connecting(template, tmp_path, args, words):
    """Regression: `relay --subject-prefix $'h2\\x1b'` made a JetStream stream with that control
    character in its subjects (exit 0); --durable, --queue, --bind and --name were not checked
    before connecting, so a bad one was a broker error (exit 4) or reached the broker."""
    code, err = run_hostile(template, tmp_path, [*args, "--once"])
    assert code == 2 and words in err, err


@pytest.mark.parametrize("args", [
    ["relay", "--to", "http://@:s3cret-pw@127.0.0.1:1"],
    ["relay", "--to", "amqp://u:s3cret-pw@x@127.0.0.1:1/\udcff"],
    ["consume", "--from", "amqp://u:s3:cret-pw@127.0.0.1:99999/", "--queue", "q"],
])
def test_a_password_holding_at_or_colon_is_never_shown(template, tmp_path, args):
    """Regression (found by the URL fuzzing, seed 14): the masks stopped at the first @ of the
    user part, so `http://@:PASSWORD@host` showed the password in its error."""
    code, err = run_hostile(template, tmp_path, [*args, "--once"])
    assert code == 2 and "s3cret-pw" not in err and "cret-pw" not in err, err
