"""Shared fixtures: a fresh store, the shop, and the CLI through click's CliRunner."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

# CI: short and steady. deep: `HYPOTHESIS_PROFILE=deep pytest` for a longer hunt. No profile keeps
# an example database: a failure found once is reported with its seed (rerun it with
# --hypothesis-seed=N), not replayed by every later run of a clone until someone deletes it.
_common = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, max_examples=30, **_common)
settings.register_profile("dev", max_examples=50, **_common)
settings.register_profile("deep", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@dataclass
class CLIResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def _own_history(tmp_path_factory, monkeypatch):
    """The shell's history, and `evsh forget`'s scrubbing of it, stay in a folder of the test's own."""
    data = tmp_path_factory.mktemp("xdg-data")
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.delenv("EVSH_HISTORY", raising=False)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "evsh.db")


@pytest.fixture
def cli(db_path, monkeypatch, tmp_path):
    """Run `evsh ARGS...` in-process on a fresh store (cwd = a temp folder); returns CLIResult."""
    from evsh.cli.main import cli as group

    monkeypatch.chdir(tmp_path)
    for var in ("EVSH_DB", "EVSH_DOMAIN", "EVSH_MODE", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)

    def run(*args: str, input: str | None = None, env: dict | None = None, db: str | None = None) -> CLIResult:
        runner = CliRunner()
        result = runner.invoke(
            group, ["--db", db or db_path, *args], input=input, env={"COLUMNS": "200", **(env or {})},
            catch_exceptions=False,
        )
        return CLIResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def shop():
    from evsh import load_domain

    return load_domain("shop")


@pytest.fixture
def engine(db_path, shop):
    from evsh import open_store
    from evsh.engine.wiring import build_engine

    store = open_store(db_path)
    eng = build_engine(store, shop)
    yield eng
    store.close()


def table_rows(store, name: str) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of a table as the store holds it, read with read-only SQL (none when it
    does not exist yet: a projection that saw no event may have no tables)."""
    if not store.table_exists(name):
        return [], []
    with store.query(f'SELECT * FROM "{name}"') as (columns, rows):
        return columns, list(rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """A fresh store's --db: a file, then a PostgreSQL schema of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield str(tmp_path / "evsh.db")
        return
    from tests.services import postgres_url

    with postgres_url() as url:
        yield url


_STARTED: list[str] = []


def pytest_configure(config):
    """No PostgreSQL answering here (outside CI) but its binaries installed: a throwaway server
    for the session (tests/services.py), said in one line at the end."""
    from tests.services import start_throwaway_postgres

    line = start_throwaway_postgres()
    if line:
        _STARTED.append(line)


def pytest_unconfigure(config):
    from tests.services import stop_throwaway_postgres

    stop_throwaway_postgres()


def pytest_terminal_summary(terminalreporter):
    """One line for the tests a missing server skipped (not one per test in -ra's list): they
    are counted apart, as "skipped (no server)"."""
    from tests.services import is_service_skip, summary_line

    for started in _STARTED:
        terminalreporter.write_line(started, yellow=True)
    line = summary_line()
    if line:
        skipped = terminalreporter.stats.get("skipped", [])
        apart = [r for r in skipped if is_service_skip(r)]
        if apart:
            terminalreporter.stats["skipped"] = [r for r in skipped if not is_service_skip(r)]
            terminalreporter.stats.setdefault("skipped (no server)", []).extend(apart)
        terminalreporter.write_line(line, yellow=True)
