"""`evsh read` stays light: it never imports the heavy front-end libraries.

Checked in a fresh interpreter through sys.modules (not by timing): the command runs for real on
a small store, then the child reports which heavy modules got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from evsh import NewEvent, open_store

HEAVY = ("textual", "hypothesis", "prompt_toolkit", "sqlite_utils", "cryptography", "psycopg", "pika", "nats")
HEAVY_PARTS = ("rich.tree", "rich.progress", "rich.syntax", "rich.live")

PROBE = textwrap.dedent(
    """
    import json, sys
    import evsh.cli.main as m

    try:
        m.main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code or 0
    else:
        code = 0
    loaded = sorted({name.split(".")[0] for name in sys.modules} | set(sys.modules))
    print("\\n" + json.dumps({"code": code, "loaded": loaded}))
    """
)


def probe(*args: str) -> tuple[int, set[str], str]:
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    report = json.loads(r.stdout.strip().splitlines()[-1])
    return report["code"], set(report["loaded"]), r.stdout


@pytest.fixture
def small_store(db_path):
    with open_store(db_path) as s:
        s.append("order-o1", [NewEvent("OrderCreated", {"order_id": "o1", "n": n}) for n in range(20)])
    return db_path


@pytest.mark.parametrize(
    "extra",
    [(), ("--json",), ("--backwards", "--limit", "3")],
    ids=["table", "json", "backwards"],
)
def test_evsh_read_imports_no_heavy_module(small_store, extra):
    code, loaded, out = probe("--db", small_store, "read", "order-o1", *extra)
    assert code == 0
    assert "OrderCreated" in out  # the command really ran
    assert not loaded & {*HEAVY, *HEAVY_PARTS}, sorted(loaded & {*HEAVY, *HEAVY_PARTS})


def test_evsh_read_with_the_shop_domain_imports_no_heavy_module(small_store):
    code, loaded, out = probe("--db", small_store, "--domain", "shop", "read", "order-o1", "--json")
    assert code == 0 and "OrderCreated" in out
    assert not loaded & {*HEAVY, *HEAVY_PARTS}, sorted(loaded & {*HEAVY, *HEAVY_PARTS})


# what only other commands need: `evsh streams delete|truncate|meta` (evsh.cli.lifecycle, loaded
# when one of them runs) and queue (no command's path needs it); and importlib.metadata (10-15 ms
# with the email package it pulls in): evsh's version is a constant, never looked up (on
# PostgreSQL psycopg's own version check imports it, which evsh cannot avoid)
LAZY = ("evsh.cli.lifecycle", "queue", "importlib.metadata")


def test_evsh_read_leaves_what_other_commands_need_unimported(small_store):
    code, loaded, out = probe("--db", small_store, "read", "order-o1")
    assert code == 0 and "OrderCreated" in out
    assert not loaded & set(LAZY), sorted(loaded & set(LAZY))


def test_the_stream_commands_still_load_when_they_run(small_store):
    code, loaded, out = probe("--db", small_store, "streams", "meta", "order-o1")
    assert code == 0 and "evsh.cli.lifecycle" in loaded
    code, _, out = probe("--db", small_store, "streams", "--help")
    assert code == 0 and all(name in out for name in ("delete", "meta", "truncate"))


def test_a_piped_seed_draws_no_progress_bar_and_imports_no_rich(tmp_path):
    # no terminal: the bar would be silent, so Rich's console is not even made (about 17 ms)
    code, loaded, out = probe("--db", str(tmp_path / "s.db"), "seed", "--orders", "2")
    assert code == 0 and "seeded" in out
    assert "rich" not in loaded


def test_evsh_version_looks_nothing_up():
    code, loaded, out = probe("--version")
    assert code == 0 and "0." in out
    assert "importlib.metadata" not in loaded


def test_evsh_read_on_postgresql_imports_no_sqlite_and_no_other_commands():
    from tests.services import postgres_url

    with postgres_url() as url:
        with open_store(url) as s:
            s.append("order-o1", [NewEvent("OrderCreated", {"order_id": "o1"})])
        code, loaded, out = probe("--db", url, "read", "order-o1")
    assert code == 0 and "OrderCreated" in out
    # hashlib (OpenSSL's libcrypto) makes the append lock's key and the NOTIFY channel: a read takes neither
    unwanted = {"sqlite3", "evsh.store.sqlite", "evsh.cli.lifecycle", "hashlib", *HEAVY_PARTS, "textual", "hypothesis"}
    assert not loaded & unwanted, sorted(loaded & unwanted)


def test_importing_the_public_api_is_light():
    r = subprocess.run(
        [sys.executable, "-c", "import sys, evsh; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
        capture_output=True, text=True, timeout=120,
    )
    loaded = set(r.stdout.split())
    assert "evsh" in loaded
    assert not loaded & {*HEAVY, "click", "rich"}, sorted(loaded & {*HEAVY, "click", "rich"})


def test_the_probe_would_notice_a_heavy_import(tmp_path):
    """Guards the test itself: a command that does import cryptography shows up."""
    code, loaded, _ = probe("--db", str(tmp_path / "fresh.db"), "--domain", "shop", "exec", "user", "u-probe", "register",
                            "--email", "probe@example.org", "--username", "probe")
    assert code == 0
    assert "cryptography" in loaded
