"""Claiming a row on PostgreSQL before it exists: checkpoints and leases of competing workers.

``SELECT ... FOR UPDATE`` locks the row it finds, and nothing when there is none: two workers
starting a new projection (no checkpoint row yet) or taking a lease nobody held (no lease row)
would both go ahead. Here each claim first takes a transaction-scoped advisory lock named by the
store, the table and the key, so the second worker waits for the first to commit and then reads
what it wrote. The lock ends with the transaction, and with the connection when a worker dies.
"""

from __future__ import annotations

from typing import Any

from ..tables import TableSpec
from .connection import row_lock_key


class RowClaims:
    """A mixin of the PostgreSQL store, placed before the shared readers it refines."""

    def _claim_row(self, table: str, key: Any) -> None:
        self._run("SELECT pg_advisory_xact_lock(%s)", (row_lock_key(self.schema, table, key),))

    def claim_checkpoint(self, name: str) -> int:
        """The checkpoint's position, held against other writers until this transaction ends
        (whether or not the checkpoint was ever written)."""
        self._claim_row("checkpoints", name)
        return super().claim_checkpoint(name)  # type: ignore[misc]

    def lock_row(self, spec: TableSpec, key: Any) -> dict[str, Any] | None:
        """A row (or its absence) held against other writers until this transaction ends."""
        self._claim_row(spec.name, key)
        return super().lock_row(spec, key)  # type: ignore[misc]
