"""`evsh append STREAM TYPE -` reads the event's data from standard input within the size one
line of an export may hold (MAX_LINE), as UTF-8: an endless or binary input is one line of
bad input (exit 2), and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys

from evsh.store import lines


def _head(cli) -> str:
    return cli("log", "--json").stdout


def test_data_from_stdin_longer_than_an_export_line_is_refused(cli, monkeypatch):
    before = _head(cli)
    monkeypatch.setattr(lines, "MAX_LINE", 16)
    r = cli("append", "x-1", "T", "-", input='{"text": "' + "a" * 40 + '"}')
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and "longer than 16 bytes" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.setattr(lines, "MAX_LINE", 64 * 1024 * 1024)
    assert _head(cli) == before


def test_data_from_stdin_within_the_limit_is_appended(cli, monkeypatch):
    monkeypatch.setattr(lines, "MAX_LINE", 16)
    r = cli("append", "x-1", "T", "-", input='{"a": 1}')
    assert r.exit_code == 0, r.stderr
    assert "appended T to x-1" in r.stdout


def test_an_endless_stdin_stops_at_the_limit(tmp_path):
    db = str(tmp_path / "s.db")
    with open(os.devnull, "rb") as empty:  # the store first, so the refusal is the append's
        subprocess.run([sys.executable, "-m", "evsh", "--db", db, "init"], stdin=empty, check=True,
                       capture_output=True)
    with open("/dev/zero", "rb") as zeros:
        r = subprocess.run([sys.executable, "-m", "evsh", "--db", db, "append", "x-1", "T", "-"], stdin=zeros,
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("evsh: error: DATA: standard input is longer than") and r.stderr.count("\n") == 1
    out = subprocess.run([sys.executable, "-m", "evsh", "--db", db, "log", "--json"], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_data_from_stdin_that_is_not_utf8_is_refused(cli):
    r = cli("append", "x-1", "T", "-", input=b'{"a": "\xff"}')
    assert r.exit_code == 2
    assert "standard input is not UTF-8 text" in r.stderr and r.stderr.count("\n") == 1
