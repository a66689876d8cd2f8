"""A PostgreSQL server of the tests' own: initdb into a temporary directory, started on a free
port of 127.0.0.1 with trust authentication, stopped and removed afterwards.

Two uses: ``make test`` on a machine where no server answers but PostgreSQL's binaries are
installed runs the PostgreSQL suites on one of these (tests/conftest.py), and the restart test
stops and starts one under running workers, which the shared server must never be.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any


def bindir() -> str | None:
    """Where initdb and pg_ctl are: PATH, then pg_config's answer, then Debian's layout."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(found)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if out and os.path.exists(os.path.join(out, "initdb")):
            return out
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(versions[-1]) if versions else None


def problem() -> str | None:
    """Why no throwaway server can be started here (None: it can)."""
    if bindir() is None:
        return "PostgreSQL's binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and _unprivileged() is None:
        return "running as root and no 'postgres' or 'nobody' user to run initdb as"
    return None


def _unprivileged() -> str | None:
    """initdb and postgres refuse to run as root: whom to run them as then."""
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayServer:
    """One server in its own directory; ``url`` names its ``test`` database."""

    def __init__(self) -> None:
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError(problem())
        self.dir = tempfile.mkdtemp(prefix="evsh-test-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.user = _unprivileged() if os.geteuid() == 0 else None
        if self.user is not None:
            shutil.chown(self.dir, self.user)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/test"

    def _run(self, *args: str, timeout: float = 60) -> None:
        kw: dict[str, Any] = {"user": self.user} if self.user else {}
        done = subprocess.run([os.path.join(self.bin, args[0]), *args[1:]], capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir, **kw)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> ThrowawayServer:
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self._pg_ctl("start")
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
        return self

    def _pg_ctl(self, action: str) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c full_page_writes=off -c max_connections=100")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-o", options, "-w",
                  "-m", "fast", action)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop the server (fast: connections are cut, transactions rolled back), stay down
        ``down_for`` seconds, start it again."""
        self._pg_ctl("stop")
        time.sleep(down_for)
        self._pg_ctl("start")

    def stop(self) -> None:
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._pg_ctl("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ThrowawayServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
