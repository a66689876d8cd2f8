"""Handling metrics of reactors and projections, kept in the store as per-minute buckets.

One row per (minute, kind, name, event type): events handled, errors, retries, the sum and a
log-scale histogram of handling latencies (so p50/p95/p99 can be computed for any window by
adding histograms), and the subscriber's lag at the last write. Rows are written with each
batch, inside the batch's transaction, so other processes and later runs see them and a rolled
back batch leaves no metric behind. The row for event type ``""`` carries the subscriber-wide
lag gauge.

The API for any subscriber::

    metrics.record(store, "projection", "order_details", "OrderCreated", count=250,
                   latencies=[...seconds...], at=engine.clock())

or, to gather many events before one write per key, :class:`Buffer`.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import StoreCorrupt
from ..store import codec
from ..store.tables import table

OWNER = "metrics"
METRICS = table("metrics", {
    "minute": str,            # 2026-01-01T10:42
    "kind": str,              # reactor | projection
    "name": str,
    "event_type": str,        # '' = the subscriber as a whole (lag)
    "handled": int, "errors": int, "retries": int, "latency_sum": float,
    "latency_hist": str,      # log-scale bucket -> count, as JSON text
    "lag": int,
}, pk=("minute", "kind", "name", "event_type"))
TABLES = (METRICS,)

# Histogram bucket i holds latencies up to 1 µs * 10 ** (i / 10): 26% wide buckets, 1 µs .. 100 s.
BUCKETS = 81
_BASE = 1e-6


def bucket_bound(i: int) -> float:
    return 10 ** ((i - 60) / 10)  # 1 µs * 10 ** (i / 10), written so whole powers of ten are exact


def bucket_of(seconds: float) -> int:
    """The first bucket whose bound is at least ``seconds`` (the last bucket for anything longer).

    One binary search in C over the bounds, computed once: every handled event of every
    projection and reactor passes here."""
    return min(_LAST, bisect_left(_BOUNDS, seconds))


_BOUNDS = tuple(bucket_bound(i) for i in range(BUCKETS))
_LAST = BUCKETS - 1


def percentile(hist: dict[int, int], q: float) -> float | None:
    """The latency (seconds) below which a fraction ``q`` of the recorded ones fall (bucket bound)."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i in sorted(hist):
        seen += hist[i]
        if seen >= rank:
            return bucket_bound(i)
    return bucket_bound(max(hist))


def minute_of(at: str) -> str:
    """``2026-01-01T10:42:13.5Z`` -> ``2026-01-01T10:42``."""
    return at[:16]


@dataclass
class _Acc:
    handled: int = 0
    errors: int = 0
    retries: int = 0
    latency_sum: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)
    lag: int | None = None

    def add_latencies(self, latencies: Iterable[float]) -> None:
        h = self.hist
        for lat in latencies:
            self.latency_sum += lat
            b = bucket_of(lat)
            h[b] = h.get(b, 0) + 1


class Buffer:
    """Metrics gathered in memory and written with one upsert per key at :meth:`flush`."""

    def __init__(self) -> None:
        self._acc: dict[tuple[str, str, str], _Acc] = {}

    def __bool__(self) -> bool:
        return bool(self._acc)

    def _get(self, kind: str, name: str, event_type: str) -> _Acc:
        key = (kind, name, event_type)
        acc = self._acc.get(key)
        if acc is None:
            acc = self._acc[key] = _Acc()
        return acc

    def handled(self, kind: str, name: str, event_type: str, latency: float) -> None:
        acc = self._acc.get((kind, name, event_type)) or self._get(kind, name, event_type)
        acc.handled += 1
        acc.latency_sum += latency
        b = bucket_of(latency)
        hist = acc.hist
        hist[b] = hist.get(b, 0) + 1

    def error(self, kind: str, name: str, event_type: str, *, retried: bool) -> None:
        acc = self._get(kind, name, event_type)
        acc.errors += 1
        if retried:
            acc.retries += 1

    def lag(self, kind: str, name: str, lag: int) -> None:
        self._get(kind, name, "").lag = lag

    def flush(self, store: Any, at: str) -> None:
        """Add everything gathered to minute ``at``'s buckets: one read and one write per subscriber."""
        if not self._acc:
            return
        minute = minute_of(at)
        by_sub: dict[tuple[str, str], list[tuple[str, _Acc]]] = {}
        for (kind, name, etype), acc in self._acc.items():
            by_sub.setdefault((kind, name), []).append((etype, acc))
        for (kind, name), accs in by_sub.items():
            _upsert_many(store, minute, kind, name, accs)
        self._acc = {}

    def clear(self) -> None:
        self._acc = {}


def record(
    store: Any,
    kind: str,
    name: str,
    event_type: str,
    count: int,
    errors: int = 0,
    retries: int = 0,
    latencies: Iterable[float] = (),
    *,
    lag: int | None = None,
    at: str,
) -> None:
    """Add one batch's figures for (kind, name, event type) to the bucket of minute ``at``."""
    acc = _Acc(handled=count, errors=errors, retries=retries, lag=lag)
    acc.add_latencies(latencies)
    _upsert_many(store, minute_of(at), kind, name, [(event_type, acc)])


def _upsert_many(store: Any, minute: str, kind: str, name: str, accs: list[tuple[str, _Acc]]) -> None:
    """Merge into the stored buckets (read, add, write back: histograms do not add up in SQL).

    The buckets this connection wrote are remembered while the store says they still hold
    (``known_records``), so a subscriber writing every command reads its row once; the rows
    go straight to the table's statements, one ``executemany``."""
    known = store.known_records(OWNER)
    sub = (minute, kind, name)
    stored = known.get(sub) if known is not None else None
    if stored is None:  # (remembered: the table is there, as it was when this row was written)
        store.ensure_tables(TABLES, owner=OWNER)
        stored = {
            r["event_type"]: (r["handled"], r["errors"], r["retries"], r["latency_sum"],
                              codec.loads(r["latency_hist"]), r["lag"])
            for r in store.table(METRICS).rows_where("minute=? AND kind=? AND name=?", (minute, kind, name))
        }
    merged = dict(stored)
    rows = []
    for etype, acc in accs:
        hist = {str(k): v for k, v in acc.hist.items()}  # keyed as stored: "12" is bucket 12
        handled, errors, retries, lsum, lag = acc.handled, acc.errors, acc.retries, acc.latency_sum, acc.lag
        row = stored.get(etype)
        if row is not None:
            old = row[4]
            # the stored buckets after the new ones, in their order (as adding them one by one
            # gave), summed only where both have a bucket: a minute keeps dozens, a flush adds a few
            both = {**hist, **old}
            for k, v in hist.items():
                if k in old:
                    both[k] = v + old[k]
            hist = both
            handled += row[0]
            errors += row[1]
            retries += row[2]
            lsum += row[3]
            if lag is None:
                lag = row[5]
        merged[etype] = (handled, errors, retries, lsum, hist, lag)
        # in METRICS' column order
        rows.append((minute, kind, name, etype, handled, errors, retries, lsum, codec.dumps(hist), lag))
    rows.sort()  # in key order, as a Table writes them
    try:
        store.table_ops(METRICS).replace(rows)
    except BaseException:
        store.forget_records()
        raise
    if known is None:
        store.forget_records()  # written where nothing is remembered (outside a transaction)
        return
    if len(known) >= _KNOWN_MAX:  # a long-running process: old minutes are not written again
        known.clear()
    known[sub] = merged


_KNOWN_MAX = 256


# ----------------------------------------------------------------------------- reading


@dataclass
class Series(_Acc):
    """Totals of one (kind, name, event type) over a window, with handled per minute."""

    kind: str = ""
    name: str = ""
    event_type: str = ""
    last_minute: str = ""
    per_minute: dict[str, int] = field(default_factory=dict)

    def p(self, q: float) -> float | None:
        return percentile(self.hist, q)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "name": self.name, "event_type": self.event_type or None,
            "handled": self.handled, "errors": self.errors, "retries": self.retries,
            "latency_p50": self.p(0.5), "latency_p95": self.p(0.95), "latency_p99": self.p(0.99),
            "latency_avg": (self.latency_sum / self.handled) if self.handled else None,
            "lag": self.lag, "per_minute": self.per_minute,
        }


def read(store: Any, *, since: str | None = None, by_type: bool = True) -> list[Series]:
    """Metrics summed per (kind, name[, event type]) over the buckets from minute ``since`` on."""
    out: dict[tuple[str, str, str], Series] = {}
    for r in store.table(METRICS).rows_where("minute >= ?", (since or "",), order_by="minute"):
        minute, kind, name, etype, handled, errors, retries, lsum, hist_text, lag = r.values()
        key_type = etype if by_type else ""
        s = out.get((kind, name, key_type))
        if s is None:
            s = out[(kind, name, key_type)] = Series(kind=kind, name=name, event_type=key_type)
        if etype == "":
            if lag is not None:
                s.lag = lag
            if by_type:
                continue
        s.handled += handled
        s.errors += errors
        s.retries += retries
        s.latency_sum += lsum
        for k, v in codec.loads(hist_text).items():
            s.hist[int(k)] = s.hist.get(int(k), 0) + v
        if handled:
            s.per_minute[minute] = s.per_minute.get(minute, 0) + handled
        s.last_minute = max(s.last_minute, minute)
    if by_type:
        # the lag gauge lives on the subscriber-wide row: copy it onto that subscriber's type rows
        lags = {(k, n): s.lag for (k, n, t), s in out.items() if t == "" and s.lag is not None}
        result = [s for (k, n, t), s in out.items() if t != ""]
        for s in result:
            s.lag = lags.get((s.kind, s.name))
        return sorted(result, key=lambda s: (s.kind, s.name, s.event_type))
    return sorted(out.values(), key=lambda s: (s.kind, s.name))


def latest_minute(store: Any) -> str | None:
    rows = store.table(METRICS).rows_where(order_by="minute DESC", limit=1)
    return rows[0]["minute"] if rows else None


# ----------------------------------------------------------------------------- for front ends

RECENT_EVENTS = 100_000  # the log's per-minute line looks at most this far back


def parse_minute(text: Any) -> datetime:
    """A stored minute (``2026-01-01T10:42``, or an event's time, cut to its minute); StoreCorrupt
    when a stored time is not one (a damaged store: a command says so instead of failing)."""
    try:
        return datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
    except (TypeError, ValueError):
        raise StoreCorrupt(f"a stored time, {str(text)[:40]!r}, is not a time; the store is damaged,"
                           " restore it from a backup") from None


def minute_before(last: str, seconds: float) -> str:
    """The minute ``seconds`` before ``last`` (both ``2026-01-01T10:42``), counting ``last`` as
    the span's final minute; a span reaching before year 1 starts at the first minute there is."""
    end = parse_minute(last)
    try:
        return (end - timedelta(minutes=int(seconds // 60))).strftime("%Y-%m-%dT%H:%M")
    except (OverflowError, ValueError):  # beyond datetime's range, or an infinite span
        return "0001-01-01T00:00"


def minutes_ending(last: str, count: int) -> list[str]:
    """The ``count`` minutes (``2026-01-01T10:42``) up to and including ``last``."""
    end = parse_minute(last)
    return [(end - timedelta(minutes=count - 1 - i)).strftime("%Y-%m-%dT%H:%M") for i in range(count)]


def live_lags(store: Any) -> dict[tuple[str, str], int]:
    """Lag now, from each checkpoint: events after it, per (kind, name)."""
    head = store.head_position()
    out = {}
    for name, position in store.checkpoints().items():
        kind, sep, sub = name.partition(":")
        if sep:
            out[(kind, sub)] = max(0, head - position)
    return out


def log_per_minute(store: Any) -> dict[str, int]:
    """Events appended per minute, over the most recent events of the log."""
    return store.events_per_minute(max(0, store.head_position() - RECENT_EVENTS))


def collect(store: Any, by_type: bool, since: str | None = None) -> list[Series]:
    """Every subscriber's series over the window, with its lag as of now."""
    series = read(store, since=since, by_type=by_type)
    lags = live_lags(store)
    known = {(s.kind, s.name) for s in series}
    for (kind, name), lag in lags.items():
        if (kind, name) not in known and kind in ("reactor", "projection"):
            series.append(Series(kind=kind, name=name, event_type="" if not by_type else "*"))
    for s in series:
        if (s.kind, s.name) in lags:
            s.lag = lags[(s.kind, s.name)]
    series.extend(relay_series(store))
    return sorted(series, key=lambda s: (s.kind, s.name, s.event_type))


def relay_series(store: Any) -> list[Series]:
    """Each broker relay as a series: events confirmed by the broker (handled) and its lag (head
    position minus its checkpoint), per destination."""
    from ..broker import state

    head = store.head_position()
    return [Series(kind="relay", name=r["destination"], event_type="*", handled=r["published"] or 0,
                   lag=max(0, head - r["position"])) for r in state.rows(store)]
