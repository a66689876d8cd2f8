"""evsh: an event-sourcing sandbox in your terminal.

The public API a domain module and a Python user need. Names are imported on first use
(PEP 562), so that `import evsh` and the CLI's start-up stay light; everything listed here is
importable as ``from evsh import NAME``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # writing a domain
    "Aggregate": "evsh.domain.model", "Rejected": "evsh.domain.model", "applies": "evsh.domain.model",
    "command": "evsh.domain.model", "event": "evsh.domain.model", "EventNameWarning": "evsh.domain.model",
    "projection": "evsh.domain.projection", "Projection": "evsh.domain.projection",
    "table": "evsh.engine.catalog", "Table": "evsh.store.tables", "TableSpec": "evsh.store.tables",
    "RowExists": "evsh.store.tables", "RowNotFound": "evsh.store.tables", "RowNotWritten": "evsh.store.tables",
    "reactor": "evsh.domain.reactor", "ReactorSpec": "evsh.domain.reactor",
    "upcaster": "evsh.domain.upcast",
    "service": "evsh.domain.services", "Service": "evsh.domain.services",
    # running it
    "Domain": "evsh.domain.registry", "load_domain": "evsh.domain.registry",
    "Engine": "evsh.engine.engine", "CommandOutcome": "evsh.engine.engine",
    "build_engine": "evsh.engine.wiring",
    "open_store": "evsh.store.connect", "SQLiteEventStore": "evsh.store.sqlite",
    "EventStore": "evsh.store.base", "NewEvent": "evsh.store.base", "RecordedEvent": "evsh.store.base",
    "AppendResult": "evsh.store.base", "StreamInfo": "evsh.store.base",
    "ANY": "evsh.store.base", "EXISTS": "evsh.store.base", "NO_STREAM": "evsh.store.base",
    # errors
    **{name: "evsh.errors" for name in (
        "EvshError", "BadInput", "CommandRejected", "ConcurrencyError", "IdConflict", "DomainError",
        "DomainCodeError", "ExpectationFailed", "StoreError", "StoreMissing", "NotAStore", "NewerStore",
        "StoreLocked", "StreamDeleted",
    )},
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evsh' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .domain.model import Aggregate, EventNameWarning, Rejected, applies, command, event  # noqa: F401
    from .domain.projection import Projection, projection  # noqa: F401
    from .domain.reactor import ReactorSpec, reactor  # noqa: F401
    from .domain.registry import Domain, load_domain  # noqa: F401
    from .domain.upcast import upcaster  # noqa: F401
    from .engine.engine import CommandOutcome, Engine  # noqa: F401
    from .engine.catalog import table  # noqa: F401
    from .store.tables import RowExists, RowNotFound, RowNotWritten, Table, TableSpec  # noqa: F401
    from .engine.wiring import build_engine  # noqa: F401
    from .errors import (  # noqa: F401
        BadInput, CommandRejected, ConcurrencyError, DomainCodeError, DomainError, EvshError,
        ExpectationFailed, IdConflict, NewerStore, NotAStore, StoreError, StoreLocked, StoreMissing,
        StreamDeleted,
    )
    from .store.base import ANY, EXISTS, NO_STREAM, AppendResult, EventStore, NewEvent, RecordedEvent, StreamInfo  # noqa: F401
    from .store.connect import open_store  # noqa: F401
    from .store.sqlite import SQLiteEventStore  # noqa: F401
