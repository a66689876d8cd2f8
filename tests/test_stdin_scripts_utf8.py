"""A script read from standard input (`evsh run -`, `evsh shell` in a pipe) must be UTF-8, as a
script file must: bytes that are not are refused with one line (exit 2), whatever the locale
(in a C locale Python reads stdin with "surrogateescape", which would turn them into text)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _evsh(tmp_path, *args: str, data: bytes, locale: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8", "PYTHONIOENCODING"))}
    env.update(LC_ALL=locale, EVSH_DB=str(tmp_path / "s.db"))
    return subprocess.run([sys.executable, "-m", "evsh", *args], input=data, capture_output=True, env=env,
                          cwd=tmp_path, timeout=60)


@pytest.mark.parametrize("command", [("shell",), ("run", "-")])
@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_stdin_script_with_bytes_that_are_not_utf8_is_refused(tmp_path, command, locale):
    r = _evsh(tmp_path, *command, data=b"say \xff\n", locale=locale)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2, err
    assert r.stdout == b""
    assert "cannot read standard input: 'utf-8' codec can't decode byte 0xff" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_utf8_script_on_stdin_still_runs(tmp_path):
    r = _evsh(tmp_path, "run", "-", data="say héllo\n".encode(), locale="C")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "héllo\n"


def test_the_same_bytes_in_a_file_get_the_same_refusal(tmp_path):
    (tmp_path / "bad.evsh").write_bytes(b"say \xff\n")
    r = _evsh(tmp_path, "run", "bad.evsh", data=b"", locale="C")
    assert r.returncode == 2
    assert "cannot read bad.evsh: 'utf-8' codec can't decode byte 0xff" in r.stderr.decode()
