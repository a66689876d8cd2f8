"""Helpers for tests that run the real `evsh` process against bad input and failing disks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

# Opens the store read-only (as a read-only file would be) or lets it grow by only a few pages
# (as a full disk would), then runs the evsh command line: the real CLI with a real SQLite error.
INJECT = r'''
import os, sqlite3, sys
fault = os.environ.pop("EVSH_TEST_FAULT")
connect = sqlite3.connect

def faulty(path, *args, **kwargs):
    if not isinstance(path, str) or not path.endswith("evsh.db") or kwargs.get("uri"):
        return connect(path, *args, **kwargs)
    kwargs.pop("uri", None)
    if fault == "readonly":
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)
    conn = connect(path, *args, **kwargs)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    return conn

sqlite3.connect = faulty
from evsh.cli.main import main
sys.argv[0] = "evsh"
main()
'''


def evsh(*args: str | bytes, cwd: Any, env: dict[str, str] | None = None, fault: str | None = None,
         stdin: Any = None, stdout: Any = subprocess.PIPE, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `evsh ARGS` in a new process (bytes arguments pass as they are, as a shell would)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    full_env.update({"COLUMNS": "200", **(env or {})})
    head = [sys.executable, "-c", INJECT] if fault else [sys.executable, "-m", "evsh"]
    if fault:
        full_env["EVSH_TEST_FAULT"] = fault
    return subprocess.run([*head, *args], cwd=cwd, env=full_env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)


def one_line(r: Any, code: int, *words: str) -> str:
    """An error from a CliRunner result or a process: the exit code, one line on stderr that
    starts with `evsh: ` and names ``words``, no traceback. Returns the line."""
    got = r.exit_code if hasattr(r, "exit_code") else r.returncode
    err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode("utf-8", "replace")
    assert got == code, (got, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("evsh: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def event_line(n: int, stream: str = "b-1", **over: Any) -> str:
    """One line of an export: event n of ``stream``, with fields replaced by ``over``."""
    obj = {"event_id": f"0190a000-0000-7000-8000-{n:012d}", "stream_id": stream, "version": n, "type": "X",
           "data": {"n": n}, **over}
    return json.dumps(obj)


def events_in(cwd: Any, db: str = "evsh.db") -> int:
    """How many events the store holds."""
    from evsh import open_store

    with open_store(os.path.join(str(cwd), db), create=False) as store:
        return sum(1 for _ in store.read_all())


def mount_tmpfs(path: str, size: str) -> bool:
    """A small filesystem of its own at ``path`` (root only): a disk that really fills up."""
    os.makedirs(path, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path],
                          capture_output=True).returncode == 0


def umount(path: str) -> None:
    subprocess.run(["umount", path], capture_output=True)


def fill(folder: str, leave_kb: int) -> None:
    """Fill the filesystem of ``folder`` until ``leave_kb`` KiB are left."""
    free_kb = shutil.disk_usage(folder).free // 1024
    with open(os.path.join(folder, "filler"), "wb") as fh:
        fh.write(b"\0" * max(0, free_kb - leave_kb) * 1024)
