"""Find a user's domain module and collect what it declares.

``--domain`` names a file (a path that exists wins), then a bundled sample by name (``shop``),
then an importable module. Features declare their own kinds of things (projections, reactors,
upcasters, ...) by giving objects an ``__evsh_kind__`` attribute; the registry collects them
by kind without knowing them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
import types
import warnings
from typing import Any

from ..errors import USER_CODE_FAILURES, BadInput, DomainCodeError, DomainError
from .model import Aggregate, EventSpec, event_spec
from .naming import snake_case, unkebab
from .projection import collect as collect_projections

BUNDLED_PACKAGE = "evsh.samples"


def bundled_samples() -> list[str]:
    """Names of the domains shipped with evsh (usable as ``--domain NAME``)."""
    try:
        from importlib.resources import files

        root = files(BUNDLED_PACKAGE)
        return sorted(
            p.name[:-3] for p in root.iterdir() if p.name.endswith(".py") and not p.name.startswith("_")
        )
    except (ModuleNotFoundError, FileNotFoundError):
        return []


def _bundled(name: str) -> bool:
    """Whether ``name`` is one of :func:`bundled_samples`, asked of the import system for that one
    module: listing the folder loads importlib.resources and its zip support (a few ms per start)."""
    if name.startswith("_"):
        return False
    try:
        found = importlib.util.find_spec(f"{BUNDLED_PACKAGE}.{name}")
    except ModuleNotFoundError:
        return False
    return (found is not None and found.submodule_search_locations is None
            and (found.origin or "").endswith(f"{name}.py"))


class Domain:
    """Everything one domain module declares."""

    def __init__(self, module: types.ModuleType, name: str) -> None:
        self.module = module
        self.name = name
        self.aggregates: dict[str, type[Aggregate]] = {}
        self.events: dict[str, EventSpec] = {}
        self.declarations: dict[str, list[Any]] = {}
        for value in list(vars(module).values()):
            if isinstance(value, type) and issubclass(value, Aggregate) and value is not Aggregate:
                if value.__module__ == module.__name__ or value.category not in self.aggregates:
                    self.aggregates[value.category] = value
            spec = event_spec(value)
            if spec is not None and isinstance(value, type):
                self.events[spec.name] = spec
            kind = getattr(value, "__evsh_kind__", None)
            if isinstance(kind, str) and not isinstance(value, types.ModuleType):
                self.declarations.setdefault(kind, []).append(value)
        for agg in self.aggregates.values():
            try:
                for _, spec in agg.appliers().items():
                    self.events.setdefault(spec[1].name, spec[1])
            except NameError as exc:
                raise DomainError(f"aggregate {agg.__name__}: {exc}") from None
        self.projections = collect_projections(self.of_kind("projection"))

    @property
    def file(self) -> str | None:
        return getattr(self.module, "__file__", None)

    def of_kind(self, kind: str) -> list[Any]:
        return self.declarations.get(kind, [])

    def aggregate(self, name: str) -> type[Aggregate]:
        key = unkebab(name)
        agg = self.aggregates.get(key) or self.aggregates.get(snake_case(name))
        if agg is None:
            from ..wording import did_you_mean

            known = ", ".join(sorted(self.aggregates)) or "none"
            raise BadInput(f"unknown aggregate {name!r} in domain {self.name}{did_you_mean(name, self.aggregates)}"
                           f" (known: {known})")
        return agg

    def aggregate_for_stream(self, stream_id: str) -> type[Aggregate] | None:
        return self.aggregates.get(stream_id.split("-", 1)[0])

    def event_type(self, name: str) -> EventSpec | None:
        return self.events.get(name)


def _user_frame(tb: Any) -> str:
    """file:line of the innermost frame that is the user's code, not evsh's or the stdlib's."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    samples = os.path.join(here, "samples")
    stdlib = os.path.dirname(os.__file__)
    where = ""
    for frame in traceback.extract_tb(tb):
        fn = os.path.abspath(frame.filename)
        if fn.startswith(here + os.sep) and not fn.startswith(samples):
            continue
        if fn.startswith(stdlib) or frame.filename.startswith("<frozen"):
            continue
        where = f"{frame.filename}:{frame.lineno}"
    return where


def user_code_error(exc: BaseException, context: str) -> DomainCodeError:
    """Wrap an exception raised by domain code, pointing at the user's file and line.

    A real Ctrl-C that arrived while the user's code ran is not its failure: it is raised
    again as it is (see evsh.interrupts)."""
    from .. import interrupts

    if isinstance(exc, KeyboardInterrupt) and interrupts.requested():
        raise exc
    where = _user_frame(exc.__traceback__)
    said = f": {exc}" if str(exc) else ""
    return DomainCodeError(f"{context}: {type(exc).__name__}{said}", where)


def load_domain(spec: str) -> Domain:
    """Load a domain from a file path, a bundled sample name, or an importable module name."""
    if not spec:
        raise BadInput("no domain given: pass --domain FILE_OR_MODULE (try --domain shop)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module, name = _import(spec)
            domain = Domain(module, name)
    except (DomainError, BadInput, DomainCodeError):
        raise
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else spec  # a NUL byte: Python names no line
        raise DomainCodeError(f"syntax error in domain module: {exc.msg}", where) from None
    except USER_CODE_FAILURES as exc:  # the user's module raised while being imported
        raise user_code_error(exc, f"loading domain {spec}") from None
    domain.warnings = [str(w.message) for w in caught]  # type: ignore[attr-defined]
    return domain


def _import(spec: str) -> tuple[types.ModuleType, str]:
    if os.path.exists(spec):
        path = os.path.abspath(spec)
        if os.path.isdir(path):
            init = os.path.join(path, "__init__.py")
            if not os.path.exists(init):
                raise DomainError(f"{spec} is a folder without __init__.py; name a .py file or a package")
            parent, modname = os.path.dirname(path), os.path.basename(path)
            if parent not in sys.path:
                sys.path.insert(0, parent)
            return importlib.import_module(modname), modname
        stem = os.path.splitext(os.path.basename(path))[0]
        modname = f"evsh_domain_{stem}"
        if modname in sys.modules and getattr(sys.modules[modname], "__file__", None) == path:
            return sys.modules[modname], stem
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        loader_spec = importlib.util.spec_from_file_location(modname, path)
        if loader_spec is None or loader_spec.loader is None:
            raise DomainError(f"{spec} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[modname] = module
        try:
            loader_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
        return module, stem
    if spec.replace("_", "").isalnum() and _bundled(spec):
        return importlib.import_module(f"{BUNDLED_PACKAGE}.{spec}"), spec
    try:
        return importlib.import_module(spec), spec
    except ModuleNotFoundError as exc:
        if exc.name and spec.startswith(exc.name):
            samples = ", ".join(bundled_samples()) or "none"
            raise DomainError(
                f"no domain {spec!r}: not a file, a bundled sample ({samples}) or an importable module"
            ) from None
        raise
