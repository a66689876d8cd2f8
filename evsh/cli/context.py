"""What every command shares: the global options, the project config, and lazily opened
store, domain and engine (so `evsh read` never loads a domain it does not need)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import click

from ..errors import BadInput

CONFIG_FILE = "evsh.toml"
MODES = ("inline", "async", "step")
SYNC_MODES = ("normal", "full")
WARNED: set[str] = set()  # the domain's warnings already printed by this process


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {_toml_type(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value
    return check


def _seconds(value: Any) -> float:
    from .params import check_seconds

    if isinstance(value, str):  # TOML has numbers: a quoted one is a mistake worth naming
        raise ValueError(f"must be a number of seconds, not a string ({value!r})")
    return check_seconds(value)


def _spec(make: str) -> Any:
    def check(value: Any) -> str:
        from ..engine import clock

        getattr(clock, make)(_text(value))  # BadInput says what is wrong with it
        return value
    return check


# every key evsh.toml may hold, and how its value is checked (README: "The project file")
CONFIG_KEYS: dict[str, Any] = {
    "db": _text, "domain": _text, "sync": _one_of(SYNC_MODES), "busy_timeout": _seconds,
    "mode": _one_of(MODES), "clock": _spec("make_clock"), "ids": _spec("make_ids"),
}


def _toml_type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def read_config(folder: str = ".") -> dict[str, Any]:
    """The project config (``evsh.toml`` in the current folder), or {} when there is none.

    Every key is checked here, before any command runs: an unknown key or a wrong value is bad
    input naming the file and the key, never a traceback or a silent default."""
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.exists(path):
        return {}
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: {exc}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text; save it as UTF-8") from None
    if "evsh" in data:
        if not isinstance(data["evsh"], dict):
            raise BadInput(f"{path}: evsh must be a table ([evsh]), not {_toml_type(data['evsh'])}")
        if len(data) > 1:
            other = sorted(k for k in data if k != "evsh")[0]
            raise BadInput(f"{path}: {other!r} is outside the [evsh] table; put every key inside it")
        data = data["evsh"]
    for key, value in data.items():
        check = CONFIG_KEYS.get(key)
        if check is None:
            from ..wording import closest

            close = closest(key, CONFIG_KEYS)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise BadInput(f"{path}: unknown key {key!r}{hint}; known keys: {', '.join(CONFIG_KEYS)}")
        try:
            data[key] = check(value)
        except (ValueError, BadInput) as exc:
            raise BadInput(f"{path}: {key}: {exc}") from None
    return data


@dataclass
class AppContext:
    db: str
    domain_spec: str | None
    sync: str = "normal"
    busy_timeout: float = 60.0
    debug: bool = False
    service: str | None = None  # --service: the domain as that service sees it (evsh.domain.services)
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # feature options (mode, clock, ...)
    wait_for_server: bool = False  # a follower started while its server is away waits for it
    _store: Any = None
    _engine: Any = None
    _domain: Any = None
    _domain_loaded: bool = False

    def store(self, *, create: bool = False):
        """The store; ``create`` for writing commands (a read-only one never creates a file)."""
        if self._store is None:
            from ..store.connect import open_store

            clock = {"clock": self.options["clock"]} if self.options.get("clock") else {}

            def opened() -> Any:
                return open_store(self.db, create=create, sync=self.sync, busy_timeout=self.busy_timeout, **clock)

            if self.wait_for_server:
                from .following import when_reached

                self._store = when_reached(opened)
            else:
                self._store = opened()
        return self._store

    def domain(self, *, required: bool = False, warn: bool = True):
        """The domain (None without one); ``warn=False`` for help, which says nothing but help."""
        if not self._domain_loaded:
            if self.domain_spec:
                from ..domain.registry import load_domain
                from ..sanitise import safe

                self._domain = load_domain(self.domain_spec)
                if self.service:
                    from ..domain.services import restrict

                    self._domain = restrict(self._domain, self.service)
                for warning in getattr(self._domain, "warnings", []) if warn else ():
                    if warning not in WARNED:  # once per process, however many contexts load it
                        WARNED.add(warning)
                        click.echo(safe(f"evsh: warning: {warning}"), err=True)
            self._domain_loaded = True
        if self.service and not self.domain_spec:
            raise BadInput("--service needs a domain module that declares services: pass --domain FILE_OR_MODULE")
        if required and self._domain is None:
            raise BadInput("this command needs a domain module: pass --domain FILE_OR_MODULE or set EVSH_DOMAIN (try --domain shop)")
        return self._domain

    def use_domain(self, spec: str) -> None:
        """Load another domain (the shell's `domain FILE`): the engine is rebuilt on it; one that
        fails to load leaves the one before in place."""
        before = (self.domain_spec, self._domain, self._domain_loaded, self._engine)
        self.domain_spec, self._domain, self._domain_loaded, self._engine = spec, None, False, None
        try:
            self.domain(required=True)
        except BaseException:
            self.domain_spec, self._domain, self._domain_loaded, self._engine = before
            raise

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
