"""Shared parts of the fuzz tests: a seeded template store, a copy of it per example, evsh run
in-process with a time bound, a digest of everything the store holds, and hostile values.

The properties every fuzz test checks (see `check`): no traceback and no exception escaping
evsh, an exit code evsh documents, and a store unchanged, table by table and row by row,
whenever the exit code is not 0.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import sqlite3
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

from click.testing import CliRunner
from hypothesis import settings
from hypothesis import strategies as st

EXIT_CODES = {0, 1, 2, 3, 4, 5, 130}
SHOP = ["--domain", "shop"]
TIME_BOUND = 60  # seconds one evsh run may take before the example counts as hung (sql stops at 30)
ENV = {"COLUMNS": "120", "NO_COLOR": None, "EVSH_DB": None, "EVSH_DOMAIN": None, "EVSH_MODE": None,
       "EVSH_SYNC": None, "EVSH_BUSY_TIMEOUT": None, "EVSH_CLOCK": None, "EVSH_IDS": None, "EVSH_DEBUG": None,
       "EVSH_HISTORY": None}


def examples(share: float = 1.0) -> settings:
    """The profile's settings with a share of its examples: a test run per command takes fewer
    each, so the whole fuzz set stays within CI's time (HYPOTHESIS_PROFILE=deep for a long hunt)."""
    return settings(max_examples=max(3, int(settings.default.max_examples * share)))


# ----------------------------------------------------------------------------- running evsh

@dataclass
class Run:
    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None


class Hung(BaseException):
    """An evsh run went past TIME_BOUND (a BaseException, so evsh's handlers never swallow it)."""


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: Any) -> None:  # noqa: ARG001
        raise Hung(f"evsh ran for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_evsh(folder: str, args: list[str], input: str = "", db: bool = True) -> Run:
    """`evsh --db FOLDER/evsh.db ARGS` in-process, in FOLDER, stdin empty unless given (without
    --db when ``db`` is false: evsh.toml's or the default)."""
    from evsh.cli.main import cli

    full = ["--db", os.path.join(folder, "evsh.db"), *args] if db else list(args)
    here = os.getcwd()
    os.chdir(folder)
    try:
        with time_bound(TIME_BOUND):
            result = CliRunner().invoke(cli, full, input=input, env=ENV, catch_exceptions=True, prog_name="evsh")
    finally:
        os.chdir(here)
    exc = result.exception
    if isinstance(exc, SystemExit):
        exc = None
    return Run(full, result.exit_code, result.stdout, result.stderr, exc)


def check(run: Run, before: dict[str, str], after: dict[str, str]) -> None:
    """The properties every fuzz test holds evsh to."""
    said = f"evsh {' '.join(map(repr, run.args))}\nexit {run.exit_code}\nstderr: {run.stderr[-2000:]}"
    if run.exception is not None:
        import traceback

        tb = "".join(traceback.format_exception(run.exception))
        raise AssertionError(f"an exception escaped evsh:\n{said}\n{tb}")
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, said
    assert run.exit_code in EXIT_CODES, said
    if run.exit_code != 0:
        tables = changed(before, after, run.exit_code)
        assert not tables, f"the store changed although the command failed ({', '.join(tables)}):\n{said}"
        lines = run.stderr.strip().splitlines()
        if run.exit_code not in (1, 130):  # 1 is also a check that failed, which may say more
            assert len(lines) >= 1, f"an error without a message:\n{said}"


# ----------------------------------------------------------------------------- the store

# A command the domain refused (exit 1) is on record in the command log, by design (`evsh trace`
# shows refused commands): these tables may change on exit 1, and nothing else may.
REFUSALS_RECORD = {"commands", "command_params"}


def digest(db: str, exact: bool = True) -> dict[str, str]:
    """Everything the store holds, table by table: schema and rows (read as SQLite sees them,
    the WAL included), so a write on error is seen whatever the pages look like.

    ``exact=False`` compares two runs of the same commands instead: how many rows each table
    holds and which events (stream, version, type), since keys, sealed personal fields,
    measured latencies and the ids of the store's own events differ from run to run."""
    if not os.path.exists(db):
        return {"": "no store"}
    out: dict[str, str] = {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
        out[""] = hashlib.sha256(repr(objects).encode("utf-8", "surrogatepass")).hexdigest()
        for kind, name, _ in objects:
            if kind != "table" or name.startswith("sqlite_"):
                continue
            if not exact:
                columns = "stream_id, version, type" if name == "events" else "count(*)"
                rows = conn.execute(f'SELECT {columns} FROM "{name}"').fetchall()
            else:
                rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            h = hashlib.sha256()
            for r in sorted(repr(x) for x in rows):
                h.update(r.encode("utf-8", "surrogatepass") + b"\n")
            out[name] = h.hexdigest()
    finally:
        conn.close()
    return out


def changed(before: dict[str, str], after: dict[str, str], exit_code: int) -> list[str]:
    """The tables a failed run changed, leaving out the record of refusals on exit 1."""
    skip = REFUSALS_RECORD if exit_code == 1 else set()
    return sorted(t for t in set(before) | set(after) if t not in skip and before.get(t) != after.get(t))


@contextlib.contextmanager
def copy_of(template: str) -> Iterator[str]:
    """A fresh folder holding a copy of the template folder (its store and files) for one example."""
    with tempfile.TemporaryDirectory(prefix="evsh-fuzz-") as tmp:
        folder = os.path.join(tmp, "w")
        shutil.copytree(template, folder, symlinks=True)
        yield folder


def make_template(folder: str) -> str:
    """A small shop store: stock, a user with a key, an order through the workflow, a plain
    stream, a caught-up projection, an event waiting in async mode, a snapshot, an export file,
    a script file and a link to the store."""
    steps = [
        [*SHOP, "exec", "inventory", "p1", "add-stock", "--quantity", "5"],
        [*SHOP, "exec", "user", "u1", "register", "--email", "a@b.c", "--username", "al"],
        [*SHOP, "exec", "order", "o1", "create", "--customer-id", "u1", "--items",
         '[{"product_id": "p1", "quantity": 2, "unit_price": "9.50"}]'],
        ["append", "a-1", "Noted", '{"n": 1}'],
        ["append", "a-1", "Noted", '{"n": 2}'],
        [*SHOP, "projections", "run"],
        [*SHOP, "snapshot", "inventory", "p1"],
        ["export", "-o", "export.jsonl"],
        [*SHOP, "--mode", "async", "exec", "inventory", "p1", "add-stock", "--quantity", "1"],
    ]
    for args in steps:
        r = run_evsh(folder, args)
        assert r.exit_code == 0 and r.exception is None, (args, r.stderr, r.exception)
    with open(os.path.join(folder, "s.evsh"), "w") as fh:
        fh.write("say hello\nread a-1\n")
    os.symlink("evsh.db", os.path.join(folder, "link.db"))
    os.mkdir(os.path.join(folder, "sub"))
    return folder


# ----------------------------------------------------------------------------- hostile values

HUGE_INTS = [str(2**63 - 1), str(2**63), str(2**64), str(2**70), "9" * 400, "-" + str(2**70)]
NUMBERS = ["-1", "0", "1", "3", "-0", "1.5", "nan", "-nan", "inf", "-inf", "1e308", "1e999999", "0x10", "1_000",
           " 2", "٣", "²", "+4", *HUGE_INTS]
TEXTS = [
    "", " ", "\t", "x\ny", "a" * 5000, "\udcff", "a\udcffb", "\x1b[2J", "\x1b]0;owned\x07", "\x9b31m", "a\u202eb",
    "\u200f", "[/oops]", "[link=http://evil.example]x[/link]", "[red]r[/red]", "{}", "[]", '{"a":', "null",
    '{"quantity": 1e999999}', '{"n": ' + "9" * 400 + "}", "'", '"', "\\", "$all", "🙂", "%s%n", "${x}", "-", "--",
    "\x7f",
]
NAMES = ["a-1", "order-o1", "inventory-p1", "user-u1", "payment-o1", "$all", "nope-1", "a", "order", "inventory",
         "user", "payment", "o1", "p1", "u1", "Noted", "StockAdded", "OrderCreated", "UserRegistered",
         "order_details", "customer_orders", "inventory_levels", "order_statistics", "order_workflow",
         "welcome_email", "user_notifications", "create", "confirm", "cancel", "add-stock", "reserve", "release",
         "register", "process", "refund"]
PATHS = ["evsh.db", "./evsh.db", "evsh.db-wal", "evsh.db-shm", "link.db", "sub", "sub/", ".", "/", "/dev/null",
         "/dev/zero", "/dev/full", "missing.jsonl", "export.jsonl", "s.evsh", "out.jsonl", "sub/out", "nodir/x",
         "/proc/self/mem", "-"]
DOMAINS = ["shop", "", "nope", "evsh.db", "s.evsh", "sub", "export.jsonl", "json", "-", "a b", "[/oops]"]
JSON_JUNK = ['[{"product_id": "p1", "quantity": 1, "unit_price": "1"}]',
             '[{"product_id": "p1", "quantity": ' + str(2**70) + ', "unit_price": "1"}]',
             '[{"product_id": "p\u202e1", "quantity": 1, "unit_price": "1e999999"}]',
             '[{"product_id": "[/oops]", "quantity": -1, "unit_price": "nan"}]', "[1, 2]", '[{"product_id": {}}]',
             '{"a": 1}', "[", '"x"']


def hostile_values() -> st.SearchStrategy[str]:
    """Hostile text, numbers, paths, JSON junk or anything (no NUL: no shell can pass one)."""
    return st.one_of(
        st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.sampled_from(PATHS), st.sampled_from(JSON_JUNK),
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    )


def text_values(plausible: list[str] | None = None) -> st.SearchStrategy[str]:
    """A string for any argument: half the time a name that means something here, else hostile."""
    names = st.sampled_from(plausible or NAMES)
    return st.one_of(names, names, names, hostile_values())


def number_values() -> st.SearchStrategy[str]:
    return st.one_of(st.integers(-3, 12).map(str), st.sampled_from(NUMBERS), text_values())
