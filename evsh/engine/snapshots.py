"""Snapshots: an aggregate's state saved at a version, so loading a long stream replays only its tail.

A snapshot records the aggregate's ``state_version``; when the code's ``state_version`` differs
the snapshot is ignored (never misread) and replaced by the next one taken. Aggregates that
declare ``snapshot_every = N`` get a snapshot after a command once N events have been appended
since the last one; ``evsh snapshot AGGREGATE ID`` takes one on demand.

State is written in a small tagged JSON form rather than by type hints alone: hints such as a
bare ``list`` or ``dict`` lose Decimals, tuples and dataclasses nested inside (the shop's
``Order.items`` holds Decimals in plain dicts), and then snapshot + tail would differ from a
full replay. The tagged form restores every value with its exact type.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
import sys
import time
from decimal import Decimal
from typing import Any

from ..domain.model import Aggregate
from ..errors import BadInput
from ..store import codec
from .engine import CommandOutcome, Engine

_SKIP = ("id", "version")


class Unsnapshottable(BadInput):
    """The aggregate holds a value the snapshot format cannot keep exactly."""


# ----------------------------------------------------------------------------- the state format

def _ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(ref: str) -> type:
    module, _, qual = ref.partition(":")
    obj: Any = sys.modules[module]
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def encode_value(v: Any, path: str = "state") -> Any:
    """A value as tagged JSON: plain JSON stays plain; everything else is a one-key ``$``-object."""
    t = type(v)
    if v is None or t is str or t is bool or t is int:
        return v
    if t is float:
        return v if math.isfinite(v) else {"$float": repr(v)}
    if t is Decimal:
        return {"$decimal": str(v)}
    if t is list:
        return [encode_value(x, f"{path}[{i}]") for i, x in enumerate(v)]
    if t is tuple:
        return {"$tuple": [encode_value(x, f"{path}[{i}]") for i, x in enumerate(v)]}
    if t is set or t is frozenset:
        items = [encode_value(x, f"{path}[]") for x in v]
        return {"$set" if t is set else "$frozenset": items}
    if t is dict:
        if all(type(k) is str and not k.startswith("$") for k in v):
            return {k: encode_value(x, f"{path}.{k}") for k, x in v.items()}
        return {"$map": [[encode_value(k, path), encode_value(x, f"{path}.{k}")] for k, x in v.items()]}
    if isinstance(v, enum.Enum):
        return {"$enum": _ref(t), "value": encode_value(v.value, path)}
    if t is _dt.datetime:
        return {"$datetime": v.isoformat(), "fold": v.fold} if v.fold else {"$datetime": v.isoformat()}
    if t is _dt.date:
        return {"$date": v.isoformat()}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {
            "$dataclass": _ref(t),
            "fields": {f.name: encode_value(getattr(v, f.name), f"{path}.{f.name}") for f in dataclasses.fields(v)},
        }
    raise Unsnapshottable(f"{path}: a {t.__name__} cannot be kept in a snapshot")


def decode_value(v: Any) -> Any:
    if type(v) is list:
        return [decode_value(x) for x in v]
    if type(v) is not dict:
        return v
    if v:
        tag = next(iter(v))  # plain dicts with "$" keys are written as $map, so a "$" first key is a tag
        if tag.startswith("$"):
            x = v[tag]
            if tag == "$decimal":
                return Decimal(x)
            if tag == "$float":
                return float(x)
            if tag == "$tuple":
                return tuple(decode_value(i) for i in x)
            if tag == "$set":
                return {decode_value(i) for i in x}
            if tag == "$frozenset":
                return frozenset(decode_value(i) for i in x)
            if tag == "$map":
                return {decode_value(k): decode_value(i) for k, i in x}
            if tag == "$datetime":
                return _dt.datetime.fromisoformat(x).replace(fold=v.get("fold", 0))
            if tag == "$date":
                return _dt.date.fromisoformat(x)
            if tag == "$enum":
                return _resolve(x)(decode_value(v["value"]))
            if tag == "$dataclass":
                cls = _resolve(x)
                obj = object.__new__(cls)
                for name, value in v["fields"].items():
                    object.__setattr__(obj, name, decode_value(value))
                return obj
    return {k: decode_value(x) for k, x in v.items()}


def dump_state(agg: Aggregate) -> str:
    """The aggregate's instance state (every attribute but id and version) as text."""
    return codec.dumps({k: encode_value(x, k) for k, x in vars(agg).items() if k not in _SKIP})


def restore(cls: type[Aggregate], id: str, version: int, text: str) -> Aggregate:
    agg = cls(id)
    for k, x in codec.loads(text).items():
        setattr(agg, k, decode_value(x))
    agg.version = version
    return agg


# ----------------------------------------------------------------------------- taking and loading

def load_snapshot(engine: Engine, cls: type[Aggregate], id: str, at_version: int | None) -> Aggregate | None:
    """The aggregate from its snapshot, or None when there is none usable (another state version, too new)."""
    row = engine.store.load_snapshot(cls.stream_id(id))
    if row is None:
        return None
    version, state_version, text = row
    if state_version != cls.state_version or (at_version is not None and version > at_version):
        return None
    try:
        return restore(cls, id, version, text)
    except Exception:  # a class moved or renamed since: replay instead of misreading
        return None


def take_snapshot(engine: Engine, cls: type[Aggregate], id: str) -> tuple[int, int]:
    """Snapshot the aggregate's current state; returns (version, bytes)."""
    agg = engine.load(cls, id)
    if agg.version == 0:
        raise BadInput(f"stream {cls.stream_id(id)} has no events to snapshot")
    text = dump_state(agg)
    engine.store.save_snapshot(cls.stream_id(id), cls.category, agg.version, cls.state_version, text)
    return agg.version, len(text)


def snapshot_due(engine: Engine, cls: type[Aggregate], stream_id: str, version: int) -> bool:
    every = cls.snapshot_every
    if not every:
        return False
    row = engine.store.load_snapshot(stream_id)
    last = row[0] if row is not None and row[1] == cls.state_version else 0
    return version - last >= every


class _SnapshottedCategories:
    """Which categories have snapshots at all, asked again at most every RECHECK seconds.

    An aggregate that does not declare ``snapshot_every`` has a snapshot only when someone took
    one on demand; this spares every load of such aggregates a lookup. A snapshot taken
    elsewhere meanwhile is only used a moment later: loads are correct either way.
    """

    RECHECK = 2.0

    def __init__(self, store: Any) -> None:
        self.store = store
        self._seen: dict[str, tuple[bool, float]] = {}

    def has(self, category: str) -> bool:
        now = time.monotonic()
        hit = self._seen.get(category)
        if hit is None or now - hit[1] >= self.RECHECK:
            hit = self._seen[category] = (self.store.has_snapshots(category), now)
        return hit[0]


def install(engine: Engine, options: dict[str, Any]) -> None:
    """Loads use snapshots; aggregates declaring ``snapshot_every`` are snapshotted after commands."""
    domain = engine.domain
    if domain is None or options.get("snapshots") is False or not hasattr(engine.store, "load_snapshot"):
        return
    known = _SnapshottedCategories(engine.store)

    def loader(cls: type[Aggregate], id: str, at: int | None) -> Aggregate | None:
        if not (cls.snapshot_every or known.has(cls.category)):
            return None
        return load_snapshot(engine, cls, id, at)

    engine.snapshot_loader = loader
    if not any(agg.snapshot_every for agg in domain.aggregates.values()):
        return
    failed: set[str] = set()

    def after_command(outcome: CommandOutcome) -> None:
        if outcome.outcome != "ok" or not outcome.events:
            return
        cls = domain.aggregate_for_stream(outcome.stream_id)
        if cls is None or cls.category in failed:
            return
        if snapshot_due(engine, cls, outcome.stream_id, outcome.version):
            try:
                take_snapshot(engine, cls, outcome.stream_id.split("-", 1)[1])
            except Unsnapshottable:
                failed.add(cls.category)  # a state the format cannot keep: replay instead, every time

    engine.command_listeners.append(after_command)
