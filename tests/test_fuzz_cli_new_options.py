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
