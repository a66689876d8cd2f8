"""evsh: an event-sourcing sandbox in your terminal.

The public API a domain module and a Python user need. Importing it stays light: no click,
rich or textual.
"""

from __future__ import annotations

from .domain.model import Aggregate, EventNameWarning, Rejected, applies, command, event
from .domain.registry import Domain, load_domain
from .engine.engine import CommandOutcome, Engine
from .engine.tables import RowExists, RowNotFound, Table, TableSpec, table
from .domain.projection import Projection, projection
from .errors import (
    BadInput,
    CommandRejected,
    ConcurrencyError,
    DomainCodeError,
    DomainError,
    EvshError,
    ExpectationFailed,
    IdConflict,
    NewerStore,
    NotAStore,
    StoreError,
    StoreLocked,
    StoreMissing,
)
from .store.base import ANY, EXISTS, NO_STREAM, AppendResult, EventStore, NewEvent, RecordedEvent, StreamInfo
from .store.sqlite import SQLiteEventStore, open_store

__version__ = "0.1.0"

__all__ = [
    "ANY", "EXISTS", "NO_STREAM", "Aggregate", "AppendResult", "BadInput", "CommandOutcome", "CommandRejected",
    "ConcurrencyError", "Domain", "DomainCodeError", "DomainError", "Engine", "EventNameWarning", "EventStore",
    "EvshError", "ExpectationFailed", "IdConflict", "NewEvent", "NewerStore", "NotAStore", "RecordedEvent",
    "Rejected", "SQLiteEventStore", "StoreError", "StoreLocked", "StoreMissing", "StreamInfo", "applies",
    "command", "event", "load_domain", "open_store", "__version__",
]
__all__ += ["Projection", "projection", "RowExists", "RowNotFound", "Table", "TableSpec", "table"]
from .domain.reactor import ReactorSpec, reactor  # noqa: E402
__all__ += ["ReactorSpec", "reactor"]
from .domain.upcast import upcaster  # noqa: E402
from .errors import StreamDeleted  # noqa: E402
__all__ += ["upcaster", "StreamDeleted"]
