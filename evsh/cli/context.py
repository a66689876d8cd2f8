"""What every command shares: the global options, the project config, and lazily opened
store, domain and engine (so `evsh read` never loads a domain it does not need)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import click

from ..errors import BadInput

CONFIG_FILE = "evsh.toml"


def read_config(folder: str = ".") -> dict[str, Any]:
    """The project config (``evsh.toml`` in the current folder), or {} when there is none."""
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.exists(path):
        return {}
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from None
    return data.get("evsh", data)


@dataclass
class AppContext:
    db: str
    domain_spec: str | None
    sync: str = "normal"
    busy_timeout: float = 60.0
    debug: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # feature options (mode, clock, ...)
    _store: Any = None
    _engine: Any = None
    _domain: Any = None
    _domain_loaded: bool = False

    def store(self, *, create: bool = False):
        """The store; ``create`` for writing commands (a read-only one never creates a file)."""
        if self._store is None:
            from ..store.connect import open_store

            clock = {"clock": self.options["clock"]} if self.options.get("clock") else {}
            self._store = open_store(self.db, create=create, sync=self.sync, busy_timeout=self.busy_timeout, **clock)
        return self._store

    def domain(self, *, required: bool = False):
        if not self._domain_loaded:
            if self.domain_spec:
                from ..domain.registry import load_domain
                from ..sanitise import safe

                self._domain = load_domain(self.domain_spec)
                for warning in getattr(self._domain, "warnings", []):
                    click.echo(safe(f"evsh: warning: {warning}"), err=True)
            self._domain_loaded = True
        if required and self._domain is None:
            raise BadInput("this command needs a domain module: pass --domain FILE_OR_MODULE or set EVSH_DOMAIN (try --domain shop)")
        return self._domain

    def engine(self, *, create: bool = False, domain_required: bool = False):
        if self._engine is None:
            from ..engine.wiring import build_engine

            domain = self.domain(required=domain_required)
            self._engine = build_engine(self.store(create=create), domain, **self.options)
        elif domain_required:
            self.domain(required=True)
        return self._engine

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self._engine = None


def app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(AppContext)
    if obj is None:
        raise RuntimeError("evsh commands run inside the evsh group")
    return obj


def completion_app(ctx: click.Context) -> AppContext:
    """An AppContext for shell completion, where the group's callback has not run."""
    params = ctx.find_root().params
    try:
        config = read_config()
    except Exception:  # completion must never fail loudly
        config = {}
    return AppContext(
        db=params.get("db") or config.get("db") or "evsh.db",
        domain_spec=params.get("domain_spec") or config.get("domain"),
    )
