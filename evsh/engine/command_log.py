"""The command log: what commands were sent, with their parameters, for traces.

- ``commands``: every command that left no event (rejected, failed, no-op); a command that wrote
  events is on record in their metadata (command id and name, correlation, causation, actor);
- ``command_params``: the parameters of a command that wrote events, written in the events'
  transaction (one row, one key: cheaper than a command row and its three indexes).

Forget scrubs both, as it scrubs every table but the log.
"""

from __future__ import annotations

from typing import Any

from ..store import codec
from ..store.tables import table

COMMANDS = table("commands", {
    "command_id": str, "name": str, "stream_id": str, "correlation_id": str, "causation_id": str,
    "outcome": str,           # ok | rejected | error
    "reason": str, "params": str, "events": str,  # params and event ids as JSON text
    "reactor": str,           # the reactor that sent it, if any
    "at": str,
}, pk="command_id", indexes=["correlation_id", "causation_id", "stream_id"])

COMMAND_PARAMS = table("command_params", {"command_id": str, "params": str}, pk="command_id")

TABLES = (COMMANDS, COMMAND_PARAMS)


def record_command(store: Any, row: dict[str, Any]) -> None:
    """Record one command (inside the caller's transaction); a re-recorded id is left alone."""
    store.table(COMMANDS).add(row)


def record_params(store: Any, command_id: str, params: str) -> None:
    """Keep the parameters of a command that wrote events (with its transaction), for traces."""
    store.table_ops(COMMAND_PARAMS).add_at_commit((command_id, params))  # in the columns' order


def params_of(store: Any, command_ids: list[str]) -> dict[str, Any]:
    """The recorded parameters of these commands, by command id (decoded)."""
    out: dict[str, Any] = {}
    t = store.table(COMMAND_PARAMS)
    for i in range(0, len(command_ids), 500):
        part = command_ids[i:i + 500]
        for r in t.rows_where(f"command_id IN ({','.join('?' * len(part))})", part):
            out[r["command_id"]] = codec.loads(r["params"])
    return out


def commands(store: Any, where: str, params: tuple, limit: int | None = None) -> list[dict[str, Any]]:
    """Recorded commands matching a condition, oldest first, params and events decoded."""
    out = store.table(COMMANDS).rows_where(where, params, order_by="at, command_id", limit=limit)
    for c in out:
        c["params"] = codec.loads(c["params"])
        c["events"] = codec.loads(c["events"])
    return out


def latest_at(store: Any) -> str | None:
    """When the last recorded command was sent (None: none is)."""
    rows = store.table(COMMANDS).rows_where(order_by="at DESC", limit=1)
    return rows[0]["at"] if rows else None


def recorded(store: Any) -> int:
    """How many commands are on record (refused or failed ones)."""
    return store.table(COMMANDS).count()
