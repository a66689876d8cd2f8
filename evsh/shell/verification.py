"""Directives for reproducer scripts: replay in a fresh process, rebuild, redeliver.

They exist so a bug found by ``evsh verify`` (or by hand) can be written down as a short
.evsh script that fails before the fix and passes after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from ..errors import BadInput, ExpectationFailed


def _plain(value: Any) -> Any:
    """A state as the JSON a user sees (Decimals as strings), for comparisons across processes."""
    from ..store import codec

    return json.loads(codec.dumps(value))


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b), key=lambda k: (k not in a, str(k))):
        if a.get(key, "<missing>") != b.get(key, "<missing>"):
            out.append(f"{key}: {json.dumps(a.get(key, '<missing>'), default=str)} != "
                       f"{json.dumps(b.get(key, '<missing>'), default=str)}")
    return out


def fresh_process_state(app: Any, aggregate: str, id: str) -> dict[str, Any]:
    """The aggregate's state computed by a new evsh process (nothing cached, nothing shared)."""
    if not app.domain_spec:
        raise BadInput("expect replay needs a domain module: pass --domain")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVSH_")}
    argv = [sys.executable, "-m", "evsh", "--db", app.db, "--domain", app.domain_spec, "state", aggregate, id, "--json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExpectationFailed(f"replay in a fresh process could not run: {exc}") from None
    if proc.returncode != 0:
        raise ExpectationFailed(f"replay in a fresh process failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def expect_replay(app: Any, aggregate: str, id: str) -> str:
    """The state this process holds (snapshots and all) = a full replay = a fresh process's."""
    domain = app.domain(required=True)
    cls = domain.aggregate(aggregate)
    engine = app.engine(domain_required=True)
    loaded = _plain(engine.load(cls, id).state())
    replayed = cls(id)
    engine.apply_records(replayed, engine.read_stream(cls.stream_id(id)))
    full = _plain(replayed.state())
    if loaded != full:
        raise ExpectationFailed(
            f"replay of {cls.stream_id(id)}: the loaded state differs from a full replay of its events\n  "
            + "\n  ".join(diff(loaded, full)) + "\n  (loaded != full replay)"
        )
    other = fresh_process_state(app, aggregate, id)
    if other != full:
        raise ExpectationFailed(
            f"replay of {cls.stream_id(id)}: a fresh process computes a different state\n  "
            + "\n  ".join(diff(full, other)) + "\n  (this process != fresh process)"
        )
    return f"{cls.stream_id(id)} replays to the same state here and in a fresh process (version {full.get('version')})"


def expect_rebuild(app: Any, name: str) -> str:
    raise BadInput("expect rebuild: projections are not available in this build")


def redeliver(app: Any, kind: str, name: str, position: int) -> str:
    raise BadInput("redeliver: projections and reactors are not available in this build")
