"""The event a reactor's handler receives (:class:`Message`), read the way handlers read it."""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from ...store.recorded import RecordedEvent, category_of


class Message:
    """The event a handler receives: record fields, plus the payload's fields as attributes.

    ``event.order_id`` reads the payload (typed, when the domain declares the type);
    ``event.type``, ``event.event_id``, ``event.stream_id``, ``event.routing_key`` ... describe
    the record. ``event.payload`` is the typed event, ``event.data`` the stored JSON object.
    """

    __slots__ = ("record", "payload", "routing_key")

    def __init__(self, record: RecordedEvent, payload: Any, key: str) -> None:
        self.record = record
        self.payload = payload
        self.routing_key = key

    # read in C (attrgetter), not through a Python function: handlers read them on every event
    type = property(attrgetter("record.type"))
    event_id = property(attrgetter("record.event_id"))
    stream_id = property(attrgetter("record.stream_id"))
    version = property(attrgetter("record.version"))
    position = property(attrgetter("record.position"))
    metadata = property(attrgetter("record.metadata"))
    recorded_at = property(attrgetter("record.recorded_at"))
    data = property(attrgetter("record.data"))
    category = property(lambda self: category_of(self.record.stream_id))
    correlation_id = property(lambda self: self.record.metadata.get("correlation_id") or self.record.event_id)

    def __getattr__(self, name: str) -> Any:
        payload = object.__getattribute__(self, "payload")
        if payload is not None and not isinstance(payload, dict):
            return getattr(payload, name)
        data = object.__getattribute__(self, "record").data
        if name in data:
            return data[name]
        raise AttributeError(f"event {self.record.type} has no field {name!r}")

    def __repr__(self) -> str:
        return f"<{self.record.type} {self.record.stream_id}@{self.record.version} #{self.record.position}>"

    @classmethod
    def typed(cls, payload_type: type, made: dict[type, type["Message"]]) -> type["Message"]:
        """A subclass whose payload fields are properties (kept in ``made``, per payload type):
        ``event.order_id`` is found where it is looked for first, not after a failed lookup
        (an AttributeError made and dropped) and a call of ``__getattr__``. The record's own
        attributes keep precedence over a field of the same name, as with ``__getattr__``."""
        sub = made.get(payload_type)
        if sub is None:
            names = getattr(payload_type, "__dataclass_fields__", {})
            sub = made[payload_type] = type(cls.__name__, (cls,), {
                "__slots__": (), "__qualname__": cls.__qualname__,
                **{n: property(attrgetter(f"payload.{n}")) for n in names if not hasattr(cls, n)},
            })
        return sub
