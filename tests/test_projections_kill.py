"""A rebuild killed with SIGKILL part-way leaves the old model intact; a second rebuild completes.

The test controls the moment: it waits until the child has committed its first shadow batch,
then takes the store's write lock itself, so the child blocks before its next commit. While
the child is stuck mid-rebuild, the test checks the old model, then kills the child.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def model(conn: sqlite3.Connection) -> list[tuple]:
    return conn.execute("SELECT * FROM order_details ORDER BY order_id").fetchall()


def test_sigkill_during_rebuild_keeps_the_old_model(tmp_path):
    db = str(tmp_path / "k.db")
    env = {**os.environ, "EVSH_DB": db, "EVSH_DOMAIN": "shop", "EVSH_MODE": "step"}
    evsh = [sys.executable, "-m", "evsh"]
    subprocess.run([*evsh, "seed", "--orders", "1500"], env=env, check=True, capture_output=True)
    subprocess.run([*evsh, "projections", "run", "order_details"], env=env, check=True, capture_output=True)

    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    before = model(conn)
    assert len(before) == 1500
    child = subprocess.Popen([*evsh, "projections", "rebuild", "order_details", "--batch-size", "10"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        started = False
        while time.monotonic() < deadline and child.poll() is None:
            row = conn.execute("SELECT position FROM checkpoints WHERE name='projection-rebuild:order_details'").fetchone()
            if row and row[0] > 0:
                conn.execute("BEGIN IMMEDIATE")  # the child now waits for the lock before its next batch
                started = True
                break
            time.sleep(0.001)
        assert started, f"the rebuild did not commit a first batch: {child.communicate()}"
        shadow = conn.execute("SELECT count(*) FROM order_details__rebuild").fetchone()[0]
        assert 0 < shadow < 1500  # caught part-way
        assert child.poll() is None
        assert model(conn) == before  # queries see the old, complete model during the rebuild
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        conn.execute("ROLLBACK")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    assert model(conn) == before
    out = subprocess.run([*evsh, "sql", "SELECT count(*) AS n FROM order_details", "--json"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0 and '"n":1500' in out.stdout
    listed = subprocess.run([*evsh, "projections", "--json"], env=env, capture_output=True, text=True)
    state = {p["name"]: p for p in json.loads(listed.stdout)}["order_details"]
    assert state["rebuild_in_progress"] > 0 and state["lag"] == 0  # the old model is still current

    again = subprocess.run([*evsh, "projections", "rebuild", "order_details"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert model(conn) == before
    assert conn.execute("SELECT name FROM sqlite_master WHERE name LIKE '%__rebuild'").fetchall() == []
    assert conn.execute(
        "SELECT count(*) FROM checkpoints WHERE name='projection-rebuild:order_details'").fetchone() == (0,)
    conn.close()
