"""Declaring a projection (a read model) in a domain module.

Plain Python, no I/O: a projection names itself, lists the tables it owns, carries a version
the user bumps when its logic changes, and maps event types to handlers. evsh's engine calls
each handler with the stored event and the tables (``handler(event, rows)``), and commits the
row changes together with the projection's checkpoint::

    order_details = Projection("order_details", version=1, tables=[ORDER_DETAILS])

    @order_details.on(OrderCreated)
    def _created(event, rows):
        rows.table("order_details").insert({"order_id": event.data["order_id"], ...})

``event`` is the stored event (``position``, ``stream_id``, ``type``, ``data``, ``metadata``,
``recorded_at``): its ``data`` is the JSON payload, Decimals as strings, which is what a row
stores anyway and is several times cheaper than building the typed event on every replay.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from ..errors import DomainError
from .model import event_spec

MODES = ("catch-up", "inline")
_MODE_ALIASES = {"catchup": "catch-up", "catch_up": "catch-up", "async": "catch-up", "inline": "inline"}

Handler = Callable[[Any, Any], None]


def type_name(event_type: Any) -> str:
    """An event type's stored name, from an @event class or a string."""
    spec = event_spec(event_type)
    if spec is not None:
        return spec.name
    if isinstance(event_type, str) and event_type:
        return event_type
    raise DomainError(f"{event_type!r} is neither an @event class nor an event type name")


class Projection:
    """A read model: tables built from the global log, event type by event type.

    ``mode``: ``catch-up`` (default; `evsh projections run` brings it up to date) or
    ``inline`` (updated in the same transaction as each append: a query right after a command
    sees its effect, and a handler that raises rolls the command back).
    """

    def __init__(self, name: str, *, version: int = 1, tables: Sequence[Any] = (), mode: str = "catch-up",
                 description: str = "") -> None:
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
            raise DomainError(f"projection name {name!r}: use letters, digits, _ and -")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise DomainError(f"projection {name}: version must be a positive integer")
        m = _MODE_ALIASES.get(str(mode).lower().replace(" ", "-"), str(mode).lower())
        if m not in MODES:
            raise DomainError(f"projection {name}: mode {mode!r} is not one of {', '.join(MODES)}")
        self.name = name
        self.version = version
        self.mode = m
        self.tables = tuple(tables)
        seen: set[str] = set()
        for t in self.tables:
            tname = getattr(t, "name", None)
            if not isinstance(tname, str) or not hasattr(t, "columns"):
                raise DomainError(f"projection {name}: tables must be declared with evsh.table(...), got {t!r}")
            if tname in seen:
                raise DomainError(f"projection {name}: table {tname} is listed twice")
            seen.add(tname)
        self.description = description
        self.handlers: dict[str, Handler] = {}

    # the registry collects objects by this attribute; a property keeps the class itself out
    @property
    def __evsh_kind__(self) -> str:
        return "projection"

    @property
    def types(self) -> tuple[str, ...]:
        """The event types it handles: only these are read when it catches up or rebuilds."""
        return tuple(self.handlers)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)

    def on(self, *event_types: Any) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of these event types."""
        if not event_types:
            raise DomainError(f"projection {self.name}: on() needs at least one event type")
        names = [type_name(t) for t in event_types]

        def register(fn: Handler) -> Handler:
            for n in names:
                if n in self.handlers:
                    raise DomainError(f"projection {self.name}: event type {n} has two handlers")
                self.handlers[n] = fn
            return fn

        return register

    def handle(self, event_types: Iterable[Any], fn: Handler) -> None:
        """The non-decorator form of :meth:`on`."""
        self.on(*event_types)(fn)

    def __repr__(self) -> str:
        return f"<Projection {self.name} v{self.version} {self.mode}>"


projection = Projection


def collect(items: Iterable[Any]) -> dict[str, Projection]:
    """A domain's projections by name, in name order; a name or a table claimed twice is refused."""
    out: dict[str, Projection] = {}
    owners: dict[str, str] = {}
    for p in items:
        if not isinstance(p, Projection):
            continue
        other = out.get(p.name)
        if other is not None and other is not p:
            raise DomainError(f"two projections are named {p.name}")
        for t in p.table_names:
            if owners.setdefault(t, p.name) != p.name:
                raise DomainError(f"table {t} is declared by projections {owners[t]} and {p.name}; a table has one owner")
        out[p.name] = p
    return dict(sorted(out.items()))
