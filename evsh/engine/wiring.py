"""Build an engine with every feature installed, for all front ends alike.

Each feature (inline projections, reactors, upcasting, snapshots, ...) has an ``install(engine,
options)`` function that adds its transforms and hooks when the domain declares something for
it. Listing them here, once, is what makes the CLI, the shell, scripts and the TUI behave the
same. Installers must stay cheap when the domain declares nothing for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

from ..store.base import EventStore
from .engine import Engine

if TYPE_CHECKING:
    from ..domain.registry import Domain

# (installer, needs a domain). One that needs a domain is not even imported without one, so
# `evsh read` on a bare store loads only what reading needs.
INSTALLERS: list[tuple[str, bool]] = [
    ("evsh.engine.clock:install", False),
    ("evsh.engine.snapshots:install", True),
    ("evsh.engine.shredding:install", False),
    ("evsh.engine.upcasting:install", True),
    ("evsh.engine.lifecycle:install", False),
    ("evsh.engine.projections:install", True),
    ("evsh.engine.reactors:install", True),
]


def build_engine(store: EventStore, domain: Domain | None, **options: Any) -> Engine:
    """An engine on ``store`` for ``domain``; ``options`` (clock, ids, mode, ...) go to installers."""
    engine = Engine(store, domain)
    if "clock" in options and options["clock"] is not None:
        engine.clock = options["clock"]
    if "new_id" in options and options["new_id"] is not None:
        engine.new_id = options["new_id"]
    if "retries" in options and options["retries"] is not None:
        engine.retries = options["retries"]
    for ref, needs_domain in INSTALLERS:
        if needs_domain and domain is None:
            continue
        mod, _, attr = ref.partition(":")
        install: Callable[..., None] = getattr(importlib.import_module(mod), attr)
        install(engine, options)
    return engine
